/**
 * The audit-log preset: every line of every matching file must be a JSON object with the required fields.
 * Lines are checked as the archive streams by, so the lines checked are exactly the bytes stored.
 */
import { finished as streamFinished } from 'node:stream/promises';
import { createGunzip, type Gunzip } from 'node:zlib';
import type { FilesFacts } from '../../catalog/manifest';
import { drained } from './backpressure';
import type { TarMemberSink } from './tarObserver';

/** The manifest keeps the first invalid lines only, so a broken log cannot bloat it. */
export const MAX_RECORDED_INVALID_LINES = 1000;
/** A "line" longer than this (a binary file named *.log) is reported, not buffered. */
export const MAX_AUDIT_LINE_BYTES = 1024 * 1024;

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
