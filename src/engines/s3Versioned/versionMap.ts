/**
 * The version map: the artifact of an s3-versioned component. One JSON header line, then one JSON array per
 * object current at backup time, `[key, versionId, etag, size, lastModified]`, in S3's key order (UTF-8 byte
 * order), so a restore can merge it with a listing of the bucket in one streaming pass.
 */
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export const VERSION_MAP_FORMAT = 'lifeboat-s3-version-map';
export const VERSION_MAP_VERSION = 1;

export interface VersionMapHeader {
  format: typeof VERSION_MAP_FORMAT;
  version: typeof VERSION_MAP_VERSION;
  bucket: string;
  prefix: string;
}

/** One object as it was current at backup time. */
export interface VersionRecord {
  key: string;
  versionId: string;
  /** Without quotes; "<md5>-<parts>" for a multipart upload. */
  etag: string;
  size: number;
  lastModified: string;
}

/** The map cannot be read: damaged, out of order, or of another bucket. */
export class VersionMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VersionMapError';
  }
}

/**
 * S3's key order: UTF-8 byte order, which is Unicode code point order. JavaScript compares UTF-16 code units,
 * which differs only when a surrogate pair meets a character from U+E000 to U+FFFF; that case is mapped back.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    let x = a.charCodeAt(index);
    let y = b.charCodeAt(index);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Surrogates (D800-DFFF) encode code points above FFFF: move them above E000-FFFF.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

export function isMultipartEtag(etag: string): boolean {
  return etag.includes('-');
}

export function encodeHeader(header: Omit<VersionMapHeader, 'format' | 'version'>): string {
  return `${JSON.stringify({ format: VERSION_MAP_FORMAT, version: VERSION_MAP_VERSION, bucket: header.bucket, prefix: header.prefix })}\n`;
}

export function encodeRecord(record: VersionRecord): string {
  return `${JSON.stringify([record.key, record.versionId, record.etag, record.size, record.lastModified])}\n`;
}

function parseRecord(line: string, lineNumber: number): VersionRecord {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new VersionMapError(`line ${lineNumber} is not JSON`);
  }
  if (
    !Array.isArray(value) ||
    value.length !== 5 ||
    typeof value[0] !== 'string' ||
    typeof value[1] !== 'string' ||
    typeof value[2] !== 'string' ||
    typeof value[3] !== 'number' ||
    typeof value[4] !== 'string'
  ) {
    throw new VersionMapError(`line ${lineNumber} is not [key, versionId, etag, size, lastModified]`);
  }
  return { key: value[0], versionId: value[1], etag: value[2], size: value[3], lastModified: value[4] };
}

/**
 * Streams the records of a (decompressed) map, checking its header and that keys strictly ascend. With
 * `expect`, a map of another bucket or prefix is refused: rolling one bucket back to another's map would
 * delete everything.
 */
export async function* readVersionMap(stream: Readable, expect?: { bucket: string; prefix: string }): AsyncGenerator<VersionRecord> {
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNumber = 0;
  let previous: string | undefined;
  try {
    for await (const line of lines) {
      lineNumber++;
      if (lineNumber === 1) {
        let header: Partial<VersionMapHeader>;
        try {
          header = JSON.parse(line) as Partial<VersionMapHeader>;
        } catch {
          throw new VersionMapError('the first line is not a version-map header');
        }
        if (header.format !== VERSION_MAP_FORMAT || header.version !== VERSION_MAP_VERSION) {
          throw new VersionMapError(`not a ${VERSION_MAP_FORMAT} version ${VERSION_MAP_VERSION}`);
        }
        if (expect && (header.bucket !== expect.bucket || header.prefix !== expect.prefix)) {
          throw new VersionMapError(
            `the map is of s3://${header.bucket}/${header.prefix}, not of s3://${expect.bucket}/${expect.prefix}: the plan's bucket or prefix changed since this backup`,
          );
        }
        continue;
      }
      if (line === '') continue;
      const record = parseRecord(line, lineNumber);
      if (previous !== undefined && compareKeys(previous, record.key) >= 0) {
        throw new VersionMapError(`line ${lineNumber}: key "${record.key}" is not after "${previous}" (the map must be in key order)`);
      }
      previous = record.key;
      yield record;
    }
  } finally {
    lines.close();
  }
  if (lineNumber === 0) throw new VersionMapError('the map is empty (no header)');
}

/** An async iterator that can look one item ahead: what a merge of sorted streams needs. */
export class Cursor<T> {
  private buffered: { value: T | undefined } | undefined;
  constructor(private readonly iterator: AsyncIterator<T>) {}

  static of<T>(iterable: AsyncIterable<T>): Cursor<T> {
    return new Cursor(iterable[Symbol.asyncIterator]());
  }

  async peek(): Promise<T | undefined> {
    if (!this.buffered) {
      const next = await this.iterator.next();
      this.buffered = { value: next.done ? undefined : next.value };
    }
    return this.buffered.value;
  }

  async next(): Promise<T | undefined> {
    const value = await this.peek();
    this.buffered = undefined;
    return value;
  }

  /** Ends the underlying iterator early (closes its stream). */
  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

/** At most `limit` examples and the full count: what a report of many problems shows. */
export class CappedList<T> {
  readonly items: T[] = [];
  count = 0;
  constructor(private readonly limit = 20) {}
  add(item: T): void {
    this.count++;
    if (this.items.length < this.limit) this.items.push(item);
  }
  describe(format: (item: T) => string): string {
    return `${this.items.map(format).join(', ')}${this.count > this.items.length ? ` and ${this.count - this.items.length} more` : ''}`;
  }
}
