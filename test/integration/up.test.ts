/** `lifeboat up` (what `npm start` runs): dev server + Web UI, worker, throwaway databases, a backup of the example plan. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import type { Manifest } from '../../src/catalog/manifest';
import { tempDir, uniqueName } from '../harness/env';
import { CLI, eventually, lifeboatEnv, runCli } from '../harness/lifeboat';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('up --once backs up the example plan into ./lifeboat-backups and stops everything it started', async () => {
  const cwd = tempDir('up');
  // No DATABASE_URL/PG* (lifeboatEnv removes them): up must create its own throwaway cluster.
  const env = lifeboatEnv(uniqueName('unused'));
  delete env.TEMPORAL_ADDRESS;
  const up = await runCli(['up', '--once', '--state-dir', path.join(cwd, '.lifeboat')], { env, cwd, timeoutMs: 240_000 });
  expect(up.stderr).not.toMatch(/error/i);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/using the temporal CLI from (TEMPORAL_CLI|PATH|GOPATH)/);
  expect(up.stdout).toMatch(/Web UI at http:\/\/127\.0\.0\.1:\d+/);
  expect(up.stdout).toContain('a throwaway PostgreSQL cluster');
  // What an operator needs to know, in one place: the Web UI (above), metrics, where backups go, the next run.
  expect(up.stdout).toMatch(/metrics at http:\/\/127\.0\.0\.1:\d+\/metrics/);
  expect(up.stdout).toContain(`backups go to ${path.join(cwd, 'lifeboat-backups')}`);
  const next = up.stdout.match(/next scheduled run: (\S+) \(schedule lifeboat-example/)?.[1];
  expect(next).toMatch(/^\d{4}-\d\d-\d\dT02:30:00\.000Z$/); // examples/plan.yaml: cron "30 2 * * *"
  expect(Date.parse(next!) - Date.now()).toBeGreaterThan(0);
  expect(Date.parse(next!) - Date.now()).toBeLessThanOrEqual(24 * 3600_000);
  const setId = up.stdout.match(/backup set (\S+) complete/)![1];

  const plan = path.resolve(__dirname, '..', '..', 'examples', 'plan.yaml');
  const listed = await runCli(['backups', 'list', '--plan', plan, '--json'], { env, cwd });
  const sets = (JSON.parse(listed.stdout) as { sets: Manifest[] }).sets;
  expect(sets.map((set) => set.setId)).toEqual([setId]);
  expect(sets[0].components.map((component) => component.name).sort()).toEqual(['apps', 'participant']);
  expect(existsSync(path.join(cwd, 'lifeboat-backups', 'example', setId, 'manifest.json'))).toBe(true);

  // Everything it started is stopped: nothing listens any more on the cluster's or the dev server's port.
  const clusterPort = Number(up.stdout.match(/cluster on 127\.0\.0\.1:(\d+)/)![1]);
  const temporalPort = Number(up.stdout.match(/Temporal dev server at 127\.0\.0\.1:(\d+)/)![1]);
  expect(await listening(clusterPort)).toBe(false);
  expect(await listening(temporalPort)).toBe(false);
  const verify = await runCli(['backup', 'verify', '--plan', plan, setId], { env, cwd });
  expect(verify.code).toBe(0);
});

test('up runs until Ctrl-C, serving the Web UI, metrics and the HTTP API; Ctrl-C stops everything it started and nothing else', async () => {
  const cwd = tempDir('up-running');
  const env = lifeboatEnv(uniqueName('unused'));
  delete env.TEMPORAL_ADDRESS;
  // Something up did not start, listening beside it: it must survive up's shutdown.
  const bystander = createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => bystander.once('listening', resolve));
  const bystanderPort = (bystander.address() as { port: number }).port;

  const child = spawn(process.execPath, [CLI, 'up', '--state-dir', path.join(cwd, '.lifeboat')], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  try {
    await eventually('up to be running', async () => (stdout.includes('Ctrl-C stops everything started here') ? true : undefined), 240_000, 500).catch((error: Error) => {
      throw new Error(`${error.message}\nstdout: ${stdout}\nstderr: ${stderr}`);
    });
    const uiUrl = stdout.match(/Web UI at (http:\/\/127\.0\.0\.1:\d+)/)![1];
    const metricsUrl = stdout.match(/metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/)![1];
    expect((await fetch(uiUrl)).status).toBe(200);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/^lifeboat_backup_bytes\{plan="example"\} [1-9]\d*$/m);
    expect(metrics).toContain('temporal_'); // the SDK's own, passed on

    // The HTTP API it prints is what TEMPORAL_HTTP_ADDRESS takes: a backup started and awaited over it alone.
    const httpAddress = stdout.match(/its HTTP API at (127\.0\.0\.1:\d+)/)![1];
    const plan = path.resolve(__dirname, '..', '..', 'examples', 'plan.yaml');
    // The worker polls the task queue every other command reads (the harness sets a unique LIFEBOAT_TASK_QUEUE).
    expect(stdout).toContain(`worker polling task queue "${env.LIFEBOAT_TASK_QUEUE!}"`);
    const overHttp = await runCli(['backup', 'run', '--plan', plan, '--wait', '--json'], {
      env: { ...env, TEMPORAL_HTTP_ADDRESS: httpAddress, TEMPORAL_ADDRESS: '127.0.0.1:1' },
      cwd,
    });
    expect(overHttp.stderr).toBe('');
    expect(overHttp.code).toBe(0);
    expect((JSON.parse(overHttp.stdout) as { plan: string }).plan).toBe('example');

    child.kill('SIGINT');
    expect(await exited).toBe(0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
  expect(stderr).not.toMatch(/error/i);
  const ports = ['Temporal dev server at 127\\.0\\.0\\.1:(\\d+)', 'its HTTP API at 127\\.0\\.0\\.1:(\\d+)', 'cluster on 127\\.0\\.0\\.1:(\\d+)', 'Web UI at http://127\\.0\\.0\\.1:(\\d+)', 'metrics at http://127\\.0\\.0\\.1:(\\d+)'].map(
    (pattern) => Number(stdout.match(new RegExp(pattern))![1]),
  );
  for (const port of ports) expect({ port, listening: await listening(port) }).toEqual({ port, listening: false });
  expect(await listening(bystanderPort)).toBe(true);
  await new Promise((resolve) => bystander.close(resolve));
}, 300_000);
