/**
 * Redis: an RDB snapshot taken the way a replica gets one (`redis-cli --rdb -`: the server forks and sends a
 * point-in-time RDB), streamed and checked on the fly. The artifact is counted only once its "REDIS" + version
 * header, its EOF opcode and its CRC64 trailer have all been seen to be right.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RedisFacts } from '../catalog/manifest';
import type { RedisComponent } from '../plan/schema';
import { ProcessFailedError, spawnWithOutput } from './childProcess';
import { ComponentError, resolveEnvReference } from './errors';
import type { ComponentDump, Engine } from './types';

// ---------------------------------------------------------------------------------------------------------
// CRC64 (Jones polynomial, reflected, init 0, no final xor): the checksum Redis appends to every RDB.

/** 0xad93d23594c935a9 bit-reversed, split into 32-bit halves: V8 is much faster on int32 than on BigInt. */
const POLY_HI = 0x95ac9329;
const POLY_LO = 0xac4bc9b5;

/** Slicing-by-8 tables (8 x 256 entries per half): eight bytes per step instead of one. */
const TABLE_LO = new Int32Array(8 * 256);
const TABLE_HI = new Int32Array(8 * 256);
for (let n = 0; n < 256; n += 1) {
  let lo = n;
  let hi = 0;
  for (let bit = 0; bit < 8; bit += 1) {
    const carry = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (carry) {
      lo = (lo ^ POLY_LO) >>> 0;
      hi = (hi ^ POLY_HI) >>> 0;
    }
  }
  TABLE_LO[n] = lo;
  TABLE_HI[n] = hi;
}
for (let n = 0; n < 256; n += 1) {
  for (let k = 1; k < 8; k += 1) {
    const lo = TABLE_LO[(k - 1) * 256 + n];
    const hi = TABLE_HI[(k - 1) * 256 + n];
    const index = lo & 0xff;
    TABLE_LO[k * 256 + n] = (((lo >>> 8) | (hi << 24)) ^ TABLE_LO[index]) >>> 0;
    TABLE_HI[k * 256 + n] = ((hi >>> 8) ^ TABLE_HI[index]) >>> 0;
  }
}

/**
 * CRC64 of `data`, continuing from `crc` (the CRC of the bytes before it), so that
 * crc64(b, crc64(a)) === crc64(a + b). crc64("123456789") is 0xe9c6d914c4b8d9ca.
 */
export function crc64(data: Uint8Array, crc = 0n): bigint {
  let lo = Number(crc & 0xffffffffn) | 0;
  let hi = Number(crc >> 32n) | 0;
  let i = 0;
  const fastEnd = data.length - (data.length % 8);
  const T = TABLE_LO;
  const H = TABLE_HI;
  for (; i < fastEnd; i += 8) {
    const a = lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
    const b = hi ^ (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24));
    const i7 = 1792 + (a & 0xff), i6 = 1536 + ((a >>> 8) & 0xff), i5 = 1280 + ((a >>> 16) & 0xff), i4 = 1024 + (a >>> 24);
    const i3 = 768 + (b & 0xff), i2 = 512 + ((b >>> 8) & 0xff), i1 = 256 + ((b >>> 16) & 0xff), i0 = b >>> 24;
    lo = T[i7] ^ T[i6] ^ T[i5] ^ T[i4] ^ T[i3] ^ T[i2] ^ T[i1] ^ T[i0];
    hi = H[i7] ^ H[i6] ^ H[i5] ^ H[i4] ^ H[i3] ^ H[i2] ^ H[i1] ^ H[i0];
  }
  for (; i < data.length; i += 1) {
    const index = (lo ^ data[i]) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ T[index];
    hi = (hi >>> 8) ^ H[index];
  }
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

// ---------------------------------------------------------------------------------------------------------
// RDB stream check: header, EOF opcode, CRC64 trailer, in constant memory.

const HEADER_BYTES = 9; // "REDIS" + 4 ASCII digits
const TRAILER_BYTES = 8; // CRC64, little-endian
const RDB_OPCODE_EOF = 0xff;
/**
 * With a diskless master, `redis-cli --rdb -` leaves the 40-byte EOF mark of the transfer at the end of
 * stdout (it truncates it only from files: redis/redis#9135). We hold back enough bytes to strip it.
 */
const EOF_MARK_BYTES = 40;
const HELD_BYTES = TRAILER_BYTES + EOF_MARK_BYTES;
/** The first RDB version with a checksum (Redis 2.6); every server since writes one. */
const FIRST_CHECKSUMMED_RDB_VERSION = 5;

export interface RdbSummary {
  rdbVersion: number;
  /** "disabled": the trailer was 0, i.e. the server runs with `rdbchecksum no`; only the structure was checked. */
  checksum: 'crc64' | 'disabled';
  /** Bytes of the RDB itself (without a stripped EOF mark). */
  bytes: number;
}

/** The bytes are not a whole RDB: wrong header, truncated, or corrupted. */
export class RdbInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RdbInvalidError';
  }
}

const hex64 = (value: bigint): string => `0x${value.toString(16).padStart(16, '0')}`;
const isEofMark = (bytes: Buffer): boolean => bytes.length === EOF_MARK_BYTES && bytes.every((byte) => (byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66));

function describeStart(header: Buffer): string {
  if (header.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'the zstd magic number (the artifact is still compressed)';
  if (header[0] === 0x1f && header[1] === 0x8b) return 'the gzip magic number (the artifact is still compressed)';
  return `bytes ${header.toString('hex')}`;
}

/**
 * Checks an RDB as it streams past: `update` returns the bytes that are certainly RDB content (the last 48
 * are held back: they may be the trailer and an EOF mark), `finish` checks the end and returns the rest.
 */
export class RdbStreamCheck {
  private header: Buffer = Buffer.alloc(0);
  private held: Buffer = Buffer.alloc(0);
  private crc = 0n;
  private lastReleasedByte = -1;
  private released = 0;
  private seen = 0;
  rdbVersion: number | undefined;

  update(chunk: Buffer): Buffer[] {
    if (this.rdbVersion === undefined) this.checkHeader(chunk);
    this.seen += chunk.length;
    let release: Buffer[];
    if (chunk.length >= HELD_BYTES) {
      release = [this.held, chunk.subarray(0, chunk.length - HELD_BYTES)];
      this.held = chunk.subarray(chunk.length - HELD_BYTES);
    } else {
      const combined = Buffer.concat([this.held, chunk]);
      const excess = Math.max(0, combined.length - HELD_BYTES);
      release = [combined.subarray(0, excess)];
      this.held = combined.subarray(excess);
    }
    release = release.filter((bytes) => bytes.length > 0);
    for (const bytes of release) this.take(bytes);
    return release;
  }

  /** Checks the end of the RDB; returns its summary and the held-back bytes that belong to it. */
  finish(): { summary: RdbSummary; tail: Buffer } {
    if (this.rdbVersion === undefined) throw new RdbInvalidError(`the RDB ends after ${this.seen} bytes, inside its ${HEADER_BYTES}-byte header: truncated`);
    const marked = this.held.length === HELD_BYTES && isEofMark(this.held.subarray(TRAILER_BYTES));
    const tail = marked ? this.held.subarray(0, TRAILER_BYTES) : this.held;
    if (this.released + tail.length < HEADER_BYTES + 1 + TRAILER_BYTES) {
      throw new RdbInvalidError(`the RDB is only ${this.seen} bytes long, too short for a header, an EOF opcode and a checksum: truncated`);
    }
    this.take(tail.subarray(0, tail.length - TRAILER_BYTES));
    const bytes = this.released + TRAILER_BYTES;
    if (this.lastReleasedByte !== RDB_OPCODE_EOF) {
      throw new RdbInvalidError(`the RDB does not end with its EOF opcode and checksum (${this.seen} bytes read): truncated or corrupted`);
    }
    const recorded = tail.readBigUInt64LE(tail.length - TRAILER_BYTES);
    if (recorded === 0n) return { summary: { rdbVersion: this.rdbVersion, checksum: 'disabled', bytes }, tail };
    if (recorded !== this.crc) {
      throw new RdbInvalidError(`CRC64 mismatch: the trailer says ${hex64(recorded)}, the ${bytes - TRAILER_BYTES} bytes before it hash to ${hex64(this.crc)}: truncated or corrupted`);
    }
    return { summary: { rdbVersion: this.rdbVersion, checksum: 'crc64', bytes }, tail };
  }

  private take(bytes: Buffer): void {
    if (bytes.length === 0) return;
    this.crc = crc64(bytes, this.crc);
    this.lastReleasedByte = bytes[bytes.length - 1];
    this.released += bytes.length;
  }

  private checkHeader(chunk: Buffer): void {
    this.header = Buffer.concat([this.header, chunk.subarray(0, HEADER_BYTES - this.header.length)]);
    const magic = this.header.subarray(0, 5);
    if (!Buffer.from('REDIS').subarray(0, magic.length).equals(magic)) {
      throw new RdbInvalidError(`not an RDB: it starts with ${describeStart(this.header)}, not "REDIS"`);
    }
    if (this.header.length < HEADER_BYTES) return;
    const digits = this.header.subarray(5).toString('latin1');
    if (!/^\d{4}$/.test(digits)) throw new RdbInvalidError(`not an RDB: its header ends with ${JSON.stringify(digits)}, not a 4-digit version`);
    const version = Number(digits);
    if (version < FIRST_CHECKSUMMED_RDB_VERSION) throw new RdbInvalidError(`RDB version ${version} predates checksums (Redis before 2.6): it cannot be verified`);
    this.rdbVersion = version;
  }
}

/**
 * RdbStreamCheck as a Transform: passes the RDB through (an EOF mark stripped) and errors instead of ending
 * when the RDB is not whole, so a consumer never mistakes a truncated snapshot for a complete one.
 */
export class RdbValidator extends Transform {
  /** Resolves once the whole RDB has passed its checks; rejects with the stream's error. */
  readonly summary: Promise<RdbSummary>;
  private readonly check = new RdbStreamCheck();
  private settle!: { resolve(summary: RdbSummary): void; reject(error: Error): void };

  constructor(private readonly toError: (error: RdbInvalidError) => Error = (error) => error) {
    super({ readableHighWaterMark: 1024 * 1024, writableHighWaterMark: 1024 * 1024 });
    this.summary = new Promise<RdbSummary>((resolve, reject) => (this.settle = { resolve, reject }));
    this.summary.catch(() => undefined); // also reported through the stream
  }

  override _transform(chunk: Buffer | string, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      for (const bytes of this.check.update(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk))) this.push(bytes);
      callback();
    } catch (error) {
      callback(this.failure(error));
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      const { summary, tail } = this.check.finish();
      this.push(tail);
      this.settle.resolve(summary);
      callback();
    } catch (error) {
      callback(this.failure(error));
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.settle.reject(error ?? new Error('the RDB stream was closed before its end'));
    callback(error);
  }

  private failure(error: unknown): Error {
    return error instanceof RdbInvalidError ? this.toError(error) : (error as Error);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Connection: the URL, a minimal RESP exchange for INFO, and error classification.

export interface RedisTarget {
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** host:port, for messages (never the password). */
  address: string;
}

export function parseRedisUrl(component: string, url: string): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ComponentError(component, 'the connection URL in the environment is not a valid URL (expected redis://[user:password@]host:port[/db])', false, 'InvalidConnectionUrl');
  }
  if (parsed.protocol !== 'redis:') {
    throw new ComponentError(component, `the connection URL must start with redis://, not ${parsed.protocol}// (TLS is not supported yet)`, false, 'InvalidConnectionUrl');
  }
  // The path may name a db (/0); a snapshot holds every db anyway, so it only has to be well-formed.
  if (!/^\/?(\d+)?$/.test(parsed.pathname)) {
    throw new ComponentError(component, `the connection URL's path must be a database number (/0), not ${parsed.pathname}`, false, 'InvalidConnectionUrl');
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = parsed.port ? Number(parsed.port) : 6379;
  return {
    host,
    port,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    address: `${parsed.hostname || host}:${port}`,
  };
}

/** Network-level failures: the server may be restarting, trying again with backoff is right. */
const TRANSIENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE', 'ENOTFOUND']);
const AUTH_FAILURE = /NOAUTH|WRONGPASS|invalid password|invalid username-password|AUTH failed|without any password configured/i;
const TRANSIENT_MESSAGE = /Connection refused|Connection reset|timed? ?out|Broken pipe|I\/O error|Error reading|closed by the server|LOADING|MASTERDOWN|BUSY|was killed by/i;

/**
 * Replaces the password wherever it appears: messages travel to Temporal's history. (Redis never echoes it;
 * this is a second line of defence. A password of a few characters would only mangle words, so is left.)
 */
function redact(text: string, target: RedisTarget): string {
  return target.password && target.password.length >= 4 ? text.split(target.password).join('***') : text;
}

/** The peer answered, but not in RESP: the URL points at something that is not Redis. */
class NotRedisError extends Error {}

/** Turns a connection, server or redis-cli failure into the ComponentError an operator can act on. */
export function classifyRedisError(component: string, target: RedisTarget, error: unknown): ComponentError {
  if (error instanceof ComponentError) return error;
  const code = (error as { code?: string }).code ?? '';
  const detail = redact(error instanceof ProcessFailedError ? `redis-cli failed: ${error.message}` : ((error as Error).message ?? String(error)), target);
  const where = `Redis at ${target.address}`;
  if (error instanceof ProcessFailedError && /ENOENT/.test(error.stderr) && error.exitCode === null) {
    return new ComponentError(component, `redis-cli is not installed on this worker (Debian: apt-get install redis-tools): ${detail}`, false, 'ToolMissing');
  }
  if (error instanceof NotRedisError) {
    return new ComponentError(component, `${where} does not speak the Redis protocol (${detail}): check the host and port in the connection URL`, false, 'NotRedis');
  }
  if (AUTH_FAILURE.test(detail)) {
    return new ComponentError(component, `authentication failed on ${where}: ${detail}; fix the user or password in the connection URL`, false, 'AuthenticationFailed');
  }
  if (/\bDENIED\b/.test(detail)) {
    return new ComponentError(component, `access denied by ${where}: ${detail}`, false, 'AccessDenied');
  }
  if (/unknown command/i.test(detail)) {
    return new ComponentError(component, `${where} refuses a command a backup needs: ${detail}; the server must allow INFO and SYNC (managed services often rename or disable them)`, false, 'CommandUnavailable');
  }
  if (/NOPERM/.test(detail)) {
    return new ComponentError(component, `permission denied on ${where}: ${detail}; the user needs INFO and SYNC (e.g. ACL +info +sync)`, false, 'PermissionDenied');
  }
  if (TRANSIENT_NETWORK_CODES.has(code) || TRANSIENT_MESSAGE.test(detail)) {
    return new ComponentError(component, `cannot reach ${where}: ${detail}; will retry`, true, 'ConnectionFailed');
  }
  return new ComponentError(component, `${detail} (${where})`, true, 'RedisError');
}

type RespReply = { kind: 'status' | 'error' | 'bulk' | 'integer'; text: string } | { kind: 'null' };

const RESP_REPLY_LIMIT = 4 * 1024 * 1024; // INFO replies are a few KiB; a bigger one is not a Redis server
const INFO_TIMEOUT_MS = 10_000;

/** Parses one RESP2 reply (no arrays: AUTH and INFO return none) from the front of `buffer`. */
function parseReply(buffer: Buffer): { reply: RespReply; rest: Buffer } | undefined {
  const lineEnd = buffer.indexOf('\r\n');
  if (lineEnd < 0) return undefined;
  const line = buffer.subarray(1, lineEnd).toString('utf8');
  const rest = buffer.subarray(lineEnd + 2);
  switch (String.fromCharCode(buffer[0])) {
    case '+':
      return { reply: { kind: 'status', text: line }, rest };
    case '-':
      return { reply: { kind: 'error', text: line }, rest };
    case ':':
      return { reply: { kind: 'integer', text: line }, rest };
    case '$': {
      const length = Number(line);
      if (length < 0) return { reply: { kind: 'null' }, rest };
      if (rest.length < length + 2) return undefined;
      return { reply: { kind: 'bulk', text: rest.subarray(0, length).toString('utf8') }, rest: rest.subarray(length + 2) };
    }
    default:
      throw new NotRedisError(`its reply starts with ${JSON.stringify(buffer.subarray(0, 32).toString('latin1'))}`);
  }
}

/** One connection, one command at a time: enough for AUTH and INFO without a client library. */
class RespSession {
  private buffer: Buffer = Buffer.alloc(0);
  private failure: Error | undefined;
  private waiter: { resolve(reply: RespReply): void; reject(error: Error): void } | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      if (this.buffer.length > RESP_REPLY_LIMIT) this.fail(new Error(`the server sent more than ${RESP_REPLY_LIMIT} bytes for one reply`));
      else this.pump();
    });
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('the connection was closed by the server')));
    socket.setTimeout(INFO_TIMEOUT_MS, () => this.fail(Object.assign(new Error(`no reply within ${INFO_TIMEOUT_MS / 1000} s (timed out)`), { code: 'ETIMEDOUT' })));
  }

  static open(target: RedisTarget): Promise<RespSession> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: target.host, port: target.port });
      const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connecting timed out after ${INFO_TIMEOUT_MS / 1000} s`), { code: 'ETIMEDOUT' })), INFO_TIMEOUT_MS);
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new RespSession(socket));
      });
    });
  }

  /** Sends a command; resolves with its reply (an error reply is a reply, not a rejection). */
  command(...args: string[]): Promise<RespReply> {
    if (this.failure) return Promise.reject(this.failure);
    const encoded = [`*${args.length}\r\n`, ...args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`)].join('');
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.socket.write(encoded);
      this.pump();
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private pump(): void {
    if (!this.waiter) return;
    try {
      const parsed = parseReply(this.buffer);
      if (!parsed) return;
      this.buffer = parsed.rest;
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve(parsed.reply);
    } catch (error) {
      this.fail(error as Error);
    }
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiter?.reject(this.failure);
    this.waiter = undefined;
    this.socket.destroy();
  }
}

interface ServerInfo {
  serverVersion: string;
  keyCounts: Record<string, number>;
}

async function expectText(session: RespSession, ...args: string[]): Promise<string> {
  const reply = await session.command(...args);
  if (reply.kind === 'error') throw new Error(`${args[0]} failed: ${reply.text}`);
  if (reply.kind === 'null') throw new Error(`${args.join(' ')} returned nothing`);
  return reply.text;
}

/** INFO server and INFO keyspace: the version and the keys per db at the start of the dump. */
async function readServerInfo(component: string, target: RedisTarget): Promise<ServerInfo> {
  let session: RespSession | undefined;
  try {
    session = await RespSession.open(target);
    if (target.password !== undefined) {
      await expectText(session, 'AUTH', ...(target.username ? [target.username] : []), target.password);
    }
    const server = await expectText(session, 'INFO', 'server');
    const keyspace = await expectText(session, 'INFO', 'keyspace');
    const serverVersion = /^redis_version:(.+)$/m.exec(server)?.[1]?.trim();
    if (!serverVersion) throw new NotRedisError('INFO server has no redis_version');
    const keyCounts: Record<string, number> = {};
    for (const match of keyspace.matchAll(/^(db\d+):keys=(\d+)/gm)) keyCounts[match[1]] = Number(match[2]);
    return { serverVersion, keyCounts };
  } catch (error) {
    throw classifyRedisError(component, target, error);
  } finally {
    session?.close();
  }
}

/** The password reaches redis-cli through REDISCLI_AUTH, never argv (visible in ps). */
export function redisCliInvocation(target: RedisTarget): { args: string[]; env: NodeJS.ProcessEnv } {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.REDISCLI_AUTH; // an unrelated one from the worker's environment must not be used
  if (target.password !== undefined) env.REDISCLI_AUTH = target.password;
  const args = ['-h', target.host, '-p', String(target.port), '--no-auth-warning'];
  if (target.username) args.push('--user', target.username);
  return { args, env };
}

// ---------------------------------------------------------------------------------------------------------
// The engine.

async function dumpRedis(component: RedisComponent): Promise<ComponentDump> {
  const target = parseRedisUrl(component.name, resolveEnvReference(component.name, component.connection.urlFromEnv, 'connection URL'));
  // Counted just before the fork that takes the snapshot: exact on a quiet server, close on a busy one.
  const info = await readServerInfo(component.name, target);
  const { args, env } = redisCliInvocation(target);
  const cli = spawnWithOutput('redis-cli', [...args, '--rdb', '-'], env);
  // A bad RDB here is a broken transfer (the server writes whole ones), so trying again is right.
  const validator = new RdbValidator(
    (error) => new ComponentError(component.name, `the RDB received from Redis at ${target.address} is not whole: ${error.message}; will retry`, true, 'RdbInvalid'),
  );
  cli.stdout.on('error', (error) => validator.destroy(classifyRedisError(component.name, target, error)));
  cli.stdout.pipe(validator);
  validator.on('error', () => cli.kill());

  const finished = (async (): Promise<{ redis: RedisFacts }> => {
    try {
      const [, summary] = await Promise.all([cli.exited, validator.summary]);
      return {
        redis: { serverVersion: info.serverVersion, rdbVersion: summary.rdbVersion, keyCounts: info.keyCounts, rdbChecksum: summary.checksum },
      };
    } catch (error) {
      cli.kill();
      throw classifyRedisError(component.name, target, error);
    }
  })();
  finished.catch(() => undefined); // until the caller awaits it, failures are reported through the stream
  return {
    stream: validator,
    finished,
    abort: () => {
      cli.kill();
      validator.destroy(new ComponentError(component.name, 'the dump was stopped', true, 'Aborted'));
    },
  };
}

/**
 * Reads a (decompressed) artifact to its end and checks it the way the dump did. It keeps reading after a
 * failure, because the caller checksums the same stream.
 */
async function checkRedisArtifact(component: RedisComponent, artifact: Readable): Promise<void> {
  const check = new RdbStreamCheck();
  let problem: Error | undefined;
  for await (const chunk of artifact) {
    if (problem) continue;
    try {
      check.update(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
    } catch (error) {
      problem = error as Error;
    }
  }
  try {
    if (!problem) check.finish();
  } catch (error) {
    problem = error as Error;
  }
  if (problem) throw new ComponentError(component.name, `the artifact is not a whole RDB: ${problem.message}`, false, 'ArtifactUnreadable');
}

async function fsyncPath(target: string): Promise<void> {
  const handle = await open(target, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Writes an RDB stream as `<dataDir>/<fileName>`, the file a redis-server started with `--dir dataDir
 * --dbfilename fileName` loads. The RDB is checked as it streams, and the file appears (atomically, durably)
 * only when the RDB was whole: a server never loads half a snapshot.
 */
export async function restoreRedisRdb(rdb: Readable, dataDir: string, fileName = 'dump.rdb'): Promise<void> {
  await mkdir(dataDir, { recursive: true });
  const finalPath = path.join(dataDir, fileName);
  const partialPath = path.join(dataDir, `.${fileName}.partial`);
  try {
    await pipeline(rdb, new RdbValidator(), createWriteStream(partialPath, { mode: 0o600 }));
    await fsyncPath(partialPath);
    await rename(partialPath, finalPath);
    await fsyncPath(dataDir);
  } catch (error) {
    await unlink(partialPath).catch(() => undefined);
    throw error;
  }
}

export const redisEngine: Engine<RedisComponent> = {
  type: 'redis',
  format: 'redis-rdb',
  extension: 'rdb',
  // RDB compresses only long strings (LZF); zstd at its default level shrinks the rest cheaply.
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: dumpRedis,
  checkArtifact: checkRedisArtifact,
};
