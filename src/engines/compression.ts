/**
 * Stream compression of artifacts. zstd runs as a separate `zstd` process: off the event loop and on the
 * other core, faster than gzip at a better ratio. gzip (Node's zlib) is the fallback where zstd is absent,
 * and the manifest records what was really used.
 */
import { PassThrough, type Duplex } from 'node:stream';
import { createGunzip, createGzip } from 'node:zlib';
import type { CompressionRecord } from '../catalog/manifest';
import type { Compression } from '../plan/schema';
import { findOnPath } from '../embedded/binaries';
import { filterStream } from './childProcess';

const CHUNK = 1024 * 1024; // zlib is several times faster with 1 MiB chunks than with its 16 KiB default
const DEFAULT_LEVEL = { gzip: 6, zstd: 3 } as const;

/** Whether the `zstd` program is on PATH (a look at PATH's directories, no process started). */
export function hasZstd(): boolean {
  return findOnPath('zstd') !== undefined;
}

/** The compression that will really be used for a request: zstd falls back to gzip when `zstd` is missing. */
export function resolveCompression(requested: Compression): CompressionRecord {
  if (requested.algorithm === 'none') return { algorithm: 'none' };
  if (requested.algorithm === 'zstd' && !hasZstd()) return { algorithm: 'gzip', level: DEFAULT_LEVEL.gzip };
  return { algorithm: requested.algorithm, level: requested.level ?? DEFAULT_LEVEL[requested.algorithm] };
}

/** Throws, saying how to fix it, when a zstd artifact must be read and the `zstd` program is missing. */
export function requireZstd(): void {
  if (!hasZstd()) throw new Error('this artifact is zstd-compressed and the `zstd` program is not installed: apt-get install zstd');
}

/** The suffix appended to an artifact's extension. */
export function compressionSuffix(record: CompressionRecord): string {
  return record.algorithm === 'zstd' ? '.zst' : record.algorithm === 'gzip' ? '.gz' : '';
}

/**
 * zstd compresses in jobs while a second thread reads the input, holding a few jobs' worth of buffers. At
 * levels 3 to 8 (a 2 MiB window) its jobs are 8 MiB and it peaks near 40 MiB; with 4 MiB jobs, near 22 MiB, per
 * component backed up at once, for artifacts about 0.9 % larger at the same speed (bench/RESULTS.md). Lower
 * levels already use jobs of 4 MiB or less; higher ones keep zstd's own choice, as their larger windows would
 * be reloaded for every smaller job. Decompression is unaffected: the format is the same.
 */
function jobSizeArguments(level: number): string[] {
  return level >= 3 && level <= 8 ? ['-B4M'] : [];
}

/** The `zstd` command line that compresses at a record's level (stdin to stdout). */
export function zstdArguments(record: CompressionRecord): string[] {
  const level = record.level ?? DEFAULT_LEVEL.zstd;
  return ['-q', '-c', `-${level}`, ...jobSizeArguments(level)];
}

/** The `zstd` command line that decompresses stdin to stdout (it fails on a truncated or damaged frame). */
export function zstdDecompressArguments(): string[] {
  return ['-q', '-d', '-c'];
}

export function compressor(record: CompressionRecord): Duplex {
  switch (record.algorithm) {
    case 'none':
      return new PassThrough({ highWaterMark: CHUNK });
    case 'gzip':
      return createGzip({ level: record.level ?? DEFAULT_LEVEL.gzip, chunkSize: CHUNK });
    case 'zstd':
      return filterStream('zstd', zstdArguments(record));
  }
}

export function decompressor(record: CompressionRecord): Duplex {
  switch (record.algorithm) {
    case 'none':
      return new PassThrough({ highWaterMark: CHUNK });
    case 'gzip':
      return createGunzip({ chunkSize: CHUNK }); // a truncated stream fails ("unexpected end of file")
    case 'zstd':
      requireZstd();
      return filterStream('zstd', zstdDecompressArguments());
  }
}
