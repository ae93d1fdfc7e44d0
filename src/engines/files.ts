/**
 * File trees (`type: files`): a directory as a GNU tar stream (pax format), for ledgers, snapshot
 * directories and audit logs.
 *
 * How a dump flows, in constant memory and without temp files:
 *   walk (sorted, excludes applied) --NUL-separated names--> `tar --create --no-recursion` --> TarObserver --> activity
 *        \--> index.jsonl.gz sidecar (one line per entry)          (audit-log lines validated as they pass)
 *
 * GNU tar reads the files (it knows hard links, long names, big files, sub-second mtimes and permissions);
 * Lifeboat decides which entries go in, and reads tar's output as it passes to count files and to feed
 * audit logs through the line validator: the lines checked are exactly the bytes stored.
 *
 * Entries: regular files, directories and symbolic links. Symlinks are stored as links (never followed),
 * so a link out of the tree backs up the link, not its target. Sockets, FIFOs and device nodes are left out.
 *
 * Incremental backups are differential: each incremental compares the tree with the index of the newest
 * full and holds every entry that is new or changed since that full (type, size, mtime, ctime or mode
 * differ); `deleted` lists the full's paths that are gone (or changed type). Restoring needs the full plus
 * one incremental (never a chain): extract the full, delete `deleted`, extract the incremental.
 */
import { spawn } from 'node:child_process';
import { createHash, type Hash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { access, constants, lstat, mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback, type Writable } from 'node:stream';
import { finished as streamFinished, pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip, createGzip, type Gunzip } from 'node:zlib';
import type { ArtifactRef, CompressionRecord, ComponentBackup, FilesFacts, Manifest } from '../catalog/manifest';
import type { FilesComponent } from '../plan/schema';
import type { BackupStore } from '../stores/types';
import { ObjectNotFoundError } from '../stores/types';
import { ProcessFailedError, spawnWithInput } from './childProcess';
import { decompressor } from './compression';
import { ComponentError } from './errors';
import type { ComponentDump, DumpContext, Engine, EngineFacts } from './types';

export const INDEX_SIDECAR_SUFFIX = 'index.jsonl.gz';
/** The manifest keeps the first invalid lines only, so a broken log cannot bloat it. */
export const MAX_RECORDED_INVALID_LINES = 1000;
/** A "line" longer than this (a binary file named *.log) is reported, not buffered. */
export const MAX_AUDIT_LINE_BYTES = 1024 * 1024;

// ---------------------------------------------------------------------------------------------------------
// Globs

/** Whether a path (relative to the component's root, '/'-separated) matches; directories may match differently. */
export type PathMatcher = (relativePath: string, isDirectory: boolean) => boolean;

const REGEXP_SPECIAL = /[\\^$.*+?()[\]{}|/-]/g;

function escapeRegExp(text: string): string {
  return text.replace(REGEXP_SPECIAL, '\\$&');
}

/** One path segment of a glob (no '/') as a regular expression: `*`, `?`, `[a-z]`, `[!x]`, `{a,b}`, `\x`. */
function segmentPattern(segment: string): string {
  let out = '';
  for (let i = 0; i < segment.length; i++) {
    const char = segment[i];
    if (char === '\\' && i + 1 < segment.length) {
      out += escapeRegExp(segment[++i]);
    } else if (char === '*') {
      while (segment[i + 1] === '*') i++;
      out += '[^/]*';
    } else if (char === '?') {
      out += '[^/]';
    } else if (char === '[') {
      // A ']' right after '[' or '[!' is a member, not the end.
      let end = i + 1;
      if (segment[end] === '!' || segment[end] === '^') end++;
      if (segment[end] === ']') end++;
      end = segment.indexOf(']', end);
      if (end === -1) {
        out += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, end);
      const negated = body.startsWith('!') || body.startsWith('^');
      if (negated) body = body.slice(1);
      out += `[${negated ? '^/' : ''}${body.replace(/[\\\]^[]/g, '\\$&')}]`;
      i = end;
    } else if (char === '{') {
      const end = segment.indexOf('}', i);
      if (end === -1) {
        out += '\\{';
        continue;
      }
      out += `(?:${segment.slice(i + 1, end).split(',').map(segmentPattern).join('|')})`;
      i = end;
    } else {
      out += escapeRegExp(char);
    }
  }
  return out;
}

/**
 * A glob as a regular expression over relative paths, with gitignore's conventions (what operators already
 * write): a pattern without '/' matches a name at any depth (`*.tmp`, `cache`); one with '/' is anchored at
 * the root (`cache/**`, `logs/*.gz`); `**` spans any number of segments, and `dir/**` also matches `dir`
 * itself; a trailing '/' matches directories only. `*` also matches names that begin with a dot.
 */
export function compileGlob(glob: string): { regexp: RegExp; directoriesOnly: boolean } {
  let pattern = glob;
  const directoriesOnly = pattern.endsWith('/');
  pattern = pattern.replace(/\/+$/, '').replace(/^(\.\/)+/, '');
  const anchored = pattern.includes('/') || pattern === '**';
  pattern = pattern.replace(/^\/+/, '');
  const segments = anchored ? pattern.split('/') : ['**', pattern];
  let source = '';
  segments.forEach((segment, index) => {
    const last = index === segments.length - 1;
    if (segment === '**') {
      if (!last) source += '(?:[^/]+/)*';
      else source = index === 0 ? '.*' : `${source.replace(/\/$/, '')}(?:/.*)?`;
    } else {
      source += segmentPattern(segment) + (last ? '' : '/');
    }
  });
  return { regexp: new RegExp(`^${source}$`), directoriesOnly };
}

/** True when any of the globs matches (see compileGlob for the rules). */
export function pathMatcher(globs: readonly string[]): PathMatcher {
  const compiled = globs.map(compileGlob);
  return (relativePath, isDirectory) => compiled.some(({ regexp, directoriesOnly }) => (isDirectory || !directoriesOnly) && regexp.test(relativePath));
}

/**
 * The tree's order: depth first, names sorted by UTF-16 code unit, a directory before its contents. As one
 * comparison: lexicographic, with '/' below every other character (so "a/x" < "a.txt", "a" < "a/x").
 * The walk and every index follow it, which lets an incremental merge the tree with the base index.
 */
export function comparePaths(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (x === 47 ? -1 : x) - (y === 47 ? -1 : y);
  }
  return a.length - b.length;
}

// ---------------------------------------------------------------------------------------------------------
// Audit-log lines

export interface InvalidLine {
  file: string;
  line: number;
  reason: string;
}

export type AuditLogFacts = NonNullable<FilesFacts['auditLog']>;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Why one line (without its '\n') is not a JSON object with every required field; undefined when it is fine. */
export function auditLineProblem(line: Buffer, requiredFields: readonly string[]): string | undefined {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return 'not valid UTF-8';
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    // The parser's message quotes the line; the manifest must not copy audit content, so only the kind is kept.
    return /end of JSON input|Unterminated/i.test((error as Error).message) ? 'not valid JSON (the line ends early: truncated?)' : 'not valid JSON';
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return `not a JSON object (${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`})`;
  }
  const missing = requiredFields.filter((field) => !Object.hasOwn(value, field));
  if (missing.length === 0) return undefined;
  return `missing required field${missing.length > 1 ? 's' : ''} ${missing.map((field) => JSON.stringify(field)).join(', ')}`;
}

/** What the audit-log preset found in one backup: counts, and the first invalid lines by file and line number. */
export class AuditLogReport {
  filesChecked = 0;
  linesChecked = 0;
  invalidLineCount = 0;
  readonly invalidLines: InvalidLine[] = [];

  constructor(readonly requiredFields: readonly string[]) {}

  /** A validator for one file's (decompressed) content. */
  file(name: string): AuditLineValidator {
    this.filesChecked++;
    return new AuditLineValidator(name, this);
  }

  recordInvalid(file: string, line: number, reason: string): void {
    this.invalidLineCount++;
    if (this.invalidLines.length < MAX_RECORDED_INVALID_LINES) this.invalidLines.push({ file, line, reason });
  }

  facts(): AuditLogFacts {
    return { filesChecked: this.filesChecked, linesChecked: this.linesChecked, invalidLineCount: this.invalidLineCount, invalidLines: [...this.invalidLines] };
  }
}

/**
 * Splits one file's bytes into lines as they stream (chunks may cut lines anywhere) and checks each
 * non-blank line. Line numbers are 1-based and count blank lines. Memory: at most one line, capped.
 */
export class AuditLineValidator {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private overlong = false;
  /** Lines completed so far. */
  lineNumber = 0;

  constructor(
    readonly file: string,
    private readonly report: AuditLogReport,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline !== -1; newline = chunk.indexOf(10, start)) {
      const part = chunk.subarray(start, newline);
      if (this.pendingBytes === 0 && !this.overlong && part.length <= MAX_AUDIT_LINE_BYTES) this.endLine(part);
      else {
        this.append(part);
        this.endLine(Buffer.concat(this.pending));
      }
      start = newline + 1;
    }
    if (start < chunk.length) this.append(Buffer.from(chunk.subarray(start))); // a copy: the chunk is not retained
  }

  /** The last line may lack its '\n'. */
  finish(): void {
    if (this.pendingBytes > 0 || this.overlong) this.endLine(Buffer.concat(this.pending));
  }

  /** A problem that is not one line's (a corrupt .gz), reported at the line where reading stopped. */
  recordStop(reason: string): void {
    this.report.recordInvalid(this.file, this.lineNumber + 1, reason);
  }

  private append(part: Buffer): void {
    if (this.overlong || part.length === 0) return;
    if (this.pendingBytes + part.length > MAX_AUDIT_LINE_BYTES) {
      this.overlong = true;
      this.pending = [];
      this.pendingBytes = 0;
      return;
    }
    this.pending.push(part);
    this.pendingBytes += part.length;
  }

  private endLine(line: Buffer): void {
    this.lineNumber++;
    const overlong = this.overlong;
    this.pending = [];
    this.pendingBytes = 0;
    this.overlong = false;
    if (overlong) {
      this.report.linesChecked++;
      this.report.recordInvalid(this.file, this.lineNumber, `line longer than ${MAX_AUDIT_LINE_BYTES} bytes`);
      return;
    }
    if (isBlank(line)) return;
    this.report.linesChecked++;
    const problem = auditLineProblem(line, this.report.requiredFields);
    if (problem) this.report.recordInvalid(this.file, this.lineNumber, problem);
  }
}

function isBlank(line: Buffer): boolean {
  for (const byte of line) if (byte !== 32 && byte !== 9 && byte !== 13) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// Reading tar as it streams by

/** One member of a tar stream, as its headers (pax or GNU long names included) describe it. */
export interface TarMember {
  path: string;
  /** The typeflag: '0' regular file, '1' hard link, '2' symlink, '5' directory... */
  type: string;
  size: number;
}

/** Receives a member's content as it passes; end() may take time (e.g. a gunzip draining). */
export interface TarMemberSink {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

const BLOCK = 512;
const MAX_META_BYTES = 1024 * 1024;

function field(block: Buffer, start: number, length: number): string {
  const bytes = block.subarray(start, start + length);
  const nul = bytes.indexOf(0);
  return bytes.subarray(0, nul === -1 ? length : nul).toString('utf8');
}

function numericField(block: Buffer, start: number, length: number): number {
  if (block[start] & 0x80) {
    // GNU base-256 for values that do not fit in octal (files of 8 GiB and more).
    let value = block[start] & 0x7f;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + block[i];
    return value;
  }
  const text = field(block, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function isZeroBlock(block: Buffer): boolean {
  for (const byte of block) if (byte !== 0) return false;
  return true;
}

/** Parses pax extended header records ("<length> <key>=<value>\n"). */
function parsePaxRecords(data: Buffer): Map<string, string> {
  const records = new Map<string, string>();
  let position = 0;
  while (position < data.length) {
    const space = data.indexOf(32, position);
    if (space === -1) break;
    const length = parseInt(data.subarray(position, space).toString('ascii'), 10);
    if (!Number.isInteger(length) || length <= 0 || position + length > data.length) throw new TarFormatError('malformed pax extended header');
    const record = data.subarray(space + 1, position + length - 1).toString('utf8');
    const equals = record.indexOf('=');
    if (equals > 0) records.set(record.slice(0, equals), record.slice(equals + 1));
    position += length;
  }
  return records;
}

/**
 * A pass-through that parses the tar stream flowing through it (ustar, pax and GNU long-name headers, with
 * header checksums) and hands each member's content to a sink chosen per member. The stream's end waits for
 * `beforeEnd` (the dump's verdict), so the stream ends only once the dump has succeeded.
 */
export class TarObserver extends Transform {
  private state: 'header' | 'content' | 'meta' | 'padding' | 'end' = 'header';
  private readonly header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  private remaining = 0;
  private padding = 0;
  private meta: Buffer[] = [];
  private metaType = '';
  private overrides: { path?: string; size?: number } = {};
  private zeroBlocks = 0;
  private sink: TarMemberSink | undefined;
  /** Resolves once the whole stream was parsed and every sink has ended; rejects on any failure. */
  readonly completed: Promise<void>;
  private complete!: () => void;
  private fail!: (error: Error) => void;

  constructor(
    private readonly hooks: {
      onMember(member: TarMember): TarMemberSink | undefined;
      beforeEnd?: () => Promise<void>;
    },
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.completed = new Promise<void>((resolve, reject) => {
      this.complete = resolve;
      this.fail = reject;
    });
    this.completed.catch(() => undefined);
    this.once('error', (error) => this.fail(error));
    this.once('close', () => this.fail(new Error('the tar stream was closed before its end')));
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.push(chunk);
    let pending: Promise<void> | undefined;
    try {
      pending = this.consume(chunk);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (pending) pending.then(() => callback(), callback);
    else callback();
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      await this.hooks.beforeEnd?.();
      if (this.state !== 'end' && !(this.state === 'header' && this.headerFill === 0 && this.zeroBlocks === 0 && this.sink === undefined)) {
        throw new TarFormatError('the tar stream ends in the middle of a member (truncated)');
      }
    })().then(
      () => {
        this.complete();
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  /** Parses a chunk; returns a promise only when a sink asked to wait (back-pressure from a gunzip). */
  private consume(chunk: Buffer): Promise<void> | undefined {
    let offset = 0;
    while (offset < chunk.length) {
      switch (this.state) {
        case 'end':
          return undefined; // trailing zero padding of the last record
        case 'header': {
          const take = Math.min(BLOCK - this.headerFill, chunk.length - offset);
          chunk.copy(this.header, this.headerFill, offset, offset + take);
          this.headerFill += take;
          offset += take;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            const waiting = this.onHeader();
            if (waiting) return waiting.then(() => this.consume(chunk.subarray(offset)));
          }
          break;
        }
        case 'content': {
          const take = Math.min(this.remaining, chunk.length - offset);
          const part = chunk.subarray(offset, offset + take);
          offset += take;
          this.remaining -= take;
          const written = this.sink?.write(part);
          const ended = this.remaining === 0 ? this.endMember() : undefined;
          if (written || ended) {
            return (async () => {
              await written;
              await ended;
              await this.consume(chunk.subarray(offset));
            })();
          }
          break;
        }
        case 'meta': {
          const take = Math.min(this.remaining, chunk.length - offset);
          this.meta.push(Buffer.from(chunk.subarray(offset, offset + take)));
          offset += take;
          this.remaining -= take;
          if (this.remaining === 0) {
            this.onMeta(Buffer.concat(this.meta));
            this.meta = [];
            this.state = this.padding > 0 ? 'padding' : 'header';
          }
          break;
        }
        case 'padding': {
          const take = Math.min(this.padding, chunk.length - offset);
          offset += take;
          this.padding -= take;
          if (this.padding === 0) this.state = 'header';
          break;
        }
      }
    }
    return undefined;
  }

  private onHeader(): Promise<void> | undefined {
    const block = this.header;
    if (isZeroBlock(block)) {
      // Two zero blocks end the archive.
      if (++this.zeroBlocks === 2) this.state = 'end';
      return undefined;
    }
    if (this.zeroBlocks > 0) throw new TarFormatError('a zero block in the middle of the archive');
    const recorded = numericField(block, 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
    if (sum !== recorded) throw new TarFormatError('not a tar archive (header checksum mismatch)');
    const type = String.fromCharCode(block[156] || 48); // NUL is an old spelling of '0'
    const size = this.overrides.size ?? numericField(block, 124, 12);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;
    if ('xgLK'.includes(type)) {
      if (size > MAX_META_BYTES) throw new TarFormatError(`extended header of ${size} bytes`);
      this.metaType = type;
      this.remaining = size;
      this.padding = padding;
      this.state = size > 0 ? 'meta' : 'header';
      return undefined;
    }
    let name = field(block, 0, 100);
    const magic = block.subarray(257, 263).toString('latin1');
    const prefix = magic === 'ustar\0' ? field(block, 345, 155) : '';
    if (prefix) name = `${prefix}/${name}`;
    const member: TarMember = { path: (this.overrides.path ?? name).replace(/\/+$/, ''), type, size };
    this.overrides = {};
    this.sink = this.hooks.onMember(member);
    this.remaining = size;
    this.padding = padding;
    if (size > 0) {
      this.state = 'content';
      return undefined;
    }
    this.state = 'header';
    return this.endMember();
  }

  private onMeta(data: Buffer): void {
    if (this.metaType === 'x') {
      const records = parsePaxRecords(data);
      const pathRecord = records.get('path');
      const sizeRecord = records.get('size');
      if (pathRecord !== undefined) this.overrides.path = pathRecord;
      if (sizeRecord !== undefined) this.overrides.size = Number(sizeRecord);
    } else if (this.metaType === 'L') {
      this.overrides.path = field(data, 0, data.length);
    } // 'g' (global) and 'K' (long link target) do not change which member comes next
  }

  private endMember(): Promise<void> | undefined {
    const sink = this.sink;
    this.sink = undefined;
    this.state = this.remaining > 0 ? 'content' : this.padding > 0 ? 'padding' : 'header';
    const ended = sink?.end();
    return ended instanceof Promise ? ended : undefined;
  }
}

/** Feeds one audit file (through gunzip for .gz) into its line validator. */
export class AuditFileSink implements TarMemberSink {
  private readonly gunzip: Gunzip | undefined;
  private gzipError: Error | undefined;

  constructor(
    private readonly validator: AuditLineValidator,
    gzip: boolean,
  ) {
    this.gunzip = gzip ? createGunzip() : undefined;
    this.gunzip?.on('data', (chunk: Buffer) => this.validator.push(chunk));
    this.gunzip?.on('error', (error) => (this.gzipError ??= error));
  }

  write(chunk: Buffer): void | Promise<void> {
    if (!this.gunzip) return this.validator.push(chunk);
    if (this.gzipError || this.gunzip.destroyed) return undefined;
    if (!this.gunzip.write(chunk)) return drained(this.gunzip);
    return undefined;
  }

  async end(): Promise<void> {
    if (this.gunzip) {
      if (!this.gzipError && !this.gunzip.destroyed) this.gunzip.end();
      await streamFinished(this.gunzip).catch(() => undefined);
    }
    this.validator.finish();
    if (this.gzipError) this.validator.recordStop(`cannot decompress (${this.gzipError.message}); the rest of the file was not checked`);
  }
}

/** Resolves once a writable can take more, or is gone (its error is reported elsewhere). */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Tar's diagnostics

/** What GNU tar said on stderr, sorted into what decides the outcome. Bounded: a chatty tar costs no memory. */
export class TarDiagnostics {
  permissionDenied: string | undefined;
  vanished: string | undefined;
  shrank: string | undefined;
  /** Files that changed while tar read them: a warning, not a failure. */
  changedCount = 0;
  readonly other: string[] = [];
  private partial = '';

  append(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > 8192) this.partial = this.partial.slice(0, 8192);
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** A failure that makes the rest of the archive pointless: stop tar at once. */
  get fatal(): boolean {
    return this.permissionDenied !== undefined || this.vanished !== undefined || this.shrank !== undefined;
  }

  private line(raw: string): void {
    const message = raw.replace(/^tar: /, '').trim();
    if (message === '' || /^Exiting with failure status due to previous errors$/.test(message)) return;
    let match: RegExpExecArray | null;
    if (/: file changed as we read it$/.test(message)) {
      this.changedCount++;
    } else if ((match = /^(.*): Cannot \w+: Permission denied$/.exec(message))) {
      this.permissionDenied ??= match[1];
    } else if ((match = /^(.*): Cannot \w+: No such file or directory$/.exec(message)) || (match = /^(.*): File removed before we read it$/.exec(message))) {
      this.vanished ??= match[1];
    } else if ((match = /^(.*): File shrank by \d+ bytes?; padding with zeros$/.exec(message))) {
      this.shrank ??= match[1];
    } else if (this.other.length < 20) {
      this.other.push(message);
    }
  }
}

export interface TarExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process could not be started (tar missing). */
  spawnError?: NodeJS.ErrnoException;
}

/**
 * Turns tar's exit into the dump's verdict: undefined for success. GNU tar exits 1 when a file changed while
 * it was read; that alone is a success (a live file such as the current audit.log is captured as it was read,
 * which is the best a copy of a live file can be); any other message fails the dump.
 */
export function classifyTarExit(component: string, root: string, exit: TarExit, diagnostics: TarDiagnostics): ComponentError | undefined {
  if (exit.spawnError) {
    return exit.spawnError.code === 'ENOENT'
      ? new ComponentError(component, `cannot start tar in ${root}: GNU tar is not on the worker's PATH (apt-get install tar), or ${root} just vanished`, false, 'TarMissing')
      : new ComponentError(component, `cannot start tar in ${root}: ${exit.spawnError.message}`, true, 'TarFailed');
  }
  if (diagnostics.permissionDenied !== undefined) {
    return new ComponentError(
      component,
      `permission denied reading "${diagnostics.permissionDenied}" in ${root}: give the worker's user read access to it, or exclude it`,
      false,
      'PermissionDenied',
    );
  }
  if (diagnostics.vanished !== undefined) {
    return new ComponentError(component, `"${diagnostics.vanished}" in ${root} disappeared while the tree was being archived; will retry`, true, 'FileVanished');
  }
  if (diagnostics.shrank !== undefined) {
    return new ComponentError(component, `"${diagnostics.shrank}" in ${root} shrank while it was being read (truncated by a log rotation?); will retry`, true, 'FileShrank');
  }
  if (exit.signal) return new ComponentError(component, `tar was killed by ${exit.signal}; will retry`, true, 'TarFailed');
  if (exit.code === 0) return undefined;
  if (exit.code === 1 && diagnostics.other.length === 0 && diagnostics.changedCount > 0) return undefined;
  const said = diagnostics.other.join('; ') || 'no message';
  return new ComponentError(component, `tar exited with code ${exit.code} archiving ${root}: ${said}`, true, 'TarFailed');
}

// ---------------------------------------------------------------------------------------------------------
// The tree and its index

/** One line of the index sidecar. Sizes of directories are recorded as 0 (their on-disk size means nothing). */
export interface IndexEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
}

function entryType(stats: Stats): IndexEntry['type'] | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return undefined; // sockets, FIFOs, devices: not restorable as data
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function walkError(component: string, root: string, relative: string, error: unknown): ComponentError {
  const where = relative ? `"${relative}" in ${root}` : root;
  const code = errnoCode(error);
  if (code === 'EACCES' || code === 'EPERM') {
    return new ComponentError(component, `permission denied reading ${where}: give the worker's user access to it, or exclude it`, false, 'PermissionDenied');
  }
  return new ComponentError(component, `cannot read ${where}: ${(error as Error).message}`, true, 'TreeUnreadable');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Depth-first, names sorted, a directory before its contents (comparePaths order). Excluded directories are
 * not entered. Memory: the names of the directories on the current path.
 */
async function* walkTree(component: string, root: string, excluded: PathMatcher, relativeDir = ''): AsyncGenerator<IndexEntry> {
  let rawNames: Buffer[];
  try {
    rawNames = await readdir(path.join(root, relativeDir), { encoding: 'buffer' });
  } catch (error) {
    if (relativeDir && errnoCode(error) === 'ENOENT') return; // removed during the walk: it is gone
    throw walkError(component, root, relativeDir, error);
  }
  const names = rawNames.map((raw) => {
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new ComponentError(component, `a file name in ${path.join(root, relativeDir)} is not valid UTF-8 (${raw.toString('latin1')}); rename it or exclude its directory`, false, 'UnsupportedFileName');
    }
  });
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const relative = relativeDir ? `${relativeDir}/${name}` : name;
    let stats: Stats;
    try {
      stats = await lstat(path.join(root, relative));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') continue;
      throw walkError(component, root, relative, error);
    }
    const type = entryType(stats);
    if (!type || excluded(relative, type === 'dir')) continue;
    yield { path: relative, type, size: type === 'dir' ? 0 : stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, mode: stats.mode & 0o7777 };
    if (type === 'dir') yield* walkTree(component, root, excluded, relative);
  }
}

/** The index is unusable as a base (missing, corrupt, out of order): the dump takes a full instead. */
class UnusableIndexError extends Error {}

function parseIndexLine(line: string): IndexEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UnusableIndexError('an index line is not JSON');
  }
  const entry = value as Partial<IndexEntry> | null;
  if (
    !entry ||
    typeof entry.path !== 'string' ||
    (entry.type !== 'file' && entry.type !== 'dir' && entry.type !== 'symlink') ||
    typeof entry.size !== 'number' ||
    typeof entry.mtimeMs !== 'number' ||
    typeof entry.ctimeMs !== 'number' ||
    typeof entry.mode !== 'number'
  ) {
    throw new UnusableIndexError('an index line lacks a field');
  }
  return entry as IndexEntry;
}

async function* lines(stream: Readable): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of stream) {
    const parts = (rest + decoder.write(chunk as Buffer)).split('\n');
    rest = parts.pop() ?? '';
    yield* parts;
  }
  rest += decoder.end();
  if (rest) yield rest;
}

/**
 * Streams a stored index's entries, checking their order (the merge relies on it); with a hash, also feeds
 * it the stored (compressed) bytes.
 */
async function* readIndex(store: BackupStore, ref: ArtifactRef, hash?: Hash): AsyncGenerator<IndexEntry> {
  const source = await store.get(ref.key);
  const gunzip = createGunzip();
  const hashed = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash?.update(chunk);
      callback(null, chunk);
    },
  });
  const piped = pipeline(source, hashed, gunzip);
  piped.catch(() => undefined); // reported through gunzip's iteration below
  let previous: string | undefined;
  try {
    for await (const line of lines(gunzip)) {
      if (line === '') continue;
      const entry = parseIndexLine(line);
      if (previous !== undefined && comparePaths(previous, entry.path) >= 0) throw new UnusableIndexError('the index is not in tree order');
      previous = entry.path;
      yield entry;
    }
    await piped;
  } catch (error) {
    if (errnoCode(error)?.startsWith('Z_')) throw new UnusableIndexError(`the index is not valid gzip: ${(error as Error).message}`);
    throw error;
  } finally {
    if (!gunzip.destroyed) gunzip.destroy();
  }
}

/** Reads the whole index once to check it against its recorded sha256: a corrupt base must not shape an incremental. */
async function indexIsIntact(store: BackupStore, ref: ArtifactRef): Promise<boolean> {
  const hash = createHash('sha256');
  try {
    for await (const _entry of readIndex(store, ref, hash)) {
      // only checking
    }
  } catch (error) {
    if (error instanceof UnusableIndexError || error instanceof ObjectNotFoundError) return false;
    throw error; // the store is unreachable: retry rather than silently take a full
  }
  return hash.digest('hex') === ref.sha256;
}

/** The full an incremental is taken against. */
interface Base {
  setId: string;
  index: ArtifactRef;
}

/**
 * The newest full of this component, unless `fullEvery` incrementals were taken since it (or there is none,
 * or its index is unusable): then undefined, and the dump is a full.
 */
export function chooseBase(component: Pick<FilesComponent, 'name' | 'fullEvery'>, sets: readonly Manifest[]): Base | undefined {
  const backups = sets
    .map((set) => ({ setId: set.setId, backup: set.components.find((candidate) => candidate.name === component.name && candidate.type === 'files') }))
    .filter((entry): entry is { setId: string; backup: ComponentBackup & { files: FilesFacts } } => entry.backup?.files !== undefined)
    .sort((a, b) => (a.setId < b.setId ? -1 : a.setId > b.setId ? 1 : 0));
  let fullAt = -1;
  for (let i = backups.length - 1; i >= 0 && fullAt === -1; i--) if (backups[i].backup.files.mode === 'full') fullAt = i;
  if (fullAt === -1) return undefined;
  const full = backups[fullAt];
  const since = backups.slice(fullAt + 1).filter(({ backup }) => backup.files.mode === 'incremental' && backup.dependsOn === full.setId).length;
  if (since >= component.fullEvery) return undefined;
  return { setId: full.setId, index: full.backup.files.index };
}

function entryChanged(before: IndexEntry, now: IndexEntry): boolean {
  return before.type !== now.type || before.size !== now.size || before.mtimeMs !== now.mtimeMs || before.ctimeMs !== now.ctimeMs || before.mode !== now.mode;
}

/**
 * Merges the walk with the base's index, both in comparePaths order: constant memory however large the tree.
 * Collects the base's paths that are gone; a gone directory stands for everything under it.
 */
class BaseComparison {
  readonly deleted: string[] = [];
  private deletedDir: string | undefined;
  private current: IndexEntry | undefined;
  private readonly entries: AsyncGenerator<IndexEntry>;

  private constructor(store: BackupStore, ref: ArtifactRef) {
    this.entries = readIndex(store, ref);
  }

  static async open(store: BackupStore, ref: ArtifactRef): Promise<BaseComparison> {
    const comparison = new BaseComparison(store, ref);
    await comparison.advance();
    return comparison;
  }

  /** Whether the entry belongs in the incremental: new, or changed since the base. */
  async changed(entry: IndexEntry): Promise<boolean> {
    while (this.current && comparePaths(this.current.path, entry.path) < 0) {
      this.gone(this.current);
      await this.advance();
    }
    if (!this.current || this.current.path !== entry.path) return true;
    const before = this.current;
    await this.advance();
    // A path that changed type is deleted first on restore (tar cannot put a file where a directory is).
    if (before.type !== entry.type) this.gone(before);
    return entryChanged(before, entry);
  }

  async finish(): Promise<void> {
    while (this.current) {
      this.gone(this.current);
      await this.advance();
    }
  }

  close(): void {
    void this.entries.return(undefined).catch(() => undefined);
  }

  private async advance(): Promise<void> {
    const next = await this.entries.next();
    this.current = next.done ? undefined : next.value;
  }

  private gone(entry: IndexEntry): void {
    if (this.deletedDir !== undefined && entry.path.startsWith(`${this.deletedDir}/`)) return;
    this.deleted.push(entry.path);
    this.deletedDir = entry.type === 'dir' ? entry.path : undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Dump

const TAR_CREATE_ARGS = [
  '--create',
  '--file=-',
  // pax: any name length, any size, sub-second mtimes; atime/ctime left out (they change on every read).
  '--format=posix',
  '--pax-option=delete=atime,delete=ctime',
  // Lifeboat chooses every entry (excludes, incrementals); names arrive NUL-separated and are taken literally.
  '--no-recursion',
  '--null',
  '--verbatim-files-from',
  '--no-unquote',
  '--files-from=-',
];

async function checkRoot(component: FilesComponent, root: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await stat(root);
    // tar runs inside the root and the walk lists it: both need read and search permission.
    if (stats.isDirectory()) await access(root, constants.R_OK | constants.X_OK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') {
      throw new ComponentError(component.name, `path ${root} does not exist on the worker: create or mount it, or fix the plan's path`, false, 'PathMissing');
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ComponentError(component.name, `permission denied reaching ${root}: give the worker's user access to it`, false, 'PermissionDenied');
    }
    throw new ComponentError(component.name, `cannot read ${root}: ${(error as Error).message}`, true, 'TreeUnreadable');
  }
  if (!stats.isDirectory()) throw new ComponentError(component.name, `path ${root} is not a directory`, false, 'NotADirectory');
}

/** Writes, waiting while the reader is behind; false when the stream is gone (its owner reports why). */
async function writeOrWait(stream: Writable, data: string): Promise<boolean> {
  if (stream.destroyed || stream.writableEnded) return false;
  if (!stream.write(data)) await drained(stream);
  return !stream.destroyed;
}

function toComponentError(component: string, error: unknown): ComponentError {
  if (error instanceof ComponentError) return error;
  if (error instanceof TarFormatError) return new ComponentError(component, `tar produced an unreadable stream: ${error.message}`, true, 'TarFailed');
  return new ComponentError(component, (error as Error).message ?? String(error), true, 'FilesError');
}

async function dumpFiles(component: FilesComponent, context: DumpContext): Promise<ComponentDump> {
  // Relative paths are the worker's, like a local store's.
  const root = path.resolve(component.path);
  await checkRoot(component, root);

  let base: Base | undefined;
  let comparison: BaseComparison | undefined;
  if (component.incremental) {
    base = chooseBase(component, await context.completeSets());
    if (base && !(await indexIsIntact(context.store, base.index))) base = undefined; // a full is always correct
    if (base) comparison = await BaseComparison.open(context.store, base.index);
  }
  const excluded = pathMatcher(component.exclude);
  const isAuditFile = component.auditLog ? pathMatcher(component.auditLog.files) : undefined;
  const audit = component.auditLog ? new AuditLogReport(component.auditLog.requiredFields) : undefined;

  // The first failure is the one reported; everything it breaks afterwards (a killed tar, a destroyed
  // stream) is a consequence.
  let failure: ComponentError | undefined;
  const fail = (error: unknown): ComponentError => {
    if (!failure) {
      failure = toComponentError(component.name, error);
      tar.kill('SIGKILL');
      comparison?.close();
      if (!index.destroyed) index.destroy(failure);
      if (!observer.destroyed) observer.destroy(failure);
    }
    return failure;
  };

  const tar = spawn('tar', TAR_CREATE_ARGS, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const diagnostics = new TarDiagnostics();
  tar.stderr.setEncoding('utf8');
  tar.stderr.on('data', (text: string) => {
    diagnostics.append(text);
    if (diagnostics.fatal) tar.kill('SIGKILL'); // the dump has failed: stop reading the rest of the tree
  });
  tar.stdin.on('error', () => undefined); // a tar that died is reported through its exit
  const verdict = new Promise<TarExit>((resolve) => {
    tar.once('error', (error) => resolve({ code: null, signal: null, spawnError: error }));
    tar.once('close', (code, signal) => resolve({ code, signal }));
  }).then((exit) => {
    diagnostics.end();
    const error = classifyTarExit(component.name, root, exit, diagnostics);
    if (error) throw error;
  });

  let fileCount = 0;
  let sourceBytes = 0;
  const observer = new TarObserver({
    onMember: (member) => {
      if (member.type !== '5') fileCount++;
      if (member.type === '0' || member.type === '7') {
        sourceBytes += member.size;
        if (audit && isAuditFile?.(member.path, false)) return new AuditFileSink(audit.file(member.path), member.path.endsWith('.gz'));
      }
      return undefined;
    },
    // The stream ends only once tar has exited successfully.
    beforeEnd: () => verdict,
  });
  tar.stdout.pipe(observer);

  const index = createGzip();
  const indexStored = context.putSidecar(INDEX_SIDECAR_SUFFIX, index);

  const walked = (async () => {
    for await (const entry of walkTree(component.name, root, excluded)) {
      if (failure) return;
      if (!(await writeOrWait(index, `${JSON.stringify(entry)}\n`))) {
        await indexStored; // rejects with the store's reason
        throw new ComponentError(component.name, 'the file index stream closed early', true, 'IndexFailed');
      }
      if (comparison && !(await comparison.changed(entry))) continue;
      if (!(await writeOrWait(tar.stdin, `${entry.path}\0`))) {
        await verdict; // rejects with tar's reason
        throw new ComponentError(component.name, 'tar stopped reading the file list', true, 'TarFailed');
      }
    }
    await comparison?.finish();
    index.end();
    tar.stdin.end();
  })();
  for (const step of [walked, verdict, indexStored, observer.completed]) step.catch(fail);

  const finished = (async (): Promise<EngineFacts> => {
    try {
      const [, , indexRef] = await Promise.all([walked, verdict, indexStored, observer.completed]);
      if (failure) throw failure;
      const files: FilesFacts = {
        mode: base ? 'incremental' : 'full',
        fileCount,
        sourceBytes,
        deleted: comparison?.deleted ?? [],
        index: indexRef,
        ...(audit ? { auditLog: audit.facts() } : {}),
      };
      return base ? { files, dependsOn: base.setId } : { files };
    } catch (error) {
      throw fail(error);
    }
  })();
  finished.catch(() => undefined); // until the caller awaits it, a failure is reported through the stream

  return {
    stream: observer,
    finished,
    abort: () => void fail(new ComponentError(component.name, 'the dump was aborted', true, 'Aborted')),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Check and restore

function processDetail(error: unknown): string {
  return error instanceof ProcessFailedError ? error.stderr || error.message : (error as Error).message;
}

/**
 * Reads an artifact with `tar --list`: it fails on a header checksum, a truncated member or anything that is
 * not tar. The artifact is read to its end whatever tar does, because the caller checksums the same stream.
 */
async function checkFilesArtifact(component: FilesComponent, artifact: Readable): Promise<void> {
  const list = spawnWithInput('tar', ['--list', '--file=-']);
  list.stdout.on('error', () => undefined); // the failure is reported through `exited`
  list.stdout.resume();
  let accepting = true;
  const stopAccepting = () => (accepting = false);
  list.stdin.once('error', stopAccepting).once('close', stopAccepting);
  try {
    for await (const chunk of artifact) {
      if (accepting && !list.stdin.write(chunk)) await drained(list.stdin);
    }
    if (accepting) list.stdin.end();
    await list.exited;
  } catch (error) {
    list.kill();
    throw new ComponentError(component.name, `tar --list cannot read the artifact: ${processDetail(error)}`, false, 'ArtifactUnreadable');
  }
}

/** A stored files artifact, decompressed: what restoreFilesArtifacts and tar read. */
export async function openFilesArtifact(store: BackupStore, backup: { key: string; compression: CompressionRecord }): Promise<Readable> {
  const source = await store.get(backup.key);
  const content = decompressor(backup.compression);
  pipeline(source, content).catch((error: Error) => content.destroy(error));
  return content;
}

/** An uncompressed tar stream, or a function that opens one when it is needed (so an S3 GET does not idle). */
export type FilesArtifactSource = Readable | (() => Promise<Readable>);

export interface RestoreFilesInput {
  /** The full's tar. */
  full: FilesArtifactSource;
  /** The incremental to apply on top (differential: the one incremental to restore, taken against this full). */
  incremental?: FilesArtifactSource;
  /** The incremental's `files.deleted`: removed after the full is extracted and before the incremental is. */
  deleted?: readonly string[];
  targetDir: string;
  /** For error messages. */
  component?: string;
}

async function extractInto(component: string, source: FilesArtifactSource, targetDir: string): Promise<void> {
  const stream = typeof source === 'function' ? await source() : source;
  const tar = spawnWithInput('tar', ['--extract', '--file=-', `--directory=${targetDir}`, '--preserve-permissions']);
  tar.stdout.on('error', () => undefined);
  tar.stdout.resume();
  const [fed, exited] = await Promise.allSettled([pipeline(stream, tar.stdin), tar.exited]);
  // tar exits 0 only after reading the end-of-archive marker, possibly before the record padding that
  // follows it was written: then a broken pipe is no failure, and tar's own complaint otherwise says more.
  if (exited.status === 'fulfilled') return;
  const reading = fed.status === 'rejected' ? ` (reading the artifact: ${(fed.reason as Error).message})` : '';
  throw new ComponentError(component, `tar --extract into ${targetDir} failed: ${processDetail(exited.reason)}${reading}`, false, 'RestoreFailed');
}

/** A path from a manifest, resolved inside targetDir: never outside it, whatever the manifest says. */
function insideTarget(component: string, targetDir: string, relative: string): string {
  const segments = relative.split('/');
  if (relative === '' || path.isAbsolute(relative) || segments.some((segment) => segment === '' || segment === '.' || segment === '..')) {
    throw new ComponentError(component, `refusing to delete "${relative}": not a plain relative path`, false, 'RestoreFailed');
  }
  return path.join(targetDir, ...segments);
}

/**
 * Restores a file tree into targetDir (created if needed): the full, then (for an incremental) its deleted
 * paths removed and the incremental extracted over it. Streams in: nothing is staged on disk.
 */
export async function restoreFilesArtifacts(input: RestoreFilesInput): Promise<void> {
  const component = input.component ?? 'files';
  const targetDir = path.resolve(input.targetDir);
  await mkdir(targetDir, { recursive: true });
  await extractInto(component, input.full, targetDir);
  for (const relative of input.deleted ?? []) await rm(insideTarget(component, targetDir, relative), { recursive: true, force: true });
  if (input.incremental) await extractInto(component, input.incremental, targetDir);
}

export const filesEngine: Engine<FilesComponent> = {
  type: 'files',
  format: 'tar',
  extension: 'tar',
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: dumpFiles,
  checkArtifact: checkFilesArtifact,
};
