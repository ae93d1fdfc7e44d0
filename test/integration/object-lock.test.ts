/**
 * Immutable backups on a MinIO bucket created with object lock: every object a backup writes carries a
 * retention date; the worker's store cannot delete a locked version; prune (a real workflow on a real worker)
 * reports a set still locked and removes every version of it once its date has passed. The test moves that
 * date itself, as an administrator would, with governance mode's BypassGovernanceRetention. `store check`
 * reports what a bucket can give.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  PutObjectRetentionCommand,
  type ObjectVersion,
} from '@aws-sdk/client-s3';
import type { PruneResult } from '../../workflows';
import { planSchema, type PlanInput, type S3StoreConfig } from '../../src/plan/schema';
import { S3Store, StoreConfigurationError } from '../../src/stores';
import { deleteObjectVersion, listObjectVersions, ObjectLockedError } from '../../src/stores/objectLock';
import { s3Client, tempDir, testEnv, uniqueName } from '../harness/env';
import { eventually, lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';

const DAY = 86_400_000;

describe('object lock on MinIO', () => {
  const s3 = testEnv();
  const client = s3Client();
  const dir = tempDir('object-lock');
  const taskQueue = uniqueName('object_lock');
  const bucket = `lifeboat-lock-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const credentials = { accessKeyId: s3.s3AccessKey, secretAccessKey: s3.s3SecretKey };
  const env = lifeboatEnv(taskQueue);
  let worker: WorkerProcess;

  const storeConfig = (bucketName: string, extra: Partial<S3StoreConfig> = {}): PlanInput['store'] => ({
    type: 's3',
    bucket: bucketName,
    endpoint: s3.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    objectLock: { mode: 'governance', days: 1 },
    ...extra,
  });
  const lockedStore = () => new S3Store(planSchema.parse({ name: 'x', store: storeConfig(bucket), components: [{ name: 'c', type: 'files', path: '/' }] }).store as S3StoreConfig, { credentials, partSize: 5 * 1024 * 1024 });

  async function versions(prefix: string): Promise<{ versions: ObjectVersion[]; markers: number }> {
    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: bucket, Prefix: prefix }));
    return { versions: listed.Versions ?? [], markers: (listed.DeleteMarkers ?? []).length };
  }

  beforeAll(async () => {
    await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }));
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
    // The test's own cleanup, as an administrator: governance retention lifted with BypassGovernanceRetention.
    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    for (const version of [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])]) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId, BypassGovernanceRetention: true }));
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    client.destroy();
  });

  test('store check reports versioning and object lock; warns (exit 1) on a plain bucket when the plan asks for a lock', async () => {
    const components: PlanInput['components'] = [{ name: 'data', type: 'files', path: dir }];
    const locked = writePlan(dir, { name: 'check-locked', store: storeConfig(bucket), components });
    const ok = await runCli(['store', 'check', '--plan', locked], { env });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/versioning: +Enabled/);
    expect(ok.stdout).toMatch(/object lock: +Enabled/);
    expect(ok.stdout).toContain('ok: every artifact, sidecar and manifest will be written locked (governance) for 1 day(s)');

    const plain = writePlan(dir, { name: 'check-plain', store: storeConfig(s3.s3Bucket), components });
    const warned = await runCli(['store', 'check', '--plan', plain, '--json'], { env });
    expect(warned.code).toBe(1);
    const report = JSON.parse(warned.stdout) as { objectLock: boolean; versioning: string; problems: string[] };
    expect(report.objectLock).toBe(false);
    expect(report.problems[0]).toContain(`bucket '${s3.s3Bucket}' does not have object lock enabled`);
    expect(warned.stderr).toContain('cannot give the object lock the plan asks for');

    // Without a lock in the plan, a plain bucket is fine.
    const unlocked = writePlan(dir, { name: 'check-unlocked', store: storeConfig(s3.s3Bucket, { objectLock: undefined }), components });
    expect((await runCli(['store', 'check', '--plan', unlocked], { env })).code).toBe(0);

    // A locked write to the plain bucket fails with what to do, not an S3 riddle.
    const plainStore = new S3Store({ ...(storeConfig(s3.s3Bucket) as S3StoreConfig), prefix: uniqueName('plain') }, { credentials });
    const refused = plainStore.put('a/b', Readable.from([Buffer.from('x')]));
    await expect(refused).rejects.toBeInstanceOf(StoreConfigurationError);
    await expect(refused).rejects.toThrow(/lifeboat store check/);
    plainStore.destroy();

    // A local store cannot be locked: refused as bad input.
    const local = path.join(dir, 'local-lock.yaml');
    writeFileSync(local, `name: local-lock\nstore: { type: local, path: ${dir}/store, objectLock: { mode: governance, days: 1 } }\ncomponents: [{ name: data, type: files, path: ${dir} }]\n`);
    const invalid = await runCli(['plan', 'validate', local], { env });
    expect(invalid.code).toBe(2);
    expect(invalid.stderr).toContain('object lock needs an S3 store');
  });

  test('a multipart upload is written locked too', async () => {
    const store = lockedStore();
    const body = randomBytes(11 * 1024 * 1024); // three 5 MiB parts
    await store.put('multipart/big', Readable.from([body.subarray(0, 6 * 1024 * 1024), body.subarray(6 * 1024 * 1024)]));
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'multipart/big' }));
    expect(head.ContentLength).toBe(body.length);
    expect(head.ETag).toMatch(/-3"$/); // a multipart object's ETag ends in -<parts>: the lock went on CreateMultipartUpload
    expect(head.ObjectLockMode).toBe('GOVERNANCE');
    expect(head.ObjectLockRetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + DAY - 600_000);
    store.destroy();
  });

  test('backups are written locked; the worker cannot delete them; prune reports them locked, and removes them after their date', async () => {
    const data = path.join(dir, 'data');
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, 'ledger.txt'), 'entries\n');
    const planFile = writePlan(dir, { name: 'locked', store: storeConfig(bucket), components: [{ name: 'data', type: 'files', path: data }], retention: { keepLast: 1 } });
    const backup = async () => {
      const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      return (JSON.parse(run.stdout) as { setId: string }).setId;
    };
    const older = await backup();

    // Every object of the set (artifact, index sidecar, manifest) carries a retention date a day ahead.
    const written = await versions(`locked/${older}/`);
    expect(written.versions.map((version) => version.Key!.split('/').pop()).sort()).toEqual(['data.index.jsonl.gz', 'data.tar.zst', 'manifest.json']);
    for (const version of written.versions) {
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId }));
      expect(head.ObjectLockMode).toBe('GOVERNANCE');
      expect(Math.abs(head.ObjectLockRetainUntilDate!.getTime() - (Date.now() + DAY))).toBeLessThan(600_000);
    }

    // The worker's store (no bypass) cannot delete a locked version.
    const store = lockedStore();
    const [first] = await listObjectVersions(store, `locked/${older}/`);
    await expect(deleteObjectVersion(store, first)).rejects.toBeInstanceOf(ObjectLockedError);
    expect((await versions(`locked/${older}/`)).versions).toHaveLength(3);

    const newer = await backup();
    const held = await runCli(['prune', '--plan', planFile, '--json'], { env });
    expect(held.code).toBe(0);
    const heldResult = JSON.parse(held.stdout) as PruneResult;
    expect(heldResult.removed).toEqual([]);
    expect(heldResult.locked).toEqual([{ setId: older, until: expect.any(String) }]);
    const olderDecision = heldResult.sets.find((set) => set.setId === older);
    expect(olderDecision?.action).toBe('keep');
    expect(olderDecision?.reasons[0]).toMatch(/^locked until 20\d\d-/);
    expect((await versions(`locked/${older}/`)).versions).toHaveLength(3);
    const text = await runCli(['prune', '--plan', planFile, '--dry-run'], { env });
    expect(text.stdout).toContain(`locked: ${older} until`);

    // An administrator shortens the (governance) retention to a few seconds from now; after that, prune removes
    // every version of the set, leaving no delete marker behind.
    const until = new Date(Date.now() + 3000);
    for (const version of (await versions(`locked/${older}/`)).versions) {
      await client.send(
        new PutObjectRetentionCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId, BypassGovernanceRetention: true, Retention: { Mode: 'GOVERNANCE', RetainUntilDate: until } }),
      );
    }
    await eventually('the retention date to pass', async () => (Date.now() > until.getTime() + 1000 ? true : undefined), 30_000);
    const pruned = await runCli(['prune', '--plan', planFile, '--json'], { env });
    expect(pruned.code).toBe(0);
    const prunedResult = JSON.parse(pruned.stdout) as PruneResult;
    expect(prunedResult.removed).toEqual([older]);
    expect(prunedResult.locked).toEqual([]);
    expect(await versions(`locked/${older}/`)).toEqual({ versions: [], markers: 0 });
    expect((await versions(`locked/${newer}/`)).versions).toHaveLength(3);
    store.destroy();
  });
});
