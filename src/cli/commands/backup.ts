import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import type { Command } from 'commander';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import type { BackupProgress } from '../../../activities';
import type { BackupPlanResult } from '../../../workflows';
import { ObjectNotFoundError } from '../../stores/types';
import { listBackupSets, readManifest, verifyBackupSet } from '../../repository/backupSets';
import { loadPlanFile } from '../../plan/load';
import { createStore } from '../../stores';
import { Keyring } from '../../encryption';
import { uniqueRunSuffix, withTemporalClient } from '../../temporal/connection';
import { backupStatusQuery, backupWorkflowId, WORKFLOW_TYPES, type BackupStatus } from '../../temporal/names';
import { OperationFailed, UsageError } from '../errors';
import { formatTable, humanBytes, humanDuration, printJson } from '../output';

/** Polls the workflow and prints component progress: rewritten in place on a terminal, plain lines otherwise. */
async function followBackup(client: Client, handle: WorkflowHandle): Promise<void> {
  const interactive = process.stderr.isTTY;
  let lastLine = '';
  let lastStates = '';
  let lastPrinted = 0;
  for (;;) {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING') break;
    const status = await handle.query(backupStatusQuery).catch(() => undefined); // no worker has picked it up yet
    if (status) {
      const streamed = new Map<string, number>();
      for (const activity of description.raw.pendingActivities ?? []) {
        const details = activity.heartbeatDetails?.payloads?.[0];
        if (!details) continue;
        // Heartbeat details come raw from describe(): decoded (decrypted, with payload encryption on) first.
        const progress = await decodeFromPayloadsAtIndex<BackupProgress>(client.options.loadedDataConverter, 0, [details]);
        streamed.set(progress.component, progress.bytes);
      }
      const describe = (component: BackupStatus['components'][number]) => {
        const bytes = component.bytes ?? streamed.get(component.name);
        return `${component.name} ${component.state}${bytes !== undefined ? ` ${humanBytes(bytes)}` : ''}`;
      };
      const line = `${status.phase}: ${status.components.map(describe).join(', ')}`;
      // A log gets a line when a component changes state, and a progress line every 10 s in between.
      const states = status.components.map((component) => component.state).join();
      if (interactive) process.stderr.write(`\r\x1b[K${line}`);
      else if (states !== lastStates || (line !== lastLine && Date.now() - lastPrinted >= 10_000)) {
        process.stderr.write(`${line}\n`);
        lastPrinted = Date.now();
      }
      lastLine = line;
      lastStates = states;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  if (interactive && lastLine) process.stderr.write('\n');
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
        if (!options.json) await followBackup(client, handle);
        let result: BackupPlanResult;
        try {
          result = (await handle.result()) as BackupPlanResult;
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

  backup
    .command('verify')
    .description('re-read every artifact of a set: sha256, size and the engine check (pg_restore --list); exits 1 naming any failure')
    .requiredOption('--plan <file>', 'plan file')
    .argument('<set-id>', 'backup set id (see `lifeboat backups list`)')
    .option('--json', 'print the verification as JSON')
    .action(async (setId: string, options: { plan: string; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      Keyring.forPlan(plan).loadAll(); // an unset or malformed key is bad input (exit 2), before anything is read
      const store = createStore(plan.store);
      const manifest = await readManifest(store, plan.name, setId).catch((error: Error) => {
        if (error instanceof ObjectNotFoundError) {
          throw new UsageError(`no complete backup set "${setId}" for plan "${plan.name}" in ${store.location}: see \`lifeboat backups list --plan ${options.plan}\``);
        }
        throw error;
      });
      const verification = await verifyBackupSet(store, plan, manifest);
      if (options.json) printJson(verification);
      else {
        for (const artifact of verification.artifacts) {
          console.log(`${artifact.ok ? 'ok    ' : 'FAILED'} ${artifact.component} ${artifact.key} ${humanBytes(artifact.bytes)} sha256 ${artifact.sha256.slice(0, 16)}`);
          for (const problem of artifact.problems) console.log(`         ${problem}`);
        }
        for (const problem of verification.problems) console.log(`FAILED order: ${problem}`);
        console.log(verification.ok ? `set ${setId} verified` : `set ${setId} FAILED verification`);
      }
      if (!verification.ok) {
        const failed = verification.artifacts.filter((artifact) => !artifact.ok).map((artifact) => artifact.key);
        throw new OperationFailed(`verification failed${failed.length > 0 ? `: ${failed.join(', ')}` : ''}`);
      }
    });

  program
    .command('backups')
    .description('list backup sets')
    .command('list')
    .description('list the complete backup sets of a plan (incomplete ones are counted, never offered)')
    .requiredOption('--plan <file>', 'plan file')
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      const store = createStore(plan.store);
      const listing = await listBackupSets(store, plan.name);
      if (options.json) {
        printJson({
          plan: plan.name,
          store: store.location,
          sets: listing.complete,
          incomplete: listing.incomplete.map(({ setId, reason }) => ({ setId, reason })),
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
      if (listing.incomplete.length > 0) {
        console.log(`${listing.incomplete.length} incomplete set(s), never offered for restore: ${listing.incomplete.map((set) => set.setId).join(', ')}`);
      }
    });
}
