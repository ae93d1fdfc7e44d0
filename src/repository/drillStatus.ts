/** How every applied plan with a drill section is doing: its last passed drill, last RTO, and whether it is overdue. */
import type { Client, ScheduleDescription } from '@temporalio/client';
import { DEFAULT_DRILL_WINDOW_MS } from '../plan/drill';
import { durationMs, type Plan } from '../plan/schema';
import { createStore } from '../stores';
import { appliedDrillOf, isDrillSchedule } from '../temporal/drillSchedule';
import { appliedPlanOf, cadenceMs, listPlanSchedules } from '../temporal/schedules';
import { listDrillRecords } from './drills';

/** How many of the newest drill records a refresh reads: a plan whose last passed drill is older is overdue anyway. */
const RECENT_DRILLS = 50;

export interface DrillStatus {
  plan: string;
  lastDrillId?: string;
  lastOutcome?: string;
  lastPassedAt?: string;
  /** The newest measured RTO (drills that passed their checks). */
  lastRtoMs?: number;
  rtoTargetMs?: number;
  /** No passed drill for this long makes the plan overdue: drill.schedule.staleAfter, else twice the drill cadence, else 8 days. */
  windowMs: number;
  overdue: boolean;
  error?: string;
}

export function drillWindowMs(plan: Plan, drillSchedule: ScheduleDescription | undefined): number {
  if (plan.drill?.schedule?.staleAfter) return durationMs(plan.drill.schedule.staleAfter);
  const cadence = drillSchedule ? cadenceMs(drillSchedule) : undefined;
  return cadence === undefined ? DEFAULT_DRILL_WINDOW_MS : 2 * cadence;
}

/** `schedules`: listPlanSchedules(client), when the caller already has it (the worker's refresh lists once for both statuses). */
export async function drillStatuses(client: Client, now: Date = new Date(), schedules?: ScheduleDescription[]): Promise<DrillStatus[]> {
  const plans = new Map<string, { plan: Plan; since: Date; drillSchedule?: ScheduleDescription }>();
  for (const description of schedules ?? (await listPlanSchedules(client))) {
    const drill = isDrillSchedule(description);
    const applied = drill ? appliedDrillOf(description) : appliedPlanOf(description);
    if (!applied?.plan.drill) continue;
    const known = plans.get(applied.plan.name);
    // The drill schedule's plan wins: it is the one drills run with.
    if (!known || drill) plans.set(applied.plan.name, { plan: applied.plan, since: description.info.createdAt, drillSchedule: drill ? description : known?.drillSchedule });
  }
  const statuses: DrillStatus[] = [];
  for (const { plan, since, drillSchedule } of plans.values()) {
    const windowMs = drillWindowMs(plan, drillSchedule);
    const status: DrillStatus = { plan: plan.name, windowMs, overdue: false, rtoTargetMs: plan.rtoTarget ? durationMs(plan.rtoTarget) : undefined };
    try {
      const { records } = await listDrillRecords(createStore(plan.store), plan.name, RECENT_DRILLS);
      status.lastDrillId = records[0]?.drillId;
      status.lastOutcome = records[0]?.outcome;
      status.lastPassedAt = records.find((record) => record.outcome === 'passed')?.completedAt;
      status.lastRtoMs = records.find((record) => record.rtoMs !== undefined)?.rtoMs;
      const from = status.lastPassedAt ? Date.parse(status.lastPassedAt) : since.getTime();
      status.overdue = now.getTime() - from > windowMs;
    } catch (error) {
      status.error = `cannot read the drill records: ${(error as Error).message}`;
      status.overdue = true;
    }
    statuses.push(status);
  }
  return statuses;
}
