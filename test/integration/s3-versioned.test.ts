/**
 * The s3-versioned component on real parts: a metadata database whose rows reference objects in a versioned
 * MinIO bucket, backed up database first and version map after; the bucket and the database are damaged; the
 * disaster-recovery workflow rolls both back to the restore point, exactly, without copying data out.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutBucketLifecycleConfigurationCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { NoncurrentVersionsReport } from '../../src/engines/s3Versioned/report';
import type { PlanInput } from '../../src/plan/schema';
import { recoveryStatusQuery, resumeSignal, type RecoveryReport } from '../../src/temporal/recovery';
import { createDatabase, s3Client, tempDir, testEnv, uniqueName } from '../harness/env';
import { fingerprint, sql } from '../harness/postgres';
import { eventually, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

async function createVersionedBucket(s3: S3Client): Promise<string> {
  const bucket = `lb-versioned-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  return bucket;
}

async function put(s3: S3Client, bucket: string, key: string, body: Buffer | string): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
}

/** Runs `work` over items with `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

/** Current objects under prefix: key -> sha256 of the content (read back from MinIO). */
async function contents(s3: S3Client, bucket: string, prefix: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    await inParallel(page.Contents ?? [], 16, async (object) => {
      const body = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: object.Key }));
      result[object.Key!] = createHash('sha256').update(await body.Body!.transformToByteArray()).digest('hex');
    });
    token = page.NextContinuationToken;
  } while (token);
  return result;
}

/** Current objects under prefix by etag (the MD5 of single-part content): a cheaper checksum for many objects. */
async function etags(s3: S3Client, bucket: string, prefix: string): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) result[object.Key!] = object.ETag!;
    token = page.NextContinuationToken;
  } while (token);
  return result;
}

/** Every version and delete marker under prefix: the bucket's whole history. */
async function history(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const entries: string[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  for (;;) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }));
    for (const version of page.Versions ?? []) entries.push(`${version.Key}@${version.VersionId}`);
    for (const marker of page.DeleteMarkers ?? []) entries.push(`${marker.Key}@${marker.VersionId} (delete marker)`);
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  return entries.sort();
}

describe('s3-versioned component', () => {
  const TEST_BUCKET = testEnv().s3Bucket;
  const dir = tempDir('s3-versioned');
  const taskQueue = uniqueName('s3versioned');
  const s3 = s3Client();
  let bucket: string;
  let metaUrl: string;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };

  beforeAll(async () => {
    bucket = await createVersionedBucket(s3);
    metaUrl = await createDatabase(uniqueName('meta'));
    // The data bucket's credentials come from their own variables, as a bucket in another account would.
    env = lifeboatEnv(taskQueue, { META_DATABASE_URL: metaUrl, DATA_KEY_ID: testEnv().s3AccessKey, DATA_SECRET: testEnv().s3SecretKey });
    worker = await startWorker(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    s3.destroy();
  });

  const plan = (name: string, prefix: string, extra: Partial<Extract<PlanInput['components'][number], { type: 's3-versioned' }>> = {}, withDatabase = true): PlanInput => ({
    name,
    store: { type: 's3', bucket: TEST_BUCKET, prefix: uniqueName(name), endpoint: testEnv().s3Endpoint, forcePathStyle: true },
    components: [
      ...(withDatabase ? [{ name: 'meta', type: 'postgres' as const, connection: { urlFromEnv: 'META_DATABASE_URL' } }] : []),
      {
        name: 'blobs',
        type: 's3-versioned',
        bucket,
        prefix,
        endpoint: testEnv().s3Endpoint,
        credentials: { accessKeyIdFromEnv: 'DATA_KEY_ID', secretAccessKeyFromEnv: 'DATA_SECRET' },
        after: withDatabase ? ['meta'] : [],
        ...(withDatabase ? { consistency: { component: 'meta', query: 'select blob_key from blobs' } } : {}),
        ...extra,
      },
    ],
  });

  async function backup(planFile: string): Promise<string> {
    const result = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return (JSON.parse(result.stdout) as { setId: string }).setId;
  }

  /** Starts the disaster-recovery workflow and approves the given set; resolves with its handle. */
  async function recoverTo(planFile: string, setId: string) {
    const started = await runCli(['restore', 'start', '--plan', planFile, '--set', setId, '--json'], { env });
    expect(started.code).toBe(0);
    const handle = temporal.client.workflow.getHandle((JSON.parse(started.stdout) as { workflowId: string }).workflowId);
    const status = await eventually('the agreement gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    });
    expect(status.candidates.map((candidate) => candidate.setId)).toEqual([setId]);
    const approved = await runCli(['restore', 'approve', handle.workflowId, '--timestamp', status.candidates[0].timestamp, '--as', 'alice'], { env });
    expect(approved.code).toBe(0);
    return handle;
  }

  test('database and bucket roll back together to the restore point, every referenced key exists, and a second restore changes nothing', async () => {
    const prefix = 'blobs/';
    await sql(metaUrl, 'create table blobs (id int primary key, blob_key text not null, note text)');
    const keys = Array.from({ length: 30 }, (_, index) => `${prefix}${index % 3 === 0 ? 'dir/' : ''}object ${String(index).padStart(3, '0')}.bin`);
    for (const [index, key] of keys.entries()) {
      await put(s3, bucket, key, randomBytes(1000 + index));
      await sql(metaUrl, `insert into blobs values (${index}, '${key}', 'v1')`);
    }
    await put(s3, bucket, `${prefix}unreferenced.txt`, 'not in the database');
    await put(s3, bucket, 'outside/other.txt', 'outside the prefix: never touched');
    const input = plan('together', prefix);
    const planFile = writePlan(dir, input);
    const setId = await backup(planFile);
    const expected = { bucket: await contents(s3, bucket, prefix), meta: await fingerprint(metaUrl, ['blobs']) };
    expect(Object.keys(expected.bucket)).toHaveLength(31);

    // The map is the artifact: no object data in the store, only keys, versions and etags.
    const manifestKey = `${(input.store as { prefix: string }).prefix}/together/${setId}/manifest.json`;
    const manifestBody = await (await s3.send(new GetObjectCommand({ Bucket: TEST_BUCKET, Key: manifestKey }))).Body!.transformToString();
    const manifest = JSON.parse(manifestBody) as { components: { name: string; format: string; bytes: number; s3Versioned?: { objects: number; warnings: string[] } }[] };
    const blobs = manifest.components.find((component) => component.name === 'blobs')!;
    expect(blobs.format).toBe('lifeboat-s3-version-map');
    expect(blobs.s3Versioned).toMatchObject({ objects: 31, warnings: [] });
    expect(blobs.bytes).toBeLessThan(30 * 1000); // smaller than the data it describes

    // Disaster: objects overwritten, deleted and added; rows changed, deleted and added.
    for (const key of keys.slice(0, 5)) await put(s3, bucket, key, 'overwritten');
    for (const key of keys.slice(5, 10)) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await put(s3, bucket, keys[10], 'overwritten, then deleted');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: keys[10] }));
    for (let index = 0; index < 5; index++) {
      await put(s3, bucket, `${prefix}new-${index}`, `created after the backup ${index}`);
      await sql(metaUrl, `insert into blobs values (${100 + index}, '${prefix}new-${index}', 'new')`);
    }
    await sql(metaUrl, `update blobs set note = 'changed' where id < 15; delete from blobs where id between 20 and 25`);
    await put(s3, bucket, 'outside/other.txt', 'changed outside the prefix');
    expect(await contents(s3, bucket, prefix)).not.toEqual(expected.bucket);

    const handle = await recoverTo(planFile, setId);
    const report = (await handle.result()) as RecoveryReport;
    expect(report.steps.map((step) => `${step.outcome} ${step.step}${step.error ? `: ${step.error}` : ''}`)).toEqual(['ok restore meta', 'ok restore blobs', 'ok verify data', 'ok verify service']);
    expect(report.outcome).toBe('recovered');

    // Exactly the restore point, by content checksum; nothing outside the prefix was touched.
    expect(await contents(s3, bucket, prefix)).toEqual(expected.bucket);
    expect(await fingerprint(metaUrl, ['blobs'])).toEqual(expected.meta);
    const referenced = (await sql(metaUrl, "select string_agg(blob_key, '|' order by blob_key) from blobs")).split('|');
    expect(referenced).toHaveLength(30);
    for (const key of referenced) expect(expected.bucket[key]).toBeDefined();
    const outside = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'outside/other.txt' }));
    expect(await outside.Body!.transformToString()).toBe('changed outside the prefix');
    // History is kept: the damaged versions are still there, behind the restored ones.
    const after = await history(s3, bucket, prefix);
    expect(after.filter((entry) => entry.includes('new-0'))).toHaveLength(2); // the version and its delete marker

    // What versioning costs: the recorded originals of the 11 rolled-back keys are kept for the restore point;
    // the damaged versions (5 overwrites, 1 overwrite-then-delete, 5 new keys) are referenced by no kept set.
    const costs = await runCli(['s3-versions', 'report', '--plan', planFile, '--json'], { env });
    expect(costs.stderr).toBe('');
    const [cost] = (JSON.parse(costs.stdout) as { components: NoncurrentVersionsReport[] }).components;
    expect(cost).toMatchObject({ current: { versions: 31 }, keptForRestorePoints: { versions: 11 }, unreferencedNoncurrent: { versions: 11 } });
    expect(cost.keptForRestorePoints.bytes).toBe(keys.slice(0, 11).reduce((sum, _key, index) => sum + 1000 + index, 0));
    expect(cost.sets).toEqual([{ setId, objects: 31, missingVersions: 0, missing: '' }]);

    // Idempotent: restoring to the same point again adds no version and no delete marker.
    const again = (await (await recoverTo(planFile, setId)).result()) as RecoveryReport;
    expect(again.outcome).toBe('recovered');
    expect(await history(s3, bucket, prefix)).toEqual(after);
    expect(await contents(s3, bucket, prefix)).toEqual(expected.bucket);
  });

  test('a map of thousands of objects is taken and rolled back', async () => {
    const prefix = 'many/';
    const count = 3000;
    const keys = Array.from({ length: count }, (_, index) => `${prefix}${String(index).padStart(5, '0')}`);
    await inParallel(keys, 32, (key) => put(s3, bucket, key, `content of ${key}`));
    // A lifecycle rule that expires noncurrent versions sooner than the plan keeps restore points: a warning.
    await s3.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: bucket,
        LifecycleConfiguration: { Rules: [{ ID: 'short', Status: 'Enabled', Filter: { Prefix: prefix }, NoncurrentVersionExpiration: { NoncurrentDays: 3 } }] },
      }),
    );
    const manyPlan: PlanInput = { ...plan('many', prefix, {}, false), retention: { keepDaily: 7 } };
    const planFile = writePlan(dir, manyPlan);
    let started = Date.now();
    const setId = await backup(planFile);
    const backupMs = Date.now() - started;
    const listed = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: { components: { s3Versioned?: { objects: number; noncurrentExpirationDays: number; warnings: string[] } }[] }[] };
    expect(listed.sets[0].components[0].s3Versioned).toMatchObject({
      objects: count,
      noncurrentExpirationDays: 3,
      warnings: [expect.stringContaining('lifecycle rule "short" expires noncurrent versions after 3 days, but the plan keeps restore points for 7 days')],
    });
    expect(worker.output()).toContain('expires noncurrent versions after 3 days');
    const expected = await etags(s3, bucket, prefix);
    expect(Object.keys(expected)).toHaveLength(count);

    await inParallel(keys.slice(0, 200), 32, (key) => put(s3, bucket, key, `overwritten ${key}`));
    await inParallel(keys.slice(200, 400), 32, async (key) => void (await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }))));
    await inParallel(Array.from({ length: 200 }, (_, index) => `${prefix}extra-${index}`), 32, (key) => put(s3, bucket, key, 'new'));

    started = Date.now();
    const report = (await (await recoverTo(planFile, setId)).result()) as RecoveryReport;
    const recoveryMs = Date.now() - started;
    expect(report.outcome).toBe('recovered');
    const restoreStep = report.steps.find((step) => step.step === 'restore blobs')!;
    expect(await etags(s3, bucket, prefix)).toEqual(expected);
    // Maps are ordinary artifacts: retention prunes them with their set.
    const newer = await backup(planFile);
    const pruned = await runCli(['prune', '--plan', writePlan(dir, { ...manyPlan, retention: { keepLast: 1 } }, 'many-keep-last.yaml'), '--json'], { env });
    expect(pruned.code).toBe(0);
    const remaining = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: { setId: string }[] };
    expect(remaining.sets.map((set) => set.setId)).toEqual([newer]);
    const storePrefix = (manyPlan.store as { prefix: string }).prefix;
    const left = await s3.send(new ListObjectsV2Command({ Bucket: TEST_BUCKET, Prefix: `${storePrefix}/many/${setId}/` }));
    expect(left.KeyCount ?? 0).toBe(0);

    console.log(
      `s3-versioned, ${count} objects: backup ${backupMs} ms; recovery ${recoveryMs} ms, of which the rollback of 600 objects ` +
        `${Date.parse(restoreStep.completedAt!) - Date.parse(restoreStep.startedAt)} ms`,
    );
  });

  test('a bucket without versioning is refused with a clear message', async () => {
    const planFile = writePlan(dir, { ...plan('unversioned', 'x/', { bucket: TEST_BUCKET }, false) });
    const result = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env });
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain(`bucket "${TEST_BUCKET}" does not have versioning enabled (it was never enabled)`);
    expect(result.stdout + result.stderr).toContain('put-bucket-versioning');
  });

  test('a recorded version that expired is reported by key and parks the restore with nothing changed', async () => {
    const prefix = 'expiry/';
    await put(s3, bucket, `${prefix}a`, 'a at the restore point');
    await put(s3, bucket, `${prefix}b`, 'b at the restore point');
    const planFile = writePlan(dir, plan('expiry', prefix, {}, false));
    const setId = await backup(planFile);
    const recorded = (await s3.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: `${prefix}a` }))).Versions!.find((version) => version.IsLatest)!;
    await put(s3, bucket, `${prefix}a`, 'a later');
    await put(s3, bucket, `${prefix}b`, 'b later');
    // As a lifecycle rule would: the recorded version of "a" is gone for good.
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${prefix}a`, VersionId: recorded.VersionId }));
    const before = await history(s3, bucket, prefix);

    const handle = await recoverTo(planFile, setId);
    const parked = await eventually('the resume gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.waitingForResume ? current : undefined;
    });
    expect(parked.waitingForResume?.step).toBe('restore blobs');
    expect(parked.waitingForResume?.error).toContain(`1 recorded version(s) no longer exist`);
    expect(parked.waitingForResume?.error).toContain(`"${prefix}a" (version ${recorded.VersionId})`);
    expect(parked.waitingForResume?.error).toContain('Nothing was changed');
    // Checked before anything changed: "b" was not rolled back either.
    expect(await history(s3, bucket, prefix)).toEqual(before);
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: `${prefix}b` }))).Body!.transformToString()).toBe('b later');

    // The report names the set that lost a version, and the key.
    const costs = await runCli(['s3-versions', 'report', '--plan', planFile], { env });
    expect(costs.code).toBe(0);
    expect(costs.stdout).toContain(`set ${setId} cannot be rolled back fully: 1 of 2 recorded version(s) are gone: "${prefix}a"`);

    await handle.signal(resumeSignal, { by: 'alice', action: 'abort' });
    expect(((await handle.result()) as RecoveryReport).outcome).toBe('aborted');
  });
});
