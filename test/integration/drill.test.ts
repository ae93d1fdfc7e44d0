/**
 * Restore drills on real parts (Temporal, PostgreSQL, MinIO): a drill scheduled by `plan apply` restores the
 * newest set into a sandbox database, checks it there (not in production, which has moved on since the
 * backup), records its RTO in `drills list` and the metrics, and drops the sandbox; a failed drill drops it
 * too; a sandbox that resolves to the production database is refused before anything is touched.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Client } from '@temporalio/client';
import type { DrillRecord } from '../../src/catalog/drills';
import type { PlanInput } from '../../src/plan/schema';
import { createDatabase, runPgbenchInit, tempDir, testEnv, uniqueName } from '../harness/env';
import { backupSet, deleteSchedules, eventually, historyText, lifeboatEnv, runCli, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';
import { metricValue, startWorkerWithMetrics } from '../harness/metrics';
import { fingerprint, sql } from '../harness/postgres';

async function drills(planFile: string, env: NodeJS.ProcessEnv): Promise<DrillRecord[]> {
  const listed = await runCli(['drills', 'list', '--plan', planFile, '--json'], { env });
  if (listed.code !== 0) throw new Error(listed.stderr);
  return (JSON.parse(listed.stdout) as { drills: DrillRecord[] }).drills;
}

async function databaseNames(): Promise<string[]> {
  return (await sql(testEnv().pgUrl, 'select string_agg(datname, \',\' order by datname) from pg_database')).split(',');
}

describe('restore drills', () => {
  const dir = tempDir('drill');
  const taskQueue = uniqueName('drill');
  const database = uniqueName('drillprod');
  let productionUrl: string;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess & { metricsUrl: string };
  let temporal: { client: Client; close(): Promise<void> };
  let exportServer: Server;
  let exportUrl: string;
  const scheduleIds: string[] = [];

  beforeAll(async () => {
    productionUrl = await createDatabase(database);
    await runPgbenchInit(productionUrl, 1);
    exportServer = createServer((_request, response) => response.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ids": [1, 2, 3]}'));
    await new Promise<void>((resolve) => exportServer.listen(0, '127.0.0.1', resolve));
    exportUrl = `http://127.0.0.1:${(exportServer.address() as AddressInfo).port}/export`;
    // The production URL spelled differently (localhost for 127.0.0.1): still production.
    const respelled = new URL(productionUrl);
    respelled.hostname = 'localhost';
    env = lifeboatEnv(taskQueue, { APPS_DATABASE_URL: productionUrl, RESPELLED_APPS_URL: respelled.toString() });
    worker = await startWorkerWithMetrics(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    await deleteSchedules(temporal.client, scheduleIds);
    await worker?.stop();
    await temporal?.close();
    exportServer?.close();
  });

  const plan = (name: string, extra: Partial<PlanInput> = {}): PlanInput => ({
    name,
    store: { type: 's3', bucket: testEnv().s3Bucket, prefix: uniqueName('drills'), endpoint: testEnv().s3Endpoint, region: 'us-east-1', forcePathStyle: true },
    components: [
      { name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } },
      { name: 'export', type: 'http', url: exportUrl, body: 'json' },
    ],
    ...extra,
  });

  const backUp = (file: string) => backupSet(file, env);

  test('a scheduled drill restores into a sandbox, passes its checks there, records its RTO and leaves no sandbox behind', async () => {
    const name = uniqueName('scheduled').replace(/_/g, '-');
    scheduleIds.push(`lifeboat-${name}`, `lifeboat-${name}.drill`);
    const file = writePlan(
      dir,
      plan(name, {
        // Daily, aligned to midnight UTC: neither fires by itself during the test.
        schedule: { every: '24h' },
        rtoTarget: '30m',
        restore: {
          checks: [
            { component: 'apps', sql: 'select count(*) from pgbench_branches', expect: 1 },
            { url: 'http://127.0.0.1:9/health', expectStatus: 200 },
          ],
        },
        drill: { targets: { apps: { databaseSuffix: '_drill' } }, schedule: { every: '24h' } },
      }),
    );
    const setId = await backUp(file);
    // Production moves on after the backup: checks run against it would fail the row counts and the SQL check.
    await sql(productionUrl, 'insert into pgbench_branches values (2, 0); insert into pgbench_history (tid, bid, aid, delta, mtime) values (1, 1, 1, 1, now())');
    const production = await fingerprint(productionUrl);

    const applied = await runCli(['plan', 'apply', file], { env });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`drill schedule lifeboat-${name}.drill created`);
    const schedules = JSON.parse((await runCli(['schedule', 'list', '--json'], { env })).stdout) as { scheduleId: string; kind: string; plan?: string }[];
    expect(schedules.filter((row) => row.plan === name).map((row) => `${row.kind} ${row.scheduleId}`).sort()).toEqual([`backup lifeboat-${name}`, `drill lifeboat-${name}.drill`]);
    expect((await runCli(['plan', 'apply', file], { env })).stdout).toContain(`drill schedule lifeboat-${name}.drill unchanged`);
    // `status` is about backups: the drill schedule is not a plan of its own there.
    const statuses = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as { plan: string; scheduleId: string; error?: string }[];
    expect(statuses.filter((status) => status.scheduleId.startsWith(`lifeboat-${name}`)).map((status) => [status.plan, status.scheduleId, status.error ?? 'ok'])).toEqual([[name, `lifeboat-${name}`, 'ok']]);

    const triggered = await runCli(['schedule', 'trigger', name, '--drill'], { env });
    expect(triggered.code).toBe(0);
    expect(triggered.stdout).toContain(`schedule lifeboat-${name}.drill triggered`);
    const [record] = await eventually('the scheduled drill', async () => {
      const history = await drills(file, env);
      return history.length > 0 ? history : undefined;
    });

    expect(record).toMatchObject({ outcome: 'passed', setId, rtoTargetMs: 30 * 60_000, rtoMet: true });
    expect(record.workflowId.startsWith(`lifeboat-drill-${name}`)).toBe(true);
    expect(record.rtoMs).toBeGreaterThan(0);
    expect(record.rtoMs).toBeLessThanOrEqual(Date.parse(record.completedAt) - Date.parse(record.startedAt));
    const apps = record.components.find((component) => component.name === 'apps');
    expect(apps).toMatchObject({ drilled: true, sandbox: expect.stringContaining(`"${database}_drill"`) });
    expect(apps?.bytes).toBeGreaterThan(0);
    expect(record.components.find((component) => component.name === 'export')).toMatchObject({ drilled: false, note: expect.stringContaining('not drilled') });
    expect(record.checks.map((check) => `${check.ok} ${check.check}`)).toEqual(
      expect.arrayContaining(['true apps: rows in public.pgbench_accounts', 'true apps: rows in public.pgbench_history', 'true apps: select count(*) from pgbench_branches']),
    );
    expect(record.checks.every((check) => check.ok)).toBe(true);
    expect(record.checksNotRun).toEqual([expect.stringContaining('GET http://127.0.0.1:9/health')]);
    expect(record.cleanup).toEqual({ dropped: [expect.stringContaining(`"${database}_drill"`)], problems: [] });

    // The sandbox URL (with its password) stayed in the worker.
    expect(await historyText(temporal.client, record.workflowId)).not.toContain(testEnv().pgPassword);

    // No sandbox left behind; production untouched.
    expect(await databaseNames()).not.toContain(`${database}_drill`);
    expect(await fingerprint(productionUrl)).toEqual(production);

    const listed = await runCli(['drills', 'list', '--plan', file], { env });
    expect(listed.stdout).toMatch(new RegExp(`${record.drillId}\\s+${setId}\\s+.*target 30m00s.*passed`));

    // The RTO and the drill's success reach Prometheus: set by the activity, kept by the worker's refresh.
    const text = await eventually('the drill metrics', async () => {
      const body = await (await fetch(worker.metricsUrl)).text();
      return metricValue(body, 'lifeboat_drill_window_seconds', name) !== undefined ? body : undefined;
    });
    expect(metricValue(text, 'lifeboat_drill_rto_seconds', name)).toBeCloseTo((record.rtoMs ?? 0) / 1000, 3);
    expect(metricValue(text, 'lifeboat_drill_rto_target_seconds', name)).toBe(1800);
    expect(metricValue(text, 'lifeboat_drill_last_success_timestamp_seconds', name)).toBeCloseTo(Date.parse(record.completedAt) / 1000, 3);
    expect(metricValue(text, 'lifeboat_drill_window_seconds', name)).toBe(2 * 86_400);
    expect(metricValue(text, 'lifeboat_drill_overdue', name)).toBe(0);
    expect(metricValue(text, 'lifeboat_drill_failures_total', name)).toBe(0);
  });

  test('a drill whose checks fail is recorded as failed, exits 1 and still drops its sandbox', async () => {
    const name = uniqueName('failing').replace(/_/g, '-');
    const file = writePlan(
      dir,
      plan(name, { drill: { targets: { apps: { databaseSuffix: '_faildrill' } }, checks: [{ component: 'apps', sql: 'select count(*) from pgbench_branches', expect: 999 }] } }),
    );
    const setId = await backUp(file);
    const drilled = await runCli(['drill', '--plan', file, '--set', setId, '--wait'], { env });
    expect(drilled.code).toBe(1);
    expect(drilled.stdout).toContain('FAILED apps: select count(*) from pgbench_branches');
    expect(drilled.stderr).toMatch(/drill .* failed: checks failed: apps: select count\(\*\) from pgbench_branches = \d+ \(expected 999\)/);
    const [record] = await drills(file, env);
    expect(record).toMatchObject({ outcome: 'failed', setId, cleanup: { dropped: [expect.stringContaining(`"${database}_faildrill"`)], problems: [] } });
    expect(record.rtoMs).toBeUndefined();
    expect(await databaseNames()).not.toContain(`${database}_faildrill`);
    const text = await (await fetch(worker.metricsUrl)).text();
    expect(metricValue(text, 'lifeboat_drill_failures_total', name)).toBe(1);
  });

  test('a drill that passes its checks but misses rtoTarget exits 1 and is recorded with rtoMet false', async () => {
    const name = uniqueName('slow').replace(/_/g, '-');
    const file = writePlan(dir, plan(name, { rtoTarget: '1ms', drill: { targets: { apps: { databaseSuffix: '_slowdrill' } } } }));
    const setId = await backUp(file);
    const drilled = await runCli(['drill', '--plan', file, '--set', setId, '--wait'], { env });
    expect(drilled.code).toBe(1);
    expect(drilled.stderr).toContain('missed rtoTarget');
    const [record] = await drills(file, env);
    expect(record).toMatchObject({ outcome: 'passed', setId, rtoTargetMs: 1, rtoMet: false });
    expect(await databaseNames()).not.toContain(`${database}_slowdrill`);
  });

  test('a drill whose sandbox resolves to the production database is refused before anything is touched', async () => {
    const name = uniqueName('refused').replace(/_/g, '-');
    const file = writePlan(dir, plan(name, { drill: { targets: { apps: { urlFromEnv: 'RESPELLED_APPS_URL' } } } }));
    await backUp(file);
    // Production changes after the backup: a restore would undo this.
    await sql(productionUrl, "create table after_backup as select 'kept' as marker");
    const production = await fingerprint(productionUrl, ['pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'after_backup']);
    // Only this database's family: other test files create and drop databases on the same cluster meanwhile.
    const ours = async () => (await databaseNames()).filter((name) => name.startsWith(database));
    const databasesBefore = await ours();

    const drilled = await runCli(['drill', '--plan', file, '--wait'], { env });
    expect(drilled.code).toBe(2);
    expect(drilled.stderr).toContain('refused');
    expect(drilled.stderr).toContain(`refusing to drill: its sandbox resolves to database "${database}" on localhost:${testEnv().pgPort}, the production database of component "apps"`);
    expect(drilled.stderr).toContain('Point drill.targets.apps at a sandbox');

    expect(await fingerprint(productionUrl, ['pgbench_accounts', 'pgbench_branches', 'pgbench_history', 'after_backup'])).toEqual(production);
    expect(await ours()).toEqual(databasesBefore);
    const [record] = await drills(file, env);
    expect(record).toMatchObject({ outcome: 'refused', cleanup: { dropped: [], problems: [] } });
    expect(record.setId).toBeUndefined();
    expect(record.components.every((component) => !component.drilled && component.bytes === undefined)).toBe(true);
  });
});
