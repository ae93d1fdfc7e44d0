/** How every applied plan is doing: its newest complete set, its age against its cadence, stale or not. */
import type { Client, ScheduleDescription } from '@temporalio/client';
import { createStore } from '../stores';
import { isDrillSchedule } from '../temporal/drillSchedule';
import { appliedPlanOf, cadenceMs, listPlanSchedules, staleThresholdMs } from '../temporal/schedules';
import { listBackupSets } from './backupSets';

export interface PlanStatus {
  plan: string;
  scheduleId: string;
  planRevision: string;
  paused: boolean;
  note?: string;
  /** Newest complete set, if any. */
  lastSetId?: string;
  lastCompletedAt?: string;
  /** Milliseconds since the newest complete set completed (or since the schedule was created, when there is none). */
  ageMs: number;
  cadenceMs?: number;
  staleAfterMs?: number;
  stale: boolean;
  nextRunAt?: string;
  completeSets: number;
  incompleteSets: number;
  /** Why the status could not be read (e.g. the store is unreachable): such a plan counts as stale. */
  error?: string;
}

/** `schedules`: listPlanSchedules(client), when the caller already has it (the worker's refresh lists once for both statuses). */
export async function planStatuses(client: Client, now: Date = new Date(), schedules?: ScheduleDescription[]): Promise<PlanStatus[]> {
  const statuses: PlanStatus[] = [];
  for (const description of schedules ?? (await listPlanSchedules(client))) {
    if (isDrillSchedule(description)) continue; // drills have their own status (./drillStatus)
    const applied = appliedPlanOf(description);
    const base = {
      scheduleId: description.scheduleId,
      paused: description.state.paused,
      note: description.state.note,
      nextRunAt: description.info.nextActionTimes[0]?.toISOString(),
    };
    if (!applied) {
      statuses.push({ ...base, plan: description.scheduleId, planRevision: 'unknown', ageMs: 0, stale: true, completeSets: 0, incompleteSets: 0, error: 'the schedule does not run a valid Lifeboat plan' });
      continue;
    }
    const cadence = cadenceMs(description);
    const staleAfter = staleThresholdMs(applied.plan, cadence);
    const status: PlanStatus = { ...base, plan: applied.plan.name, planRevision: applied.revision, cadenceMs: cadence, staleAfterMs: staleAfter, ageMs: 0, stale: false, completeSets: 0, incompleteSets: 0 };
    try {
      const listing = await listBackupSets(createStore(applied.plan.store), applied.plan.name);
      const newest = listing.complete.at(-1);
      status.completeSets = listing.complete.length;
      status.incompleteSets = listing.incomplete.length;
      status.lastSetId = newest?.setId;
      status.lastCompletedAt = newest?.completedAt;
      const since = newest ? Date.parse(newest.completedAt) : description.info.createdAt.getTime();
      status.ageMs = Math.max(0, now.getTime() - since);
      status.stale = staleAfter !== undefined && status.ageMs > staleAfter;
    } catch (error) {
      status.error = `cannot list the store: ${(error as Error).message}`;
      status.stale = true;
    }
    statuses.push(status);
  }
  return statuses;
}
