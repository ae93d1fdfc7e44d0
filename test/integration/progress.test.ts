/**
 * Progress in a log (stdout/stderr not a terminal): `backup run --wait` and `restore status --watch` print plain
 * lines, no escape sequences, with bytes, the estimated total, rate and ETA taken from the activities'
 * heartbeats, for a database big enough (~570 MB of incompressible rows) that a dump or a restore outlasts
 * several heartbeats (one per 2 s) even on a quiet machine, where the dump streams at 200 MB/s or more.
 */
import path from 'node:path';
import { createDatabase, tempDir, uniqueName } from '../harness/env';
import { fillWithRandomRows } from '../harness/postgres';
import { eventually, lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';

const PROGRESS = /^ *apps (running|restoring) [\d.]+ (B|KiB|MiB|GiB) of ~[\d.]+ (B|KiB|MiB|GiB) \(\d+%\), [\d.]+ (B|KiB|MiB|GiB)\/s(, ETA [\dms.]+)?$/;

describe('progress of long operations, printed as plain lines when not on a terminal', () => {
  const dir = tempDir('progress');
  let worker: WorkerProcess;
  let env: NodeJS.ProcessEnv;
  let planFile: string;

  beforeAll(async () => {
    const url = await createDatabase(uniqueName('progress'));
    await fillWithRandomRows(url, 210_000);
    env = lifeboatEnv(uniqueName('progress'), { APPS_DATABASE_URL: url });
    planFile = writePlan(dir, {
      name: 'progress',
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }],
      restore: { approvals: { required: 1 } },
    });
    worker = await startWorker(env);
  }, 600_000);

  afterAll(async () => {
    await worker?.stop();
  });

  let setId: string;

  test('backup run --wait: lines with bytes of the estimated total, rate and ETA, then the set', async () => {
    const result = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env, timeoutMs: 300_000 });
    expect(result.code).toBe(0);
    setId = result.stdout.match(/backup set (\S+) complete/)![1];
    expect(result.stderr).not.toContain('\x1b[');
    const lines = result.stderr.split('\n');
    const progress = lines.filter((line) => PROGRESS.test(line));
    expect({ progress: progress.length > 0, stderr: result.stderr }).toEqual({ progress: true, stderr: result.stderr });
    // Once the rate is known a line carries the ETA (the total is known from the start).
    expect({ eta: progress.some((line) => /, ETA [\dms.]+$/.test(line)), stderr: result.stderr }).toEqual({ eta: true, stderr: result.stderr });
    // The estimate is pg_database_size, which bounds the dump from above.
    const [, done, doneUnit, total, totalUnit] = progress[0].match(/([\d.]+) (B|KiB|MiB|GiB) of ~([\d.]+) (B|KiB|MiB|GiB)/)!;
    const bytes = (value: string, unit: string) => Number(value) * 1024 ** ['B', 'KiB', 'MiB', 'GiB'].indexOf(unit);
    expect(bytes(total, totalUnit)).toBeGreaterThan(100 * 1024 * 1024);
    expect(bytes(done, doneUnit)).toBeLessThanOrEqual(bytes(total, totalUnit));
  });

  test('restore status --watch: the status, then the restore step streaming the artifact against its size', async () => {
    const started = await runCli(['restore', 'start', '--plan', planFile, '--set', setId, '--json'], { env });
    expect(started.code).toBe(0);
    const workflowId = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
    const timestamp = await eventually('the candidate', async () => {
      const status = await runCli(['restore', 'status', workflowId, '--json'], { env });
      if (status.code !== 0) throw new Error(`restore status exited ${status.code}: ${status.stderr}`);
      return (JSON.parse(status.stdout) as { phase: string; candidates: { timestamp: string }[] }).candidates[0]?.timestamp;
    });
    const watching = runCli(['restore', 'status', workflowId, '--watch'], { env, timeoutMs: 300_000 });
    const approved = await runCli(['restore', 'approve', workflowId, '--timestamp', timestamp, '--as', 'alice'], { env });
    expect(approved.code).toBe(0);
    const watched = await watching;
    expect(watched.code).toBe(0);
    expect(watched.stdout).not.toContain('\x1b[');
    const lines = watched.stdout.split('\n');
    expect(lines.some((line) => /^plan progress: phase (agreement|scale-down|restore)$/.test(line))).toBe(true);
    expect({ progress: lines.some((line) => PROGRESS.test(line) && line.includes('restoring')), stdout: watched.stdout }).toEqual({ progress: true, stdout: watched.stdout });
    expect(watched.stdout).toMatch(/^recovery recovered to /m);
  });
});
