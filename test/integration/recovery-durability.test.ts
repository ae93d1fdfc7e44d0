/**
 * The disaster-recovery workflow is durable, on real parts: a worker SIGKILLed in the middle of a restore is
 * replaced and the restore finishes correctly; a Temporal dev server restarted while the workflow waits at the
 * agreement gate loses nothing (nor does a `backup run --wait` over the HTTP API, waiting across it); a dry run touches nothing; an abort after scale-down leaves the service down
 * and says so.
 */
import { execSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Client, Connection, defaultPayloadConverter } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import { findTemporalCli } from '../../src/embedded/temporalCli';
import { startTemporalDevServer, type TemporalDevServerHandle } from '../../src/embedded/temporalDevServer';
import { recoveryStatusQuery, type RecoveryReport, type RecoveryStatus } from '../../src/temporal/recovery';
import { createDatabase, libpqEnv, runPgbenchInit, tempDir, testEnv, uniqueName } from '../harness/env';
import { fillWithRandomRows, fingerprint, PGBENCH_TABLES, sql } from '../harness/postgres';
import { backgroundApp, eventually, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, backupSet, type WorkerProcess } from '../harness/lifeboat';

const MiB = 1024 * 1024;

function workflowIdOf(started: { code: number | null; stdout: string; stderr: string }): string {
  if (started.code !== 0) throw new Error(`restore start failed (${started.code}): ${started.stderr}`);
  return (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
}

async function atGate(client: Client, workflowId: string): Promise<RecoveryStatus> {
  const handle = client.workflow.getHandle(workflowId);
  return eventually('the agreement gate', async () => {
    const current = await handle.query(recoveryStatusQuery);
    return current.phase === 'agreement' ? current : undefined;
  });
}

/** True while `pid` runs: it exists and is not a zombie (a killed orphan stays one here: no init reaps it). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

describe('a worker SIGKILLed during the restore phase', () => {
  const dir = tempDir('recovery-crash');
  const taskQueue = uniqueName('recovery_crash');
  const workers: WorkerProcess[] = [];
  let url: string;
  let env: NodeJS.ProcessEnv;
  let temporal: { client: Client; close(): Promise<void> };

  beforeAll(async () => {
    url = await createDatabase(uniqueName('big'));
    await fillWithRandomRows(url);
    env = lifeboatEnv(taskQueue, { BIG_DATABASE_URL: url });
    temporal = await temporalClient();
  }, 300_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await temporal?.close();
  });

  test('a new worker finishes the restore; the database equals the backup', async () => {
    const planFile = writePlan(dir, {
      name: 'restore-crash',
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'big', type: 'postgres', connection: { urlFromEnv: 'BIG_DATABASE_URL' } }],
      timeouts: { heartbeat: '4s' },
      restore: { approvals: { required: 1 } },
    });
    const first = await startWorker(env);
    workers.push(first);
    const setId = await backupSet(planFile, env, 300_000);
    const expected = await fingerprint(url, ['blobs']);
    expect(expected.blobs).toMatch(/^70000:/);

    // Disaster: half the rows gone, junk added.
    await sql(url, "delete from blobs where id % 2 = 0; create table junk as select 'junk' as j");
    const workflowId = workflowIdOf(await runCli(['restore', 'start', '--plan', planFile, '--json'], { env, timeoutMs: 300_000 }));
    const handle = temporal.client.workflow.getHandle(workflowId);
    const gate = await eventually('the agreement gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    }, 180_000);
    expect(gate.candidates.map((candidate) => candidate.setId)).toEqual([setId]);
    const approved = await runCli(['restore', 'approve', workflowId, '--timestamp', gate.candidates[0].timestamp, '--as', 'alice'], { env });
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain(`agreed: recovering to ${gate.candidates[0].timestamp}`);

    // Killed mid-stream: pg_restore is copying rows into the database being restored. (Its heartbeats reach the
    // server at most every 2 s, and on a fast machine the whole restore can take less, so the database tells.)
    const { database } = libpqEnv(url);
    await eventually(
      'pg_restore to copy rows into the restored database',
      async () => {
        const copied = Number(
          await sql(testEnv().pgUrl, `select coalesce(max(c.bytes_processed), 0) from pg_stat_progress_copy c join pg_database d on d.oid = c.datid where d.datname = '${database}' and c.command = 'COPY FROM'`),
        );
        return copied > 0 ? copied : undefined;
      },
      120_000,
      25,
    );
    await first.kill();
    // Killed mid-stream: the first attempt had not completed (a completed activity is no longer pending), and its
    // heartbeats named the component.
    const pending = (await handle.describe()).raw.pendingActivities?.find((activity) => activity.activityType?.name === 'restoreComponent');
    expect(pending?.attempt).toBe(1);
    const beat = defaultPayloadConverter.fromPayload<{ component: string; bytes: number }>(pending!.heartbeatDetails!.payloads![0]);
    expect(beat.component).toBe('big');
    const manifest = (JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[] }).sets[0];
    const artifactBytes = manifest.components[0].bytes;
    expect(artifactBytes).toBeGreaterThan(140 * MiB); // zstd: ~143 MiB of hex-encoded random bytes
    expect(beat.bytes).toBeLessThan(artifactBytes); // the last heartbeat's bytes: short of the whole artifact

    const second = await startWorker(env);
    workers.push(second);
    const report = (await handle.result()) as RecoveryReport;
    expect(report.outcome).toBe('recovered');
    expect(report.setId).toBe(setId);
    expect(report.steps.map((step) => `${step.outcome} ${step.step}`)).toEqual(['ok restore big', 'ok verify data', 'ok verify service']);

    // The restore's activity really ran again: its (only) started event is attempt 2 or later, after a heartbeat timeout.
    const events = (await handle.fetchHistory()).events ?? [];
    const scheduled = events.filter((event) => event.activityTaskScheduledEventAttributes?.activityType?.name === 'restoreComponent').map((event) => String(event.eventId));
    expect(scheduled).toHaveLength(1);
    const started = events.flatMap((event) =>
      event.activityTaskStartedEventAttributes && scheduled.includes(String(event.activityTaskStartedEventAttributes.scheduledEventId)) ? [event.activityTaskStartedEventAttributes] : [],
    );
    expect(started).toHaveLength(1);
    expect(started[0].attempt).toBeGreaterThanOrEqual(2);
    expect(started[0].lastFailure?.timeoutFailureInfo).toBeTruthy();
    expect(started[0].lastFailure?.message?.toLowerCase()).toContain('heartbeat');

    // The database equals the backup, with nothing of the damage left.
    expect(await fingerprint(url, ['blobs'])).toEqual(expected);
    expect(await sql(url, "select count(*) from pg_tables where tablename = 'junk'")).toBe('0');
    await second.stop();
  }, 900_000);
});

describe('the Temporal dev server restarted while a recovery waits at the gate', () => {
  const dir = tempDir('recovery-restart');
  const taskQueue = uniqueName('recovery_restart');
  let server: TemporalDevServerHandle | undefined;
  const workers: WorkerProcess[] = [];
  let connection: Connection | undefined;
  let client: Client;
  let env: NodeJS.ProcessEnv;
  let url: string;

  beforeAll(async () => {
    server = await startTemporalDevServer({ binary: findTemporalCli()!, ui: false, dbFilename: path.join(dir, 'temporal.db'), logFile: path.join(dir, 'temporal.log') });
    url = await createDatabase(uniqueName('restart'));
    await runPgbenchInit(url, 1);
    env = lifeboatEnv(taskQueue, { APPS_DATABASE_URL: url, TEMPORAL_ADDRESS: server.address });
    workers.push(await startWorker(env));
    connection = await Connection.connect({ address: server.address });
    client = new Client({ connection, namespace: 'default' });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(workers.map((worker) => worker.stop()));
    await connection?.close();
    await server?.stop();
  });

  /** Whether a worker polls the workflow task queue: the server's poller list lives in memory, so after a restart only a new poll fills it. */
  async function polled(): Promise<boolean> {
    const description = await client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name: taskQueue }, taskQueueType: 1 /* WORKFLOW */ });
    return (description.pollers ?? []).length > 0;
  }

  test('approvals sent after the restart complete the recovery', async () => {
    const planFile = writePlan(dir, {
      name: 'restart',
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }],
      restore: { approvals: { required: 1 } },
    });
    const setId = await backupSet(planFile, env);
    const expected = await fingerprint(url, PGBENCH_TABLES);
    await sql(url, 'drop table pgbench_history; update pgbench_accounts set abalance = abalance + 1 where aid < 100');

    const workflowId = workflowIdOf(await runCli(['restore', 'start', '--plan', planFile, '--json'], { env }));
    const gate = await atGate(client, workflowId);
    const timestamp = gate.candidates[0].timestamp;
    const pidBefore = server!.pid;

    await server!.restart(); // same ports, same --db-filename
    expect(server!.pid).toBeDefined();
    expect(server!.pid).not.toBe(pidBefore);

    // The workflow survived the restart: same run, still at the gate.
    const after = await eventually('the workflow to answer after the restart', async () => {
      const current = await client.workflow.getHandle(workflowId).query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    });
    expect(after.candidates).toEqual(gate.candidates);
    expect(after.approvals).toEqual([]);
    // The worker reconnected by itself: it did not exit, and it polls the restarted server again.
    expect(workers[0].child.exitCode).toBeNull();
    expect(workers[0].child.signalCode).toBeNull();
    await eventually('the worker to poll the restarted server', async () => ((await polled()) ? true : undefined), 60_000, 500);

    const approved = await runCli(['restore', 'approve', workflowId, '--timestamp', timestamp, '--as', 'alice', '--comment', 'after the restart'], { env });
    expect(approved.stderr).toBe('');
    expect(approved.code).toBe(0);
    const report = (await client.workflow.getHandle(workflowId).result()) as RecoveryReport;
    expect(report.outcome).toBe('recovered');
    expect(report.setId).toBe(setId);
    expect(report.approvals).toHaveLength(1);
    expect(report.approvals[0]).toMatchObject({ timestamp, approver: 'alice', comment: 'after the restart' });
    expect(Date.parse(report.approvals[0].at)).toBeGreaterThan(Date.parse(gate.candidates[0].completedAt));
    expect(await fingerprint(url, PGBENCH_TABLES)).toEqual(expected);
    const status = await runCli(['restore', 'status', workflowId], { env });
    expect(status.stdout).toContain('recovery recovered');
    expect(status.stdout).toContain(`approved ${timestamp} by alice`);
  }, 300_000);

  test('`backup run --wait` over the HTTP API waits across a restart and prints the set', async () => {
    // An export that answers only when released holds the backup activity while the server restarts.
    let requested!: () => void;
    const asked = new Promise<void>((resolve) => (requested = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const exporter = http.createServer((_request, response) => {
      requested();
      void released.then(() => response.writeHead(200, { 'content-type': 'application/json' }).end('{"accounts": 3}'));
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
    try {
      const port = (exporter.address() as AddressInfo).port;
      const planFile = writePlan(dir, { name: 'held-export', store: { type: 'local', path: path.join(dir, 'store') }, components: [{ name: 'export', type: 'http', url: `http://127.0.0.1:${port}/export` }] });
      const run = runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env: { ...env, TEMPORAL_HTTP_ADDRESS: server!.httpAddress } });
      await asked; // the workflow started, its activity is running, and the CLI is waiting on its long poll
      await server!.restart();
      release();
      const result = await run;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const printed = JSON.parse(result.stdout) as { plan: string; setId: string; components: { name: string; bytes: number }[] };
      expect(printed).toMatchObject({ plan: 'held-export', components: [{ name: 'export' }] });
      const listed = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[] };
      expect(listed.sets.map((set) => set.setId)).toEqual([printed.setId]);
    } finally {
      exporter.close();
    }
  }, 300_000);
});

describe('dry run and abort after scale-down', () => {
  const dir = tempDir('recovery-dry-abort');
  const taskQueue = uniqueName('recovery_dry_abort');
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess | undefined;
  let temporal: { client: Client; close(): Promise<void> };
  const urls: Record<string, string> = {};
  const appLog = path.join(dir, 'app.log');
  const pidFile = path.join(dir, 'app.pid');
  const app = backgroundApp(path.join(dir, 'app.sh'), pidFile);
  const startApp = app.start;
  const appPids: number[] = [];

  beforeAll(async () => {
    for (const name of ['dry_apps', 'dry_participant', 'abort_apps']) {
      urls[name] = await createDatabase(uniqueName(name));
      await runPgbenchInit(urls[name], 1);
    }
    // The "service": writes a heartbeat row and a line to its log every 100 ms.
    writeFileSync(
      path.join(dir, 'app.sh'),
      `while true; do
  "${path.join(testEnv().pgBinDir, 'psql')}" -q "$APP_URL" -c 'create table if not exists heartbeat (at timestamptz); insert into heartbeat values (now())' >/dev/null 2>&1
  date +%s%3N >> "${appLog}"
  sleep 0.1
done
`,
    );
    env = lifeboatEnv(taskQueue, {
      APPS_DATABASE_URL: urls.dry_apps,
      PARTICIPANT_DATABASE_URL: urls.dry_participant,
      ABORT_DATABASE_URL: urls.abort_apps,
      APP_URL: urls.abort_apps,
    });
    worker = await startWorker(env);
    temporal = await temporalClient();
  }, 180_000);

  afterAll(async () => {
    for (const pid of appPids) if (running(pid)) process.kill(pid, 'SIGKILL');
    await worker?.stop();
    await temporal?.close();
  });

  test('dryRun: the plan of what would be restored, in dependency order; nothing is touched', async () => {
    const planFile = writePlan(dir, {
      name: 'dry',
      store: { type: 'local', path: path.join(dir, 'dry-store') },
      // Listed after its dependency's dependant on purpose: the order must come from `after`, not the file.
      components: [
        { name: 'participant', type: 'postgres', connection: { urlFromEnv: 'PARTICIPANT_DATABASE_URL' }, after: ['apps'] },
        { name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } },
      ],
      restore: { approvals: { required: 1 } },
    });
    const setId = await backupSet(planFile, env);
    const manifest = (JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[] }).sets[0];
    expect(manifest.setId).toBe(setId);

    await sql(urls.dry_apps, 'drop table pgbench_history; update pgbench_accounts set abalance = abalance + 1 where aid < 100');
    await sql(urls.dry_participant, "delete from pgbench_tellers; create table junk as select 'junk' as j");
    const damaged = { apps: await fingerprint(urls.dry_apps, PGBENCH_TABLES), participant: await fingerprint(urls.dry_participant, PGBENCH_TABLES) };
    expect(damaged.apps.pgbench_history).toBe('missing');

    const workflowId = workflowIdOf(await runCli(['restore', 'start', '--plan', planFile, '--dry-run', '--json'], { env }));
    const gate = await atGate(temporal.client, workflowId);
    const approved = await runCli(['restore', 'approve', workflowId, '--timestamp', gate.candidates[0].timestamp, '--as', 'alice'], { env });
    expect(approved.code).toBe(0);
    const report = (await temporal.client.workflow.getHandle(workflowId).result()) as RecoveryReport;

    expect(report.outcome).toBe('dry-run');
    expect(report.setId).toBe(setId);
    expect(report.plannedRestore?.map((item) => item.component)).toEqual(['apps', 'participant']);
    for (const item of report.plannedRestore ?? []) {
      const recorded = manifest.components.find((component) => component.name === item.component)!;
      expect(item.bytes).toBeGreaterThan(0);
      expect(item.bytes).toBe(recorded.bytes);
      expect(item.key).toBe(recorded.key); // an object that really is in the store
      expect(item.estimatedMs).toBeGreaterThanOrEqual(0);
    }
    expect(report.estimatedDurationMs).toBeGreaterThanOrEqual(0);
    expect(report.estimatedDurationMs).toBe((report.plannedRestore ?? []).reduce((sum, item) => sum + item.estimatedMs, 0));
    expect(report.steps).toEqual([]);
    expect(report.rtoMs).toBeUndefined();
    // Nothing was touched: both databases are exactly as damaged as before.
    expect(await fingerprint(urls.dry_apps, PGBENCH_TABLES)).toEqual(damaged.apps);
    expect(await fingerprint(urls.dry_participant, PGBENCH_TABLES)).toEqual(damaged.participant);
    expect(await sql(urls.dry_participant, "select count(*) from pg_tables where tablename = 'junk'")).toBe('1');
  });

  test('abort after scale-down leaves the target down and says so', async () => {
    const planFile = writePlan(dir, {
      name: 'abort',
      store: { type: 'local', path: path.join(dir, 'abort-store') },
      components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'ABORT_DATABASE_URL' } }],
      restore: {
        scaling: [
          app.target,
        ],
        approvals: { required: 1 },
      },
    });
    const setId = await backupSet(planFile, env);

    execSync(startApp, { env });
    const pid = Number(readFileSync(pidFile, 'utf8'));
    appPids.push(pid);
    const writes = () => (existsSync(appLog) ? readFileSync(appLog, 'utf8').split('\n').filter(Boolean).length : 0);
    await eventually('the app to write', async () => (writes() > 3 ? true : undefined));

    const workflowId = workflowIdOf(await runCli(['restore', 'start', '--plan', planFile, '--json'], { env }));
    const handle = temporal.client.workflow.getHandle(workflowId);
    const gate = await atGate(temporal.client, workflowId);
    // Altered after the candidates were verified: the restore's streaming check fails the step.
    const artifact = path.join(dir, 'abort-store', 'abort', setId, 'apps.pgdump.zst');
    const altered = readFileSync(artifact);
    altered[altered.length - 100] ^= 0xff;
    writeFileSync(artifact, altered);
    expect((await runCli(['restore', 'approve', workflowId, '--timestamp', gate.candidates[0].timestamp, '--as', 'alice'], { env })).code).toBe(0);

    const parked = await eventually('the resume gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.waitingForResume ? current : undefined;
    });
    expect(parked.phase).toBe('restore');
    expect(parked.waitingForResume?.step).toBe('restore apps');
    expect(parked.waitingForResume?.error).toContain('does not match its manifest');
    expect(running(pid)).toBe(false);

    const aborted = await runCli(['restore', 'abort', workflowId, '--as', 'x', '--reason', 'y'], { env });
    expect(aborted.stderr).toBe('');
    expect(aborted.code).toBe(0);
    const report = (await handle.result()) as RecoveryReport;
    expect(report.outcome).toBe('aborted');
    expect(report.abortedBy).toEqual({ by: 'x', reason: 'y' });
    expect(report.leftDown).toEqual(['command "app"']);
    expect(report.steps.map((step) => `${step.outcome} ${step.step}`)).toEqual(['ok scale down command "app"', 'failed restore apps']);
    const shown = await runCli(['restore', 'status', workflowId], { env });
    expect(shown.stdout).toContain('recovery aborted');
    expect(shown.stdout).toContain('left scaled down: command "app"');

    // The app is down and stays down: no process, no pid file, no new writes.
    expect(running(pid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);
    const stopped = writes();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(writes()).toBe(stopped);
  });
});
