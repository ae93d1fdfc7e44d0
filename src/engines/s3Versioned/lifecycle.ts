/**
 * Whether a bucket's lifecycle rules keep noncurrent versions as long as the plan keeps restore points. Pure:
 * a version that expires makes every older restore point that recorded it unrestorable.
 */
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { parseWithin } from '../../catalog/retention';
import { durationMs, type Plan } from '../../plan/schema';

const DAY_MS = 86_400_000;

/**
 * How many days back the plan's retention keeps restore points, or null when it keeps them without bound
 * (no retention, or a keepLast whose cadence is unknown because the plan has no schedule). A cron schedule
 * counts as daily: its cadence is not derived from the expression.
 */
export function retentionDays(plan: Pick<Plan, 'retention' | 'schedule'>): number | null {
  const retention = plan.retention;
  if (!retention) return null;
  const spans: number[] = [];
  if (retention.keepWithin) {
    const within = parseWithin(retention.keepWithin);
    spans.push(within.years * 366 + within.months * 31 + within.days + within.hours / 24);
  }
  if (retention.keepHourly) spans.push(retention.keepHourly / 24);
  if (retention.keepDaily) spans.push(retention.keepDaily);
  if (retention.keepWeekly) spans.push(retention.keepWeekly * 7);
  if (retention.keepMonthly) spans.push(retention.keepMonthly * 31);
  if (retention.keepYearly) spans.push(retention.keepYearly * 366);
  if (retention.keepLast) {
    if (!plan.schedule) return null;
    const cadenceDays = plan.schedule.every ? durationMs(plan.schedule.every) / DAY_MS : 1;
    spans.push(retention.keepLast * cadenceDays);
  }
  return spans.length > 0 ? Math.max(...spans) : null;
}

export interface LifecycleAssessment {
  /** The shortest NoncurrentDays of the rules that apply; null when none expires noncurrent versions by age. */
  noncurrentExpirationDays: number | null;
  warnings: string[];
}

/** Warns about every rule that may expire a version a kept restore point still needs. */
export function assessLifecycle(rules: LifecycleRule[], keepDays: number | null): LifecycleAssessment {
  const warnings: string[] = [];
  let shortest: number | null = null;
  const keeps = keepDays === null ? 'restore points without a time limit' : `restore points for ${Math.ceil(keepDays)} days`;
  for (const rule of rules) {
    const name = rule.ID ? `lifecycle rule "${rule.ID}"` : 'a lifecycle rule';
    const expiration = rule.NoncurrentVersionExpiration;
    const days = expiration?.NoncurrentDays;
    if (days !== undefined) {
      shortest = shortest === null ? days : Math.min(shortest, days);
      if (keepDays === null || days < keepDays) {
        warnings.push(
          `${name} expires noncurrent versions after ${days} days, but the plan keeps ${keeps}: restore points older than that ` +
            `cannot be rolled back fully; raise NoncurrentDays to at least ${keepDays === null ? 'the retention you need' : Math.ceil(keepDays)} or shorten the retention`,
        );
      }
    }
    if (expiration?.NewerNoncurrentVersions !== undefined) {
      warnings.push(
        `${name} keeps only ${expiration.NewerNoncurrentVersions} noncurrent versions per key: a key that changes more often loses older restore points whatever their age`,
      );
    }
  }
  return { noncurrentExpirationDays: shortest, warnings };
}
