/**
 * Drill schedules: `plan apply` also creates, updates or removes schedule "lifeboat-<plan>.drill", whose action
 * starts restoreDrill with the plan as applied. The "." cannot occur in a plan name, so a drill schedule never
 * collides with another plan's backup schedule.
 */
import { ScheduleNotFoundError, type Client, type ScheduleDescription } from '@temporalio/client';
import type { Plan } from '../plan/schema';
import { WORKFLOW_TYPES } from './names';
import { appliedPlanOf, createOrUpdateSchedule, scheduleIdFor, ScheduleMissingError, type AppliedPlan } from './schedules';

const DRILL_SCHEDULE_SUFFIX = '.drill';

export function drillScheduleIdFor(planName: string): string {
  return `${scheduleIdFor(planName)}${DRILL_SCHEDULE_SUFFIX}`;
}

export function isDrillSchedule(description: Pick<ScheduleDescription, 'scheduleId'>): boolean {
  return description.scheduleId.endsWith(DRILL_SCHEDULE_SUFFIX);
}

export class DrillScheduleMissingError extends ScheduleMissingError {
  constructor(plan: string) {
    super(plan);
    this.message = `no drill schedule for plan "${plan}": add drill.schedule to the plan and apply it with \`lifeboat plan apply FILE\``;
  }
}

/** The plan a drill schedule runs, like appliedPlanOf for backup schedules. */
export function appliedDrillOf(description: ScheduleDescription): AppliedPlan | undefined {
  return appliedPlanOf(description, WORKFLOW_TYPES.restoreDrill);
}

/** Creates or updates the plan's drill schedule, or removes it when the plan no longer asks for one. Idempotent. */
export async function applyDrillSchedule(client: Client, plan: Plan, revision: string, taskQueue: string): Promise<'created' | 'updated' | 'unchanged' | 'removed' | 'none'> {
  const scheduleId = drillScheduleIdFor(plan.name);
  const schedule = plan.drill?.schedule;
  if (!schedule) {
    try {
      await client.schedule.getHandle(scheduleId).delete();
      return 'removed';
    } catch (error) {
      if (error instanceof ScheduleNotFoundError) return 'none';
      throw error;
    }
  }
  return createOrUpdateSchedule(client, {
    scheduleId,
    schedule,
    workflowType: WORKFLOW_TYPES.restoreDrill,
    workflowId: `lifeboat-drill-${plan.name}`,
    plan,
    revision,
    taskQueue,
  });
}
