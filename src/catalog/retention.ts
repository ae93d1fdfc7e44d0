/**
 * Retention: which backup sets a policy keeps and which it removes. Pure (no I/O, no clock: `now` is an
 * argument), so workflows, activities, the CLI and unit tests all run the same selection.
 *
 * Semantics (restic's `forget` policy, https://restic.readthedocs.io/en/stable/060_forget.html):
 *
 * - Only **complete** sets are counted by the keep rules; they are taken newest first (by the time in the set id,
 *   which is when the backup started).
 * - `keepLast: N` keeps the N newest sets.
 * - `keepHourly/keepDaily/keepWeekly/keepMonthly/keepYearly: N`: for the last N hours/days/weeks/months/years
 *   *that have a set*, keeps the newest set of each. Periods with no set do not use up the count, so
 *   `keepDaily: 7` with backups every other day reaches back 14 days. Periods are calendar periods in the
 *   policy's `timezone` (IANA, default UTC): a set at 03:00Z is on the previous day in America/New_York; a DST
 *   day is one period however long it is (23 or 25 hours), and the hour repeated when clocks go back is one
 *   hourly period. Weeks are ISO weeks (Monday to Sunday, numbered by ISO year).
 * - As restic does since 0.17: when a rule still has count left after the newest set of every period has been
 *   taken, the oldest set is kept as well (it extends the history as far as the count allows).
 * - `keepWithin: "1y2m3d4h"` keeps every set newer than the **newest complete set's** time minus that duration
 *   (not `now` minus it: as in restic, a plan whose backups stopped does not lose its last sets to the clock).
 *   Years, months and days are calendar steps in the policy's time zone (2026-03-31 minus 1m is 2026-03-03, as
 *   in Go's AddDate), hours are exact hours. Sets dated in the future are not the reference.
 * - The rules are a union: a set is kept when any rule keeps it, and every rule that matched is a reason.
 *
 * Then Lifeboat's safety rules, which no policy overrides:
 *
 * - The newest complete set is always kept.
 * - A kept set's components may `dependsOn` another set (an incremental's full): that set is kept too,
 *   transitively.
 * - An incomplete set (no manifest) younger than a day is kept: its backup may still be writing. Older ones are
 *   abandoned and removed. A set whose manifest exists but cannot be read (corrupt, or written by a newer
 *   Lifeboat) is never removed: an operator should look at it.
 * - A set that `backup verify` marked as failed (verify-failed.json) is not counted by the keep rules (it
 *   cannot be restored, so it must not displace a good set). It is kept for inspection while it is no older
 *   than the oldest kept complete set, and removed once it is older than all of them.
 * - With object lock (`holdLockedSets`), a set chosen for removal whose retention date has not passed is kept,
 *   with the reason "locked until <date>", and removed by the first prune after that date.
 */
import type { Retention } from '../plan/schema';

export interface CompleteSetSummary {
  setId: string;
  /** The set's time (from its id). */
  time: Date;
  /** Set ids the set's components depend on (`dependsOn` in the manifest). */
  dependsOn: string[];
}

export interface IncompleteSetSummary {
  setId: string;
  time: Date;
  /** Set when manifest.json exists but cannot be read: such a set is never removed. */
  manifestProblem?: string;
}

export interface FailedVerificationSummary {
  setId: string;
  time: Date;
  /** Why `backup verify` marked the set. */
  reason: string;
}

export interface RetentionInput {
  complete: CompleteSetSummary[];
  incomplete: IncompleteSetSummary[];
  /** Sets marked by `backup verify` (verify-failed.json): never counted by the keep rules. */
  failedVerification?: FailedVerificationSummary[];
}

/** The plan's retention block; `timezone` may be left out (UTC), as in the plan file. */
export type RetentionPolicy = Omit<Retention, 'timezone'> & { timezone?: string };

export interface KeptSet {
  setId: string;
  /** ISO 8601, UTC. */
  time: string;
  complete: boolean;
  /** Every rule that keeps the set, e.g. "last 3", "daily 2026-11-20", "within 7d", "needed by incremental <id>". */
  reasons: string[];
}

export interface RemovedSet {
  setId: string;
  time: string;
  complete: boolean;
  reason: string;
}

export interface RetentionSelection {
  /** Newest first. */
  keep: KeptSet[];
  /** Newest first. */
  remove: RemovedSet[];
  /** Things an operator should know, e.g. a kept set depends on a set that is not in the store. */
  warnings: string[];
}

export const INCOMPLETE_GRACE_MS = 24 * 3_600_000;
/** The reason an incomplete set is kept only because it may still be writing (see `isStillRemovable`). */
export const YOUNG_INCOMPLETE_REASON = 'incomplete, younger than a day (its backup may still be writing)';
export const NEWEST_COMPLETE_REASON = 'newest complete set';

export class InvalidTimeZoneError extends Error {
  constructor(readonly timeZone: string) {
    super(`retention.timezone "${timeZone}" is not an IANA time zone (e.g. "UTC", "Europe/Berlin", "America/New_York")`);
    this.name = 'InvalidTimeZoneError';
  }
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/** Wall-clock fields of an instant in a time zone. */
interface LocalTime {
  year: number;
  month: number; // 1-12
  day: number;
  hour: number;
  minute: number;
  second: number;
  millisecond: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    if (!isValidTimeZone(timeZone)) throw new InvalidTimeZoneError(timeZone);
    // hourCycle h23: midnight is 00, never 24.
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function localTime(instant: Date, timeZone: string): LocalTime {
  const fields: Record<string, number> = {};
  for (const part of formatterFor(timeZone).formatToParts(instant)) {
    if (part.type !== 'literal') fields[part.type] = Number(part.value);
  }
  return {
    year: fields.year,
    month: fields.month,
    day: fields.day,
    hour: fields.hour,
    minute: fields.minute,
    second: fields.second,
    millisecond: ((instant.getTime() % 1000) + 1000) % 1000, // Intl gives whole seconds; zone offsets are too
  };
}

/** The wall-clock fields read as if they were UTC: for calendar arithmetic that ignores offsets. */
function wallAsUtcMs(local: LocalTime): number {
  return Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second, local.millisecond);
}

/** The instant at which the time zone's clocks show `wallMs` (wall clock read as UTC). */
function instantOfWallTime(wallMs: number, timeZone: string): number {
  const offsetAt = (instantMs: number) => wallAsUtcMs(localTime(new Date(instantMs), timeZone)) - instantMs;
  const guess = wallMs - offsetAt(wallMs);
  // As Go's time.Date: the second lookup settles wall times near an offset change. A wall time skipped by
  // spring-forward resolves with the earlier offset (02:30 on 2026-03-08 in New York is 01:30 EST); a repeated
  // one takes its first occurrence.
  return wallMs - offsetAt(guess);
}

const pad = (value: number, width = 2) => String(value).padStart(width, '0');

/** ISO 8601 week of a calendar date: weeks start on Monday; week 1 holds the year's first Thursday. */
export function isoWeek(year: number, month: number, day: number): { year: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7; // Monday 1 ... Sunday 7
  const thursday = new Date(date.getTime() + (4 - weekday) * 86_400_000);
  const weekYear = thursday.getUTCFullYear();
  const dayOfYear = Math.floor((thursday.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000) + 1;
  return { year: weekYear, week: Math.floor((dayOfYear - 1) / 7) + 1 };
}

type BucketRule = 'hourly' | 'daily' | 'weekly' | 'monthly' | 'yearly';

/** The calendar period (in the policy's zone) a set falls in, as a label that is also its identity. */
function periodLabel(rule: BucketRule, local: LocalTime): string {
  const date = `${local.year}-${pad(local.month)}-${pad(local.day)}`;
  switch (rule) {
    case 'hourly':
      return `${date} ${pad(local.hour)}:00`;
    case 'daily':
      return date;
    case 'weekly': {
      const week = isoWeek(local.year, local.month, local.day);
      return `${week.year}-W${pad(week.week)}`;
    }
    case 'monthly':
      return `${local.year}-${pad(local.month)}`;
    case 'yearly':
      return String(local.year);
  }
}

export interface WithinDuration {
  years: number;
  months: number;
  days: number;
  hours: number;
}

export function parseWithin(within: string): WithinDuration {
  const match = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$/.exec(within);
  if (!match || within === '') throw new Error(`not a keepWithin duration: "${within}" (e.g. "7d", "2m15d", "1y")`);
  const [, years, months, days, hours] = match;
  return { years: Number(years ?? 0), months: Number(months ?? 0), days: Number(days ?? 0), hours: Number(hours ?? 0) };
}

/** reference minus the duration: calendar years, months and days in the zone (Go's AddDate), then exact hours. */
export function withinCutoff(reference: Date, within: WithinDuration, timeZone: string): Date {
  const local = localTime(reference, timeZone);
  const wallMs = Date.UTC(
    local.year - within.years,
    local.month - 1 - within.months,
    local.day - within.days,
    local.hour,
    local.minute,
    local.second,
    local.millisecond,
  );
  return new Date(instantOfWallTime(wallMs, timeZone) - within.hours * 3_600_000);
}

const BUCKET_RULES: { rule: BucketRule; key: 'keepHourly' | 'keepDaily' | 'keepWeekly' | 'keepMonthly' | 'keepYearly'; unit: string }[] = [
  { rule: 'hourly', key: 'keepHourly', unit: 'hours' },
  { rule: 'daily', key: 'keepDaily', unit: 'days' },
  { rule: 'weekly', key: 'keepWeekly', unit: 'weeks' },
  { rule: 'monthly', key: 'keepMonthly', unit: 'months' },
  { rule: 'yearly', key: 'keepYearly', unit: 'years' },
];

/** Newest first; set ids break ties (they are unique and sort by time). */
function newestFirst<T extends { setId: string; time: Date }>(sets: T[]): T[] {
  return [...sets].sort((a, b) => b.time.getTime() - a.time.getTime() || (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0));
}

/** Applies a retention policy and the safety rules (see the comment at the top of this file). */
export function selectRetention(input: RetentionInput, policy: RetentionPolicy, now: Date): RetentionSelection {
  const timeZone = policy.timezone ?? 'UTC';
  formatterFor(timeZone); // fails early, with a clear message, on an unknown zone
  const complete = newestFirst(input.complete);
  const incomplete = newestFirst(input.incomplete);
  const reasons = new Map<string, string[]>();
  const keepFor = (setId: string, reason: string) => reasons.set(setId, [...(reasons.get(setId) ?? []), reason]);

  // keepWithin is measured back from the newest complete set that is not in the future (restic's "latest").
  const within = policy.keepWithin === undefined ? undefined : parseWithin(policy.keepWithin);
  const reference = complete.find((set) => set.time.getTime() <= now.getTime())?.time ?? now;
  const cutoff = within && withinCutoff(reference, within, timeZone);

  const counters = BUCKET_RULES.filter(({ key }) => policy[key] !== undefined).map((rule) => ({
    ...rule,
    left: policy[rule.key] as number,
    last: undefined as string | undefined,
  }));
  let lastLeft = policy.keepLast ?? 0;

  complete.forEach((set, index) => {
    const oldest = index === complete.length - 1;
    if (lastLeft > 0) {
      keepFor(set.setId, `last ${policy.keepLast}`);
      lastLeft -= 1;
    }
    if (cutoff && set.time.getTime() > cutoff.getTime()) keepFor(set.setId, `within ${policy.keepWithin}`);
    const local = counters.length > 0 ? localTime(set.time, timeZone) : undefined;
    for (const counter of counters) {
      if (counter.left <= 0 || !local) continue;
      const period = periodLabel(counter.rule, local);
      if (period !== counter.last) {
        keepFor(set.setId, `${counter.rule} ${period}`);
      } else if (oldest) {
        // restic >= 0.17: count left over, so the oldest set is kept too, extending the history.
        keepFor(set.setId, `${counter.rule} ${period}, oldest set (fewer ${counter.unit} with sets than ${counter.key} ${policy[counter.key]})`);
      } else {
        continue;
      }
      counter.last = period;
      counter.left -= 1;
    }
  });

  // Safety rules.
  if (complete.length > 0) keepFor(complete[0].setId, NEWEST_COMPLETE_REASON);
  const warnings: string[] = [];
  const failed = newestFirst(input.failedVerification ?? []);
  const present = new Set([...complete, ...incomplete, ...failed].map((set) => set.setId));
  const dependsOn = new Map(complete.map((set) => [set.setId, set.dependsOn]));
  const pending = complete.filter((set) => reasons.has(set.setId)).map((set) => set.setId);
  const visited = new Set<string>();
  while (pending.length > 0) {
    const setId = pending.pop() as string;
    if (visited.has(setId)) continue;
    visited.add(setId);
    for (const dependency of new Set(dependsOn.get(setId) ?? [])) {
      if (dependency === setId) continue;
      if (!present.has(dependency)) {
        warnings.push(`set ${setId} depends on set ${dependency}, which is not in the store: it cannot be restored in full`);
        continue;
      }
      keepFor(dependency, `needed by incremental ${setId}`);
      pending.push(dependency);
    }
  }
  for (const set of incomplete) {
    if (set.manifestProblem !== undefined) keepFor(set.setId, `manifest unreadable, left for an operator to inspect: ${set.manifestProblem}`);
    else if (now.getTime() - set.time.getTime() < INCOMPLETE_GRACE_MS) keepFor(set.setId, YOUNG_INCOMPLETE_REASON);
  }
  const keptComplete = complete.filter((set) => reasons.has(set.setId));
  const oldestKept = keptComplete.at(-1)?.time.getTime();
  for (const set of failed) {
    if (oldestKept === undefined || set.time.getTime() >= oldestKept) keepFor(set.setId, `failed verification (${set.reason}), kept for inspection while within the kept history`);
  }
  const failedReasons = new Map(failed.map((set) => [set.setId, set.reason]));

  const selection: RetentionSelection = { keep: [], remove: [], warnings };
  const all = newestFirst([
    ...complete.map((set) => ({ ...set, complete: true })),
    ...incomplete.map((set) => ({ ...set, complete: false })),
    ...failed.map((set) => ({ ...set, complete: true })),
  ]);
  for (const set of all) {
    const kept = reasons.get(set.setId);
    const time = set.time.toISOString();
    if (kept) selection.keep.push({ setId: set.setId, time, complete: set.complete, reasons: kept });
    else if (failedReasons.has(set.setId)) selection.remove.push({ setId: set.setId, time, complete: true, reason: `failed verification (${failedReasons.get(set.setId)}), older than every kept set` });
    else selection.remove.push({ setId: set.setId, time, complete: set.complete, reason: set.complete ? 'no keep rule matches' : 'incomplete, older than a day (abandoned)' });
  }
  return selection;
}

/**
 * Whether a set chosen for removal earlier may still be deleted now, judged by a fresh selection. A set kept
 * only as a young incomplete one is one whose manifest an interrupted prune already deleted (a set chosen for
 * removal was complete, or incomplete and already older than a day), so finishing the job is right.
 */
export function isStillRemovable(selection: RetentionSelection, setId: string): boolean {
  if (selection.remove.some((set) => set.setId === setId)) return true;
  const kept = selection.keep.find((set) => set.setId === setId);
  return kept !== undefined && !kept.complete && kept.reasons.every((reason) => reason === YOUNG_INCOMPLETE_REASON);
}

/** The reason a set is kept only because its object lock has not expired. */
export function lockedReason(until: Date): string {
  return `locked until ${until.toISOString()}`;
}

/**
 * Keeps every set chosen for removal whose object-lock retention date (from `lockedUntil`, by set id) is still
 * after `now`: S3 would refuse to delete it. Such sets are reported, not errors; the first prune after the date
 * removes them.
 */
export function holdLockedSets(selection: RetentionSelection, lockedUntil: ReadonlyMap<string, Date>, now: Date): RetentionSelection {
  const held = new Map<string, KeptSet>();
  for (const set of selection.remove) {
    const until = lockedUntil.get(set.setId);
    if (until && until.getTime() > now.getTime()) {
      held.set(set.setId, { setId: set.setId, time: set.time, complete: set.complete, reasons: [lockedReason(until), `would be removed: ${set.reason}`] });
    }
  }
  if (held.size === 0) return selection;
  const keep = [...selection.keep, ...held.values()].sort((a, b) => (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0));
  return { ...selection, keep, remove: selection.remove.filter((set) => !held.has(set.setId)) };
}
