import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

/** Where a line of a part's output goes when a caller wants to follow along. */
export type LogFn = (line: string) => void;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all (e.g. ENOENT). */
  error?: Error;
}

/** A long-running child whose output goes to a log file, with the last lines kept for error messages. */
export interface ManagedProcess {
  readonly child: ChildProcess;
  readonly pid: number | undefined;
  readonly logFile: string;
  /** Resolves (never rejects) once the process has exited or failed to start. */
  readonly exited: Promise<ProcessExit>;
  running(): boolean;
  /** The last lines of stdout and stderr, for error messages. */
  outputTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<ProcessExit>;
  /** SIGKILL, without waiting. */
  kill(): void;
}

export interface SpawnLoggedOptions {
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  tailLines?: number;
}

class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  constructor(private readonly max: number) {}

  push(chunk: string): void {
    const parts = (this.partial + chunk).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }

  text(): string {
    const all = this.partial ? [...this.lines, this.partial] : this.lines;
    return all.join('\n');
  }

  private add(line: string): void {
    if (line.trim() === '') return;
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
  }
}

function describeExit(exit: ProcessExit): string {
  if (exit.error) return `failed to start: ${exit.error.message}`;
  if (exit.signal) return `killed by ${exit.signal}`;
  return `exited with code ${String(exit.code)}`;
}

export function exitSummary(name: string, exit: ProcessExit, tail: string, logFile: string): string {
  const lastLines = tail ? `\n--- last output ---\n${tail}\n---` : '';
  return `${name} ${describeExit(exit)} (full log: ${logFile})${lastLines}`;
}

/**
 * Spawns a child with stdout/stderr piped to `logFile` (appending), not inherited: under jest the
 * parts' chatter would otherwise interleave with test output.
 */
export function spawnLogged(command: string, args: readonly string[], options: SpawnLoggedOptions): ManagedProcess {
  const log: WriteStream = createWriteStream(options.logFile, { flags: 'a' });
  log.on('error', () => undefined); // a lost log line must not crash the harness
  log.write(`\n$ ${command} ${args.join(' ')}\n`);
  const tail = new LineTail(options.tailLines ?? 40);
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let finished: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    const done = (exit: ProcessExit): void => {
      if (finished) return;
      finished = exit;
      resolve(exit);
    };
    child.once('error', (error) => done({ code: null, signal: null, error }));
    // 'exit', not 'close': a daemon grandchild may keep the pipes open long after the child is gone.
    child.once('exit', (code, signal) => done({ code, signal }));
  });
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      tail.push(chunk);
      log.write(chunk);
    });
  }
  child.once('close', () => log.end());
  child.once('error', () => log.end());

  const running = (): boolean => finished === undefined && child.exitCode === null && child.signalCode === null;
  const kill = (): void => {
    if (running()) child.kill('SIGKILL');
  };
  const stop = async (graceMs = 10_000): Promise<ProcessExit> => {
    if (!running()) return exited;
    child.kill('SIGTERM');
    const timer = setTimeout(kill, graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };
  return { child, pid: child.pid, logFile: options.logFile, exited, running, outputTail: () => tail.text(), stop, kill };
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Appends the command and its output here. */
  logFile?: string;
  timeoutMs?: number;
}

/** Runs a command to completion; rejects with the exit status and the output tail when it fails. */
export async function runCommand(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
  log?.on('error', () => undefined);
  log?.write(`\n$ ${command} ${args.join(' ')}\n`);
  const child = spawn(command, [...args], {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    log?.write(chunk);
  });
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
    log?.write(chunk);
  });
  const timer = options.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), options.timeoutMs) : undefined;
  // 'exit', not 'close': `pg_ctl start` leaves a daemon behind that may hold inherited pipes.
  const exit = await new Promise<ProcessExit>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  if (timer) clearTimeout(timer);
  log?.end();
  if (exit.code !== 0) {
    const tail = (stderr.trim() || stdout.trim()).split('\n').slice(-30).join('\n');
    throw new Error(exitSummary(`${command} ${args.join(' ')}`, exit, tail, options.logFile ?? '(not logged)'));
  }
  return { stdout, stderr };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
