import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import type { BackupProgress } from '../../../activities';
import type { BackupPlanResult } from '../../../workflows';
import { payloadEncryptionRequested } from '../../encryption/keys';
import { loadPlanFile } from '../../plan/load';
import { backupWorkflowId, WORKFLOW_TYPES } from '../../temporal/names';
import { temporalSettingsFromEnv, uniqueRunSuffix } from '../../temporal/settings';
import { OperationFailed, UsageError } from '../errors';
import { formatTable, humanBytes, humanDuration, printJson } from '../output';
import type { ProgressSample } from '../progress';
import { registerVerifyCommand } from './verify';

// `backup run` loads the gRPC client (and the progress display) only when it needs them: over the HTTP API
// (TEMPORAL_HTTP_ADDRESS) with --json or without --wait it never does, and starts in a fraction of the time.

/**
 * Polls the workflow and prints each component's progress (bytes, rate, ETA) from its activity's heartbeats,
 * until `outcome` (the workflow's result) settles: it returns as soon as the workflow closed, not at the next poll.
 */
async function followBackup(client: Client, handle: WorkflowHandle, outcome: Promise<unknown>): Promise<void> {
  const [{ pendingActivities, ProgressPrinter, ProgressTracker }, { backupStatusQuery }] = await Promise.all([import('../progress'), import('../../temporal/backupStatus')]);
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
    .action(async (options: BackupRunOptions) => {
      const { plan, revision } = await loadPlanFile(options.plan);
      const settings = temporalSettingsFromEnv();
      const start = { taskQueue: settings.taskQueue, workflowId: backupWorkflowId(plan.name, uniqueRunSuffix()), args: [{ plan, planRevision: revision }] };
      if (settings.httpAddress) {
        await runOverHttpApi(settings.httpAddress, settings.namespace, start, options);
        return;
      }
      const { withTemporalClient } = await import('../../temporal/connection');
      await withTemporalClient(async (client) => {
        const handle = await client.workflow.start(WORKFLOW_TYPES.backupPlan, start);
        await reportRun(start, handle.firstExecutionRunId, options, {
          result: () => handle.result() as Promise<BackupPlanResult>,
          follow: (outcome) => followBackup(client, handle, outcome),
        });
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

interface BackupRunOptions {
  plan: string;
  wait?: boolean;
  json?: boolean;
}

type BackupStart = { taskQueue: string; workflowId: string; args: unknown[] };

/** `backup run` over Temporal's HTTP API: start and result without the gRPC client, which only the progress display loads. */
async function runOverHttpApi(address: string, namespace: string, start: BackupStart, options: BackupRunOptions): Promise<void> {
  const { TemporalHttpApi } = await import('../../temporal/httpApi');
  // The codec (and the protobuf definitions it needs) only when payload encryption is on.
  const codecs = payloadEncryptionRequested() ? ((await import('../../encryption/payloadCodec')).dataConverterFromEnv()?.payloadCodecs ?? []) : [];
  let api: InstanceType<typeof TemporalHttpApi>;
  try {
    api = new TemporalHttpApi(address, namespace, codecs);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  try {
    const runId = await api.startWorkflow(WORKFLOW_TYPES.backupPlan, start);
    await reportRun(start, runId, options, {
      result: () => api.result<BackupPlanResult>(start.workflowId, runId),
      follow: async (outcome) => {
        // Progress needs describe and query over gRPC; without them the run is still awaited over HTTP.
        const { withTemporalClient } = await import('../../temporal/connection');
        await withTemporalClient((client) => followBackup(client, client.workflow.getHandle(start.workflowId, runId), outcome)).catch((error: Error) => {
          console.error(`(no progress shown: ${error.message})`);
        });
      },
    });
  } finally {
    api.close();
  }
}

/** After the start, whichever the transport: the id, then (with --wait) progress and the outcome. */
async function reportRun(
  { workflowId, taskQueue }: BackupStart,
  runId: string,
  options: BackupRunOptions,
  run: { result(): Promise<BackupPlanResult>; follow(outcome: Promise<BackupPlanResult>): Promise<void> },
): Promise<void> {
  if (!options.json) console.log(`started ${WORKFLOW_TYPES.backupPlan} ${workflowId} on task queue ${taskQueue}`);
  if (!options.wait) {
    if (options.json) printJson({ workflowId, runId });
    return;
  }
  const outcome = run.result();
  // Marked handled: a failure that comes while follow() is still connecting is awaited below, not an unhandled rejection.
  outcome.catch(() => undefined);
  if (!options.json) await run.follow(outcome);
  let result: BackupPlanResult;
  try {
    result = await outcome;
  } catch (error) {
    const { name, message } = error as Error;
    // Over gRPC the workflow's own failure is the cause of a WorkflowFailedError; over HTTP it is the message.
    if (name === 'WorkflowFailedError') throw new OperationFailed(`backup ${workflowId} failed: ${((error as Error).cause as Error | undefined)?.message ?? message}`);
    if (name === 'WorkflowClosedError') throw new OperationFailed(`backup ${workflowId} failed: ${message}`);
    // Temporal went away for longer than the client rides out: the workflow carries on without the CLI.
    throw new OperationFailed(`lost touch with Temporal while waiting for backup ${workflowId}, which carries on (\`temporal workflow describe -w ${workflowId}\` shows how it ends): ${message}`);
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
}
