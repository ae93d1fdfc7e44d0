/**
 * backupPlan: one run of a plan. Components form a DAG through `after`: each dump starts only once every
 * predecessor's artifact is durable, independent ones run concurrently, and manifest.json is written last.
 * Orchestration only: no bytes pass through here, and the plan carries env-variable names, never secrets.
 */
import { ApplicationFailure, log, proxyActivities, setHandler, uuid4, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { formatSetId, type ComponentBackup } from '../src/catalog/manifest';
import { durationMs, type PlanInput } from '../src/plan/schema';
import { rootMessage } from './failures';
import { validatedPlan } from './planInput';
import { runPrune, type PruneResult } from './prune';
import { backupStatusQuery, type BackupStatus } from '../src/temporal/backupStatus';

export interface BackupPlanInput {
  /** The plan itself (as in the plan file, JSON): it names env variables, never secrets. */
  plan: PlanInput;
  /** Content hash of the plan file, recorded in the manifest; "manual" or anything else when started by hand. */
  planRevision?: string;
}

export interface BackupPlanResult {
  plan: string;
  setId: string;
  manifestKey: string;
  startedAt: string;
  completedAt: string;
  components: Pick<ComponentBackup, 'name' | 'key' | 'bytes' | 'sha256' | 'startedAt' | 'completedAt'>[];
  /** The retention step after the backup, when the plan has a policy: what it removed, or why it failed. */
  prune?: { removed: string[]; kept: number; error?: string };
}

export async function backupPlan(input: BackupPlanInput): Promise<BackupPlanResult> {
  const plan = validatedPlan(input.plan);
  const planRevision = input.planRevision ?? 'unrecorded';
  const startedAt = new Date(); // deterministic inside a workflow: the workflow task's time
  const setId = formatSetId(startedAt, uuid4().replace(/-/g, ''));
  const { backupComponent } = proxyActivities<typeof activities>({
    startToCloseTimeout: durationMs(plan.timeouts.component),
    scheduleToCloseTimeout: durationMs(plan.timeouts.component), // all attempts together, as the plan says
    heartbeatTimeout: durationMs(plan.timeouts.heartbeat),
    retry: {
      initialInterval: durationMs(plan.retries.initialInterval),
      backoffCoefficient: 2,
      maximumInterval: durationMs(plan.retries.maximumInterval),
      maximumAttempts: plan.retries.maximumAttempts,
    },
  });
  const { writeManifest, recordBackupFailure } = proxyActivities<typeof activities>({
    startToCloseTimeout: '5m',
    retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 10 },
  });

  const status: BackupStatus = {
    plan: plan.name,
    setId,
    phase: 'backing-up',
    components: plan.components.map((component) => ({ name: component.name, state: 'waiting', after: component.after })),
  };
  setHandler(backupStatusQuery, () => status);
  const stateOf = (name: string) => status.components.find((component) => component.name === name) as BackupStatus['components'][number];

  // One promise per component, started once all of its predecessors' promises have resolved.
  const running = new Map<string, Promise<ComponentBackup>>();
  const backUp = (name: string): Promise<ComponentBackup> => {
    const existing = running.get(name);
    if (existing) return existing;
    const component = plan.components.find((candidate) => candidate.name === name);
    if (!component) throw ApplicationFailure.nonRetryable(`unknown component "${name}"`);
    const promise = (async () => {
      const state = stateOf(name);
      try {
        await Promise.all(component.after.map(backUp));
      } catch {
        state.state = 'skipped';
        state.error = 'a component it comes after failed';
        throw ApplicationFailure.nonRetryable(`${name} was not backed up because a component it comes after failed`);
      }
      state.state = 'running';
      try {
        const backup = await backupComponent({ plan, setId, component: name });
        Object.assign(state, { state: 'completed', bytes: backup.bytes });
        return backup;
      } catch (error) {
        state.state = 'failed';
        state.error = rootMessage(error);
        throw error;
      }
    })();
    running.set(name, promise);
    return promise;
  };

  const outcomes = await Promise.allSettled(plan.components.map((component) => backUp(component.name)));
  const failed = status.components.filter((component) => component.state === 'failed');
  if (failed.length > 0 || outcomes.some((outcome) => outcome.status === 'rejected')) {
    status.phase = 'failed';
    await recordBackupFailure({ plan: plan.name });
    const skipped = status.components.filter((component) => component.state === 'skipped').map((component) => component.name);
    throw ApplicationFailure.nonRetryable(
      `backup of plan "${plan.name}" failed, no manifest written (set ${setId} stays incomplete): ` +
        failed.map((component) => component.error).join('; ') +
        (skipped.length > 0 ? `; not started: ${skipped.join(', ')}` : ''),
      'BackupFailed',
    );
  }
  const components = outcomes.map((outcome) => (outcome as PromiseFulfilledResult<ComponentBackup>).value);

  status.phase = 'writing-manifest';
  const info = workflowInfo();
  let manifest: { key: string; completedAt: string };
  try {
    manifest = await writeManifest({
      plan,
      planRevision,
      setId,
      startedAt: startedAt.toISOString(),
      workflowId: info.workflowId,
      runId: info.runId,
      components,
    });
  } catch (error) {
    status.phase = 'failed';
    await recordBackupFailure({ plan: plan.name });
    throw error;
  }
  let prune: BackupPlanResult['prune'];
  if (plan.retention) {
    status.phase = 'pruning';
    try {
      const pruned: PruneResult = await runPrune(plan);
      prune = { removed: pruned.removed, kept: pruned.totals.keep };
    } catch (error) {
      // The set is complete and safe; a failed prune is reported, and the next run's prune tries again.
      prune = { removed: [], kept: 0, error: rootMessage(error) };
      log.warn('prune after backup failed', { plan: plan.name, error: prune.error });
    }
  }
  status.phase = 'completed';
  return {
    prune,
    plan: plan.name,
    setId,
    manifestKey: manifest.key,
    startedAt: startedAt.toISOString(),
    completedAt: manifest.completedAt,
    components: components.map(({ name, key, bytes, sha256, startedAt, completedAt }) => ({ name, key, bytes, sha256, startedAt, completedAt })),
  };
}
