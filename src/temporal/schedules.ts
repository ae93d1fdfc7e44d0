/**
 * Temporal Schedules for plans: `plan apply` creates or updates schedule "lifeboat-<plan>", whose action
 * starts backupPlan with the plan as applied (so every scheduled set records the plan revision that made it).
 */
import { ScheduleNotFoundError, ScheduleOverlapPolicy, type Client, type ScheduleDescription, type ScheduleOptions } from '@temporalio/client';
import { durationMs, overlapPolicies, type Plan, type Schedule } from '../plan/schema';
import { validatePlan } from '../plan/validate';
import { WORKFLOW_TYPES } from './names';

export const SCHEDULE_ID_PREFIX = 'lifeboat-';

export function scheduleIdFor(planName: string): string {
  return `${SCHEDULE_ID_PREFIX}${planName}`;
}

const OVERLAP: Record<(typeof overlapPolicies)[number], ScheduleOverlapPolicy> = {
  skip: ScheduleOverlapPolicy.SKIP,
  buffer_one: ScheduleOverlapPolicy.BUFFER_ONE,
  buffer_all: ScheduleOverlapPolicy.BUFFER_ALL,
  cancel_other: ScheduleOverlapPolicy.CANCEL_OTHER,
  terminate_other: ScheduleOverlapPolicy.TERMINATE_OTHER,
  allow_all: ScheduleOverlapPolicy.ALLOW_ALL,
};

export class PlanHasNoScheduleError extends Error {
  constructor(plan: string) {
    super(`plan "${plan}" has no schedule: add e.g. \`schedule: { cron: "30 2 * * *" }\` or \`schedule: { every: 4h }\``);
    this.name = 'PlanHasNoScheduleError';
  }
}

export class ScheduleMissingError extends Error {
  constructor(plan: string) {
    super(`no schedule for plan "${plan}": apply it first with \`lifeboat plan apply FILE\``);
    this.name = 'ScheduleMissingError';
  }
}

/** When a schedule section (a plan's, or its drill's) runs, and what a run does when the previous one still runs. */
export function scheduleTiming(schedule: Schedule): Required<Pick<ScheduleOptions, 'spec' | 'policies'>> {
  const cron = schedule.cron === undefined ? [] : Array.isArray(schedule.cron) ? schedule.cron : [schedule.cron];
  return {
    spec: {
      cronExpressions: cron,
      intervals: schedule.every ? [{ every: durationMs(schedule.every) }] : [],
      timezone: schedule.timezone,
      jitter: schedule.jitter ? durationMs(schedule.jitter) : undefined,
    },
    policies: {
      overlap: OVERLAP[schedule.overlap],
      catchupWindow: durationMs(schedule.catchupWindow),
      pauseOnFailure: schedule.pauseOnFailure,
    },
  };
}

/** What the schedule's action would run: the applied plan, its revision and task queue. */
export interface AppliedPlan {
  plan: Plan;
  revision: string;
  taskQueue: string;
}

export function appliedPlanOf(description: ScheduleDescription, workflowType: string = WORKFLOW_TYPES.backupPlan): AppliedPlan | undefined {
  const action = description.action;
  if (action.type !== 'startWorkflow' || action.workflowType !== workflowType) return undefined;
  const input = action.args?.[0] as { plan?: unknown; planRevision?: string } | undefined;
  const validation = validatePlan(input?.plan);
  if (!validation.ok) return undefined;
  return { plan: validation.plan, revision: input?.planRevision ?? 'unrecorded', taskQueue: action.taskQueue };
}

/** Creates or updates the plan's schedule. Idempotent: the same plan revision and task queue change nothing. */
export async function applyPlanSchedule(client: Client, plan: Plan, revision: string, taskQueue: string): Promise<'created' | 'updated' | 'unchanged'> {
  if (!plan.schedule) throw new PlanHasNoScheduleError(plan.name);
  return createOrUpdateSchedule(client, {
    scheduleId: scheduleIdFor(plan.name),
    schedule: plan.schedule,
    workflowType: WORKFLOW_TYPES.backupPlan,
    workflowId: `lifeboat-backup-${plan.name}`,
    plan,
    revision,
    taskQueue,
  });
}

/** A schedule whose action starts `workflowType` with the plan as applied: a plan's backup schedule, or its drill schedule. */
export interface PlanScheduleSpec {
  scheduleId: string;
  /** When it runs (the plan's schedule section, or its drill's). */
  schedule: Schedule;
  workflowType: string;
  /** Temporal appends the scheduled time, so each run's id is unique and readable. */
  workflowId: string;
  plan: Plan;
  revision: string;
  taskQueue: string;
}

/**
 * Creates the schedule, or updates its spec, action and policies unless it already runs this plan revision on this
 * task queue (then nothing changes).
 */
export async function createOrUpdateSchedule(client: Client, spec: PlanScheduleSpec): Promise<'created' | 'updated' | 'unchanged'> {
  const options: ScheduleOptions = {
    scheduleId: spec.scheduleId,
    ...scheduleTiming(spec.schedule),
    action: {
      type: 'startWorkflow',
      workflowType: spec.workflowType,
      workflowId: spec.workflowId,
      taskQueue: spec.taskQueue,
      args: [{ plan: spec.plan, planRevision: spec.revision }],
    },
    memo: { lifeboatPlan: spec.plan.name, planRevision: spec.revision },
  };
  const handle = client.schedule.getHandle(options.scheduleId);
  let current: ScheduleDescription;
  try {
    current = await handle.describe();
  } catch (error) {
    if (!(error instanceof ScheduleNotFoundError)) throw error;
    await client.schedule.create(options);
    return 'created';
  }
  const applied = appliedPlanOf(current, spec.workflowType);
  if (applied !== undefined && applied.revision === spec.revision && applied.taskQueue === spec.taskQueue) return 'unchanged';
  await handle.update((previous) => ({ ...previous, spec: options.spec, action: options.action, policies: options.policies }));
  return 'updated';
}

/** Describes a schedule; `missing()` is thrown when there is none (e.g. a ScheduleMissingError naming the plan). */
export async function describeSchedule(client: Client, scheduleId: string, missing: () => Error): Promise<ScheduleDescription> {
  try {
    return await client.schedule.getHandle(scheduleId).describe();
  } catch (error) {
    if (error instanceof ScheduleNotFoundError) throw missing();
    throw error;
  }
}

/** Every Lifeboat schedule in the namespace, described. */
export async function listPlanSchedules(client: Client): Promise<ScheduleDescription[]> {
  const descriptions: ScheduleDescription[] = [];
  for await (const summary of client.schedule.list()) {
    if (!summary.scheduleId.startsWith(SCHEDULE_ID_PREFIX)) continue;
    try {
      descriptions.push(await client.schedule.getHandle(summary.scheduleId).describe());
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error; // deleted between list and describe
    }
  }
  return descriptions.sort((a, b) => a.scheduleId.localeCompare(b.scheduleId));
}

/**
 * The expected time between runs: the interval for `every`, else the longest gap between the next cron times
 * (as the server computes them, time zone included).
 */
export function cadenceMs(description: ScheduleDescription): number | undefined {
  const interval = description.spec.intervals?.[0]?.every;
  if (interval !== undefined) return typeof interval === 'number' ? interval : undefined;
  const next = description.info.nextActionTimes.map((time) => time.getTime());
  const gaps = next.slice(1).map((time, index) => time - next[index]).filter((gap) => gap > 0);
  // The longest gap: a weekday-only cron waits three days over a weekend and is not stale then.
  return gaps.length > 0 ? Math.max(...gaps) : undefined;
}

/** A plan is stale once its newest complete set is older than this: its staleAfter, else cadence + 1/24 (25 h for daily). */
export function staleThresholdMs(plan: Plan, cadence: number | undefined): number | undefined {
  if (plan.schedule?.staleAfter) return durationMs(plan.schedule.staleAfter);
  return cadence === undefined ? undefined : Math.round((cadence * 25) / 24);
}
