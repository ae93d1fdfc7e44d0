/** Child processes as streams: the data plane's way to run pg_dump, pg_restore and friends. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Duplex, PassThrough, type Readable, type Writable } from 'node:stream';

/** The last bytes a process wrote to stderr, for error messages (bounded: a chatty process costs no memory). */
export class StderrTail {
  private text = '';
  constructor(private readonly limit = 4096) {}
  append(chunk: Buffer | string): void {
    this.text = (this.text + chunk.toString()).slice(-this.limit);
  }
  toString(): string {
    return this.text.trim();
  }
}

export class ProcessFailedError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly signal: NodeJS.Signals | null,
    readonly stderr: string,
  ) {
    super(`${command} ${signal ? `was killed by ${signal}` : `exited with code ${exitCode}`}${stderr ? `: ${stderr}` : ''}`);
    this.name = 'ProcessFailedError';
  }
}

export interface SpawnedFilter {
  /** The process's stdin; writes after it exited are dropped (its exit code reports the failure). */
  stdin: Writable;
  /** stdout, which ends only once the process has exited with code 0 and errors otherwise: a truncated stream is never mistaken for a whole one. */
  stdout: Readable;
  /** Resolves when the process exited with code 0, rejects with ProcessFailedError otherwise. */
  exited: Promise<void>;
  child: ChildProcessWithoutNullStreams;
  /** Kills the process (SIGKILL: it holds no state worth a graceful stop). */
  kill(): void;
}

/** A process as a stream filter: bytes in through stdin, out through stdout (zstd, tar, pg_restore...). */
export function spawnFilter(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnedFilter {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = new StderrTail();
  child.stderr.on('data', (chunk: Buffer) => stderr.append(chunk));
  // A process that stops reading early (EPIPE) is reported through its exit code, not as a stream error.
  child.stdin.on('error', () => undefined);

  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  child.stdout.pipe(output, { end: false });
  const stdoutEnded = new Promise<void>((resolve) => child.stdout.once('close', resolve));

  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ProcessFailedError(command, null, null, error.message)));
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new ProcessFailedError(command, code, signal, stderr.toString()));
    });
  });
  exited.catch(() => undefined); // reported through `output` too; callers may await either
  // A caller that only drains stdout (pg_restore's listing) learns of a failure from `exited`; without a
  // listener, the stream's error event would crash the whole worker.
  output.on('error', () => undefined);
  Promise.all([exited, stdoutEnded]).then(
    () => output.end(),
    (error: Error) => output.destroy(error),
  );
  // A consumer that gives up (an aborted upload) must not leave the process blocked on a full pipe.
  output.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return { stdin: child.stdin, stdout: output, exited, child, kill: () => child.kill('SIGKILL') };
}

/** Runs a process that only produces output (pg_dump, redis-cli --rdb -). */
export function spawnWithOutput(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnedFilter {
  const filter = spawnFilter(command, args, env);
  filter.stdin.end();
  return filter;
}

/** A filter process as one Duplex stream, for stream.pipeline: errors when the process fails. */
export function filterStream(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Duplex {
  const filter = spawnFilter(command, args, env);
  const duplex = Duplex.from({ writable: filter.stdin, readable: filter.stdout });
  duplex.once('close', () => filter.kill());
  return duplex;
}

/** Runs a process that reads its input from a stream (pg_restore, tar -x): resolves when it exits with 0. */
export function spawnWithInput(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): SpawnedFilter {
  return spawnFilter(command, args, env);
}

/** Runs a short command to completion and returns its stdout (for version probes and the like). */
export async function runToCompletion(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const { stdout, exited } = spawnWithOutput(command, args, env);
  const chunks: Buffer[] = [];
  for await (const chunk of stdout) chunks.push(chunk as Buffer);
  await exited;
  return Buffer.concat(chunks).toString('utf8');
}

export interface SpawnedPipeline {
  /** The filter's stdout; ends only once both processes exited with code 0, errors otherwise. */
  stdout: Readable;
  /** The producer's exit: resolves on code 0, rejects with its ProcessFailedError. */
  producerExited: Promise<void>;
  /** The filter's exit. */
  filterExited: Promise<void>;
  /** Bytes the filter has read so far (its input), from /proc; undefined where /proc cannot tell. */
  filterInputBytes(): number | undefined;
  kill(): void;
}

function exitOf(child: ChildProcessWithoutNullStreams | ReturnType<typeof spawn>, command: string, stderr: StderrTail): Promise<void> {
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ProcessFailedError(command, null, null, error.message)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new ProcessFailedError(command, code, signal, stderr.toString()))));
  });
  exited.catch(() => undefined);
  return exited;
}

/**
 * `producer | filter` (pg_dump | zstd) with the bytes going from one process to the other through a kernel
 * pipe, never through Node: the event loop only sees the filter's (compressed) output.
 */
export function spawnPipeline(
  producer: { command: string; args: string[]; env?: NodeJS.ProcessEnv },
  filter: { command: string; args: string[] },
): SpawnedPipeline {
  const first = spawn(producer.command, producer.args, { env: producer.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const firstStderr = new StderrTail();
  first.stderr.on('data', (chunk: Buffer) => firstStderr.append(chunk));
  const producerExited = exitOf(first, producer.command, firstStderr);
  const second = spawn(filter.command, filter.args, { stdio: [first.stdout, 'pipe', 'pipe'] });
  // The filter holds its own copy of the pipe's read end; the parent's must not read (or keep it open).
  first.stdout.destroy();
  const secondStderr = new StderrTail();
  second.stderr.on('data', (chunk: Buffer) => secondStderr.append(chunk));
  const filterExited = exitOf(second, filter.command, secondStderr);
  const kill = () => {
    for (const child of [first, second]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };

  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  second.stdout.pipe(output, { end: false });
  const stdoutEnded = new Promise<void>((resolve) => second.stdout.once('close', resolve));
  output.on('error', () => undefined);
  // The filter ends cleanly at the end of its input even when the producer died mid-way: both must succeed.
  Promise.all([producerExited, filterExited, stdoutEnded]).then(
    () => output.end(),
    (error: Error) => {
      kill();
      output.destroy(error);
    },
  );
  producerExited.catch(kill); // a failed producer stops the filter at once
  output.once('close', () => kill());
  return {
    stdout: output,
    producerExited,
    filterExited,
    filterInputBytes: () => {
      try {
        const rchar = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${second.pid}/io`, 'utf8'));
        return rchar ? Number(rchar[1]) : undefined;
      } catch {
        return undefined;
      }
    },
    kill,
  };
}
