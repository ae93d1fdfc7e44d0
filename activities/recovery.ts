/**
 * Disaster-recovery activities: find verified recovery points, scale targets, restore components, check the
 * result. Thin adapters to the repository, engines and scalers; bytes stream store -> engine, never through
 * Temporal.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { Client } from 'pg';
import type { DrillCheckResult } from '../src/catalog/drills';
import { checkRecordedOrder, setIdTime, type ComponentBackup, type Manifest } from '../src/catalog/manifest';
import { describeVerifyFailure, type VerifyFailedMark } from '../src/catalog/verifyMark';
import { engineFor } from '../src/engines';
import { Keyring } from '../src/encryption';
import { liveRowCountsAt } from '../src/engines/postgres';
import { resolveEnvReference } from '../src/engines/errors';
import type { Plan, PostgresComponent, SqlCheck } from '../src/plan/schema';
import { listBackupSets, readManifest, verifyBackupSet } from '../src/repository/backupSets';
import { restoreFromArtifact } from '../src/repository/artifactRead';
import { VerifyingStream } from '../src/repository/digest';
import { createScaler, scaledStateSchema, type ScaledState, type ScalingTarget } from '../src/scalers';
import { createStore, type BackupStore } from '../src/stores';
import type { RecoveryCandidate } from '../src/temporal/recovery';
import { toApplicationFailure } from './failures';
import { s3VersionedChecks } from './s3Versioned';

/** How many of the newest sets are re-read to be offered as candidates (each costs a full read). */
const CANDIDATE_LIMIT = 5;

/**
 * Runs an activity's work while heartbeating every second (with `details()`), so a long step on a live
 * worker never trips its heartbeat timeout, and maps failures to retryable or not.
 */
export async function withHeartbeat<T>(details: () => unknown, work: () => Promise<T>): Promise<T> {
  const context = Context.current();
  context.heartbeat(details());
  const timer = setInterval(() => context.heartbeat(details()), 1000);
  try {
    return await work();
  } catch (error) {
    throw toApplicationFailure(error);
  } finally {
    clearInterval(timer);
  }
}

export interface ListRecoveryCandidatesInput {
  plan: Plan;
  target?: { timestamp?: string; setId?: string };
}

/** Complete sets whose recorded order honours the plan and whose artifacts re-read correctly, newest first. */
export async function listRecoveryCandidates(input: ListRecoveryCandidatesInput): Promise<{ candidates: RecoveryCandidate[]; rejected: { setId: string; reason: string }[] }> {
  let checking = '';
  return withHeartbeat(() => ({ checking }), async () => {
    const store = createStore(input.plan.store);
    const { complete, failedVerification } = await listBackupSets(store, input.plan.name);
    const matching = complete
      .filter((manifest) => matchesTarget(manifest, input.target))
      .reverse()
      .slice(0, CANDIDATE_LIMIT);
    const candidates: RecoveryCandidate[] = [];
    const rejected: { setId: string; reason: string }[] = excludedAsFailed(failedVerification, input.target);
    for (const manifest of matching) {
      checking = manifest.setId;
      const order = checkRecordedOrder(manifest);
      if (order.length > 0) {
        rejected.push({ setId: manifest.setId, reason: `recorded order breaks the plan: ${order.map((violation) => violation.message).join('; ')}` });
        continue;
      }
      const verification = await verifyBackupSet(store, input.plan, manifest);
      if (!verification.ok) {
        const problems = verification.artifacts.filter((artifact) => !artifact.ok).map((artifact) => `${artifact.key}: ${artifact.problems.join('; ')}`);
        rejected.push({ setId: manifest.setId, reason: `verification failed: ${[...problems, ...verification.problems].join('; ')}` });
        continue;
      }
      candidates.push(toCandidate(manifest));
    }
    return { candidates, rejected };
  });
}

/** Whether a set is the one the recovery targets (its set id and start time, each when given); every set without a target. */
function matchesTarget(manifest: Manifest, target: ListRecoveryCandidatesInput['target']): boolean {
  return (!target?.setId || manifest.setId === target.setId) && (!target?.timestamp || Date.parse(manifest.startedAt) === Date.parse(target.timestamp));
}

/** Sets `backup verify` marked as failed, newest first: never candidates, listed with why. */
function excludedAsFailed(failed: { manifest: Manifest; mark: VerifyFailedMark }[], target: ListRecoveryCandidatesInput['target']): { setId: string; reason: string }[] {
  return failed
    .filter(({ manifest }) => matchesTarget(manifest, target))
    .reverse()
    .map(({ manifest, mark }) => ({ setId: manifest.setId, reason: `${describeVerifyFailure(mark)} (marked by backup verify)` }));
}

function toCandidate(manifest: Manifest): RecoveryCandidate {
  return {
    setId: manifest.setId,
    timestamp: setIdTime(manifest.setId).toISOString(),
    completedAt: manifest.completedAt,
    bytes: manifest.components.reduce((sum, component) => sum + component.bytes, 0),
    components: manifest.components.map((component) => ({
      name: component.name,
      key: component.key,
      bytes: component.bytes,
      durationMs: Date.parse(component.completedAt) - Date.parse(component.startedAt),
    })),
  };
}

export interface RestoreComponentInput {
  plan: Plan;
  setId: string;
  component: string;
}

export interface RestoreComponentResult {
  component: string;
  bytes: number;
  restored: boolean;
  note?: string;
}

/** Streams one artifact from the store into its live target, checking its sha256 before the engine may commit. */
export async function restoreComponent(input: RestoreComponentInput): Promise<RestoreComponentResult> {
  const component = input.plan.components.find((candidate) => candidate.name === input.component);
  if (!component) throw ApplicationFailure.nonRetryable(`component "${input.component}" is not in plan "${input.plan.name}"`);
  const engine = engineFor(component);
  if (component.type === 'http') return { component: component.name, bytes: 0, restored: false, note: 'HTTP exports are not written back; the artifact stays in the set for operators' };
  if (!engine.restore && !engine.restoreCompressed) {
    // Parks the recovery at the resume gate with what to do, rather than pretending the component was restored.
    throw ApplicationFailure.nonRetryable(
      `component "${component.name}": restoring ${component.type} components into their live target is not supported yet; restore its artifact by hand (see the README), then resume with "skip"`,
      'RestoreNotSupported',
    );
  }
  const store = createStore(input.plan.store);
  const backup = await recordedArtifact(store, input.plan, input.setId, component.name);
  const verifying = new VerifyingStream(backup.key, backup.sha256, backup.bytes);
  // Engines that count in other units than bytes (objects of an s3-versioned component) report them here.
  let engineProgress: Record<string, string | number> = {};
  return withHeartbeat(
    () => ({ component: component.name, bytes: verifying.bytes, expectedBytes: backup.bytes, ...engineProgress }),
    async () => {
      // The key and the artifact are checked before the target is touched: a missing key or a store failure leaves the live data alone.
      const context = { plan: input.plan, progress: (detail: Record<string, string | number>) => (engineProgress = detail) };
      // An engine's restoreCompressed decompresses in its own child process; otherwise the content arrives decompressed.
      await restoreFromArtifact(
        store,
        Keyring.forPlan(input.plan),
        backup,
        verifying,
        (content, compression) => (engine.restoreCompressed ? engine.restoreCompressed(component, content, compression, context) : engine.restore!(component, content, context)),
        { compressed: engine.restoreCompressed !== undefined },
      );
      return { component: component.name, bytes: verifying.bytes, restored: true };
    },
  );
}

/** A component's artifact as the set's manifest records it; fails (not retryable) when the set has none. */
export async function recordedArtifact(store: BackupStore, plan: Plan, setId: string, component: string): Promise<ComponentBackup> {
  const manifest = await readManifest(store, plan.name, setId);
  const backup = manifest.components.find((candidate) => candidate.name === component);
  if (!backup) throw ApplicationFailure.nonRetryable(`set ${setId} has no artifact for component "${component}"`, 'ArtifactMissing');
  return backup;
}

/** One check's outcome, as drill records store it. */
export type CheckResult = DrillCheckResult;

async function queryFirstValue(url: string, sql: string): Promise<string> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const result = await client.query({ text: sql, rowMode: 'array' });
    const value = (result.rows[0] as unknown[] | undefined)?.[0];
    return value === undefined || value === null ? 'null' : String(value);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Every restored PostgreSQL table's row count against the manifest, then the SQL checks, on the databases
 * `urlOf` names (the live ones after a recovery, the sandboxes in a drill); components it names no database
 * for are left out. Results are appended to `results` as they come, for heartbeats.
 */
export async function checkRestoredData(plan: Plan, manifest: Manifest, checks: SqlCheck[], urlOf: (component: PostgresComponent) => string | undefined, results: CheckResult[]): Promise<void> {
  for (const backup of manifest.components) {
    const component = plan.components.find((candidate) => candidate.name === backup.name);
    const url = component?.type === 'postgres' ? urlOf(component) : undefined;
    if (!component || url === undefined || backup.postgres?.rowCountsKind !== 'exact') continue;
    const restored = await liveRowCountsAt(component.name, url);
    for (const [table, expected] of Object.entries(backup.postgres.rowCounts)) {
      const actual = restored[table];
      results.push({ check: `${component.name}: rows in ${table}`, ok: actual === expected, detail: `${actual ?? 'table missing'} (manifest: ${expected})` });
    }
  }
  for (const check of checks) {
    const component = plan.components.find((candidate) => candidate.name === check.component);
    if (component?.type !== 'postgres') {
      results.push({ check: `${check.component}: ${check.sql}`, ok: false, detail: `"${check.component}" is not a postgres component` });
      continue;
    }
    const url = urlOf(component);
    if (url === undefined) continue;
    const actual = await queryFirstValue(url, check.sql);
    results.push({ check: `${check.component}: ${check.sql}`, ok: actual === String(check.expect), detail: `${actual} (expected ${String(check.expect)})` });
  }
}

/**
 * After the restore: every PostgreSQL table's row count against the manifest, then the plan's SQL checks.
 * After scale-up (`service`): the plan's HTTP checks. Any failed check fails the activity, naming it.
 */
export async function runRecoveryChecks(input: { plan: Plan; setId: string; stage: 'data' | 'service' }): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  return withHeartbeat(() => ({ checked: results.length }), async () => {
    const checks = input.plan.restore?.checks ?? [];
    if (input.stage === 'data') {
      const manifest = await readManifest(createStore(input.plan.store), input.plan.name, input.setId);
      const sqlChecks = checks.filter((check): check is SqlCheck => 'sql' in check);
      await checkRestoredData(input.plan, manifest, sqlChecks, (component) => resolveEnvReference(component.name, component.connection.urlFromEnv, 'connection URL'), results);
      results.push(...(await s3VersionedChecks(input.plan, manifest)));
    } else {
      for (const check of checks) {
        if (!('url' in check)) continue;
        const status = await fetch(check.url, { signal: AbortSignal.timeout(10_000) }).then(
          (response) => response.status,
          (error: Error) => error.message,
        );
        results.push({ check: `GET ${check.url}`, ok: status === check.expectStatus, detail: `${status} (expected ${check.expectStatus})` });
      }
    }
    const failed = results.filter((result) => !result.ok);
    if (failed.length > 0) {
      throw ApplicationFailure.nonRetryable(`checks failed: ${failed.map((result) => `${result.check} = ${result.detail}`).join('; ')}`, 'CheckFailed');
    }
    return results;
  });
}

/** Scales one target down, remembering (in its heartbeat, for retries) what it ran before. */
export async function scaleDownTarget(input: { target: ScalingTarget; remembered?: ScaledState }): Promise<ScaledState> {
  const context = Context.current();
  const remembered = scaledStateSchema.safeParse(context.info.heartbeatDetails);
  // Temporal keeps only the last heartbeat's details: every heartbeat carries the remembered state, so a
  // retried scale-down restores what ran before, not the 0 it finds.
  let recorded: ScaledState | undefined = input.remembered ?? (remembered.success ? remembered.data : undefined);
  const timer = setInterval(() => context.heartbeat(recorded), 1000);
  try {
    return await createScaler(input.target).scaleDown({
      remembered: recorded,
      onRecorded: (state) => {
        recorded = state;
        context.heartbeat(state);
      },
      signal: context.cancellationSignal,
    });
  } catch (error) {
    // The workflow keeps what was recorded, so an operator's retry or skip still knows what to bring back.
    const mapped = toApplicationFailure(error);
    throw ApplicationFailure.create({ message: mapped.message, type: mapped.type ?? undefined, nonRetryable: mapped.nonRetryable ?? false, details: recorded ? [recorded] : [] });
  } finally {
    clearInterval(timer);
  }
}

/** Brings a target back to what it ran before and waits until it is ready. */
export async function scaleUpTarget(input: { target: ScalingTarget; previous: ScaledState }): Promise<void> {
  const context = Context.current();
  const scaler = createScaler(input.target);
  let waiting = 'starting';
  await withHeartbeat(
    () => ({ waiting }),
    async () => {
      await scaler.scaleUp(input.previous);
      await scaler.waitReady(input.previous, { signal: context.cancellationSignal, onWaiting: (detail) => (waiting = detail) });
    },
  );
}
