/**
 * prune: apply a plan's retention policy (semantics in src/catalog/retention.ts). One activity lists the sets
 * and decides; unless this is a dry run, a second one deletes, re-checking each set first. Orchestration only.
 */
import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type * as activities from '../activities';
import type { PrunePlan } from '../activities';
import type { Plan, PlanInput } from '../src/plan/schema';
import { validatedPlan } from './planInput';

export interface PruneInput {
  /** The plan itself (as in the plan file, JSON); it needs a `retention` block. */
  plan: PlanInput;
  /** Decide and report, delete nothing. */
  dryRun?: boolean;
}

export interface PruneResult extends PrunePlan {
  dryRun: boolean;
  /** Set ids deleted by this run (empty for a dry run; `remove` lists what was chosen). */
  removed: string[];
  /** Chosen sets that a re-check just before deleting kept after all, with why. */
  skipped: { setId: string; reason: string }[];
}

const { planPrune } = proxyActivities<typeof activities>({
  startToCloseTimeout: '10m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
});
const { applyPrune } = proxyActivities<typeof activities>({
  startToCloseTimeout: '2h',
  // It heartbeats after every object deleted: a silent one is presumed dead and retried (deletion is idempotent).
  heartbeatTimeout: '2m',
  retry: { initialInterval: '2s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 8 },
});

export async function prune(input: PruneInput): Promise<PruneResult> {
  return runPrune(input.plan, input.dryRun ?? false);
}

/**
 * The prune steps, callable from another workflow (e.g. backupPlan after its manifest is written). Validates the
 * plan again, so it is safe on unchecked input; fails non-retryably when the plan has no retention policy.
 */
export async function runPrune(planInput: Plan | PlanInput, dryRun = false): Promise<PruneResult> {
  const plan = validatedPlan(planInput);
  if (!plan.retention) throw ApplicationFailure.nonRetryable(`plan ${plan.name} has no retention policy`, 'NoRetentionPolicy');

  const planned = await planPrune({ plan });
  if (dryRun || planned.remove.length === 0) return { ...planned, dryRun, removed: [], skipped: [] };

  const applied = await applyPrune({ plan, remove: planned.remove });
  // Report what happened: a set the re-check kept is shown as kept, with the reason.
  const skipped = new Map(applied.skipped.map((skip) => [skip.setId, skip.reason]));
  const sets = planned.sets.map((set) => {
    const reason = skipped.get(set.setId);
    return reason === undefined ? set : { ...set, action: 'keep' as const, reasons: [`not removed: ${reason}`] };
  });
  const removing = sets.filter((set) => set.action === 'remove');
  return {
    ...planned,
    sets,
    totals: {
      ...planned.totals,
      keep: sets.length - removing.length,
      remove: removing.length,
      removeObjects: removing.reduce((sum, set) => sum + set.objects, 0),
      removeBytes: removing.reduce((sum, set) => sum + set.bytes, 0),
    },
    dryRun,
    removed: applied.removed.map((set) => set.setId),
    skipped: applied.skipped,
  };
}
