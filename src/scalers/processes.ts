/** Child processes for the compose and command scalers: bounded in time and output, cancellable. */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StderrTail } from '../engines/childProcess';

const OUTPUT_TAIL_BYTES = 4096;
const STDOUT_LIMIT_BYTES = 4 * 1024 * 1024;

export interface ProcessOutcome {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** stdout (runProgram only; bounded). */
  stdout: string;
  /** The last bytes of stderr (runProgram) or of stdout and stderr together (runShell). */
  outputTail: string;
  /** Killed because it outlived its time or was cancelled. */
  killed: 'timeout' | 'cancelled' | undefined;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
}

/** Arms the time limit and the cancellation signal; returns the disarm function. */
function limit(kill: (reason: 'timeout' | 'cancelled') => void, options: RunOptions): () => void {
  const timer = setTimeout(() => kill('timeout'), options.timeoutMs);
  const onAbort = () => kill('cancelled');
  options.signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
  };
}

/** Runs a program (docker) with pipes. Rejects only when it cannot start (ENOENT: not installed). */
export function runProgram(file: string, args: string[], options: RunOptions): Promise<ProcessOutcome> {
  options.signal?.throwIfAborted();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    const stderr = new StderrTail(OUTPUT_TAIL_BYTES);
    let killed: ProcessOutcome['killed'];
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < STDOUT_LIMIT_BYTES) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => stderr.append(chunk));
    const disarm = limit((reason) => {
      killed = reason;
      child.kill('SIGKILL');
    }, options);
    child.once('error', (error) => {
      disarm();
      reject(error);
    });
    child.once('close', (exitCode, signal) => {
      disarm();
      resolve({ exitCode, signal, stdout, outputTail: stderr.toString(), killed });
    });
  });
}

async function readTail(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    const length = Math.min(size, OUTPUT_TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8').trim();
  } finally {
    await handle.close();
  }
}

/**
 * Runs `/bin/sh -c command`. Its output goes to a file rather than a pipe: an `up` command that starts the
 * service in the background hands its output descriptors to the service, and a pipe would then keep us
 * waiting for the service to exit (or kill it with SIGPIPE once we stop reading). The shell gets a session
 * of its own, so the service it starts does not share the worker's terminal signals; on a timeout the whole
 * group is killed.
 */
export async function runShell(command: string, options: RunOptions): Promise<ProcessOutcome> {
  options.signal?.throwIfAborted();
  const dir = await mkdtemp(path.join(tmpdir(), 'lifeboat-scaler-'));
  const outputFile = path.join(dir, 'output');
  try {
    const fd = openSync(outputFile, 'w');
    let outcome: Omit<ProcessOutcome, 'outputTail' | 'stdout'>;
    try {
      outcome = await new Promise((resolve, reject) => {
        const child = spawn('/bin/sh', ['-c', command], { env: options.env ?? process.env, stdio: ['ignore', fd, fd], detached: true });
        let killed: ProcessOutcome['killed'];
        const disarm = limit((reason) => {
          killed = reason;
          try {
            if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
          } catch {
            child.kill('SIGKILL'); // the group is gone already
          }
        }, options);
        child.once('error', (error) => {
          disarm();
          reject(error);
        });
        child.once('exit', (exitCode, signal) => {
          disarm();
          resolve({ exitCode, signal, killed });
        });
      });
    } finally {
      closeSync(fd);
    }
    return { ...outcome, stdout: '', outputTail: await readTail(outputFile) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** "exited with code 3", "was killed by SIGTERM", "did not finish within 5m", for error messages. */
export function describeOutcome(outcome: ProcessOutcome, timeout: string): string {
  if (outcome.killed === 'timeout') return `did not finish within ${timeout}`;
  if (outcome.killed === 'cancelled') return 'was cancelled';
  if (outcome.signal) return `was killed by ${outcome.signal}`;
  return `exited with code ${outcome.exitCode}`;
}
