/**
 * What a locked write sends (pure, no imports from the store, so s3.ts can use it without an import cycle).
 * S3 (and MinIO) refuse a PutObject/UploadPart with object-lock parameters unless it carries Content-MD5 or an
 * x-amz-checksum-* header; the client is built with `requestChecksumCalculation: 'WHEN_REQUIRED'`, so a
 * locked write names its checksum algorithm and the SDK computes it for every request (single put or part).
 */
import type { ObjectLockConfig } from '../plan/schema';
import { errorName } from './s3Errors';

const DAY_MS = 86_400_000;

/** The retain-until date of an object written at `now` under `lock`. */
export function retainUntil(lock: ObjectLockConfig, now: Date = new Date()): Date {
  return new Date(now.getTime() + lock.days * DAY_MS);
}

export interface ObjectLockWriteParams {
  ObjectLockMode?: 'GOVERNANCE' | 'COMPLIANCE';
  ObjectLockRetainUntilDate?: Date;
  ChecksumAlgorithm?: 'CRC32';
}

/** Parameters merged into every upload of a store with `objectLock` (none without it). */
export function objectLockParams(lock: ObjectLockConfig | undefined, now: Date = new Date()): ObjectLockWriteParams {
  if (!lock) return {};
  return {
    ObjectLockMode: lock.mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE',
    ObjectLockRetainUntilDate: retainUntil(lock, now),
    ChecksumAlgorithm: 'CRC32',
  };
}

/** The message for a locked write to a bucket without object lock, or undefined for any other error. */
export function objectLockProblem(err: unknown, bucket: string): string | undefined {
  const name = errorName(err);
  const message = err instanceof Error ? err.message : '';
  if (!/ObjectLockConfiguration|object lock/i.test(`${name} ${message}`) || name === 'AccessDenied') return undefined;
  return (
    `${bucket} cannot store locked objects (${message || name}): the plan's store.objectLock needs a bucket created with ` +
    'object lock enabled (and so versioning); check it with `lifeboat store check --plan FILE`, or remove objectLock from the plan'
  );
}
