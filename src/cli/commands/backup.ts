import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import type { BackupProgress } from '../../../activities';
import type { BackupPlanResult } from '../../../workflows';
import { loadPlanFile } from '../../plan/load';
import { uniqueRunSuffix, withTemporalClient } from '../../temporal/connection';
import { backupStatusQuery, backupWorkflowId, WORKFLOW_TYPES } from '../../temporal/names';
import { OperationFailed } from '../errors';
import { formatTable, humanBytes, humanDuration, printJson } from '../output';
import { pendingActivities, ProgressPrinter, ProgressTracker, type ProgressSample } from '../progress';
import { registerVerifyCommand } from './verify';

/**
 * Polls the workflow and prints each component's progress (bytes, rate, ETA) from its activity's heartbeats,
 * until `outcome` (the workflow's result) settles: it returns as soon as the workflow closed, not at the next poll.
 */
async function followBackup(client: Client, handle: WorkflowHandle, outcome: Promise<unknown>): Promise<void> {
  const tracker = new ProgressTracker();
  const printer = new ProgressPrinter();
  let closed = false;
  const settled = outcome.then(
    () => (closed = true),
    () => (closed = true),
  );
  while (!closed) {
    const { running, activities } = await pendingActivities(client, handle);
    if (!running) break;
    const status = await handle.query(backupStatusQuery).catch(() => undefined); // no worker has picked it up yet
    if (status) {
      const heartbeats = new Map<string, BackupProgress>();
      for (const { details } of activities) if (details && typeof details.component === 'string') heartbeats.set(details.component, details as unknown as BackupProgress);
      const samples = status.components.map((component): ProgressSample => {
        const progress = heartbeats.get(component.name);
        if (component.state !== 'running' || !progress) return { component: component.name, state: component.state, done: component.bytes };
        // Source bytes against the engine's estimate where it has one; stored bytes otherwise.
        return progress.expectedSourceBytes !== undefined && progress.sourceBytes !== undefined
          ? { component: component.name, state: component.state, done: progress.sourceBytes, expected: progress.expectedSourceBytes }
          : { component: component.name, state: component.state, done: progress.bytes };
      });
      printer.show(`${handle.workflowId}: ${status.phase}`, tracker.update(samples));
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([settled, new Promise((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }
}

export function registerBackupCommands(program: Command): void {
  const backup = program.command('backup').description('run and verify backups');

  backup
    .command('run')
    .description('start the backupPlan workflow for a plan; prints the workflow id')
    .requiredOption('--plan <file>', 'plan file')
    .option('--wait', 'wait for the outcome, showing progress')
    .option('--json', 'print the result as JSON')
    .action(async (options: { plan: string; wait?: boolean; json?: boolean }) => {
      const { plan, revision } = await loadPlanFile(options.plan);
      await withTemporalClient(async (client, settings) => {
        const workflowId = backupWorkflowId(plan.name, uniqueRunSuffix());
        const handle = await client.workflow.start(WORKFLOW_TYPES.backupPlan, {
          taskQueue: settings.taskQueue,
          workflowId,
          args: [{ plan, planRevision: revision }],
        });
        if (!options.json) console.log(`started ${WORKFLOW_TYPES.backupPlan} ${workflowId} on task queue ${settings.taskQueue}`);
        if (!options.wait) {
          if (options.json) printJson({ workflowId, runId: handle.firstExecutionRunId });
          return;
        }
        const outcome = handle.result() as Promise<BackupPlanResult>;
        if (!options.json) await followBackup(client, handle, outcome);
        let result: BackupPlanResult;
        try {
          result = await outcome;
        } catch (error) {
          const cause = error instanceof WorkflowFailedError ? (error.cause?.message ?? error.message) : (error as Error).message;
          throw new OperationFailed(`backup ${workflowId} failed: ${cause}`);
        }
        if (options.json) {
          printJson({ workflowId, ...result });
          return;
        }
        const took = Date.parse(result.completedAt) - Date.parse(result.startedAt);
        console.log(`backup set ${result.setId} complete in ${humanDuration(took)} (manifest ${result.manifestKey})`);
        console.log(
          formatTable(
            ['COMPONENT', 'BYTES', 'SHA256', 'STARTED', 'COMPLETED'],
            result.components.map((component) => [component.name, humanBytes(component.bytes), component.sha256.slice(0, 16), component.startedAt, component.completedAt]),
          ),
        );
      });
    });

  registerVerifyCommand(backup);

  program
    .command('backups')
    .description('list backup sets')
    .command('list')
    .description('list the complete backup sets of a plan (incomplete ones are counted, never offered)')
    .requiredOption('--plan <file>', 'plan file')
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; json?: boolean }) => {
      // Loaded here: `lifeboat backup run` loads this module and needs neither the store (AWS SDK) nor the catalog.
      const [{ describeVerifyFailure }, { listBackupSets }, { createStore }] = await Promise.all([
        import('../../catalog/verifyMark'),
        import('../../repository/backupSets'),
        import('../../stores'),
      ]);
      const { plan } = await loadPlanFile(options.plan);
      const store = createStore(plan.store);
      const listing = await listBackupSets(store, plan.name);
      if (options.json) {
        printJson({
          plan: plan.name,
          store: store.location,
          sets: listing.complete,
          incomplete: listing.incomplete.map(({ setId, reason }) => ({ setId, reason })),
          failedVerification: listing.failedVerification.map(({ manifest, mark }) => ({ setId: manifest.setId, state: 'FAILED-VERIFY', reason: mark.reason, artifact: mark.artifact, at: mark.at })),
        });
        return;
      }
      if (listing.complete.length === 0) console.log(`no complete backup sets for plan "${plan.name}" in ${store.location}`);
      for (const manifest of listing.complete) {
        const bytes = manifest.components.reduce((sum, component) => sum + component.bytes, 0);
        console.log(`${manifest.setId}  completed ${manifest.completedAt}  ${humanBytes(bytes)}  plan revision ${manifest.planRevision}`);
        console.log(
          formatTable(
            ['  COMPONENT', 'BYTES', 'SHA256', 'STARTED', 'COMPLETED'],
            manifest.components.map((component) => [`  ${component.name}`, humanBytes(component.bytes), component.sha256, component.startedAt, component.completedAt]),
          ),
        );
      }
      for (const { manifest, mark } of listing.failedVerification) {
        console.log(`${manifest.setId}  FAILED-VERIFY  ${describeVerifyFailure(mark)} (never offered for restore; \`backup verify\` clears the mark once the set passes again)`);
      }
      if (listing.incomplete.length > 0) {
        console.log(`${listing.incomplete.length} incomplete set(s), never offered for restore: ${listing.incomplete.map((set) => set.setId).join(', ')}`);
      }
    });
}
