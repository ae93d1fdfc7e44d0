/**
 * restoreDrill: prove that a backup restores. Refuse any sandbox that is production before touching anything;
 * restore the newest complete set (or a given one) into the plan's sandboxes, predecessors first; compare
 * row counts with the manifest and run the drill's checks; measure the RTO (drill start to checks passed)
 * against the plan's rtoTarget; drop the sandboxes, whatever happened; and record the drill, last.
 */
import { ApplicationFailure, CancellationScope, proxyActivities, setCurrentDetails, uuid4, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { DRILL_RECORD_FORMAT_VERSION, type DrillRecord } from '../src/catalog/drills';
import { formatSetId } from '../src/catalog/manifest';
import { topologicalOrder } from '../src/plan/dag';
import { notDrilledReason } from '../src/plan/drill';
import { durationMs } from '../src/plan/schema';
import { DRILL_FAILURE_TYPES, SANDBOX_REFUSAL_TYPES, type RestoreDrillInput, type RestoreDrillResult } from '../src/temporal/drill';
import { rootMessage } from './failures';
import { validatedPlan } from './planInput';

const { prepareDrill, runDrillChecks, dropSandboxes, recordDrill } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 },
});

/** The type of the innermost ApplicationFailure in an activity failure's chain. */
function failureType(error: unknown): string | undefined {
  let type: string | undefined;
  for (let current = error as { cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    if (current instanceof ApplicationFailure && current.type) type = current.type;
  }
  return type;
}

export async function restoreDrill(input: RestoreDrillInput): Promise<RestoreDrillResult> {
  const plan = validatedPlan(input.plan);
  if (!plan.drill) {
    throw ApplicationFailure.nonRetryable(`plan "${plan.name}" has no drill section: add drill.targets (see the README, "Restore drills")`, 'InvalidPlan');
  }
  const startedAt = new Date();
  const info = workflowInfo();
  const { restoreSandbox } = proxyActivities<typeof activities>({
    startToCloseTimeout: durationMs(plan.timeouts.component),
    scheduleToCloseTimeout: durationMs(plan.timeouts.component),
    heartbeatTimeout: durationMs(plan.timeouts.heartbeat),
    retry: { initialInterval: durationMs(plan.retries.initialInterval), maximumInterval: durationMs(plan.retries.maximumInterval), maximumAttempts: plan.retries.maximumAttempts },
  });
  const record: DrillRecord = {
    formatVersion: DRILL_RECORD_FORMAT_VERSION,
    plan: plan.name,
    drillId: formatSetId(startedAt, uuid4().replace(/-/g, '').slice(0, 6)),
    planRevision: input.planRevision ?? 'unrecorded',
    workflowId: info.workflowId,
    runId: info.runId,
    startedAt: startedAt.toISOString(),
    completedAt: startedAt.toISOString(),
    outcome: 'failed',
    rtoTargetMs: plan.rtoTarget ? durationMs(plan.rtoTarget) : undefined,
    components: plan.components.map((component) => {
      const note = notDrilledReason(plan, component);
      return { name: component.name, type: component.type, drilled: false, note: note ? `not drilled: ${note}` : undefined };
    }),
    checks: [],
    checksNotRun: [],
    cleanup: { dropped: [], problems: [] },
  };
  const finish = async (): Promise<RestoreDrillResult> => {
    record.completedAt = new Date().toISOString();
    setCurrentDetails(`**${record.outcome}**${record.reason ? `: ${record.reason}` : ''}`);
    await CancellationScope.nonCancellable(() => recordDrill({ plan, record }));
    if (record.outcome === 'passed') return record;
    const type = record.outcome === 'refused' ? DRILL_FAILURE_TYPES.refused : DRILL_FAILURE_TYPES.failed;
    throw ApplicationFailure.create({ message: `drill ${record.drillId} of plan "${plan.name}" ${record.outcome}: ${record.reason}`, type, nonRetryable: true, details: [record] });
  };

  // 1. Before anything is touched: no sandbox may be production; choose the set.
  setCurrentDetails('**prepare**: resolving sandboxes and choosing the set');
  let prepared: activities.PreparedDrill;
  try {
    prepared = await prepareDrill({ plan, setId: input.setId });
  } catch (error) {
    const refused = SANDBOX_REFUSAL_TYPES.includes(failureType(error) ?? '');
    Object.assign(record, { outcome: refused ? 'refused' : 'failed', reason: rootMessage(error) });
    return finish();
  }
  record.setId = prepared.setId;

  try {
    // 2. Restore into the sandboxes, predecessors first.
    for (const name of topologicalOrder(plan.components)) {
      const sandbox = prepared.sandboxes.find((candidate) => candidate.component === name);
      const entry = record.components.find((component) => component.name === name);
      if (!sandbox || !entry) continue;
      setCurrentDetails(`**restore**: ${name} from set ${prepared.setId} into ${sandbox.sandbox}`);
      entry.sandbox = sandbox.sandbox;
      try {
        entry.bytes = (await restoreSandbox({ plan, setId: prepared.setId, component: name })).bytes;
        entry.drilled = true;
      } catch (error) {
        entry.note = `restore failed: ${rootMessage(error)}`;
        throw error;
      }
    }

    // 3. Check the sandboxes; the RTO ends when the checks have passed.
    setCurrentDetails('**verify**: comparing row counts with the manifest and running the checks on the sandboxes');
    const checked = await runDrillChecks({ plan, setId: prepared.setId });
    record.checks = checked.results;
    record.checksNotRun = checked.notRun;
    const failed = checked.results.filter((result) => !result.ok);
    if (failed.length > 0) {
      record.reason = `checks failed: ${failed.map((result) => `${result.check} = ${result.detail}`).join('; ')}`;
    } else {
      record.outcome = 'passed';
      record.rtoMs = Date.now() - startedAt.getTime();
      if (record.rtoTargetMs !== undefined) record.rtoMet = record.rtoMs <= record.rtoTargetMs;
      if (record.rtoMet === false) record.reason = `RTO ${Math.round(record.rtoMs / 1000)}s exceeds the target ${plan.rtoTarget}`;
    }
  } catch (error) {
    record.reason ??= rootMessage(error);
  } finally {
    // 4. Whatever happened (a cancelled drill too): no sandbox is left behind.
    setCurrentDetails('**cleanup**: dropping the sandboxes');
    try {
      record.cleanup.dropped = (await CancellationScope.nonCancellable(() => dropSandboxes({ plan }))).dropped;
    } catch (error) {
      record.cleanup.problems.push(`sandboxes not dropped: ${rootMessage(error)}; drop them by hand`);
    }
  }
  return finish();
}
