/** Key rules shared by every store, so a key valid in one store is valid (and means the same) in all. */

/** The name a local put writes to before renaming: hidden from list, and recognisable as stale by the next put. */
export const PARTIAL_NAME = /^\..+\.[0-9a-f]{16}\.partial$/;

export class InvalidKeyError extends Error {
  constructor(readonly key: string, reason: string) {
    super(`invalid store key '${key}': ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

/**
 * Keys are relative, '/'-separated paths: no empty, '.' or '..' segments (which would escape a local store's root
 * or alias another key), and no name a local store reserves for its temporary files.
 */
export function assertValidKey(key: string): string[] {
  if (key.length === 0) throw new InvalidKeyError(key, 'must not be empty');
  if (key.startsWith('/')) throw new InvalidKeyError(key, 'must be relative (no leading "/")');
  if (key.includes('\0')) throw new InvalidKeyError(key, 'must not contain NUL');
  if (key.includes('\\')) throw new InvalidKeyError(key, 'must use "/" as the separator, not "\\"');
  const segments = key.split('/');
  for (const segment of segments) {
    if (segment === '') throw new InvalidKeyError(key, 'must not have empty segments ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') throw new InvalidKeyError(key, 'must not have "." or ".." segments');
  }
  if (PARTIAL_NAME.test(segments[segments.length - 1])) {
    throw new InvalidKeyError(key, 'names of the form ".<name>.<16 hex>.partial" are reserved for temporary files');
  }
  return segments;
}

/** S3's key order (UTF-8 bytes), which every store's list follows. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
