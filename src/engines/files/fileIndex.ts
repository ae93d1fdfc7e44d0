/** The index sidecar (`<component>.index.jsonl.gz`): one TreeEntry per line, in comparePaths order. */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StringDecoder } from 'node:string_decoder';
import { createGunzip } from 'node:zlib';
import type { ArtifactRef } from '../../catalog/manifest';
import type { BackupStore } from '../../stores/types';
import { ObjectNotFoundError } from '../../stores/types';
import { ArtifactTamperedError, Keyring, unsealingStream, WrongKeyError } from '../../encryption';
import { comparePaths, type TreeEntry } from './sourceTree';

export const INDEX_SIDECAR_SUFFIX = 'index.jsonl.gz';

/** The index is unusable as a base (missing, corrupt, out of order): the dump takes a full instead. */
class UnusableIndexError extends Error {}

function parseIndexLine(line: string): TreeEntry {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new UnusableIndexError('an index line is not JSON');
  }
  const entry = value as Partial<TreeEntry> | null;
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
  return entry as TreeEntry;
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
 * it the stored (compressed, maybe encrypted) bytes.
 */
export async function* readIndex(store: BackupStore, ref: ArtifactRef, keyring: Keyring, hash?: Hash): AsyncGenerator<TreeEntry> {
  const decrypt = unsealingStream(ref, keyring);
  const source = await store.get(ref.key);
  const gunzip = createGunzip();
  const hashed = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash?.update(chunk);
      callback(null, chunk);
    },
  });
  const piped = pipeline(source, hashed, decrypt, gunzip);
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
    if ((error as NodeJS.ErrnoException | undefined)?.code?.startsWith('Z_')) throw new UnusableIndexError(`the index is not valid gzip: ${(error as Error).message}`);
    throw error;
  } finally {
    if (!gunzip.destroyed) gunzip.destroy();
  }
}

/** Reads the whole index once to check it against its recorded sha256: a corrupt base must not shape an incremental. */
export async function indexIsIntact(store: BackupStore, ref: ArtifactRef, keyring: Keyring): Promise<boolean> {
  const hash = createHash('sha256');
  try {
    for await (const _entry of readIndex(store, ref, keyring, hash)) {
      // only checking
    }
  } catch (error) {
    // An index encrypted with a key no longer configured is as unusable as a damaged one.
    if (error instanceof UnusableIndexError || error instanceof ObjectNotFoundError || error instanceof WrongKeyError || error instanceof ArtifactTamperedError) return false;
    throw error; // the store is unreachable: retry rather than silently take a full
  }
  return hash.digest('hex') === ref.sha256;
}
