import { existsSync } from 'node:fs';
import type { Client, ScheduleDescription } from '@temporalio/client';
import type { Command } from 'commander';
import type { Plan } from '../../plan/schema';
import { loadPlanFile } from '../../plan/load';
import { planStatuses, type PlanStatus } from '../../repository/planStatus';
import { withTemporalClient } from '../../temporal/connection';
import type { TemporalSettings } from '../../temporal/settings';
import { applyPlanSchedule, appliedPlanOf, cadenceMs, describeSchedule, listPlanSchedules, PlanHasNoScheduleError, ScheduleMissingError, scheduleIdFor } from '../../temporal/schedules';
import { applyDrillSchedule, appliedDrillOf, drillScheduleIdFor, DrillScheduleMissingError, isDrillSchedule } from '../../temporal/drillSchedule';
import { UsageError } from '../errors';
import { formatTable, humanDuration, printJson } from '../output';

/** A missing schedule, or a plan without one, is bad input (exit 2), not a failure. */
async function withScheduleClient<T>(action: (client: Client, settings: TemporalSettings) => Promise<T>): Promise<T> {
  try {
    return await withTemporalClient(action);
  } catch (error) {
    if (error instanceof ScheduleMissingError || error instanceof PlanHasNoScheduleError) throw new UsageError(error.message);
    throw error;
  }
}

/** PLAN may be a plan name or a plan file. */
async function planName(plan: string): Promise<string> {
  return existsSync(plan) ? (await loadPlanFile(plan)).plan.name : plan;
}

function describeCadence(status: Pick<PlanStatus, 'cadenceMs'>): string {
  return status.cadenceMs === undefined ? '?' : `every ${humanDuration(status.cadenceMs)}`;
}

/** The plan's backup schedule, or with `drill` its drill schedule; a missing one throws a ScheduleMissingError. */
export function describeScheduleOf(client: Client, planName: string, drill = false): Promise<ScheduleDescription> {
  return drill
    ? describeSchedule(client, drillScheduleIdFor(planName), () => new DrillScheduleMissingError(planName))
    : describeSchedule(client, scheduleIdFor(planName), () => new ScheduleMissingError(planName));
}

/**
 * Applies a plan's schedules: creates or updates its backup schedule, and creates, updates or removes its drill
 * schedule. Says what changed. `plan apply` and `lifeboat up` both apply plans with it.
 */
export async function applySchedules(client: Client, plan: Plan, revision: string, taskQueue: string, say: (line: string) => void = console.log): Promise<void> {
  const outcome = await applyPlanSchedule(client, plan, revision, taskQueue);
  say(`schedule ${scheduleIdFor(plan.name)} ${outcome} (plan revision ${revision}, task queue ${taskQueue})`);
  const drillOutcome = await applyDrillSchedule(client, plan, revision, taskQueue);
  if (drillOutcome !== 'none') say(`drill schedule ${drillScheduleIdFor(plan.name)} ${drillOutcome}`);
}

/** `plan apply FILE` (registered by the plan module, which loads this one only when apply runs). */
export async function applyPlan(file: string): Promise<void> {
  const loaded = await loadPlanFile(file);
  if (!loaded.plan.schedule) throw new UsageError(new PlanHasNoScheduleError(loaded.plan.name).message);
  await withScheduleClient((client, settings) => applySchedules(client, loaded.plan, loaded.revision, settings.taskQueue));
}

export function registerScheduleCommands(program: Command): void {
  const schedule = program.command('schedule').description("manage plans' Temporal Schedules");
  schedule
    .command('list')
    .description('every Lifeboat schedule: plan, revision, cadence, paused, next run')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withScheduleClient(async (client) => {
        const rows = (await listPlanSchedules(client)).map((description) => {
          const applied = isDrillSchedule(description) ? appliedDrillOf(description) : appliedPlanOf(description);
          return {
            scheduleId: description.scheduleId,
            kind: isDrillSchedule(description) ? 'drill' : 'backup',
            plan: applied?.plan.name,
            planRevision: applied?.revision,
            paused: description.state.paused,
            note: description.state.note,
            cadenceMs: cadenceMs(description),
            nextRuns: description.info.nextActionTimes.slice(0, 3).map((time) => time.toISOString()),
            recentRuns: description.info.recentActions.map((action) => ({ scheduledAt: action.scheduledAt.toISOString(), workflowId: action.action.workflow.workflowId })),
          };
        });
        if (options.json) return printJson(rows);
        if (rows.length === 0) return console.log('no Lifeboat schedules: create one with `lifeboat plan apply FILE`');
        console.log(
          formatTable(
            ['SCHEDULE', 'PLAN', 'REVISION', 'CADENCE', 'STATE', 'NEXT RUN'],
            rows.map((row) => [row.scheduleId, row.plan ?? '?', row.planRevision ?? '?', describeCadence(row), row.paused ? `paused${row.note ? ` (${row.note})` : ''}` : 'active', row.nextRuns[0] ?? '-']),
          ),
        );
      });
    });
  schedule
    .command('pause')
    .description("pause a plan's schedule")
    .argument('<plan>', 'plan name or plan file')
    .option('--reason <text>', 'why (shown in `schedule list` and the Web UI)')
    .option('--drill', "the plan's drill schedule instead of its backup schedule")
    .action(async (planArgument: string, options: { reason?: string; drill?: boolean }) => {
      const name = await planName(planArgument);
      await withScheduleClient(async (client) => {
        const { scheduleId } = await describeScheduleOf(client, name, options.drill);
        await client.schedule.getHandle(scheduleId).pause(options.reason ?? 'paused with lifeboat schedule pause');
        console.log(`schedule ${scheduleId} paused`);
      });
    });
  schedule
    .command('resume')
    .description("resume a paused plan's schedule")
    .argument('<plan>', 'plan name or plan file')
    .option('--drill', "the plan's drill schedule instead of its backup schedule")
    .action(async (planArgument: string, options: { drill?: boolean }) => {
      const name = await planName(planArgument);
      await withScheduleClient(async (client) => {
        const { scheduleId } = await describeScheduleOf(client, name, options.drill);
        await client.schedule.getHandle(scheduleId).unpause('resumed with lifeboat schedule resume');
        console.log(`schedule ${scheduleId} resumed`);
      });
    });
  schedule
    .command('trigger')
    .description("run a plan's scheduled backup now, under the schedule's overlap policy")
    .argument('<plan>', 'plan name or plan file')
    .option('--drill', "the plan's drill schedule: run a restore drill now")
    .action(async (planArgument: string, options: { drill?: boolean }) => {
      const name = await planName(planArgument);
      await withScheduleClient(async (client) => {
        const description = await describeScheduleOf(client, name, options.drill);
        // The SDK's trigger defaults to ALLOW_ALL, which would let two backups of one plan overlap.
        await client.schedule.getHandle(description.scheduleId).trigger(description.policies.overlap);
        console.log(`schedule ${description.scheduleId} triggered (overlap policy ${description.policies.overlap})`);
      });
    });

  program
    .command('status')
    .description('every applied plan: newest complete set, its age against the cadence, STALE when overdue')
    .option('--json', 'print as JSON')
    .action(async (options: { json?: boolean }) => {
      await withScheduleClient(async (client) => {
        const statuses = await planStatuses(client);
        if (options.json) return printJson(statuses);
        if (statuses.length === 0) return console.log('no applied plans: apply one with `lifeboat plan apply FILE`');
        console.log(
          formatTable(
            ['PLAN', 'LAST SET', 'AGE', 'CADENCE', 'STATE'],
            statuses.map((status) => [
              status.plan,
              status.lastSetId ?? 'none',
              humanDuration(status.ageMs),
              describeCadence(status),
              [status.stale ? 'STALE' : 'ok', status.paused ? 'paused' : '', status.error ?? ''].filter(Boolean).join(', '),
            ]),
          ),
        );
      });
    });
}
