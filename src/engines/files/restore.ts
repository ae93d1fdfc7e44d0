/**
 * Restoring a file tree: the full extracted by GNU tar, then (for an incremental) its deleted paths removed
 * and the incremental extracted over it. Never a chain: differential incrementals need only their full.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CompressionRecord, EncryptionRecord } from '../../catalog/manifest';
import { Keyring, unsealingStream } from '../../encryption';
import type { BackupStore } from '../../stores/types';
import { spawnWithInput } from '../childProcess';
import { decompressor } from '../compression';
import { ComponentError } from '../errors';
import { tarFailureDetail } from './tarProcess';

/** A stored files artifact, decrypted (with the plan's keys) and decompressed: what restoreFilesArtifacts and tar read. */
export async function openFilesArtifact(
  store: BackupStore,
  backup: { key: string; compression: CompressionRecord; encryption?: EncryptionRecord },
  keyring: Keyring = Keyring.forPlan({}),
): Promise<Readable> {
  const decrypt = unsealingStream(backup, keyring);
  const source = await store.get(backup.key);
  const content = decompressor(backup.compression);
  pipeline(source, decrypt, content).catch((error: Error) => content.destroy(error));
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
  // GNU tar also exits 0 when its input ends exactly between two members, so an error of the artifact
  // stream itself (a reset connection, a failed checksum) must fail the restore whatever tar says.
  // A broken pipe or premature close after tar stopped reading is the teardown tar's early exit causes,
  // not a fault of the artifact.
  let sourceError: Error | undefined;
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_PREMATURE_CLOSE') sourceError ??= error;
  });
  const tar = spawnWithInput('tar', ['--extract', '--file=-', `--directory=${targetDir}`, '--preserve-permissions']);
  tar.stdout.on('error', () => undefined);
  tar.stdout.resume();
  const [fed, exited] = await Promise.allSettled([pipeline(stream, tar.stdin), tar.exited]);
  if (sourceError) throw new ComponentError(component, `reading the artifact failed: ${sourceError.message}`, true, 'RestoreFailed');
  // tar exits 0 only after reading the end-of-archive marker, possibly before the record padding that
  // follows it was written: then a broken pipe is no failure, and tar's own complaint otherwise says more.
  if (exited.status === 'fulfilled') return;
  const reading = fed.status === 'rejected' ? ` (reading the artifact: ${(fed.reason as Error).message})` : '';
  throw new ComponentError(component, `tar --extract into ${targetDir} failed: ${tarFailureDetail(exited.reason)}${reading}`, false, 'RestoreFailed');
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
