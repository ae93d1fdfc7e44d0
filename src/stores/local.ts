import { randomBytes } from 'node:crypto';
import { createWriteStream, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { LocalStoreConfig } from '../plan/schema';
import { assertValidKey, compareKeys, InvalidKeyError, PARTIAL_NAME } from './keys';
import { ObjectNotFoundError, type BackupStore, type PutOptions, type StoredObject } from './types';

/** Backups hold database contents: readable by the owner and its group only (pgBackRest's choice too). */
const FILE_MODE = 0o640;
const DIRECTORY_MODE = 0o750;
/** Large reads keep syscall counts low when streaming multi-gigabyte dumps back. */
const READ_CHUNK_BYTES = 1024 * 1024;

/** A store over a directory: each key is a file; a put is a temp file renamed into place once durable. */
export class LocalStore implements BackupStore {
  readonly root: string;
  readonly location: string;

  constructor(config: Pick<LocalStoreConfig, 'path'>) {
    this.root = path.resolve(config.path);
    this.location = this.root;
  }

  async put(key: string, body: Readable, options: PutOptions = {}): Promise<{ bytes: number }> {
    const { signal } = options;
    let finalPath: string;
    try {
      finalPath = this.pathOf(key);
      signal?.throwIfAborted();
    } catch (err) {
      body.destroy(); // the caller's producer must not wait forever on a body nobody reads
      throw err;
    }
    const dir = path.dirname(finalPath);
    const base = path.basename(finalPath);
    const tempPath = path.join(dir, `.${base}.${randomBytes(8).toString('hex')}.partial`);
    try {
      await (await this.createTempFile(dir, base, tempPath)).close();
      // Not FileHandle.createWriteStream: on Node 20 its close never settles with `flush`, and the put hangs.
      const output = createWriteStream(tempPath, { flags: 'r+' });
      await pipeline(body, output, { signal });
      const bytes = output.bytesWritten;
      signal?.throwIfAborted();
      await fsyncFile(tempPath);
      await rename(tempPath, finalPath);
      await fsyncDirectory(dir); // makes the rename itself survive a crash
      return { bytes };
    } catch (err) {
      body.destroy();
      await unlink(tempPath).catch(ignoreErrno('ENOENT'));
      throw err;
    }
  }

  async get(key: string): Promise<Readable> {
    const filePath = this.pathOf(key);
    let file: FileHandle;
    try {
      file = await open(filePath, 'r');
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ENOTDIR')) throw new ObjectNotFoundError(key, this.location);
      throw err;
    }
    try {
      if (!(await file.stat()).isFile()) throw new ObjectNotFoundError(key, this.location);
    } catch (err) {
      await file.close();
      throw err;
    }
    return file.createReadStream({ highWaterMark: READ_CHUNK_BYTES }); // closes the handle at end or destroy
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    // Walk from the deepest directory the prefix names in full; the rest of the prefix filters by string.
    const slash = prefix.lastIndexOf('/');
    const directoryKey = slash >= 0 ? prefix.slice(0, slash) : '';
    let start = this.root;
    if (directoryKey !== '') {
      try {
        start = this.pathOf(directoryKey);
      } catch (err) {
        if (err instanceof InvalidKeyError) return; // no valid key can start with this prefix
        throw err;
      }
    }
    yield* this.walk(start, directoryKey === '' ? '' : `${directoryKey}/`, prefix);
  }

  async delete(key: string): Promise<void> {
    const filePath = this.pathOf(key);
    try {
      await unlink(filePath);
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ENOTDIR', 'EISDIR')) return; // no object there (a directory is not one)
      throw err;
    }
    // Remove the directories this left empty, so pruned backup sets leave no skeleton behind.
    for (let dir = path.dirname(filePath); dir.startsWith(this.root + path.sep); dir = path.dirname(dir)) {
      try {
        await rmdir(dir);
      } catch {
        break; // not empty (or a concurrent put just created something in it): stop here
      }
    }
  }

  private pathOf(key: string): string {
    return path.join(this.root, ...assertValidKey(key));
  }

  private async createTempFile(dir: string, base: string, tempPath: string): Promise<FileHandle> {
    // A concurrent delete may remove the directory between mkdir and open: make it again, once.
    for (let attempt = 1; ; attempt++) {
      await makeDirectoryDurably(dir);
      await removeStalePartials(dir, base);
      try {
        return await open(tempPath, 'wx', FILE_MODE);
      } catch (err) {
        if (attempt >= 2 || !hasErrno(err, 'ENOENT')) throw err;
      }
    }
  }

  /** Yields files under dir in key order: entries sort as their key would (directories as "name/"). */
  private async *walk(dir: string, keyPrefix: string, filter: string): AsyncGenerator<StoredObject> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if (hasErrno(err, 'ENOENT', 'ENOTDIR')) return;
      throw err;
    }
    const sorted = entries
      .filter((entry) => entry.isDirectory() || (entry.isFile() && !PARTIAL_NAME.test(entry.name)))
      .map((entry) => ({ entry, key: keyPrefix + entry.name + (entry.isDirectory() ? '/' : '') }))
      .sort((a, b) => compareKeys(a.key, b.key));
    for (const { entry, key } of sorted) {
      const entryPath = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (key.startsWith(filter) || filter.startsWith(key)) yield* this.walk(entryPath, key, filter);
      } else if (key.startsWith(filter)) {
        const stats = await stat(entryPath).catch(ignoreErrno('ENOENT')); // deleted while listing
        if (stats) yield { key, size: stats.size, lastModified: stats.mtime };
      }
    }
  }
}

/** Removes temp files an earlier, killed put of the same key left behind (".<base>.<16 hex>.partial"). */
async function removeStalePartials(dir: string, base: string): Promise<void> {
  const head = `.${base}.`;
  const tail = '.partial';
  for (const name of await readdir(dir)) {
    if (name.length !== head.length + 16 + tail.length || !name.startsWith(head) || !name.endsWith(tail)) continue;
    if (!/^[0-9a-f]{16}$/.test(name.slice(head.length, -tail.length))) continue;
    await unlink(path.join(dir, name)).catch(ignoreErrno('ENOENT'));
  }
}

/** mkdir -p, then fsync the parent of each directory it created so the new entries survive a crash. */
async function makeDirectoryDurably(dir: string): Promise<void> {
  const firstCreated = await mkdir(dir, { recursive: true, mode: DIRECTORY_MODE });
  if (firstCreated === undefined) return;
  for (let created = dir; ; created = path.dirname(created)) {
    await fsyncDirectory(path.dirname(created));
    if (created === firstCreated || path.dirname(created) === created) return;
  }
}

async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Structural, not instanceof Error: Node's own errors come from another realm under jest's sandbox. */
function hasErrno(err: unknown, ...codes: string[]): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' && codes.includes(err.code);
}

function ignoreErrno(...codes: string[]): (err: unknown) => undefined {
  return (err) => {
    if (!hasErrno(err, ...codes)) throw err;
    return undefined;
  };
}

/** Makes a written file's contents durable before it is renamed into place. */
async function fsyncFile(filePath: string): Promise<void> {
  const file = await open(filePath, 'r');
  try {
    await file.sync();
  } finally {
    await file.close();
  }
}
