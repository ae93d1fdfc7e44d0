/**
 * The first slice end to end on real parts: ordered PostgreSQL backups through a real worker and Temporal
 * server into MinIO and a local directory, listed, verified, and restored with pg_restore.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import { findTemporalCli } from '../../src/embedded/temporalCli';
import { decompressor } from '../../src/engines/compression';
import type { PlanInput } from '../../src/plan/schema';
import { createDatabase, libpqEnv, runPgbenchInit, tableRowCounts, tempDir, testEnv, uniqueName } from '../harness/env';
import { eventually, historyText, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

const execFileAsync = promisify(execFile);

interface ListedSets {
  sets: Manifest[];
  incomplete: { setId: string }[];
}

async function restoreInto(artifact: string, database: string): Promise<void> {
  const url = await createDatabase(database);
  const { args, env } = libpqEnv(url);
  await execFileAsync(path.join(testEnv().pgBinDir, 'pg_restore'), [...args, '--dbname', database, '--exit-on-error', artifact], { env });
}

describe('backupPlan: ordered PostgreSQL backups', () => {
  const taskQueue = uniqueName('backup');
  const dir = tempDir('backup');
  const databases = { apps: uniqueName('apps'), participant: uniqueName('participant'), a: uniqueName('ind_a'), b: uniqueName('ind_b'), c: uniqueName('ind_c') };
  const urls: Record<string, string> = {};
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };

  const orderedPlan = (name: string, store: PlanInput['store']): PlanInput => ({
    name,
    store,
    components: [
      // Declared out of order on purpose: the order comes from `after`, not from the file.
      { name: 'participant', type: 'postgres', connection: { urlFromEnv: 'PARTICIPANT_DATABASE_URL' }, after: ['apps'] },
      { name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } },
    ],
  });

  /** Starts backupPlan as the README shows for the `temporal` CLI: plain JSON input, none of Lifeboat's checks. */
  const startWithTemporalCli = (workflowId: string, input: string) =>
    execFileAsync(findTemporalCli()!, ['workflow', 'start', '--address', testEnv().temporalAddress, '--type', 'backupPlan', '--task-queue', taskQueue, '--workflow-id', workflowId, '--input', input]);

  beforeAll(async () => {
    for (const [key, database] of Object.entries(databases)) urls[key] = await createDatabase(database);
    await Promise.all([runPgbenchInit(urls.apps, 2), runPgbenchInit(urls.participant, 1), runPgbenchInit(urls.a, 3), runPgbenchInit(urls.b, 3), runPgbenchInit(urls.c, 3)]);
    env = lifeboatEnv(taskQueue, {
      APPS_DATABASE_URL: urls.apps,
      PARTICIPANT_DATABASE_URL: urls.participant,
      A_DATABASE_URL: urls.a,
      B_DATABASE_URL: urls.b,
      C_DATABASE_URL: urls.c,
      WRONG_PASSWORD_URL: urls.apps.replace(`:${testEnv().pgPassword}@`, ':not-the-password@'),
      MISSING_DATABASE_URL: urls.apps.replace(databases.apps, 'no_such_database'),
      REFUSED_URL: `postgres://postgres:${testEnv().pgPassword}@127.0.0.1:1/nothing`,
    });
    worker = await startWorker(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
  });

  async function backupAndCheckOrder(planFile: string, runEnv = env): Promise<{ manifest: Manifest; workflowId: string }> {
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env: runEnv });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { workflowId: string; setId: string };
    const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    expect(listed.code).toBe(0);
    const { sets } = JSON.parse(listed.stdout) as ListedSets;
    expect(sets.map((set) => set.setId)).toEqual([result.setId]);
    const manifest = sets[0];
    const apps = manifest.components.find((component) => component.name === 'apps')!;
    const participant = manifest.components.find((component) => component.name === 'participant')!;
    // The point of `after`: participant's dump began strictly after apps' artifact was complete.
    expect(Date.parse(participant.startedAt)).toBeGreaterThan(Date.parse(apps.completedAt));
    expect(participant.after).toEqual(['apps']);
    for (const component of manifest.components) {
      expect(component.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(component.bytes).toBeGreaterThan(0);
      expect(component.postgres?.serverVersion).toMatch(/^\d+/);
      expect(component.postgres?.rowCountsKind).toBe('exact');
    }
    expect(apps.postgres?.rowCounts['public.pgbench_accounts']).toBe(200_000);
    expect(participant.postgres?.rowCounts['public.pgbench_accounts']).toBe(100_000);
    const verify = await runCli(['backup', 'verify', '--plan', planFile, result.setId], { env });
    expect(verify.stdout).toContain(`set ${result.setId} verified`);
    expect(verify.code).toBe(0);
    return { manifest, workflowId: result.workflowId };
  }

  async function expectRestoresWithSameCounts(manifest: Manifest, readArtifact: (key: string, file: string) => Promise<void>): Promise<void> {
    for (const component of manifest.components) {
      const file = path.join(dir, `${manifest.setId}-${component.name}.pgdump`);
      await readArtifact(component.key, `${file}.stored`);
      await pipeline(createReadStream(`${file}.stored`), decompressor(component.compression), createWriteStream(file));
      const restored = uniqueName(`restored_${component.name}`);
      await restoreInto(file, restored);
      const counts = await tableRowCounts((await import('../harness/env')).databaseUrl(restored));
      expect(counts).toEqual(component.postgres?.rowCounts);
      expect(counts).toEqual(await tableRowCounts(urls[component.name]));
    }
  }

  test('into a local directory: ordered, listed, verified, restorable with identical row counts', async () => {
    const store = path.join(dir, 'local-store');
    const planFile = writePlan(dir, orderedPlan(uniqueName('local').replace(/_/g, '-'), { type: 'local', path: store }));
    const { manifest } = await backupAndCheckOrder(planFile);
    await expectRestoresWithSameCounts(manifest, async (key, file) => writeFileSync(file, readFileSync(path.join(store, key))));
  });

  test('into MinIO: ordered, listed, verified, restorable; no password anywhere in the history', async () => {
    const s3 = testEnv();
    const planFile = writePlan(dir, orderedPlan(uniqueName('s3').replace(/_/g, '-'), { type: 's3', bucket: s3.s3Bucket, prefix: 'ordered', endpoint: s3.s3Endpoint, forcePathStyle: true }));
    const { manifest, workflowId } = await backupAndCheckOrder(planFile);
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const { s3Client } = await import('../harness/env');
    await expectRestoresWithSameCounts(manifest, async (key, file) => {
      const object = await s3Client().send(new GetObjectCommand({ Bucket: s3.s3Bucket, Key: `ordered/${key}` }));
      writeFileSync(file, Buffer.from(await object.Body!.transformToByteArray()));
    });
    const history = await historyText(temporal.client, workflowId);
    expect(history).toContain('APPS_DATABASE_URL'); // the reference travels...
    expect(history).not.toContain(s3.pgPassword); // ...the secret never does
    expect(history).not.toContain(s3.s3SecretKey);
  });

  test("over Temporal's HTTP API (TEMPORAL_HTTP_ADDRESS) `backup run` needs no gRPC: the same ordered, verified set; a failure names its cause", async () => {
    // gRPC points nowhere: with --json, `backup run` talks to the HTTP API alone.
    const overHttp = { ...env, TEMPORAL_HTTP_ADDRESS: testEnv().temporalHttpAddress, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const planFile = writePlan(dir, orderedPlan(uniqueName('http').replace(/_/g, '-'), { type: 'local', path: path.join(dir, 'http-store') }));
    const { manifest, workflowId } = await backupAndCheckOrder(planFile, overHttp);
    // The input reached the workflow whole, as the gRPC client would send it: the plan's revision included.
    const validated = await runCli(['plan', 'validate', planFile, '--json'], { env });
    expect(manifest.planRevision).toBe((JSON.parse(validated.stdout) as { revision: string }).revision);
    expect(manifest.workflowId).toBe(workflowId);

    // Without --json: progress (over gRPC, reachable here), then the set.
    const followed = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env: { ...env, TEMPORAL_HTTP_ADDRESS: testEnv().temporalHttpAddress } });
    expect(followed.code).toBe(0);
    expect(followed.stdout).toMatch(/started backupPlan lifeboat-backup-\S+ on task queue/);
    expect(followed.stdout).toMatch(/backup set \S+ complete in/);

    // A workflow that fails: exit 1, and its failure's message as the cause.
    const failing = writePlan(dir, { name: 'failing-over-http', store: { type: 'local', path: path.join(dir, 'http-store') }, components: [{ name: 'ledger', type: 'postgres', connection: { urlFromEnv: 'WRONG_PASSWORD_URL' } }] });
    const run = await runCli(['backup', 'run', '--plan', failing, '--wait', '--json'], { env: overHttp });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^error: backup lifeboat-backup-failing-over-http-\S+ failed: backup of plan "failing-over-http" failed, no manifest written/);
    expect(run.stderr).toContain('component "ledger"');
    expect(run.stderr).toMatch(/authentication failed/);
  });

  test('the temporal CLI can start a backup with plain JSON input, as the README shows', async () => {
    const store = path.join(dir, 'temporal-cli-store');
    const input = JSON.stringify({
      plan: { name: 'by-hand', store: { type: 'local', path: store }, components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }] },
    });
    const workflowId = uniqueName('by_hand');
    await startWithTemporalCli(workflowId, input);
    const { stdout } = await execFileAsync(findTemporalCli()!, ['workflow', 'result', '--address', testEnv().temporalAddress, '--workflow-id', workflowId, '--output', 'json']);
    const result = (JSON.parse(stdout) as { result: { setId: string; components: { name: string }[] } }).result;
    expect(result.components.map((component) => component.name)).toEqual(['apps']);
    expect(readdirSync(path.join(store, 'by-hand', result.setId)).sort()).toEqual(['apps.pgdump.zst', 'manifest.json']);
  });

  test('a plan the temporal CLI passes unchecked is validated by the workflow, which fails naming each problem', async () => {
    // The workflow's validation runs zod inside the workflow sandbox, where zod is shared between workflows and
    // frozen (workflows/sharedModules.ts): this is its error path, after valid plans have run on the same worker.
    const input = JSON.stringify({
      plan: {
        name: 'Bad Name',
        store: { type: 'local', path: path.join(dir, 'never') },
        components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }],
        retention: { keepLast: -1 },
      },
    });
    const workflowId = uniqueName('bad_by_hand');
    await startWithTemporalCli(workflowId, input);
    const handle = temporal.client.workflow.getHandle(workflowId);
    const failed = await handle.result().then(
      () => undefined,
      (error: Error & { cause?: Error & { type?: string; nonRetryable?: boolean } }) => error.cause,
    );
    expect(failed).toMatchObject({ type: 'InvalidPlan', nonRetryable: true });
    expect(failed?.message).toMatch(/^invalid plan: name: .+; retention\.keepLast: /);
    expect((await handle.describe()).status.name).toBe('FAILED');
  });

  test('with a retention policy, each backup prunes what the policy no longer keeps', async () => {
    const planFile = writePlan(dir, {
      name: 'retained',
      store: { type: 'local', path: path.join(dir, 'retained-store') },
      components: [{ name: 'participant', type: 'postgres', connection: { urlFromEnv: 'PARTICIPANT_DATABASE_URL' } }],
      retention: { keepLast: 2 },
    });
    const setIds: string[] = [];
    let last: { setId: string; prune?: { removed: string[]; kept: number } } | undefined;
    for (let run = 0; run < 3; run += 1) {
      const result = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
      expect(result.code).toBe(0);
      last = JSON.parse(result.stdout) as typeof last;
      setIds.push(last!.setId);
    }
    expect(last?.prune).toEqual({ removed: [setIds[0]], kept: 2 });
    const { sets } = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as ListedSets;
    expect(sets.map((set) => set.setId)).toEqual(setIds.slice(1));
  });

  test('independent components are dumped concurrently', async () => {
    const store = path.join(dir, 'parallel-store');
    const planFile = writePlan(dir, {
      name: 'parallel',
      store: { type: 'local', path: store },
      components: ['a', 'b', 'c'].map((name) => ({ name, type: 'postgres' as const, connection: { urlFromEnv: `${name.toUpperCase()}_DATABASE_URL` } })),
    });
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(run.code).toBe(0);
    const { sets } = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as ListedSets;
    const components = sets[0].components;
    expect(components).toHaveLength(3);
    // Every pair of dumps overlaps in time: the last to start started before the first to finish finished.
    const latestStart = Math.max(...components.map((component) => Date.parse(component.startedAt)));
    const earliestEnd = Math.min(...components.map((component) => Date.parse(component.completedAt)));
    expect(latestStart).toBeLessThan(earliestEnd);
  });

  test('a corrupted artifact fails verification, naming the artifact', async () => {
    const store = path.join(dir, 'corrupt-store');
    const planFile = writePlan(dir, orderedPlan('corrupt', { type: 'local', path: store }));
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(run.code).toBe(0);
    const { setId } = JSON.parse(run.stdout) as { setId: string };
    const artifact = path.join(store, 'corrupt', setId, 'apps.pgdump.zst');
    const bytes = readFileSync(artifact);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(artifact, bytes);
    const verify = await runCli(['backup', 'verify', '--plan', planFile, setId], { env });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/FAILED apps corrupt\/.*\/apps\.pgdump/);
    expect(verify.stdout).toContain('sha256 mismatch');
    expect(verify.stderr).toContain('apps.pgdump');
    const unknown = await runCli(['backup', 'verify', '--plan', planFile, '20200101T000000.000Z-aaaaaa'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no complete backup set');
  });

  test('a wrong password or a missing database fails at once, not retried, naming the component and cause', async () => {
    const store = path.join(dir, 'failing-store');
    for (const [variable, cause] of [
      ['WRONG_PASSWORD_URL', /authentication failed/],
      ['MISSING_DATABASE_URL', /database does not exist/],
    ] as const) {
      const planFile = writePlan(dir, {
        name: 'failing',
        store: { type: 'local', path: store },
        components: [{ name: 'ledger', type: 'postgres', connection: { urlFromEnv: variable } }],
      });
      const started = Date.now();
      const run = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain('component "ledger"');
      expect(run.stderr).toMatch(cause);
      expect(run.stderr).not.toContain(testEnv().pgPassword);
      expect(Date.now() - started).toBeLessThan(20_000); // no backoff retries
      const history = await historyText(temporal.client, run.stdout.match(/lifeboat-backup-\S+/)![0]);
      expect(history).toContain('ApplicationFailure');
    }
    const listed = JSON.parse((await runCli(['backups', 'list', '--plan', path.join(dir, 'failing.yaml'), '--json'], { env })).stdout) as ListedSets;
    expect(listed.sets).toEqual([]);
  });

  test('a refused connection is retried with backoff', async () => {
    const planFile = writePlan(dir, {
      name: 'refused',
      store: { type: 'local', path: path.join(dir, 'refused-store') },
      components: [{ name: 'ledger', type: 'postgres', connection: { urlFromEnv: 'REFUSED_URL' } }],
    });
    const run = await runCli(['backup', 'run', '--plan', planFile], { env });
    expect(run.code).toBe(0);
    const workflowId = run.stdout.match(/lifeboat-backup-\S+/)![0];
    const handle = temporal.client.workflow.getHandle(workflowId);
    const pending = await eventually('a second attempt', async () => {
      const activity = (await handle.describe()).raw.pendingActivities?.[0];
      return activity && (activity.attempt ?? 0) >= 2 ? activity : undefined;
    });
    expect(pending.lastFailure?.message).toMatch(/cannot reach database "nothing".*will retry/);
    await handle.terminate('test done');
  });
});
