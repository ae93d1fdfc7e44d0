/** Child processes as streams: the data plane's way to run pg_dump, pg_restore and friends. */
import { spawn, type ChildProcess, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Duplex, PassThrough, Writable, type Readable } from 'node:stream';
import { findOnPath } from '../embedded/binaries';

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

export interface OutputOptions {
  /**
   * Run the program with a 1 MiB stdout buffer (coreutils' `stdbuf -o1M`). A program that writes through C
   * stdio (pg_dump) flushes into a pipe every 4 KiB: some 250,000 write(2) calls per GB, each waking the
   * reader; with 1 MiB blocks, about a thousand. Measured: about 40 % less CPU in the kernel and a faster dump
   * (bench/RESULTS.md). Where `stdbuf` is missing, the program runs as it is.
   */
  largeStdoutBuffer?: boolean;
}

/** The command line that runs `command` as `options` ask. */
function commandLine(command: string, args: string[], options: OutputOptions): [string, string[]] {
  return options.largeStdoutBuffer && findOnPath('stdbuf') !== undefined ? ['stdbuf', ['-o1M', command, ...args]] : [command, args];
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

/**
 * The child's exit: resolves on code 0, rejects with a ProcessFailedError carrying the tail of its stderr (which
 * this starts collecting) otherwise. Never an unhandled rejection: callers await it when they care.
 */
function watchExit(child: ChildProcess, command: string): Promise<void> {
  const stderr = new StderrTail();
  child.stderr?.on('data', (chunk: Buffer) => stderr.append(chunk));
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error) => reject(new ProcessFailedError(command, null, null, error.message)));
    child.once('close', (code, signal) => (code === 0 ? resolve() : reject(new ProcessFailedError(command, code, signal, stderr.toString()))));
  });
  exited.catch(() => undefined);
  return exited;
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
export function spawnFilter(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, options: OutputOptions = {}): SpawnedFilter {
  const child = spawn(...commandLine(command, args, options), { env, stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = watchExit(child, command); // reported through `output` too; callers may await either
  // A process that stops reading early (EPIPE) is reported through its exit code, not as a stream error.
  child.stdin.on('error', () => undefined);

  const output = new PassThrough({ highWaterMark: 1024 * 1024 });
  child.stdout.pipe(output, { end: false });
  const stdoutEnded = new Promise<void>((resolve) => child.stdout.once('close', resolve));

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
export function spawnWithOutput(command: string, args: string[], env: NodeJS.ProcessEnv = process.env, options: OutputOptions = {}): SpawnedFilter {
  const filter = spawnFilter(command, args, env, options);
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

/**
 * `producer | filter` (pg_dump | zstd) with the bytes going from one process to the other through a kernel
 * pipe, never through Node: the event loop only sees the filter's (compressed) output.
 */
export function spawnPipeline(
  producer: { command: string; args: string[]; env?: NodeJS.ProcessEnv } & OutputOptions,
  filter: { command: string; args: string[] },
): SpawnedPipeline {
  const first = spawn(...commandLine(producer.command, producer.args, producer), { env: producer.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const producerExited = watchExit(first, producer.command);
  const second = spawn(filter.command, filter.args, { stdio: [first.stdout, 'pipe', 'pipe'] });
  // The filter holds its own copy of the pipe's read end; the parent's must not read (or keep it open).
  first.stdout.destroy();
  const filterExited = watchExit(second, filter.command);
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
    filterInputBytes: inputBytesOf(second),
    kill,
  };
}

export interface SpawnedConsumer {
  /**
   * Where the caller writes the input. Ending it (the input was whole) closes the first process's stdin; an
   * error or a destroy before the end kills the consumer FIRST, so it never sees the end of a partial input
   * (pg_restore --single-transaction would commit at end of input).
   */
  stdin: Writable;
  /** Resolves when every process exited with code 0; rejects with the first ProcessFailedError, the consumer's preferred. */
  exited: Promise<void>;
  /** The consumer's own exit (its complaint says more than the broken pipe it causes upstream). */
  consumerExited: Promise<void>;
  /** Bytes the consumer has read so far, from /proc; undefined where /proc cannot tell. */
  consumerInputBytes(): number | undefined;
  kill(): void;
}

/**
 * Reads a child's input bytes from /proc; after it exited (or where /proc cannot tell) the last value read,
 * so that progress never falls back to another measure mid-way.
 */
function inputBytesOf(child: ChildProcess): () => number | undefined {
  let last: number | undefined;
  return () => (last = readBytesOf(child.pid) ?? last);
}

function readBytesOf(pid: number | undefined): number | undefined {
  try {
    const rchar = /^rchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
    return rchar ? Number(rchar[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A Writable that forwards to a child's stdin, ends it only on a clean end of input, and on any failure runs
 * `abort` (which kills the consumer) before the child's stdin is closed.
 */
class GuardedInput extends Writable {
  private ended = false;
  constructor(
    private readonly target: Writable,
    private readonly abort: () => void,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.target.destroyed || this.target.writableEnded) {
      callback(new Error('the restore process stopped reading its input'));
      return;
    }
    if (this.target.write(chunk)) callback();
    else {
      const done = () => {
        this.target.off('drain', done).off('close', done);
        callback(this.target.destroyed ? new Error('the restore process stopped reading its input') : null);
      };
      this.target.on('drain', done).on('close', done);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.ended = true;
    this.target.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.ended) {
      this.abort(); // synchronously, before the pipe closes: a killed consumer cannot act on end of input
      this.target.destroy();
    }
    callback(error);
  }
}

/**
 * `filter | consumer` fed from Node (zstd -d | pg_restore): Node writes into the filter's stdin, and the
 * filter's output reaches the consumer through a kernel pipe, never through Node. Without a filter, Node
 * feeds the consumer directly. Either way the input is guarded (see SpawnedConsumer.stdin).
 */
export function spawnConsumer(
  consumer: { command: string; args: string[]; env?: NodeJS.ProcessEnv },
  filter?: { command: string; args: string[] },
): SpawnedConsumer {
  const first = filter ? spawn(filter.command, filter.args, { stdio: ['pipe', 'pipe', 'pipe'] }) : undefined;
  const last = spawn(consumer.command, consumer.args, { env: consumer.env ?? process.env, stdio: [first ? first.stdout : 'pipe', 'ignore', 'pipe'] });
  // The consumer holds its own copy of the pipe's read end; the parent's must not read it (or keep it open).
  first?.stdout?.destroy();
  const consumerExited = watchExit(last, consumer.command);
  const exits = [consumerExited];
  if (first && filter) exits.push(watchExit(first, filter.command));
  const input = (first ?? last).stdin as Writable;
  input.on('error', () => undefined); // EPIPE once a process stopped: reported through its exit code
  // The consumer first: once it is dead, nothing the filter does with its output can commit anything.
  const kill = () => {
    for (const child of first ? [last, first] : [last]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const exited = Promise.all(exits).then(
    () => undefined,
    async (error: Error) => {
      kill(); // a no-op for a process that already exited: its own exit code stays what it was
      const consumerError = await consumerExited.then(() => undefined, (failure: unknown) => failure);
      throw consumerError instanceof ProcessFailedError && consumerError.exitCode !== null ? consumerError : error;
    },
  );
  exited.catch(() => undefined);
  return {
    stdin: new GuardedInput(input, kill),
    exited,
    consumerExited,
    consumerInputBytes: inputBytesOf(last),
    kill,
  };
}
