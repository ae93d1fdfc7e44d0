/**
 * The disaster-recovery runbook on real parts: an app (managed by the command scaler) writes to two databases;
 * after a backup both are damaged; two operators agree on the recovery point (one through the update, one
 * through the signal); the app is stopped during the restore and running after; both databases equal the backup.
 */
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { PlanInput } from '../../src/plan/schema';
import { approveRecoveryPointSignal, recoveryStatusQuery, type RecoveryReport, type RecoveryStatus } from '../../src/temporal/recovery';
import { createDatabase, runPgbenchInit, tempDir, testEnv, uniqueName } from '../harness/env';
import { fingerprint, sql } from '../harness/postgres';
import { backgroundApp, backupSet, eventually, lifeboatEnv, runCli, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';
import { metricValue, startWorkerWithMetrics } from '../harness/metrics';

describe('disasterRecovery', () => {
  const dir = tempDir('recovery');
  const taskQueue = uniqueName('recovery');
  const urls: Record<string, string> = {};
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess & { metricsUrl: string };
  let temporal: { client: Client; close(): Promise<void> };
  const appLog = path.join(dir, 'app.log');
  const pidFile = path.join(dir, 'app.pid');
  const app = backgroundApp(path.join(dir, 'app.sh'), pidFile);
  const startApp = app.start;

  beforeAll(async () => {
    for (const name of ['apps', 'participant']) {
      urls[name] = await createDatabase(uniqueName(name));
      await runPgbenchInit(urls[name], 1);
    }
    // The "service": writes a heartbeat row into both databases and a line into its log, every 100 ms.
    const psql = path.join(testEnv().pgBinDir, 'psql');
    writeFileSync(
      path.join(dir, 'app.sh'),
      `while true; do
  for url in "$APPS_URL" "$PARTICIPANT_URL"; do "${psql}" -q "$url" -c 'create table if not exists heartbeat (at timestamptz); insert into heartbeat values (now())' >/dev/null 2>&1; done
  date +%s%3N >> "${appLog}"
  sleep 0.1
done
`,
    );
    env = lifeboatEnv(taskQueue, { APPS_DATABASE_URL: urls.apps, PARTICIPANT_DATABASE_URL: urls.participant, APPS_URL: urls.apps, PARTICIPANT_URL: urls.participant });
    worker = await startWorkerWithMetrics(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    if (existsSync(pidFile)) process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    await worker?.stop();
    await temporal?.close();
  });

  const plan = (name: string, extra: Partial<PlanInput> = {}): PlanInput => ({
    name,
    store: { type: 'local', path: path.join(dir, `${name}-store`) },
    components: [
      { name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } },
      { name: 'participant', type: 'postgres', connection: { urlFromEnv: 'PARTICIPANT_DATABASE_URL' }, after: ['apps'] },
    ],
    restore: {
      scaling: [
        app.target,
      ],
      checks: [{ component: 'apps', sql: 'select count(*) from pgbench_branches', expect: 1 }],
      approvals: { required: 2, approvers: ['alice', 'bob', 'carol'] },
    },
    ...extra,
  });

  test('full drill: agree, scale down, restore in order, verify, scale up, report', async () => {
    const planFile = writePlan(dir, plan('drill'));
    const setId = await backupSet(planFile, env);
    const expected = { apps: await fingerprint(urls.apps), participant: await fingerprint(urls.participant) };

    // The service runs, and then disaster: tables dropped, rows changed, junk added.
    execSync(startApp, { env });
    await eventually('the app to write', async () => (existsSync(appLog) && readFileSync(appLog, 'utf8').split('\n').length > 3 ? true : undefined));
    await sql(urls.apps, 'drop table pgbench_history; update pgbench_accounts set abalance = abalance + 1 where aid < 100');
    await sql(urls.participant, "delete from pgbench_tellers; create table junk as select 'junk' as j");
    const started = await runCli(['restore', 'start', '--plan', planFile, '--json'], { env });
    expect(started.code).toBe(0);
    const workflowId = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;

    const handle = temporal.client.workflow.getHandle(workflowId);
    const status = await eventually('the agreement gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    });
    expect(status.candidates.map((candidate) => candidate.setId)).toEqual([setId]);
    const timestamp = status.candidates[0].timestamp;

    const alice = await runCli(['restore', 'approve', workflowId, '--timestamp', timestamp, '--as', 'alice', '--comment', 'network restored to this point'], { env });
    expect(alice.code).toBe(0);
    expect(alice.stdout).toContain('approval recorded: 1 of 2');
    await handle.signal(approveRecoveryPointSignal, { timestamp, approver: 'bob' });

    const report = (await handle.result()) as RecoveryReport;
    expect(report.outcome).toBe('recovered');
    expect(report.setId).toBe(setId);
    expect(report.approvals.map((approval) => approval.approver)).toEqual(['alice', 'bob']);
    expect(report.rtoMs).toBeGreaterThan(0);
    expect(report.dataLossWindowMs).toBeGreaterThan(0);
    const metrics = await (await fetch(worker.metricsUrl)).text();
    expect(metricValue(metrics, 'lifeboat_recovery_rto_seconds', 'drill')).toBeCloseTo(report.rtoMs! / 1000, 2);
    expect(metricValue(metrics, 'lifeboat_recovery_last_completed_timestamp_seconds', 'drill')).toBeGreaterThan(Date.now() / 1000 - 600);
    expect(report.steps.map((step) => `${step.outcome} ${step.step}`)).toEqual([
      'ok scale down command "app"',
      'ok restore apps',
      'ok restore participant',
      'ok verify data',
      'ok scale up command "app"',
      'ok verify service',
    ]);

    // The databases equal the backup (the app's heartbeat table is not part of it).
    expect(await fingerprint(urls.apps)).toEqual(expected.apps);
    expect(await fingerprint(urls.participant)).toEqual(expected.participant);
    expect(await sql(urls.participant, "select count(*) from pg_tables where tablename = 'junk'")).toBe('0');

    // The app wrote nothing while the databases were restored, and runs again after.
    const restoreSteps = report.steps.filter((step) => step.step.startsWith('restore '));
    const from = Date.parse(restoreSteps[0].startedAt);
    const to = Date.parse(restoreSteps.at(-1)!.completedAt!);
    const writes = () => readFileSync(appLog, 'utf8').split('\n').filter(Boolean).map(Number);
    expect(writes().filter((at) => at >= from && at <= to)).toEqual([]);
    const before = writes().length;
    await eventually('the app to write again', async () => (writes().length > before + 2 ? true : undefined));
  });

  test('the gate rejects unknown timestamps, unlisted approvers and double votes; split votes do not count together; timeout touches nothing', async () => {
    const planFile = writePlan(dir, plan('gate'));
    expect((await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env })).code).toBe(0);
    expect((await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env })).code).toBe(0);
    const started = await runCli(['restore', 'start', '--plan', planFile, '--json'], { env });
    const workflowId = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const handle = temporal.client.workflow.getHandle(workflowId);
    const status = await eventually('the gate', async () => {
      const current: RecoveryStatus = await handle.query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    });
    const [newest, older] = status.candidates.map((candidate) => candidate.timestamp);
    const approve = (timestamp: string, as: string) => runCli(['restore', 'approve', workflowId, '--timestamp', timestamp, '--as', as], { env });

    const unknown = await approve('2001-01-01T00:00:00.000Z', 'alice');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown recovery point');
    const stranger = await approve(newest, 'mallory');
    expect(stranger.code).toBe(2);
    expect(stranger.stderr).toContain('"mallory" is not on the approvers list');
    expect((await approve(newest, 'alice')).code).toBe(0);
    const twice = await approve(older, 'alice');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('"alice" has already approved');
    expect((await approve(older, 'bob')).code).toBe(0); // split: one vote each, no agreement
    const split = await handle.query(recoveryStatusQuery);
    expect(split.phase).toBe('agreement');
    expect(split.agreed).toBeUndefined();
    expect(split.approvals.map((approval) => `${approval.approver}@${approval.timestamp}`)).toEqual([`alice@${newest}`, `bob@${older}`]);

    const aborted = await runCli(['restore', 'abort', workflowId, '--as', 'carol', '--reason', 'wrong plan'], { env });
    expect(aborted.code).toBe(0);
    const report = (await handle.result()) as RecoveryReport;
    expect(report.outcome).toBe('aborted');
    expect(report.steps).toEqual([]); // nothing was touched
    const late = await approve(newest, 'carol');
    expect(late.code).not.toBe(0);

    // A gate with a timeout ends without touching anything.
    const timed = await runCli(['restore', 'start', '--plan', writePlan(dir, { ...plan('gate'), restore: { ...plan('gate').restore, approvals: { required: 2, timeout: '2s' } } }), '--json'], { env });
    const timedReport = (await temporal.client.workflow.getHandle((JSON.parse(timed.stdout) as { workflowId: string }).workflowId).result()) as RecoveryReport;
    expect(timedReport.outcome).toBe('timed-out');
    expect(timedReport.steps).toEqual([]);
  });

  test('a restore step whose artifact was altered parks at resume; the service stays down; retry after repair succeeds', async () => {
    const planFile = writePlan(dir, plan('parked', { restore: { ...plan('parked').restore, approvals: { required: 1 } } }));
    const backup = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    const setId = (JSON.parse(backup.stdout) as { setId: string }).setId;
    const expected = await fingerprint(urls.participant);
    const started = await runCli(['restore', 'start', '--plan', planFile, '--json'], { env });
    const workflowId = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const handle = temporal.client.workflow.getHandle(workflowId);
    const status = await eventually('the gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    });
    let lastSeen = '';
    // Altered after the candidates were verified: the restore's own streaming check must catch it.
    const artifact = path.join(dir, 'parked-store', 'parked', setId, 'participant.pgdump.zst');
    const original = readFileSync(artifact);
    const altered = Buffer.from(original);
    altered[altered.length - 100] ^= 0xff;
    writeFileSync(artifact, altered);
    await runCli(['restore', 'approve', workflowId, '--timestamp', status.candidates[0].timestamp, '--as', 'alice'], { env });
    const parked = await eventually('the resume gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      if (!current.waitingForResume) lastSeen = JSON.stringify({ phase: current.phase, steps: current.steps, errors: current.errors });
      return current.waitingForResume ? current : undefined;
    }, 60_000, 500).catch((error: Error) => {
      throw new Error(`${error.message}; last status ${lastSeen}`);
    });
    expect(parked.waitingForResume?.step).toBe('restore participant');
    expect(parked.waitingForResume?.error).toContain('does not match its manifest');
    expect(existsSync(pidFile)).toBe(false); // the service stays down
    const human = await runCli(['restore', 'status', workflowId], { env });
    expect(human.stderr).toBe('');
    expect(human.stdout).toContain('WAITING: "restore participant" failed');

    writeFileSync(artifact, original); // repaired
    expect((await runCli(['restore', 'resume', workflowId, '--action', 'retry', '--as', 'alice'], { env })).code).toBe(0);
    const report = (await handle.result()) as RecoveryReport;
    expect(report.outcome).toBe('recovered');
    expect(await fingerprint(urls.participant)).toEqual(expected);
    const final = await runCli(['restore', 'status', workflowId], { env });
    expect(final.stdout).toContain('recovery recovered');
  });
});
