/**
 * A worker SIGKILLed while a ~570 MB dump streams into the store: a new worker finishes the workflow, exactly
 * one complete set is listed, and nothing half-written (multipart upload, temp file) is left behind. The
 * dump must outlast a heartbeat (one per 2 s) even on a quiet machine, where it streams at 200 MB/s or more.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { defaultPayloadConverter, type Client } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import type { PlanInput, S3StoreConfig } from '../../src/plan/schema';
import { S3Store } from '../../src/stores/s3';
import { backupStatusQuery } from '../../src/temporal/backupStatus';
import { createDatabase, tempDir, testEnv, uniqueName } from '../harness/env';
import { fillWithRandomRows } from '../harness/postgres';
import { eventually, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

const MiB = 1024 * 1024;

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

describe('a worker killed mid-dump', () => {
  const taskQueue = uniqueName('crash');
  const dir = tempDir('crash');
  let env: NodeJS.ProcessEnv;
  let temporal: { client: Client; close(): Promise<void> };
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    const url = await createDatabase(uniqueName('big'));
    await fillWithRandomRows(url, 210_000);
    env = lifeboatEnv(taskQueue, { BIG_DATABASE_URL: url });
    temporal = await temporalClient();
  }, 300_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await temporal?.close();
  });

  async function crashMidDump(plan: PlanInput, duringDump: (setId: string) => Promise<void>): Promise<{ manifest: Manifest; planFile: string }> {
    const planFile = writePlan(dir, plan);
    const first = await startWorker(env);
    workers.push(first);
    const run = await runCli(['backup', 'run', '--plan', planFile, '--json'], { env });
    expect(run.code).toBe(0);
    const { workflowId } = JSON.parse(run.stdout) as { workflowId: string };
    const handle = temporal.client.workflow.getHandle(workflowId);
    await eventually(
      'the dump to stream 40 MiB',
      async () => {
        const details = (await handle.describe()).raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
        const progress = details ? defaultPayloadConverter.fromPayload<{ bytes: number }>(details) : undefined;
        return progress && progress.bytes > 40 * MiB ? progress : undefined;
      },
      120_000,
      100,
    );
    const { setId } = await handle.query(backupStatusQuery); // asked before the kill: only a live worker answers queries
    await first.kill();
    await duringDump(setId);

    const second = await startWorker(env);
    workers.push(second);
    const result = (await handle.result()) as { setId: string };
    // Nothing of this run may poll the queue when the next test kills "its" first worker.
    await second.stop();
    expect(result.setId).toBe(setId);
    const listed = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[]; incomplete: unknown[] };
    expect(listed.sets.map((set) => set.setId)).toEqual([setId]);
    expect(listed.incomplete).toEqual([]);
    const manifest = listed.sets[0];
    expect(manifest.components[0].attempt).toBeGreaterThanOrEqual(2); // really re-run after the crash
    expect(manifest.components[0].bytes).toBeGreaterThan(400 * MiB); // zstd: ~410 MiB of random bytes, incompressible
    const verify = await runCli(['backup', 'verify', '--plan', planFile, setId], { env, timeoutMs: 300_000 });
    expect(verify.code).toBe(0);
    return { manifest, planFile };
  }

  test('into MinIO: no incomplete multipart upload survives', async () => {
    const { s3Endpoint, s3Bucket, s3AccessKey, s3SecretKey } = testEnv();
    const storeConfig: S3StoreConfig = { type: 's3', bucket: s3Bucket, prefix: uniqueName('crash'), endpoint: s3Endpoint, forcePathStyle: true };
    const plan: PlanInput = {
      name: 'crash-s3',
      store: storeConfig,
      components: [{ name: 'big', type: 'postgres', connection: { urlFromEnv: 'BIG_DATABASE_URL' } }],
      timeouts: { heartbeat: '4s' },
    };
    const store = new S3Store(storeConfig, { credentials: { accessKeyId: s3AccessKey, secretAccessKey: s3SecretKey } });
    let artifactKey = '';
    const { manifest } = await crashMidDump(plan, async (setId) => {
      artifactKey = `crash-s3/${setId}/big.pgdump.zst`;
      // The killed worker left a multipart upload behind: the retry must clean it up.
      expect(await store.listIncompleteUploads(artifactKey)).not.toEqual([]);
    });
    expect(await store.listIncompleteUploads(artifactKey)).toEqual([]);
    const keys: string[] = [];
    for await (const object of store.list(`crash-s3/${manifest.setId}/`)) keys.push(object.key);
    expect(keys).toEqual([artifactKey, `crash-s3/${manifest.setId}/manifest.json`]);
  });

  test('into a local directory: no temp file survives', async () => {
    const storeDir = path.join(dir, 'local-store');
    const { manifest } = await crashMidDump(
      {
        name: 'crash-local',
        store: { type: 'local', path: storeDir },
        components: [{ name: 'big', type: 'postgres', connection: { urlFromEnv: 'BIG_DATABASE_URL' } }],
        timeouts: { heartbeat: '4s' },
      },
      async () => {
        expect(allFiles(storeDir).some((file) => file.endsWith('.partial'))).toBe(true);
      },
    );
    expect(allFiles(storeDir).sort()).toEqual([`crash-local/${manifest.setId}/big.pgdump.zst`, `crash-local/${manifest.setId}/manifest.json`]);
  });
});
