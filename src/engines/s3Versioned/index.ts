/**
 * s3-versioned: backs up a versioned bucket (or prefix) without copying its data. The artifact is a version
 * map (./versionMap.ts); restore rolls the prefix back to it with server-side copies and delete markers, so
 * history is never destroyed and no object's bytes pass through the worker.
 */
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { finished as streamFinished } from 'node:stream/promises';
import type { S3VersionedFacts } from '../../catalog/manifest';
import type { Plan, S3VersionedComponent } from '../../plan/schema';
import { ComponentError } from '../errors';
import type { ComponentDump, DumpContext, Engine, RestoreContext } from '../types';
import { assertVersioningEnabled, lifecycleRulesFor, listKeyVersions, openVersionedBucket, type KeyVersions, type VersionedBucket } from './bucket';
import { ReferencedKeysCheck, referencedKeys } from './consistency';
import { hideKey, restoredFromMark, restoreVersion } from './copy';
import { assessLifecycle, retentionDays } from './lifecycle';
import { planRollback, tap, type RollbackAction, type RollbackSummary } from './rollback';
import { encodeHeader, encodeRecord, readVersionMap, VersionMapError } from './versionMap';

/** Map lines are handed on in chunks of about this size, not one tiny chunk per object. */
const CHUNK_BYTES = 64 * 1024;
/** Server-side copies and deletes in flight at once during a restore. */
const APPLY_CONCURRENCY = 16;

async function dumpS3Versioned(component: S3VersionedComponent, context: DumpContext): Promise<ComponentDump> {
  const bucket = openVersionedBucket(component);
  // The client is closed when the map stream closes (ended, failed or destroyed), or below if no stream is made.
  let streamOwnsClient = false;
  try {
    await assertVersioningEnabled(bucket, component.name);
    const days = retentionDays(context.plan);
    const lifecycle = assessLifecycle(await lifecycleRulesFor(bucket), days);
    const facts: S3VersionedFacts = {
      bucket: component.bucket,
      prefix: component.prefix,
      objects: 0,
      bytes: 0,
      noncurrentExpirationDays: lifecycle.noncurrentExpirationDays,
      retentionDays: days,
      warnings: lifecycle.warnings,
    };
    let settle: { resolve(value: { s3Versioned: S3VersionedFacts }): void; reject(error: unknown): void } | undefined;
    const finished = new Promise<{ s3Versioned: S3VersionedFacts }>((resolve, reject) => (settle = { resolve, reject }));
    finished.catch(() => undefined); // reported through the stream until the caller awaits it
    async function* mapChunks(): AsyncGenerator<Buffer> {
      try {
        let pending = encodeHeader({ bucket: component.bucket, prefix: component.prefix });
        // Only the version current now, and only keys that are not deleted; S3 lists keys in order, so the map is too.
        for await (const listed of listKeyVersions(bucket)) {
          if (!listed.current) continue;
          facts.objects++;
          facts.bytes += listed.current.size;
          pending += encodeRecord({ key: listed.key, ...listed.current });
          if (pending.length >= CHUNK_BYTES) {
            yield Buffer.from(pending);
            pending = '';
          }
        }
        yield Buffer.from(pending);
        settle?.resolve({ s3Versioned: facts });
      } catch (error) {
        settle?.reject(error);
        throw error;
      }
    }
    const stream = Readable.from(mapChunks(), { objectMode: false });
    stream.once('close', () => bucket.client.destroy());
    streamOwnsClient = true;
    return {
      stream,
      finished,
      abort: () => {
        const error = new ComponentError(component.name, 'listing the bucket was stopped', true, 'Aborted');
        settle?.reject(error);
        stream.destroy(error);
      },
    };
  } finally {
    if (!streamOwnsClient) bucket.client.destroy();
  }
}

async function checkVersionMap(component: S3VersionedComponent, artifact: Readable): Promise<void> {
  try {
    for await (const record of readVersionMap(artifact, { bucket: component.bucket, prefix: component.prefix })) void record;
  } catch (error) {
    throw mapReadFailure(component, error);
  }
}

function mapReadFailure(component: S3VersionedComponent, error: unknown): unknown {
  return error instanceof VersionMapError ? new ComponentError(component.name, `the version map cannot be read: ${error.message}`, false, 'ArtifactUnreadable') : error;
}

async function write(out: WriteStream, line: string): Promise<void> {
  if (!out.write(line)) await new Promise<void>((resolve, reject) => out.once('drain', resolve).once('error', reject));
}

/** Runs the actions written to `file` on `bucket` with a few in flight at once; resolves with how many ran. */
async function applyActions(file: string, bucket: VersionedBucket, onDone: (done: number) => void): Promise<number> {
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  const inFlight = new Set<Promise<void>>();
  let done = 0;
  let failure: unknown;
  try {
    for await (const line of lines) {
      if (line === '') continue;
      const action = JSON.parse(line) as RollbackAction;
      const running = (action.kind === 'restore' ? restoreVersion(bucket, action) : hideKey(bucket, action.key)).then(
        () => void onDone(++done),
        (error: unknown) => void (failure ??= error),
      );
      inFlight.add(running);
      void running.finally(() => inFlight.delete(running));
      if (inFlight.size >= APPLY_CONCURRENCY) await Promise.race(inFlight);
      if (failure) break;
    }
    await Promise.all(inFlight);
  } finally {
    lines.close();
  }
  if (failure) throw bucket.failure(failure, 'rolling an object back');
  return done;
}

function consistencyFailure(component: S3VersionedComponent, missing: ReferencedKeysCheck['missing'], where: string): ComponentError {
  return new ComponentError(
    component.name,
    `${missing.count} object key(s) that "${component.consistency?.component}" references are not ${where}: ${missing.describe((key) => `"${key}"`)}`,
    false,
    'InconsistentRestorePoint',
  );
}

/**
 * Two passes. First the map is merged with a listing of the bucket (and with the keys the restored database
 * references): the changes go to a temp file, and if any recorded version is gone or a referenced key is not
 * in the map, the restore stops with nothing changed. Then the changes run. A second run finds nothing to do.
 */
async function restoreS3Versioned(component: S3VersionedComponent, artifact: Readable, context?: RestoreContext): Promise<void> {
  const progress = context?.progress ?? (() => undefined);
  const consistency = component.consistency ? new ReferencedKeysCheck(referencedKeys(component, requirePlan(component, context))) : undefined;
  const bucket = openVersionedBucket(component);
  const workDir = await mkdtemp(path.join(tmpdir(), 'lifeboat-rollback-'));
  const actionsFile = path.join(workDir, 'actions.jsonl');
  try {
    const out = createWriteStream(actionsFile);
    let summary: RollbackSummary;
    try {
      const map = readVersionMap(artifact, { bucket: component.bucket, prefix: component.prefix });
      summary = await planRollback({
        map: consistency ? tap(map, (record) => consistency.see(record.key)) : map,
        listing: listKeyVersions(bucket),
        restoredFrom: (key, versionId) => restoredFromMark(bucket, key, versionId),
        onAction: (action) => write(out, `${JSON.stringify(action)}\n`),
        onProgress: (objects) => progress({ phase: 'checking', objects }),
      });
      out.end();
      await streamFinished(out);
    } catch (error) {
      out.destroy();
      throw mapReadFailure(component, error);
    }
    // A map cut short by a failed read must never count as the whole restore point.
    if (!artifact.readableEnded) throw new ComponentError(component.name, 'the version map ended early; nothing was changed', true, 'ArtifactTruncated');
    if (summary.missing.count > 0) {
      throw new ComponentError(
        component.name,
        `${summary.missing.count} recorded version(s) no longer exist in ${bucket.where} (expired by a lifecycle rule or deleted by version id): ` +
          `${summary.missing.describe((item) => `"${item.key}" (version ${item.versionId})`)}. Nothing was changed. ` +
          'This restore point cannot be rolled back fully: abort and choose a newer one, or skip this component',
        false,
        'VersionsMissing',
      );
    }
    const unreferenced = consistency ? await consistency.finish() : undefined;
    if (unreferenced && unreferenced.count > 0) throw consistencyFailure(component, unreferenced, 'in the version map; nothing was changed');
    const total = summary.restore + summary.delete;
    progress({ phase: 'applying', objects: 0, of: total });
    await applyActions(actionsFile, bucket, (done) => progress({ phase: 'applying', objects: done, of: total }));
  } finally {
    await consistency?.close();
    bucket.client.destroy();
    await rm(workDir, { recursive: true, force: true });
  }
}

function requirePlan(component: S3VersionedComponent, context: RestoreContext | undefined): Plan {
  if (!context) throw new ComponentError(component.name, 'the consistency check needs the plan; this caller passed none', false, 'InvalidCall');
  return context.plan;
}

export interface RolledBackCheck {
  /** Objects in the map and those that are not as the map says (or whose recorded version is gone). */
  objects: number;
  differing: number;
  differences: string;
  /** Keys the database references, and those missing from the bucket. */
  referenced?: number;
  missingReferenced?: number;
  missingKeys?: string;
}

/** After a restore: the bucket equals the map (nothing left to change), and every referenced key exists. */
export async function checkRolledBack(component: S3VersionedComponent, plan: Plan, map: Readable): Promise<RolledBackCheck> {
  const bucket = openVersionedBucket(component);
  const consistency = component.consistency ? new ReferencedKeysCheck(referencedKeys(component, plan)) : undefined;
  const differences: string[] = [];
  try {
    const listing = listKeyVersions(bucket);
    const summary = await planRollback({
      map: readVersionMap(map, { bucket: component.bucket, prefix: component.prefix }),
      listing: consistency ? tap(listing, async (listed: KeyVersions) => (listed.current ? consistency.see(listed.key) : undefined)) : listing,
      restoredFrom: (key, versionId) => restoredFromMark(bucket, key, versionId),
      onAction: (action) => void (differences.length < 20 && differences.push(action.kind === 'restore' ? `"${action.key}" is not version ${action.versionId}` : `"${action.key}" is not in the map`)),
    });
    if (summary.missing.count > 0) differences.push(`${summary.missing.count} recorded version(s) are gone`);
    const result: RolledBackCheck = { objects: summary.objects, differing: summary.restore + summary.delete + summary.missing.count, differences: differences.join(', ') };
    if (consistency) {
      const missing = await consistency.finish();
      Object.assign(result, { referenced: consistency.referenced, missingReferenced: missing.count, missingKeys: missing.describe((key) => `"${key}"`) });
    }
    return result;
  } catch (error) {
    throw mapReadFailure(component, error);
  } finally {
    await consistency?.close();
    bucket.client.destroy();
  }
}

export const s3VersionedEngine: Engine<S3VersionedComponent> = {
  type: 's3-versioned',
  format: 'lifeboat-s3-version-map',
  extension: 'versions.jsonl',
  // JSON lines of keys, version ids and etags compress several times over.
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: dumpS3Versioned,
  checkArtifact: checkVersionMap,
  restore: restoreS3Versioned,
};
