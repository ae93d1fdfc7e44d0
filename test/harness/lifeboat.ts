/** Running Lifeboat itself in tests: the built CLI as a child process, workers, plan files, Temporal history. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { stringify } from 'yaml';
import type { PlanInput } from '../../src/plan/schema';
import { NODE_ENVIRONMENT, NODE_FLAGS } from '../../worker/nodeFlags';
import { testEnv } from './env';

// From test/harness (jest) or dist/test/harness (the compiled benchmark): both find the built CLI.
const REPO_ROOT = path.resolve(__dirname, '..', '..', ...(path.basename(path.resolve(__dirname, '..', '..')) === 'dist' ? ['..'] : []));
export const CLI = path.join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/** Environment for CLI and worker processes: the harness's Temporal and MinIO, and nothing from the developer's shell that could leak in. */
export function lifeboatEnv(taskQueue: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env = testEnv();
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['DATABASE_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE']) delete base[name];
  return {
    ...base,
    TEMPORAL_ADDRESS: env.temporalAddress,
    TEMPORAL_NAMESPACE: 'default',
    LIFEBOAT_TASK_QUEUE: taskQueue,
    AWS_ACCESS_KEY_ID: env.s3AccessKey,
    AWS_SECRET_ACCESS_KEY: env.s3SecretKey,
    AWS_REGION: 'us-east-1',
    PG_BIN_DIR: env.pgBinDir,
    ...extra,
  };
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], options: { env: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...NODE_FLAGS, CLI, ...args], { env: { ...NODE_ENVIRONMENT, ...options.env }, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`lifeboat ${args.join(' ')} did not finish within ${options.timeoutMs ?? 120_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 120_000);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs `backup run --wait --json` and returns the new set's id; fails with the CLI's stderr when the backup does. */
export async function backupSet(planFile: string, env: NodeJS.ProcessEnv, timeoutMs?: number): Promise<string> {
  const backup = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env, timeoutMs });
  if (backup.code !== 0) throw new Error(`backup run --plan ${planFile} exited ${backup.code}:\n${backup.stderr}`);
  return (JSON.parse(backup.stdout) as { setId: string }).setId;
}

/** Deletes the schedules a test created (the dev server outlives the test file); a schedule already gone is fine. */
export async function deleteSchedules(client: Client, scheduleIds: string[]): Promise<void> {
  for (const id of scheduleIds) {
    await client.schedule
      .getHandle(id)
      .delete()
      .catch((error: Error) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
  }
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** SIGKILL, as a crash would; resolves once the process is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), SIGKILL after 15 s. */
  stop(): Promise<void>;
}

/** Starts `lifeboat worker [args]` and resolves once it polls its task queue. */
export async function startWorker(env: NodeJS.ProcessEnv, args: string[] = [], cwd?: string): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [...NODE_FLAGS, CLI, 'worker', ...args], { env: { ...NODE_ENVIRONMENT, ...env }, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start within 60 s:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('worker polling task queue')) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with ${code} before polling:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Writes a plan as YAML and returns its path. */
export function writePlan(dir: string, plan: PlanInput, fileName = `${plan.name}.yaml`): string {
  const file = path.join(dir, fileName);
  writeFileSync(file, stringify(plan));
  return file;
}

export async function temporalClient(): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect({ address: testEnv().temporalAddress });
  return { client: new Client({ connection, namespace: 'default' }), close: () => connection.close() };
}

/** Everything a workflow's history holds, payloads decoded, as one string: for "no secret in history" checks. */
export async function historyText(client: Client, workflowId: string): Promise<string> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value !== null && typeof value === 'object') Object.values(value).forEach(walk);
    else if (typeof value === 'string') parts.push(value);
  };
  walk(history);
  return parts.join('\n');
}

/** Waits until `probe` returns a value (not undefined), polling; throws with `what` on timeout. */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}

/**
 * A "service" for recovery tests: a shell script run in the background, managed by the command scaler through
 * its pid file. `start` is the shell line that starts it (also used by tests to start it by hand).
 */
export function backgroundApp(script: string, pidFile: string): { start: string; target: { type: 'command'; name: string; up: string; down: string; ready: string } } {
  const start = `sh ${script} >/dev/null 2>&1 & echo $! > ${pidFile}`;
  return {
    start,
    target: {
      type: 'command',
      name: 'app',
      up: start,
      down: `if [ -f ${pidFile} ]; then kill $(cat ${pidFile}); rm -f ${pidFile}; fi`,
      ready: `test -f ${pidFile}`, // not kill -0: a killed orphan stays a zombie here (no init reaps it)
    },
  };
}
