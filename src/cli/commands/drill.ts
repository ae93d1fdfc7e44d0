/** `lifeboat drill` (run a restore drill) and `lifeboat drills list` (the plan's drill history). */
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import { drillRecordSchema, type DrillRecord } from '../../catalog/drills';
import { loadPlanFile } from '../../plan/load';
import type { Plan } from '../../plan/schema';
import { readManifest } from '../../repository/backupSets';
import { listDrillRecords } from '../../repository/drills';
import { createStore } from '../../stores';
import { ObjectNotFoundError } from '../../stores/types';
import { withTemporalClient } from '../../temporal/connection';
import { uniqueRunSuffix } from '../../temporal/settings';
import { DRILL_FAILURE_TYPES, drillWorkflowId, type RestoreDrillInput } from '../../temporal/drill';
import { WORKFLOW_TYPES } from '../../temporal/names';
import { OperationFailed, UsageError } from '../errors';
import { formatTable, humanBytes, humanDuration, printJson } from '../output';

function requireDrill(plan: Plan, file: string): void {
  if (!plan.drill) throw new UsageError(`plan "${plan.name}" (${file}) has no drill section: add e.g. \`drill: { targets: { <component>: { databaseSuffix: _drill } } }\` (see the README, "Restore drills")`);
}

function describeRto(record: Pick<DrillRecord, 'rtoMs' | 'rtoTargetMs' | 'rtoMet'>): string {
  if (record.rtoMs === undefined) return '-';
  const target = record.rtoTargetMs === undefined ? '' : ` (target ${humanDuration(record.rtoTargetMs)}${record.rtoMet === false ? ', OVER' : ''})`;
  return `${humanDuration(record.rtoMs)}${target}`;
}

function printDrill(record: DrillRecord): void {
  console.log(`drill ${record.drillId} of plan ${record.plan}: ${record.outcome.toUpperCase()}${record.setId ? ` (set ${record.setId})` : ''}`);
  if (record.reason) console.log(`  reason: ${record.reason}`);
  console.log(`  RTO: ${describeRto(record)}`);
  console.log(
    formatTable(
      ['  COMPONENT', 'DRILLED', 'SANDBOX', 'BYTES', 'NOTE'],
      record.components.map((component) => [`  ${component.name}`, component.drilled ? 'yes' : 'no', component.sandbox ?? '-', component.bytes === undefined ? '-' : humanBytes(component.bytes), component.note ?? '']),
    ),
  );
  for (const check of record.checks) console.log(`  ${check.ok ? 'ok    ' : 'FAILED'} ${check.check}: ${check.detail}`);
  for (const note of record.checksNotRun) console.log(`  not run: ${note}`);
  if (record.cleanup.dropped.length > 0) console.log(`  sandboxes dropped: ${record.cleanup.dropped.join(', ')}`);
  for (const problem of record.cleanup.problems) console.log(`  CLEANUP: ${problem}`);
}

/** The drill record a failed drill carries in its failure's details, when it got as far as recording one. */
function recordOf(error: WorkflowFailedError): DrillRecord | undefined {
  const details = (error.cause as { details?: unknown[] } | undefined)?.details;
  const parsed = drillRecordSchema.safeParse(details?.[0]);
  return parsed.success ? parsed.data : undefined;
}

export function registerDrillCommands(program: Command): void {
  program
    .command('drill')
    .description("run a restore drill: restore the newest complete set (or --set) into the plan's sandboxes, check it, measure the RTO, drop the sandboxes")
    .requiredOption('--plan <file>', 'plan file')
    .option('--set <id>', 'drill this backup set instead of the newest complete one')
    .option('--wait', 'wait for the outcome; exit 1 when the drill fails or misses rtoTarget, 2 when it is refused')
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; set?: string; wait?: boolean; json?: boolean }) => {
      const { plan, revision } = await loadPlanFile(options.plan);
      requireDrill(plan, options.plan);
      if (options.set) {
        const store = createStore(plan.store);
        await readManifest(store, plan.name, options.set).catch((error: Error) => {
          if (error instanceof ObjectNotFoundError) throw new UsageError(`no complete backup set "${options.set}" for plan "${plan.name}" in ${store.location}: see \`lifeboat backups list --plan ${options.plan}\``);
          throw error;
        });
      }
      const input: RestoreDrillInput = { plan, setId: options.set, planRevision: revision };
      await withTemporalClient(async (client, settings) => {
        const workflowId = drillWorkflowId(plan.name, uniqueRunSuffix());
        const handle = await client.workflow.start(WORKFLOW_TYPES.restoreDrill, { taskQueue: settings.taskQueue, workflowId, args: [input] });
        if (!options.wait) {
          if (options.json) printJson({ workflowId, runId: handle.firstExecutionRunId });
          else console.log(`started ${WORKFLOW_TYPES.restoreDrill} ${workflowId} on task queue ${settings.taskQueue}`);
          return;
        }
        if (!options.json) console.log(`started ${WORKFLOW_TYPES.restoreDrill} ${workflowId}; waiting for its outcome`);
        let record: DrillRecord;
        try {
          record = (await handle.result()) as DrillRecord;
        } catch (error) {
          if (!(error instanceof WorkflowFailedError)) throw error;
          const failed = recordOf(error);
          if (failed) {
            if (options.json) printJson(failed);
            else printDrill(failed);
          }
          const message = `drill ${workflowId} ${failed?.outcome ?? 'failed'}: ${failed?.reason ?? error.cause?.message ?? error.message}`;
          // A refused drill touched nothing: the plan's sandbox is wrong, which is bad input.
          if ((error.cause as { type?: string } | undefined)?.type === DRILL_FAILURE_TYPES.refused) throw new UsageError(message);
          throw new OperationFailed(message);
        }
        if (options.json) printJson(record);
        else printDrill(record);
        if (record.rtoMet === false) throw new OperationFailed(`drill ${record.drillId} passed its checks but missed rtoTarget: ${record.reason}`);
      });
    });

  program
    .command('drills')
    .description('restore drill history')
    .command('list')
    .description("a plan's restore drills, newest first: time, set, RTO against rtoTarget, outcome and why")
    .requiredOption('--plan <file>', 'plan file')
    .option('--limit <n>', 'show only the newest N drills', (value) => {
      const limit = Number(value);
      if (!Number.isInteger(limit) || limit < 1) throw new UsageError(`--limit must be a whole number of at least 1, not "${value}"`);
      return limit;
    })
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; limit?: number; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      const store = createStore(plan.store);
      const history = await listDrillRecords(store, plan.name, options.limit);
      if (options.json) return printJson({ plan: plan.name, store: store.location, drills: history.records, unreadable: history.unreadable });
      if (history.records.length === 0) console.log(`no restore drills for plan "${plan.name}" in ${store.location}: run one with \`lifeboat drill --plan ${options.plan}\``);
      else {
        console.log(
          formatTable(
            ['STARTED', 'DRILL', 'SET', 'RTO', 'RESULT', 'REASON'],
            history.records.map((record) => [record.startedAt, record.drillId, record.setId ?? '-', describeRto(record), record.outcome, record.reason ?? '']),
          ),
        );
      }
      for (const { key, reason } of history.unreadable) console.log(`unreadable drill record ${key}: ${reason}`);
    });
}
