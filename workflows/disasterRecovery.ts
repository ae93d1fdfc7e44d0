/**
 * disasterRecovery: the recovery runbook as one durable workflow. Find verified recovery points; wait until
 * enough operators agree on one timestamp; scale the service down; restore every component in dependency
 * order; check the data; scale back up; check the service; report RTO and the data-loss window.
 * A failed step never fails the workflow or scales a half-restored service up: it parks at the resume gate.
 */
import type { SignalDefinition, UpdateDefinition } from '@temporalio/common';
import { ApplicationFailure, condition, log, patched, proxyActivities, setCurrentDetails, setHandler, workflowInfo } from '@temporalio/workflow';
import type * as activities from '../activities';
import { topologicalOrder } from '../src/plan/dag';
import { z } from 'zod';
import { describeScalingTarget, durationMs, durationSchema, scaledStateSchema, type Plan, type ScaledState, type ScalingTarget } from '../src/plan/schema';
import {
  abortSignal,
  abortUpdate,
  approveRecoveryPointSignal,
  approveRecoveryPointUpdate,
  recoveryStatusQuery,
  resumeSignal,
  resumeUpdate,
  type AbortInput,
  type ApproveRecoveryPointInput,
  type DisasterRecoveryInput,
  type RecoveryPhase,
  type RecoveryReport,
  type RecoveryStatus,
  type ResumeInput,
  type StepResult,
} from '../src/temporal/recovery';
import { rootMessage } from './failures';
import { validatedPlan } from './planInput';

const { listRecoveryCandidates, runRecoveryChecks } = proxyActivities<typeof activities>({
  startToCloseTimeout: '2h',
  heartbeatTimeout: '2m',
  retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 },
});
const { recordRecoveryMetrics } = proxyActivities<typeof activities>({
  startToCloseTimeout: '1m',
  retry: { maximumAttempts: 3 },
});
const { scaleDownTarget, scaleUpTarget } = proxyActivities<typeof activities>({
  startToCloseTimeout: '30m',
  heartbeatTimeout: '1m',
  retry: { initialInterval: '2s', maximumInterval: '1m', maximumAttempts: 5 },
});

/** The input's approvals override the plan's, checked like the plan's (the `temporal` CLI sends anything). */
const approvalsOverrideSchema = z.strictObject({
  required: z.number().int().min(1).optional(),
  approvers: z.array(z.string().min(1)).min(1).optional(),
  timeout: durationSchema.optional(),
});

/** The scaled state a failed scale-down attempt recorded, from its failure's details. */
function rememberedState(error: unknown): ScaledState | undefined {
  for (let current = error as { details?: unknown[]; cause?: unknown } | undefined; current; current = current.cause as typeof current) {
    const parsed = scaledStateSchema.safeParse(current.details?.[0]);
    if (parsed.success) return parsed.data;
  }
  return undefined;
}

/** Thrown inside the workflow when an operator aborts; turned into the aborted report. */
class RecoveryAborted extends Error {}

export async function disasterRecovery(input: DisasterRecoveryInput): Promise<RecoveryReport> {
  const plan: Plan = validatedPlan(input.plan);
  const startedAt = new Date();
  const settings = plan.restore ?? { scaling: [], checks: [], approvals: { required: 1 }, onAbort: 'leave-down' as const };
  const override = approvalsOverrideSchema.safeParse(input.approvals ?? {});
  if (!override.success) {
    throw ApplicationFailure.nonRetryable(`invalid approvals: ${override.error.issues.map((issue) => `approvals.${issue.path.join('.')}: ${issue.message}`).join('; ')}`, 'InvalidInput');
  }
  // Only what the input names overrides the plan (a key present as undefined must not erase the plan's value).
  const gate = { ...settings.approvals, ...Object.fromEntries(Object.entries(override.data).filter(([, value]) => value !== undefined)) };
  const required = gate.required ?? 1;
  const { restoreComponent } = proxyActivities<typeof activities>({
    startToCloseTimeout: durationMs(plan.timeouts.component),
    scheduleToCloseTimeout: durationMs(plan.timeouts.component),
    heartbeatTimeout: durationMs(plan.timeouts.heartbeat),
    retry: { initialInterval: durationMs(plan.retries.initialInterval), maximumInterval: durationMs(plan.retries.maximumInterval), maximumAttempts: plan.retries.maximumAttempts },
  });

  const status: RecoveryStatus = { plan: plan.name, phase: 'candidates', candidates: [], rejected: [], approvals: [], required, steps: [], errors: [] };
  // Set by handlers at any time; read through functions, since TypeScript cannot see handlers change them.
  let abortRequest: AbortInput | undefined;
  let resumeRequest: ResumeInput | undefined;
  const aborted = (): AbortInput | undefined => abortRequest;
  const resumed = (): ResumeInput | undefined => resumeRequest;

  const enter = (phase: RecoveryPhase, details: string) => {
    status.phase = phase;
    setCurrentDetails(`**${phase}**: ${details}`);
  };

  /** Why an approval cannot count, or undefined when it can. Shared by the update's validator and the signal. */
  const approvalProblem = (vote: ApproveRecoveryPointInput): string | undefined => {
    if (!vote || typeof vote.timestamp !== 'string' || typeof vote.approver !== 'string' || vote.approver === '') return 'send {"timestamp": "...", "approver": "your name"}';
    if (status.phase !== 'agreement') return `approvals are taken in the agreement phase; the recovery is in phase "${status.phase}"`;
    if (status.agreed) return `the gate has closed: operators agreed on ${status.agreed.timestamp}`;
    if (gate.approvers && !gate.approvers.includes(vote.approver)) return `"${vote.approver}" is not on the approvers list (${gate.approvers.join(', ')})`;
    const candidate = status.candidates.find((point) => Date.parse(point.timestamp) === Date.parse(vote.timestamp));
    if (!candidate) return `unknown recovery point "${vote.timestamp}": choose one of ${status.candidates.map((point) => point.timestamp).join(', ')}`;
    if (status.approvals.some((approval) => approval.approver === vote.approver)) return `"${vote.approver}" has already approved`;
    return undefined;
  };
  const approve = (vote: ApproveRecoveryPointInput) => {
    const candidate = status.candidates.find((point) => Date.parse(point.timestamp) === Date.parse(vote.timestamp));
    if (!candidate) return;
    status.approvals.push({ timestamp: candidate.timestamp, approver: vote.approver, comment: vote.comment, at: new Date().toISOString() });
    const agreeing = status.approvals.filter((approval) => approval.timestamp === candidate.timestamp).map((approval) => approval.approver);
    if (agreeing.length >= required) status.agreed ??= { timestamp: candidate.timestamp, setId: candidate.setId, approvers: agreeing };
    else setCurrentDetails(`**agreement**: ${agreeing.length} of ${required} approvals for ${candidate.timestamp}`);
  };
  const resumeProblem = (request: ResumeInput): string | undefined => {
    if (!request || typeof request.by !== 'string' || !['retry', 'skip', 'abort'].includes(request.action)) return 'send {"by": "your name", "action": "retry" | "skip" | "abort"}';
    return status.waitingForResume ? undefined : 'no step is waiting to be resumed';
  };
  const abortProblem = (request: AbortInput): string | undefined =>
    !request || typeof request.by !== 'string' || typeof request.reason !== 'string' ? 'send {"by": "your name", "reason": "why"}' : ['completed', 'aborted', 'timed-out', 'dry-run'].includes(status.phase) ? `the recovery already ended (${status.phase})` : undefined;

  setHandler(recoveryStatusQuery, () => status, { description: 'Phase, candidates, approvals, step results and errors.' });
  /**
   * Each operator decision arrives as a signal or an update of the same name. A signal cannot be rejected like
   * an update, so an invalid one is recorded in the status; an invalid update is refused by its validator.
   */
  const decision = <T>(
    signal: SignalDefinition<[T]>,
    update: UpdateDefinition<RecoveryStatus, [T]>,
    what: string,
    descriptions: { signal: string; update?: string },
    problemOf: (input: T) => string | undefined,
    accept: (input: T) => void,
  ): void => {
    setHandler(
      signal,
      (input) => {
        const problem = problemOf(input);
        if (problem) status.errors.push(`${what} ignored: ${problem}`);
        else accept(input);
      },
      { description: descriptions.signal },
    );
    setHandler(update, (input) => (accept(input), status), {
      description: descriptions.update ?? descriptions.signal,
      validator: (input) => {
        const problem = problemOf(input);
        if (problem) throw new Error(problem);
      },
    });
  };
  decision(
    approveRecoveryPointSignal,
    approveRecoveryPointUpdate,
    'approval',
    {
      signal: 'Approve a recovery point: {"timestamp": "<candidate timestamp>", "approver": "<your name>", "comment": "optional"}',
      update: 'Approve a recovery point, rejected when the timestamp is unknown, the approver is not listed or has voted, or the gate is closed: {"timestamp", "approver", "comment"?}',
    },
    approvalProblem,
    approve,
  );
  decision(abortSignal, abortUpdate, 'abort', { signal: 'Abort the recovery: {"by": "<your name>", "reason": "<why>"}' }, abortProblem, (request) => {
    abortRequest ??= request;
  });
  decision(resumeSignal, resumeUpdate, 'resume', { signal: 'Resume after a failed step: {"by": "<your name>", "action": "retry" | "skip" | "abort"}' }, resumeProblem, (request) => {
    resumeRequest = request;
  });

  /** Runs one step; on failure parks at the resume gate until an operator retries, skips or aborts. */
  const step = async (name: string, run: () => Promise<unknown>): Promise<'ok' | 'skipped'> => {
    for (;;) {
      if (aborted()) throw new RecoveryAborted();
      const result: StepResult = { step: name, phase: status.phase, startedAt: new Date().toISOString(), outcome: 'running' };
      status.steps.push(result);
      try {
        await run();
        Object.assign(result, { outcome: 'ok', completedAt: new Date().toISOString() });
        return 'ok';
      } catch (error) {
        const message = rootMessage(error);
        Object.assign(result, { outcome: 'failed', completedAt: new Date().toISOString(), error: message });
        status.errors.push(`${name}: ${message}`);
        status.waitingForResume = { step: name, error: message };
        setCurrentDetails(`**${status.phase}**: step "${name}" failed and waits for resume (retry, skip or abort): ${message}`);
        resumeRequest = undefined;
        await condition(() => resumed() !== undefined || aborted() !== undefined);
        status.waitingForResume = undefined;
        const decision = resumed();
        if (aborted() || decision?.action === 'abort') {
          abortRequest ??= { by: decision?.by ?? 'unknown', reason: `resume abort after "${name}" failed` };
          throw new RecoveryAborted();
        }
        if (decision?.action === 'skip') {
          status.steps.push({ step: name, phase: status.phase, startedAt: new Date().toISOString(), completedAt: new Date().toISOString(), outcome: 'skipped', error: `skipped by ${decision.by}` });
          return 'skipped';
        }
        log.info('retrying step after resume', { step: name, by: decision?.by });
      }
    }
  };

  const report = (outcome: RecoveryReport['outcome'], extra: Partial<RecoveryReport> = {}): RecoveryReport => {
    const completedAt = new Date();
    return {
      plan: plan.name,
      outcome,
      setId: status.agreed?.setId,
      recoveryPoint: status.agreed?.timestamp,
      startedAt: startedAt.toISOString(),
      completedAt: completedAt.toISOString(),
      approvals: status.approvals,
      steps: status.steps,
      abortedBy: aborted(),
      ...extra,
    };
  };

  // 1. Candidates: complete sets that re-read correctly and honour the plan's order.
  enter('candidates', 'verifying recovery points');
  const found = await listRecoveryCandidates({ plan, target: input.target });
  status.candidates = found.candidates;
  status.rejected = found.rejected;
  if (status.candidates.length === 0) {
    enter('failed', 'no verified recovery point');
    throw ApplicationFailure.nonRetryable(
      `no complete, verified recovery point for plan "${plan.name}"${status.rejected.length > 0 ? `; rejected: ${status.rejected.map((set) => `${set.setId} (${set.reason})`).join('; ')}` : ''}`,
      'NoRecoveryPoint',
    );
  }

  // 2. Agreement gate.
  enter('agreement', `waiting for ${required} approval(s) of one of: ${status.candidates.map((point) => point.timestamp).join(', ')}`);
  const settled = () => status.agreed !== undefined || aborted() !== undefined;
  const agreed = gate.timeout ? await condition(settled, durationMs(gate.timeout)) : (await condition(settled), true);
  const early = aborted();
  if (early) {
    enter('aborted', `aborted by ${early.by} before anything was touched: ${early.reason}`);
    return report('aborted');
  }
  if (!agreed || !status.agreed) {
    enter('timed-out', 'no agreement within the gate timeout: nothing was touched');
    return report('timed-out');
  }
  const chosen = status.candidates.find((point) => point.setId === status.agreed?.setId);
  const setId = status.agreed.setId;

  if (input.dryRun) {
    const plannedRestore = topologicalOrder(plan.components).map((name) => {
      const component = chosen?.components.find((candidate) => candidate.name === name);
      return { component: name, key: component?.key ?? '(not in the set)', bytes: component?.bytes ?? 0, estimatedMs: component?.durationMs ?? 0 };
    });
    enter('dry-run', `would restore set ${setId}`);
    return report('dry-run', { plannedRestore, estimatedDurationMs: plannedRestore.reduce((sum, item) => sum + item.estimatedMs, 0) });
  }

  const scaledDown: { target: ScalingTarget; previous: ScaledState }[] = [];
  try {
    // 3. Scale down, remembering what ran.
    enter('scale-down', `stopping ${settings.scaling.map(describeScalingTarget).join(', ') || 'nothing (no scaling targets)'}`);
    for (const target of settings.scaling) {
      // What a failed attempt recorded travels in its failure's details: a retry after resume must restore
      // that, not the 0 it would find, and a skipped target is still brought back (or reported left down).
      let remembered: ScaledState | undefined;
      const outcome = await step(`scale down ${describeScalingTarget(target)}`, async () => {
        try {
          scaledDown.push({ target, previous: await scaleDownTarget({ target, remembered }) });
        } catch (error) {
          remembered = rememberedState(error) ?? remembered;
          throw error;
        }
      });
      if (outcome === 'skipped' && remembered) scaledDown.push({ target, previous: remembered });
    }

    // 4. Restore, predecessors first.
    for (const name of topologicalOrder(plan.components)) {
      enter('restore', `restoring ${name} from set ${setId}`);
      await step(`restore ${name}`, () => restoreComponent({ plan, setId, component: name }));
    }

    // 5. Verify the data.
    enter('verify', 'comparing row counts with the manifest and running the SQL checks');
    await step('verify data', () => runRecoveryChecks({ plan, setId, stage: 'data' }));
  } catch (error) {
    if (!(error instanceof RecoveryAborted)) throw error;
    const abortedBy = aborted() ?? { by: 'unknown', reason: 'aborted' };
    if (settings.onAbort === 'scale-up') {
      // Past the resume gate already: a target that will not come back is reported, not waited on.
      const leftDown: string[] = [];
      for (const { target, previous } of scaledDown) {
        try {
          await scaleUpTarget({ target, previous });
        } catch (scaleUpError) {
          leftDown.push(describeScalingTarget(target));
          status.errors.push(`scale up ${describeScalingTarget(target)} after abort: ${rootMessage(scaleUpError)}`);
        }
      }
      enter('aborted', `aborted by ${abortedBy.by}: ${abortedBy.reason}; targets scaled back up (plan: onAbort scale-up)${leftDown.length > 0 ? `, except ${leftDown.join(', ')}` : ''}`);
      return report('aborted', leftDown.length > 0 ? { leftDown } : {});
    }
    const leftDown = scaledDown.map(({ target }) => describeScalingTarget(target));
    enter('aborted', `aborted by ${abortedBy.by}: ${abortedBy.reason}; ${leftDown.length > 0 ? `left down: ${leftDown.join(', ')}` : 'nothing was scaled down'}`);
    return report('aborted', { leftDown });
  }

  // 6. Scale up to what ran before, and check the service.
  enter('scale-up', `starting ${scaledDown.map(({ target }) => describeScalingTarget(target)).join(', ') || 'nothing'}`);
  const scaledUp = new Set<ScalingTarget>();
  try {
    for (const { target, previous } of scaledDown) {
      await step(`scale up ${describeScalingTarget(target)}`, () => scaleUpTarget({ target, previous }));
      scaledUp.add(target);
    }
    await step('verify service', () => runRecoveryChecks({ plan, setId, stage: 'service' }));
  } catch (error) {
    if (!(error instanceof RecoveryAborted)) throw error;
    const leftDown = scaledDown.filter(({ target }) => !scaledUp.has(target)).map(({ target }) => describeScalingTarget(target));
    enter('aborted', `aborted by ${aborted()?.by} during scale-up: ${aborted()?.reason}${leftDown.length > 0 ? `; left down: ${leftDown.join(', ')}` : ''}`);
    return report('aborted', { leftDown });
  }

  // 7. Report.
  enter('completed', `recovered to ${status.agreed.timestamp} (set ${setId})`);
  const readyAt = new Date();
  const rtoMs = readyAt.getTime() - startedAt.getTime();
  // Added after recoveries were already running: a recovery started before it replays without the call.
  if (patched('recovery-metrics')) await recordRecoveryMetrics({ plan: plan.name, rtoMs, completedAt: readyAt.toISOString() });
  return report('recovered', {
    rtoMs,
    dataLossWindowMs: workflowInfo().startTime.getTime() - Date.parse(status.agreed.timestamp),
  });
}
