/**
 * Immutable backups on S3 object lock: what is locked under a prefix, and deleting every version of it once
 * the lock has expired. With object lock a bucket is versioned: deleting a key only adds a delete marker and
 * the locked version stays (and is billed), so pruning a locked store deletes versions by id. A version whose
 * retention has not expired cannot be deleted by anyone without s3:BypassGovernanceRetention (governance) or
 * at all (compliance): S3 answers AccessDenied, reported here as ObjectLockedError.
 */
import {
  DeleteObjectCommand,
  GetBucketVersioningCommand,
  GetObjectLockConfigurationCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
} from '@aws-sdk/client-s3';
import type { ObjectLockConfig } from '../plan/schema';
import { S3Store, StoreConfigurationError } from './s3';
import { errorName } from './s3Errors';
import type { BackupStore } from './types';

/** A version whose retention date has not passed: nobody the worker or pruner should be may delete it. */
export class ObjectLockedError extends StoreConfigurationError {
  constructor(readonly key: string, readonly versionId: string, location: string, options?: ErrorOptions) {
    super(`version ${versionId} of '${key}' in ${location} is protected by object lock and cannot be deleted before its retention date`, 'ObjectLocked', options);
    this.name = 'ObjectLockedError';
  }
}

/** The store's S3 side when its plan asks for object lock; undefined otherwise (local stores, unlocked buckets). */
export function lockedStore(store: BackupStore): (S3Store & { objectLock: ObjectLockConfig }) | undefined {
  return store instanceof S3Store && store.objectLock ? (store as S3Store & { objectLock: ObjectLockConfig }) : undefined;
}

export interface ObjectVersion {
  /** Relative to the store (its prefix stripped). */
  key: string;
  versionId: string;
  deleteMarker: boolean;
  /** When S3 stored the version (or delete marker). */
  lastModified?: Date;
}

/** Every version and delete marker whose key starts with prefix. */
export async function listObjectVersions(store: S3Store, prefix: string): Promise<ObjectVersion[]> {
  const versions: ObjectVersion[] = [];
  try {
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    for (;;) {
      const page = await store.client.send(
        new ListObjectVersionsCommand({ Bucket: store.bucket, Prefix: store.keyPrefix + prefix, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
      );
      for (const version of page.Versions ?? []) {
        if (version.Key !== undefined) {
          versions.push({ key: version.Key.slice(store.keyPrefix.length), versionId: version.VersionId ?? 'null', deleteMarker: false, lastModified: version.LastModified });
        }
      }
      for (const marker of page.DeleteMarkers ?? []) {
        if (marker.Key !== undefined) {
          versions.push({ key: marker.Key.slice(store.keyPrefix.length), versionId: marker.VersionId ?? 'null', deleteMarker: true, lastModified: marker.LastModified });
        }
      }
      if (!page.IsTruncated) break;
      keyMarker = page.NextKeyMarker;
      versionIdMarker = page.NextVersionIdMarker;
    }
  } catch (err) {
    throw store.describe(err, prefix);
  }
  return versions;
}

/** The retention date of one version, if it has one. */
async function versionRetainUntil(store: S3Store, version: ObjectVersion): Promise<Date | undefined> {
  if (version.deleteMarker) return undefined;
  try {
    const head = await store.client.send(new HeadObjectCommand({ Bucket: store.bucket, Key: store.keyPrefix + version.key, VersionId: version.versionId }));
    return head.ObjectLockRetainUntilDate;
  } catch (err) {
    throw store.describe(err, version.key);
  }
}

/**
 * The latest retention date of any version under prefix that is still in the future at `now`, or undefined.
 * Every object is written with retain-until = its write time + the plan's days, and a set's manifest is written
 * last, so the version written last holds the latest date: only that one is asked for (one HEAD per set).
 */
export async function lockedUntil(store: S3Store, prefix: string, now: Date = new Date()): Promise<Date | undefined> {
  let newest: ObjectVersion | undefined;
  for (const version of await listObjectVersions(store, prefix)) {
    if (version.deleteMarker) continue;
    if (!newest || (version.lastModified?.getTime() ?? 0) > (newest.lastModified?.getTime() ?? 0)) newest = version;
  }
  const until = newest && (await versionRetainUntil(store, newest));
  return until && until.getTime() > now.getTime() ? until : undefined;
}

/** How S3 refuses to delete a version under retention: AWS says AccessDenied, MinIO InvalidRequest "Object is WORM protected". */
function isLockRefusal(err: unknown): boolean {
  const name = errorName(err);
  return name === 'AccessDenied' || (name === 'InvalidRequest' && /WORM|retention|object lock/i.test((err as Error).message));
}

/** Deletes one version by id; a version still under retention fails with ObjectLockedError. */
export async function deleteObjectVersion(store: S3Store, version: ObjectVersion): Promise<void> {
  try {
    await store.client.send(new DeleteObjectCommand({ Bucket: store.bucket, Key: store.keyPrefix + version.key, VersionId: version.versionId }));
  } catch (err) {
    if (isLockRefusal(err)) throw new ObjectLockedError(version.key, version.versionId, store.location, { cause: err });
    throw store.describe(err, version.key);
  }
}

/**
 * Deletes every version and delete marker under prefix, those of `firstKey` first (a set's manifest, so a
 * half-deleted set is never taken for a complete one). Resolves with the number of versions deleted.
 */
export async function deleteAllVersions(store: S3Store, prefix: string, firstKey?: string, onDeleted?: () => void): Promise<number> {
  const versions = await listObjectVersions(store, prefix);
  const ordered = [...versions.filter((version) => version.key === firstKey), ...versions.filter((version) => version.key !== firstKey)];
  for (const version of ordered) {
    await deleteObjectVersion(store, version);
    onDeleted?.();
  }
  return ordered.length;
}

export interface BucketProtection {
  bucket: string;
  /** "Enabled", "Suspended", or "Disabled" (never enabled). */
  versioning: string;
  objectLock: boolean;
  /** The bucket's default retention, applied to objects written without their own. */
  defaultRetention?: { mode: string; days?: number; years?: number };
}

/** What the bucket itself guarantees: versioning and object lock (GetBucketVersioning, GetObjectLockConfiguration). */
export async function bucketProtection(store: S3Store): Promise<BucketProtection> {
  try {
    const versioning = await store.client.send(new GetBucketVersioningCommand({ Bucket: store.bucket }));
    let objectLock = false;
    let defaultRetention: BucketProtection['defaultRetention'];
    try {
      const lock = await store.client.send(new GetObjectLockConfigurationCommand({ Bucket: store.bucket }));
      objectLock = lock.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
      const retention = lock.ObjectLockConfiguration?.Rule?.DefaultRetention;
      if (retention?.Mode) defaultRetention = { mode: retention.Mode, days: retention.Days, years: retention.Years };
    } catch (err) {
      // A bucket without object lock answers with an error rather than an empty configuration.
      if (!/ObjectLockConfigurationNotFound/i.test(`${errorName(err)} ${(err as Error).message}`)) throw err;
    }
    return { bucket: store.bucket, versioning: versioning.Status ?? 'Disabled', objectLock, defaultRetention };
  } catch (err) {
    throw store.describe(err, '');
  }
}

/** What is wrong with the bucket for a plan that asks for `lock`: empty when the bucket can give it. */
export function protectionProblems(protection: BucketProtection, lock: ObjectLockConfig | undefined): string[] {
  if (!lock) return [];
  const problems: string[] = [];
  if (!protection.objectLock) {
    problems.push(
      `the plan asks for objectLock (${lock.mode}, ${lock.days} day(s)) but bucket '${protection.bucket}' does not have object lock enabled: ` +
        'create a bucket with object lock (e.g. `aws s3api create-bucket --object-lock-enabled-for-bucket`, `mc mb --with-lock`) and point store.bucket at it',
    );
  }
  if (protection.versioning !== 'Enabled') {
    problems.push(`bucket '${protection.bucket}' has versioning ${protection.versioning}: object lock needs versioning enabled`);
  }
  return problems;
}
