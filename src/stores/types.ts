import type { Readable } from 'node:stream';

/** One object in a store, as listed. Keys are '/'-separated, relative to the store's root or prefix. */
export interface StoredObject {
  key: string;
  size: number;
  lastModified?: Date;
}

export interface PutOptions {
  /** Aborting cancels the write; nothing is left visible under the key. */
  signal?: AbortSignal;
  /** The body's expected size when the producer can estimate it (a hint: stores that split uploads size their parts by it). */
  expectedBytes?: number;
}

/**
 * The one narrow storage interface every store implements (restic's backend idea): save, load, list, remove.
 * A put is atomic: the object appears under its key only once every byte has been written and made durable;
 * a failed, aborted or killed put leaves nothing a reader can see (and cleans up what an earlier killed
 * attempt at the same key left behind).
 */
export interface BackupStore {
  /** Human-readable location, with no credentials, for messages (e.g. "s3://bucket/prefix", "/var/backups"). */
  readonly location: string;
  /** Streams body into key; resolves with the number of bytes stored. Never buffers the whole body. */
  put(key: string, body: Readable, options?: PutOptions): Promise<{ bytes: number }>;
  /** Streams the object back; rejects with ObjectNotFoundError when the key does not exist. */
  get(key: string): Promise<Readable>;
  /** Every complete object whose key starts with prefix, in key order. Temporary and partial objects are never listed. */
  list(prefix: string): AsyncIterable<StoredObject>;
  /** Removes key; removing a key that does not exist is not an error. */
  delete(key: string): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string, location: string) {
    super(`no object '${key}' in ${location}`);
    this.name = 'ObjectNotFoundError';
  }
}
