/**
 * Backup activities: thin adapters from the backupPlan workflow to engines and stores. Bytes stream from
 * the engine through a sha256 digest into the store; only ids, keys, sizes and hashes go back to Temporal.
 */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { toApplicationFailure } from './failures';
import {
  artifactKey,
  componentBackupSchema,
  manifestKey,
  manifestSchema,
  setIdTime,
  type ArtifactRef,
  type ComponentBackup,
  type ComponentBackupInput,
  type Manifest,
} from '../src/catalog/manifest';
import { compressionFor, engineFor, type DumpContext } from '../src/engines';
import { compressionSuffix, compressor } from '../src/engines/compression';
import { artifactSeal, sealingStream, type ArtifactSeal } from '../src/encryption';
import { durationMs, type Plan } from '../src/plan/schema';
import { listBackupSets } from '../src/repository/backupSets';
import { jsonBody } from '../src/repository/storedJson';
import { ByteCounter, DigestStream } from '../src/repository/digest';
import { createStore, type BackupStore } from '../src/stores';
import { recordComponentFailure, recordComponentSuccess, recordPlanFailure, recordSetSuccess } from '../src/metrics';

export interface BackupComponentInput {
  plan: Plan;
  setId: string;
  component: string;
}

/** Progress reported in heartbeats (and shown by `backup run --wait`). */
export interface BackupProgress {
  component: string;
  /** Stored bytes so far (after compression). */
  bytes: number;
  /** Bytes read from the source so far (before compression). */
  sourceBytes?: number;
  /** The engine's estimate of the source's total bytes, when it has one: progress and ETA compare sourceBytes with it. */
  expectedSourceBytes?: number;
}

const HEARTBEAT_INTERVAL_MS = 1_000;

/** Streams a body (encrypted when the plan says so) through a sha256 digest into the store at key. */
async function putWithDigest(store: BackupStore, key: string, body: Readable, seal: ArtifactSeal | undefined): Promise<ArtifactRef> {
  const digest = new DigestStream();
  await Promise.all([pipeline(body, sealingStream(seal), digest), store.put(key, digest)]);
  return { key, bytes: digest.bytes, sha256: digest.sha256(), ...(seal ? { encryption: seal.record } : {}) };
}

/** The plan's current encryption key, loaded in the worker; a missing or malformed key fails at once. */
function currentSeal(plan: Plan): ArtifactSeal | undefined {
  try {
    return artifactSeal(plan);
  } catch (error) {
    throw toApplicationFailure(error);
  }
}

export async function backupComponent(input: BackupComponentInput): Promise<ComponentBackup> {
  const context = Context.current();
  const { plan, setId } = input;
  const component = plan.components.find((candidate) => candidate.name === input.component);
  if (!component) throw ApplicationFailure.nonRetryable(`component "${input.component}" is not in plan "${plan.name}"`, 'UnknownComponent');
  const engine = engineFor(component);
  const store = createStore(plan.store);
  const compression = compressionFor(component);
  const key = artifactKey(plan.name, setId, component.name, `${engine.extension}${compressionSuffix(compression)}`);
  const sidecars: ArtifactRef[] = [];
  const seal = currentSeal(plan);
  const dumpContext: DumpContext = {
    plan,
    setId,
    setStartedAt: setIdTime(setId),
    store,
    compression,
    completeSets: async () => (await listBackupSets(store, plan.name)).complete,
    putSidecar: async (suffix, body) => {
      const sidecar = await putWithDigest(store, artifactKey(plan.name, setId, component.name, suffix), body, seal);
      sidecars.push(sidecar);
      return sidecar;
    },
  };
  const startedAt = new Date();
  const digest = new DigestStream();
  // Progress is measured before compression: zstd holds back megabytes, so a slow source shows none after it.
  const fromSource = new ByteCounter();
  let sourceBytes = () => fromSource.bytes;
  // Heartbeats prove the worker is alive; the stall watch catches a live worker whose source sends nothing.
  const stallMs = durationMs(plan.timeouts.stall);
  let lastBytes = 0;
  let lastProgressAt = Date.now();
  let stalled = false;
  let abortDump: (() => void) | undefined;
  let expectedSourceBytes: number | undefined;
  const heartbeat = setInterval(() => {
    const bytesFromSource = sourceBytes();
    if (bytesFromSource !== lastBytes) {
      lastBytes = bytesFromSource;
      lastProgressAt = Date.now();
    } else if (!stalled && Date.now() - lastProgressAt > stallMs) {
      stalled = true;
      abortDump?.();
    }
    context.heartbeat({ component: component.name, bytes: digest.bytes, sourceBytes: bytesFromSource, expectedSourceBytes } satisfies BackupProgress);
  }, HEARTBEAT_INTERVAL_MS);
  try {
    context.heartbeat({ component: component.name, bytes: 0 } satisfies BackupProgress);
    const dump = await engine.dump(component, dumpContext);
    abortDump = () => dump.abort();
    expectedSourceBytes = dump.expectedBytes;
    if (dump.compressed && JSON.stringify(dump.compressed) !== JSON.stringify(compression)) {
      dump.abort();
      throw new Error(`engine ${engine.type} compressed with ${JSON.stringify(dump.compressed)}, not ${JSON.stringify(compression)}`);
    }
    // An engine that pipes its process straight into the compressor reports source bytes itself.
    if (dump.compressed) sourceBytes = () => dump.sourceBytes?.() ?? digest.bytes;
    const onCancel = () => dump.abort();
    context.cancellationSignal.addEventListener('abort', onCancel);
    try {
      const [facts] = await Promise.all([
        dump.finished,
        (dump.compressed ? pipeline(dump.stream, sealingStream(seal), digest) : pipeline(dump.stream, fromSource, compressor(compression), sealingStream(seal), digest)).catch((error: Error) => {
          dump.abort();
          throw error;
        }),
        store.put(key, digest, { signal: context.cancellationSignal, expectedBytes: dump.expectedBytes }),
      ]);
      const backup = componentBackupSchema.parse({
        name: component.name,
        type: component.type,
        key,
        format: engine.format,
        bytes: digest.bytes,
        sha256: digest.sha256(),
        startedAt: startedAt.toISOString(),
        completedAt: new Date().toISOString(),
        after: component.after,
        attempt: context.info.attempt,
        compression,
        sidecars,
        ...facts,
        ...(seal ? { encryption: seal.record } : {}),
      } satisfies ComponentBackupInput);
      recordComponentSuccess(plan.name, backup);
      context.log.info('component backed up', { plan: plan.name, component: component.name, key, bytes: backup.bytes });
      for (const warning of backup.s3Versioned?.warnings ?? []) context.log.warn(`component "${component.name}": ${warning}`, { plan: plan.name });
      return backup;
    } finally {
      context.cancellationSignal.removeEventListener('abort', onCancel);
    }
  } catch (error) {
    // A cancelled activity reports the cancellation, not the stream errors it caused.
    if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? error;
    recordComponentFailure(plan.name, component.name);
    if (stalled) {
      throw ApplicationFailure.retryable(`component "${component.name}": no bytes for ${plan.timeouts.stall}: the source stalled; retrying`, 'Stalled');
    }
    throw toApplicationFailure(error, `component "${component.name}"`);
  } finally {
    clearInterval(heartbeat);
  }
}

export interface WriteManifestInput {
  plan: Plan;
  planRevision: string;
  setId: string;
  startedAt: string;
  workflowId: string;
  runId: string;
  components: ComponentBackup[];
}

/**
 * Writes manifest.json, the set's commit point: before it exists the set is incomplete and never offered
 * for restore. It first checks that every artifact is really in the store with the recorded size.
 */
export async function writeManifest(input: WriteManifestInput): Promise<{ key: string; completedAt: string }> {
  const store = createStore(input.plan.store);
  const stored = new Map<string, number>();
  for await (const object of store.list(`${input.plan.name}/${input.setId}/`)) stored.set(object.key, object.size);
  for (const artifact of input.components.flatMap((component) => [component, ...component.sidecars])) {
    const size = stored.get(artifact.key);
    if (size !== artifact.bytes) {
      throw ApplicationFailure.nonRetryable(
        `artifact ${artifact.key} ${size === undefined ? 'is missing from the store' : `has ${size} bytes, not ${artifact.bytes}`}: the set is left incomplete`,
        'ArtifactMissing',
      );
    }
  }
  const completedAt = new Date().toISOString();
  const manifest: Manifest = manifestSchema.parse({
    formatVersion: 1,
    plan: input.plan.name,
    planRevision: input.planRevision,
    setId: input.setId,
    startedAt: input.startedAt,
    completedAt,
    workflowId: input.workflowId,
    runId: input.runId,
    components: input.components,
  } satisfies Manifest);
  const key = manifestKey(input.plan.name, input.setId);
  try {
    await store.put(key, jsonBody(manifest));
  } catch (error) {
    throw toApplicationFailure(error, 'manifest');
  }
  recordSetSuccess(manifest);
  return { key, completedAt };
}

/** Counts a failed backup run in the worker's metrics (the workflow calls it before failing). */
export async function recordBackupFailure(input: { plan: string }): Promise<void> {
  recordPlanFailure(input.plan);
}
