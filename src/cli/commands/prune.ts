/** `lifeboat prune --plan FILE [--dry-run] [--json]`: runs the prune workflow and prints every set's KEEP/REMOVE and why. */
import { WorkflowFailedError } from '@temporalio/client';
import type { Command } from 'commander';
import type { PruneResult, prune } from '../../../workflows';
import { loadPlanFile } from '../../plan/load';
import { withTemporalClient } from '../../temporal/connection';
import { uniqueRunSuffix } from '../../temporal/settings';
import { pruneWorkflowId, WORKFLOW_TYPES } from '../../temporal/names';
import { OperationFailed, UsageError } from '../errors';
import { formatTable, humanBytes, printJson } from '../output';

function printPruneResult(result: PruneResult, workflowId: string): void {
  if (result.sets.length === 0) console.log(`no backup sets for plan "${result.plan}" in ${result.store}`);
  else {
    console.log(
      formatTable(
        ['SET ID', 'TIME', 'STATE', 'ACTION', 'REASONS'],
        result.sets.map((set) => [set.setId, set.time, set.complete ? 'complete' : 'incomplete', set.action.toUpperCase(), set.reasons.join('; ')]),
      ),
    );
  }
  for (const warning of result.warnings) console.log(`warning: ${warning}`);
  for (const held of result.locked ?? []) console.log(`locked: ${held.setId} until ${held.until} (object lock): kept now, removed by the first prune after that date`);
  const { totals } = result;
  const removal = `${totals.remove} of ${totals.sets} set(s) (${totals.removeObjects} object(s), ${humanBytes(totals.removeBytes)})`;
  console.log(
    result.dryRun
      ? `dry run: would remove ${removal}; nothing was deleted (workflow ${workflowId})`
      : `removed ${removal} from ${result.store} (workflow ${workflowId})`,
  );
}

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description("apply the plan's retention policy: list every set as KEEP (with why) or REMOVE, and remove")
    .requiredOption('--plan <file>', 'plan file (it needs a retention block)')
    .option('--dry-run', 'show what would be kept and removed, and why; delete nothing')
    .option('--json', 'print the result as JSON')
    .action(async (options: { plan: string; dryRun?: boolean; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      // Bad input is refused before anything starts (exit 2).
      if (!plan.retention) {
        throw new UsageError(`plan ${plan.name} has no retention policy: add one to ${options.plan}, e.g. "retention: { keepDaily: 7, keepWeekly: 4 }"`);
      }

      await withTemporalClient(async (client, settings) => {
        const workflowId = pruneWorkflowId(plan.name, uniqueRunSuffix());
        const handle = await client.workflow.start<typeof prune>(WORKFLOW_TYPES.prune, {
          taskQueue: settings.taskQueue,
          workflowId,
          args: [{ plan, dryRun: options.dryRun ?? false }],
        });
        if (!options.json) process.stderr.write(`started ${WORKFLOW_TYPES.prune} ${workflowId}${options.dryRun ? ' (dry run)' : ''} on task queue ${settings.taskQueue}\n`);
        let result: PruneResult;
        try {
          result = await handle.result();
        } catch (error) {
          const cause = error instanceof WorkflowFailedError ? (error.cause?.message ?? error.message) : (error as Error).message;
          throw new OperationFailed(`prune ${workflowId} failed: ${cause}`);
        }
        if (options.json) printJson({ workflowId, ...result });
        else printPruneResult(result, workflowId);
      });
    });
}
