/** `lifeboat restore ...`: start a disaster recovery, approve its recovery point, follow it, resume or abort it. */
import { WorkflowFailedError, WorkflowUpdateFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import type { Command } from 'commander';
import { loadPlanFile } from '../../plan/load';
import { withTemporalClient } from '../../temporal/connection';
import { uniqueRunSuffix } from '../../temporal/settings';
import { WORKFLOW_TYPES } from '../../temporal/names';
import {
  abortUpdate,
  approveRecoveryPointUpdate,
  recoveryStatusQuery,
  recoveryWorkflowId,
  resumeUpdate,
  type DisasterRecoveryInput,
  type RecoveryReport,
  type RecoveryStatus,
} from '../../temporal/recovery';
import { OperationFailed, UsageError } from '../errors';
import { formatTable, humanBytes, humanDuration, printJson } from '../output';
import { pendingActivities, ProgressPrinter, ProgressTracker, type ProgressSample } from '../progress';

/** Sends an update; a validator's rejection is bad input (exit 2) with its reason. */
async function sendUpdate(client: Client, workflowId: string, send: (handle: ReturnType<Client['workflow']['getHandle']>) => Promise<RecoveryStatus>, what: string): Promise<RecoveryStatus> {
  try {
    return await send(client.workflow.getHandle(workflowId));
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError) throw new UsageError(`${what} rejected: ${error.cause?.message ?? error.message}`);
    throw error;
  }
}

export function printRecoveryStatus(status: RecoveryStatus): void {
  console.log(`plan ${status.plan}: phase ${status.phase}`);
  if (status.candidates.length > 0) {
    console.log(
      formatTable(
        ['  RECOVERY POINT', 'SET', 'SIZE', 'APPROVALS'],
        status.candidates.map((point) => [
          `  ${point.timestamp}`,
          point.setId,
          humanBytes(point.bytes),
          `${status.approvals.filter((approval) => approval.timestamp === point.timestamp).map((approval) => approval.approver).join(', ') || '-'} (${status.required} needed)`,
        ]),
      ),
    );
  }
  for (const rejected of status.rejected) console.log(`  not a candidate: ${rejected.setId}: ${rejected.reason}`);
  if (status.agreed) console.log(`  agreed on ${status.agreed.timestamp} (set ${status.agreed.setId}) by ${status.agreed.approvers.join(', ')}`);
  for (const step of status.steps) console.log(`  ${step.outcome.padEnd(7)} ${step.step}${step.error ? `: ${step.error}` : ''}`);
  if (status.waitingForResume) console.log(`  WAITING: "${status.waitingForResume.step}" failed; resume with --action retry | skip | abort`);
  for (const error of status.errors) console.log(`  note: ${error}`);
}

/**
 * One round of `restore status --watch`: the full status whenever it changes, then the restore steps' progress
 * (bytes of the artifact streamed so far against its size, rate, ETA) from their heartbeats.
 */
async function showRecoveryProgress(
  client: Client,
  handle: ReturnType<Client['workflow']['getHandle']>,
  description: WorkflowExecutionDescription,
  status: RecoveryStatus,
  watching: { tracker: ProgressTracker; printer: ProgressPrinter; lastStatus: string },
): Promise<void> {
  const { phase, candidates, approvals, agreed, steps, waitingForResume, errors } = status;
  const summary = JSON.stringify({ phase, candidates, approvals, agreed, steps, waitingForResume, errors });
  if (summary !== watching.lastStatus) {
    printRecoveryStatus(status);
    watching.printer.detach();
    watching.lastStatus = summary;
  }
  const { activities } = await pendingActivities(client, handle, description);
  const samples = activities.flatMap(({ activityType, details }): ProgressSample[] => {
    if (activityType !== 'restoreComponent' || typeof details?.component !== 'string') return [];
    const done = typeof details.bytes === 'number' ? details.bytes : undefined;
    const expected = typeof details.expectedBytes === 'number' ? details.expectedBytes : undefined;
    return [{ component: details.component, state: 'restoring', done, expected }];
  });
  if (samples.length > 0) watching.printer.show(`${handle.workflowId}: ${phase}`, watching.tracker.update(samples));
}

export function registerRestoreCommands(program: Command): void {
  const restore = program.command('restore').description('disaster recovery: agree on a recovery point, scale down, restore, verify, scale up');

  restore
    .command('start')
    .description('start the disasterRecovery workflow for a plan; prints its id and the candidates')
    .requiredOption('--plan <file>', 'plan file')
    .option('--at <timestamp>', 'offer only the recovery point with this timestamp')
    .option('--set <id>', 'offer only this backup set')
    .option('--required <n>', 'distinct approvals needed (default: the plan\'s restore.approvals.required, else 1)', (value) => Number.parseInt(value, 10))
    .option('--dry-run', 'stop after the gate and show what would be restored from where')
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; at?: string; set?: string; required?: number; dryRun?: boolean; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      if (options.at && options.set) throw new UsageError('give --at or --set, not both');
      if (options.at && Number.isNaN(Date.parse(options.at))) throw new UsageError(`--at ${options.at} is not a timestamp (e.g. 2026-11-21T08:35:00.123Z)`);
      if (options.required !== undefined && !(options.required >= 1)) throw new UsageError('--required must be a whole number of at least 1');
      const input: DisasterRecoveryInput = {
        plan,
        target: options.at || options.set ? { timestamp: options.at, setId: options.set } : undefined,
        approvals: options.required ? { required: options.required } : undefined,
        dryRun: options.dryRun,
      };
      await withTemporalClient(async (client, settings) => {
        const workflowId = recoveryWorkflowId(plan.name, uniqueRunSuffix());
        await client.workflow.start(WORKFLOW_TYPES.disasterRecovery, { taskQueue: settings.taskQueue, workflowId, args: [input] });
        if (options.json) return printJson({ workflowId });
        console.log(`started ${WORKFLOW_TYPES.disasterRecovery} ${workflowId}`);
        console.log(`approve with: lifeboat restore approve ${workflowId} --timestamp <RECOVERY POINT> --as <YOUR NAME>`);
      });
    });

  restore
    .command('approve')
    .description('approve a recovery point (rejected, exit 2, for an unknown timestamp, an unlisted or repeated approver, or a closed gate)')
    .argument('<workflow-id>', 'the recovery workflow')
    .requiredOption('--timestamp <t>', 'the recovery point, as `restore status` lists it')
    .requiredOption('--as <name>', 'your name, as the approvers list has it')
    .option('--comment <text>', 'why')
    .action(async (workflowId: string, options: { timestamp: string; as: string; comment?: string }) => {
      await withTemporalClient(async (client) => {
        const status = await sendUpdate(client, workflowId, (handle) => handle.executeUpdate(approveRecoveryPointUpdate, { args: [{ timestamp: options.timestamp, approver: options.as, comment: options.comment }] }), 'approval');
        const count = status.approvals.filter((approval) => Date.parse(approval.timestamp) === Date.parse(options.timestamp)).length;
        console.log(status.agreed ? `agreed: recovering to ${status.agreed.timestamp} (set ${status.agreed.setId})` : `approval recorded: ${count} of ${status.required} for ${options.timestamp}`);
      });
    });

  restore
    .command('status')
    .description('phase, candidates, approvals, steps and errors of a recovery; its report once finished')
    .argument('<workflow-id>', 'the recovery workflow')
    .option('--json', 'print as JSON')
    .option('--watch', 'follow until the recovery ends')
    .action(async (workflowId: string, options: { json?: boolean; watch?: boolean }) => {
      await withTemporalClient(async (client) => {
        const handle = client.workflow.getHandle(workflowId);
        const watching = { tracker: new ProgressTracker(), printer: new ProgressPrinter(process.stdout), lastStatus: '' };
        for (;;) {
          const description = await handle.describe();
          if (description.status.name !== 'RUNNING') {
            try {
              const report = (await handle.result()) as RecoveryReport;
              if (options.json) return printJson(report);
              console.log(`recovery ${report.outcome}${report.recoveryPoint ? ` to ${report.recoveryPoint} (set ${report.setId})` : ''}`);
              if (report.rtoMs !== undefined) console.log(`  RTO ${humanDuration(report.rtoMs)}; data-loss window ${humanDuration(report.dataLossWindowMs ?? 0)}`);
              for (const approval of report.approvals) console.log(`  approved ${approval.timestamp} by ${approval.approver} at ${approval.at}${approval.comment ? `: ${approval.comment}` : ''}`);
              for (const step of report.steps) console.log(`  ${step.outcome.padEnd(7)} ${step.step}${step.error ? `: ${step.error}` : ''}`);
              if (report.leftDown?.length) console.log(`  left scaled down: ${report.leftDown.join(', ')}`);
              return;
            } catch (error) {
              if (error instanceof WorkflowFailedError) throw new OperationFailed(`recovery failed: ${error.cause?.message ?? error.message}`);
              throw error;
            }
          }
          const status = await handle.query(recoveryStatusQuery);
          if (options.json) printJson(status);
          else if (options.watch) await showRecoveryProgress(client, handle, description, status, watching);
          else printRecoveryStatus(status);
          if (!options.watch) return;
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      });
    });

  restore
    .command('resume')
    .description('after a failed step: retry it, skip it, or abort the recovery')
    .argument('<workflow-id>', 'the recovery workflow')
    .requiredOption('--action <action>', 'retry | skip | abort')
    .requiredOption('--as <name>', 'your name')
    .action(async (workflowId: string, options: { action: string; as: string }) => {
      if (!['retry', 'skip', 'abort'].includes(options.action)) throw new UsageError(`--action must be retry, skip or abort, not "${options.action}"`);
      await withTemporalClient(async (client) => {
        await sendUpdate(client, workflowId, (handle) => handle.executeUpdate(resumeUpdate, { args: [{ by: options.as, action: options.action as 'retry' | 'skip' | 'abort' }] }), 'resume');
        console.log(`resume (${options.action}) accepted`);
      });
    });

  restore
    .command('abort')
    .description('abort a recovery in any phase (after scale-down, targets stay down unless the plan says restore.onAbort: scale-up)')
    .argument('<workflow-id>', 'the recovery workflow')
    .requiredOption('--as <name>', 'your name')
    .requiredOption('--reason <text>', 'why')
    .action(async (workflowId: string, options: { as: string; reason: string }) => {
      await withTemporalClient(async (client) => {
        await sendUpdate(client, workflowId, (handle) => handle.executeUpdate(abortUpdate, { args: [{ by: options.as, reason: options.reason }] }), 'abort');
        console.log('abort accepted');
      });
    });
}
