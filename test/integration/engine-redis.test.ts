/**
 * The Redis engine end to end on real parts: a real redis-server filled with several key types in two dbs,
 * backed up through the CLI and a worker into a local directory and MinIO, verified, restored into a fresh
 * redis-server and compared key by key; wrong passwords, refused connections and corruption.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import { filterStream, spawnWithOutput } from '../../src/engines/childProcess';
import { redisEngine, restoreRedisRdb } from '../../src/engines/redis';
import type { PlanInput, RedisComponent } from '../../src/plan/schema';
import { s3Client, tempDir, testEnv, uniqueName } from '../harness/env';
import { eventually, historyText, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';
import { canonicalDb, fill, redisCli, startRedisServer, type RedisServer } from '../harness/redis';

const execFileAsync = promisify(execFile);

interface ListedSets {
  sets: Manifest[];
}

describe('redis component engine', () => {
  const taskQueue = uniqueName('redis');
  const dir = tempDir('engine-redis');
  const servers: RedisServer[] = [];
  let source: RedisServer;
  let sourceCounts: Record<string, number>;
  let unchecked: RedisServer;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };
  const wrongPassword = randomBytes(12).toString('hex');

  const redisPlan = (name: string, store: PlanInput['store'], urlFromEnv = 'CACHE_REDIS_URL'): PlanInput => ({
    name,
    store,
    components: [{ name: 'cache', type: 'redis', connection: { urlFromEnv } }],
  });

  async function started(dataDir: string, extraArgs: string[] = []): Promise<RedisServer> {
    const server = await startRedisServer(dataDir, extraArgs);
    servers.push(server);
    return server;
  }

  beforeAll(async () => {
    source = await started(tempDir('redis-source'));
    sourceCounts = await fill(source);
    // rdbchecksum is fixed at startup; disk-based replication covers redis-cli's other transfer mode ($<length>, no EOF mark).
    unchecked = await started(tempDir('redis-unchecked'), ['--rdbchecksum', 'no', '--repl-diskless-sync', 'no']);
    await redisCli(unchecked, ['SET', 'only', 'key']);
    env = lifeboatEnv(taskQueue, {
      CACHE_REDIS_URL: `${source.url}/0`,
      UNCHECKED_REDIS_URL: unchecked.url,
      WRONG_PASSWORD_REDIS_URL: `redis://:${wrongPassword}@127.0.0.1:${source.port}`,
      REFUSED_REDIS_URL: `redis://:${wrongPassword}@127.0.0.1:1`,
    });
    worker = await startWorker(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    await Promise.all(servers.map((server) => server.stop()));
  });

  async function backupAndVerify(planFile: string): Promise<{ manifest: Manifest; workflowId: string }> {
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { setId, workflowId } = JSON.parse(run.stdout) as { setId: string; workflowId: string };
    const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    expect(listed.code).toBe(0);
    const { sets } = JSON.parse(listed.stdout) as ListedSets;
    expect(sets.map((set) => set.setId)).toEqual([setId]);
    const verify = await runCli(['backup', 'verify', '--plan', planFile, setId], { env });
    expect(verify.stdout).toContain(`set ${setId} verified`);
    expect(verify.code).toBe(0);
    return { manifest: sets[0], workflowId };
  }

  function expectSourceFacts(manifest: Manifest): void {
    const [cache] = manifest.components;
    expect(cache).toMatchObject({ name: 'cache', type: 'redis', format: 'redis-rdb', compression: { algorithm: 'zstd', level: 3 } });
    expect(cache.key).toMatch(/\/cache\.rdb\.zst$/);
    expect(cache.redis?.keyCounts).toEqual(sourceCounts);
    expect(cache.redis?.serverVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(cache.redis?.rdbVersion).toBeGreaterThanOrEqual(9);
    expect(cache.redis?.rdbChecksum).toBe('crc64');
  }

  /** zstd -d the artifact, restoreRedisRdb it into a fresh dir, start a fresh server on it, compare every db with the source. */
  async function expectRestoresIdentically(compressed: Readable, label: string): Promise<void> {
    const dataDir = tempDir(`redis-restored-${label}`);
    await restoreRedisRdb(compressed.pipe(filterStream('zstd', ['-q', '-d', '-c'])), dataDir);
    const restored = await started(dataDir, ['--dbfilename', 'dump.rdb']);
    for (const db of [0, 1]) {
      const [expected, actual] = await Promise.all([canonicalDb(source, db), canonicalDb(restored, db)]);
      expect(actual.keys).toBe(sourceCounts[`db${db}`]);
      expect(actual.text === expected.text).toBe(true); // not toEqual: a diff of ~1 MB of JSON helps no one
    }
    expect((await canonicalDb(restored, 2)).keys).toBe(0);
  }

  test('into a local directory: facts recorded, verified, restored identically into a fresh redis-server', async () => {
    const store = path.join(dir, 'local-store');
    const planFile = writePlan(dir, redisPlan(uniqueName('redis-local').replace(/_/g, '-'), { type: 'local', path: store }));
    const { manifest } = await backupAndVerify(planFile);
    expectSourceFacts(manifest);
    const { stdout: version } = await execFileAsync('redis-server', ['--version']);
    expect(version).toContain(`v=${manifest.components[0].redis?.serverVersion}`);
    await expectRestoresIdentically(spawnWithOutput('cat', [path.join(store, manifest.components[0].key)]).stdout, 'local');
  });

  test('into MinIO: verified, restored identically; no password anywhere in the history', async () => {
    const s3 = testEnv();
    const planFile = writePlan(dir, redisPlan(uniqueName('redis-s3').replace(/_/g, '-'), { type: 's3', bucket: s3.s3Bucket, prefix: 'redis', endpoint: s3.s3Endpoint, forcePathStyle: true }));
    const { manifest, workflowId } = await backupAndVerify(planFile);
    expectSourceFacts(manifest);
    const object = await s3Client().send(new GetObjectCommand({ Bucket: s3.s3Bucket, Key: `redis/${manifest.components[0].key}` }));
    await expectRestoresIdentically(object.Body as Readable, 's3');
    const history = await historyText(temporal.client, workflowId);
    expect(history).toContain('CACHE_REDIS_URL');
    expect(history).not.toContain(source.password);
  });

  test('a server with rdbchecksum off and disk-based replication: backed up, noted in the manifest, verified', async () => {
    const planFile = writePlan(dir, redisPlan('redis-unchecked', { type: 'local', path: path.join(dir, 'unchecked-store') }, 'UNCHECKED_REDIS_URL'));
    const { manifest } = await backupAndVerify(planFile);
    expect(manifest.components[0].redis).toMatchObject({ keyCounts: { db0: 1 }, rdbChecksum: 'disabled' });
  });

  test('a wrong password fails at once, not retried, naming the component; the password is nowhere', async () => {
    const planFile = writePlan(dir, redisPlan('redis-wrong-password', { type: 'local', path: path.join(dir, 'wrong-store') }, 'WRONG_PASSWORD_REDIS_URL'));
    const begun = Date.now();
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('component "cache"');
    expect(run.stderr).toMatch(/authentication failed/);
    expect(Date.now() - begun).toBeLessThan(20_000); // no backoff retries
    const workflowId = run.stdout.match(/lifeboat-backup-\S+/)![0];
    const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const failures = events.flatMap((event) => (event.activityTaskFailedEventAttributes ? [event.activityTaskFailedEventAttributes] : []));
    expect(failures).toHaveLength(1);
    expect(failures[0].failure?.applicationFailureInfo?.nonRetryable).toBe(true);
    expect(failures[0].failure?.applicationFailureInfo?.type).toBe('AuthenticationFailed');
    const history = await historyText(temporal.client, workflowId);
    for (const text of [run.stdout, run.stderr, history, worker.output()]) {
      expect(text).not.toContain(wrongPassword);
      expect(text).not.toContain(source.password);
    }
    const listed = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as ListedSets;
    expect(listed.sets).toEqual([]);
  });

  test('a refused connection is retried with backoff', async () => {
    const planFile = writePlan(dir, redisPlan('redis-refused', { type: 'local', path: path.join(dir, 'refused-store') }, 'REFUSED_REDIS_URL'));
    const run = await runCli(['backup', 'run', '--plan', planFile], { env });
    expect(run.code).toBe(0);
    const handle = temporal.client.workflow.getHandle(run.stdout.match(/lifeboat-backup-\S+/)![0]);
    const pending = await eventually('a second attempt', async () => {
      const activity = (await handle.describe()).raw.pendingActivities?.[0];
      return activity && (activity.attempt ?? 0) >= 2 ? activity : undefined;
    });
    expect(pending.lastFailure?.message).toMatch(/component "cache": cannot reach Redis at 127\.0\.0\.1:1: .*will retry/);
    await handle.terminate('test done');
  });

  test('a corrupted artifact fails `backup verify`; the engine check alone catches a corrupted RDB', async () => {
    const store = path.join(dir, 'corrupt-store');
    const planFile = writePlan(dir, redisPlan('redis-corrupt', { type: 'local', path: store }));
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(run.code).toBe(0);
    const { setId } = JSON.parse(run.stdout) as { setId: string };
    const artifact = path.join(store, 'redis-corrupt', setId, 'cache.rdb.zst');

    // The RDB inside: whole, then with one byte flipped (sha256 aside, the CRC64 trailer catches it).
    const component: RedisComponent = { name: 'cache', type: 'redis', connection: { urlFromEnv: 'CACHE_REDIS_URL' }, after: [] };
    const rdb = (await execFileAsync('zstd', ['-q', '-d', '-c', artifact], { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 })).stdout;
    await expect(redisEngine.checkArtifact(component, spawnWithOutput('cat', [artifact]).stdout.pipe(filterStream('zstd', ['-q', '-d', '-c'])))).resolves.toBeUndefined();
    const flipped = Buffer.from(rdb);
    flipped[Math.floor(flipped.length / 2)] ^= 0x20;
    const flippedFile = path.join(dir, 'flipped.rdb');
    writeFileSync(flippedFile, flipped);
    await expect(redisEngine.checkArtifact(component, spawnWithOutput('cat', [flippedFile]).stdout)).rejects.toThrow(/component "cache": the artifact is not a whole RDB: CRC64 mismatch/);

    const bytes = readFileSync(artifact);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(artifact, bytes);
    const verify = await runCli(['backup', 'verify', '--plan', planFile, setId], { env });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/FAILED cache redis-corrupt\/.*\/cache\.rdb\.zst/);
    expect(verify.stdout).toContain('sha256 mismatch');
    expect(verify.stderr).toContain('cache.rdb.zst');
  });
});
