/**
 * The versioned bucket an s3-versioned component backs up: its client (built like the S3 store's), its
 * versioning and lifecycle settings, and a key-ordered listing of every version under the prefix.
 */
import {
  GetBucketLifecycleConfigurationCommand,
  GetBucketVersioningCommand,
  ListObjectVersionsCommand,
  type LifecycleRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { S3VersionedComponent } from '../../plan/schema';
import { isRetryableStoreError } from '../../stores/s3';
import { createS3Client } from '../../stores/s3Client';
import { errorName } from '../../stores/s3Errors';
import { ComponentError, resolveEnvReference } from '../errors';
import { compareKeys } from './versionMap';

export interface VersionedBucket {
  client: S3Client;
  name: string;
  prefix: string;
  /** "s3://bucket/prefix at endpoint", for messages. */
  where: string;
  /** Turns an SDK error into the ComponentError an operator can act on. */
  failure(error: unknown, doing: string): ComponentError;
}

export function openVersionedBucket(component: S3VersionedComponent): VersionedBucket {
  const credentials = component.credentials
    ? {
        accessKeyId: resolveEnvReference(component.name, component.credentials.accessKeyIdFromEnv, 'access key id'),
        secretAccessKey: resolveEnvReference(component.name, component.credentials.secretAccessKeyFromEnv, 'secret access key'),
        sessionToken: component.credentials.sessionTokenFromEnv
          ? resolveEnvReference(component.name, component.credentials.sessionTokenFromEnv, 'session token')
          : undefined,
      }
    : undefined;
  const { client, endpointName } = createS3Client(component, { credentials });
  const where = `s3://${component.bucket}/${component.prefix} at ${endpointName}`;
  return {
    client,
    name: component.bucket,
    prefix: component.prefix,
    where,
    failure: (error, doing) => classifyBucketError(component, where, error, doing),
  };
}

function classifyBucketError(component: S3VersionedComponent, where: string, error: unknown, doing: string): ComponentError {
  if (error instanceof ComponentError) return error;
  const name = errorName(error);
  const message = (error as Error).message ?? String(error);
  const credentialsFrom = component.credentials
    ? `the variables ${component.credentials.accessKeyIdFromEnv} and ${component.credentials.secretAccessKeyFromEnv}`
    : "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the profile or role) in the worker's environment";
  switch (name) {
    case 'NoSuchBucket':
      return new ComponentError(component.name, `${where}: the bucket does not exist: fix the component's bucket`, false, 'NoSuchBucket');
    case 'AccessDenied':
      return new ComponentError(
        component.name,
        `${where} denied ${doing}: grant s3:ListBucketVersions, s3:GetBucketVersioning, s3:GetLifecycleConfiguration, s3:GetObjectVersion, s3:PutObject and s3:DeleteObject`,
        false,
        'AccessDenied',
      );
    case 'InvalidAccessKeyId':
    case 'SignatureDoesNotMatch':
    case 'InvalidToken':
    case 'ExpiredToken':
    case 'CredentialsProviderError':
      return new ComponentError(component.name, `${where} rejected the credentials (${name}): fix ${credentialsFrom}`, false, 'CredentialsRejected');
    default: {
      const retryable = isRetryableStoreError(error);
      return new ComponentError(component.name, `${doing} in ${where} failed: ${message}${retryable ? '; will retry' : ''}`, retryable, name || 'S3Error');
    }
  }
}

/** Refuses, for good, a bucket whose versioning is off or suspended: it keeps no old versions to roll back to. */
export async function assertVersioningEnabled(bucket: VersionedBucket, component: string): Promise<void> {
  let status: string | undefined;
  try {
    ({ Status: status } = await bucket.client.send(new GetBucketVersioningCommand({ Bucket: bucket.name })));
  } catch (error) {
    throw bucket.failure(error, 'reading the versioning status');
  }
  if (status !== 'Enabled') {
    throw new ComponentError(
      component,
      `bucket "${bucket.name}" does not have versioning enabled (${status ? `it is ${status}` : 'it was never enabled'}): an s3-versioned component ` +
        'records which version of each object is current and needs S3 to keep the older ones; enable it ' +
        `(aws s3api put-bucket-versioning --bucket ${bucket.name} --versioning-configuration Status=Enabled, or mc version enable) and run the backup again`,
      false,
      'VersioningDisabled',
    );
  }
}

/** The lifecycle rules that apply to any object under `prefix` (enabled, with an overlapping prefix filter). */
export async function lifecycleRulesFor(bucket: VersionedBucket): Promise<LifecycleRule[]> {
  let rules: LifecycleRule[];
  try {
    ({ Rules: rules = [] } = await bucket.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket.name })));
  } catch (error) {
    if (errorName(error) === 'NoSuchLifecycleConfiguration') return [];
    throw bucket.failure(error, 'reading the lifecycle configuration');
  }
  return rules.filter((rule) => {
    if (rule.Status !== 'Enabled') return false;
    const rulePrefix = rule.Filter?.Prefix ?? rule.Filter?.And?.Prefix ?? rule.Prefix ?? '';
    return rulePrefix.startsWith(bucket.prefix) || bucket.prefix.startsWith(rulePrefix);
  });
}

/** One key with every version S3 still holds of it. */
export interface KeyVersions {
  key: string;
  /** The current version; undefined when the newest entry is a delete marker. */
  current?: { versionId: string; etag: string; size: number; lastModified: string };
  /** The newest entry is a delete marker (the key looks deleted). */
  deleted: boolean;
  /** Every stored version (not delete markers), by version id. */
  versions: Map<string, { etag: string; size: number; lastModified: string }>;
}

export function unquoteEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^"|"$/g, '');
}

/**
 * Every key under the prefix with its versions, in key order, one page (1000 entries) in memory at a time.
 * S3 returns versions and delete markers in two lists per page; they are merged by key, and a key whose
 * versions continue on the next page is held until they end.
 */
export async function* listKeyVersions(bucket: VersionedBucket): AsyncGenerator<KeyVersions> {
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  let pending: KeyVersions | undefined;
  for (;;) {
    let page;
    try {
      page = await bucket.client.send(
        new ListObjectVersionsCommand({ Bucket: bucket.name, Prefix: bucket.prefix || undefined, KeyMarker: keyMarker, VersionIdMarker: versionIdMarker }),
      );
    } catch (error) {
      throw bucket.failure(error, 'listing object versions');
    }
    const entries = [
      ...(page.Versions ?? []).map((version) => ({ ...version, marker: false })),
      ...(page.DeleteMarkers ?? []).map((marker) => ({ ...marker, marker: true, ETag: undefined, Size: 0 })),
    ].sort((a, b) => compareKeys(a.Key ?? '', b.Key ?? ''));
    for (const entry of entries) {
      if (entry.Key === undefined || entry.VersionId === undefined) continue;
      if (pending && pending.key !== entry.Key) {
        yield pending;
        pending = undefined;
      }
      pending ??= { key: entry.Key, deleted: false, versions: new Map() };
      const lastModified = entry.LastModified?.toISOString() ?? '';
      if (!entry.marker) pending.versions.set(entry.VersionId, { etag: unquoteEtag(entry.ETag), size: entry.Size ?? 0, lastModified });
      if (entry.IsLatest) {
        if (entry.marker) pending.deleted = true;
        else pending.current = { versionId: entry.VersionId, etag: unquoteEtag(entry.ETag), size: entry.Size ?? 0, lastModified };
      }
    }
    if (!page.IsTruncated) break;
    keyMarker = page.NextKeyMarker;
    versionIdMarker = page.NextVersionIdMarker;
  }
  if (pending) yield pending;
}
