import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  paginateListObjectsV2,
  type S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import type { ObjectLockConfig, S3StoreConfig } from '../plan/schema';
import { createS3Client } from './s3Client';
import { assertValidKey, InvalidKeyError } from './keys';
import { objectLockParams, objectLockProblem } from './objectLockParams';
import { partsCapacity, uploadInParts, type PartSizes } from './partUpload';
import { errorName } from './s3Errors';
import { ObjectNotFoundError, type BackupStore, type PutOptions, type StoredObject } from './types';

const MiB = 1024 * 1024;
/** S3's limits on multipart uploads. */
const MIN_PART_SIZE = 5 * MiB;
const MAX_PARTS = 10_000;
/**
 * The smallest part used when the body's size is known (awscli's default chunk too): large enough for
 * full-speed streams, small enough that a worker's upload buffers stay near 24 MiB per component.
 */
export const DEFAULT_PART_SIZE = 8 * MiB;
/** How unknown-size parts grow: doubling every this many parts, up to MAX_GROWN_PART_SIZE. */
const GROWTH_EVERY_PARTS = 500;
const MAX_GROWN_PART_SIZE = 128 * MiB;
/**
 * Parts for a body of unknown size (Redis, files, HTTP): 8 MiB, doubling every 500 parts up to 128 MiB, so
 * 10,000 parts hold 1.03 TiB while a body of a few GB goes out in 8 MiB parts (upload buffers about 24 MiB).
 * One size for the whole upload had to be chosen for 1 TiB (105 MiB): up to 315 MiB of buffers for any body
 * over 210 MB.
 */
export function unknownSizePartSize(partNumber: number): number {
  const doublings = Math.floor((partNumber - 1) / GROWTH_EVERY_PARTS);
  return Math.min(DEFAULT_PART_SIZE * 2 ** doublings, MAX_GROWN_PART_SIZE);
}
/** Parts uploaded at once; a put buffers up to about partSize × (queueSize + 1) bytes. */
export const DEFAULT_QUEUE_SIZE = 2;

export interface S3StoreOptions {
  /**
   * Multipart part size in bytes (at least 5 MiB), overriding the store's `partSizeMiB`: the part size for
   * bodies of unknown size and the smallest one for known sizes. Default: 8 MiB for known sizes,
   * unknownSizePartSize (8 MiB growing to 128 MiB) for unknown ones. Memory per put is about the part size
   * reached × (queueSize + 1).
   */
  partSize?: number;
  /** Parts uploaded concurrently per put, overriding the store's `uploadQueueSize` (default 2). */
  queueSize?: number;
  /**
   * Credentials for tests and tools; by default the standard AWS chain (environment, profile, web identity,
   * instance role). Plans never carry secrets.
   */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per S3 request, SDK retries included (default 3). */
  maxAttempts?: number;
}

export interface S3PutOptions extends PutOptions {
  /**
   * The body's expected size, when known or estimable: the part size grows so the upload stays within S3's
   * 10,000 parts (8 MiB parts alone cap an object at 78 GiB). Overestimate rather than under.
   */
  expectedBytes?: number;
}

/** A multipart upload that was started and neither completed nor aborted (its parts are stored and billed). */
export interface IncompleteUpload {
  key: string;
  uploadId: string;
  initiated?: Date;
}

/** The store's configuration or credentials are wrong: retrying cannot help until a person fixes them. */
export class StoreConfigurationError extends Error {
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreConfigurationError';
  }
}

export class BucketNotFoundError extends StoreConfigurationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'NoSuchBucket', options);
    this.name = 'BucketNotFoundError';
  }
}

export class StoreCredentialsError extends StoreConfigurationError {
  constructor(message: string, code: string, options?: ErrorOptions) {
    super(message, code, options);
    this.name = 'StoreCredentialsError';
  }
}

export class StoreAccessDeniedError extends StoreConfigurationError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, 'AccessDenied', options);
    this.name = 'StoreAccessDeniedError';
  }
}

/**
 * The store could not be reached at all (connection refused, unknown host, no route). Retryable: it
 * keeps the network error's `code`, which isRetryableStoreError reads; the message names the endpoint.
 */
export class StoreUnreachableError extends Error {
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'StoreUnreachableError';
  }
}

/** An S3-compatible bucket (AWS, MinIO, Ceph, R2...), optionally under a key prefix. */
export class S3Store implements BackupStore {
  readonly location: string;
  readonly client: S3Client;
  readonly bucket: string;
  /** "" or "<prefix>/": prepended to every key, stripped from every listed key. */
  readonly keyPrefix: string;
  /** When set, every object is written with this retention (src/stores/objectLock.ts). */
  readonly objectLock?: ObjectLockConfig;
  /** The configured part size, when one was configured (see S3StoreOptions.partSize). */
  private readonly configuredPartSize: number | undefined;
  private readonly queueSize: number;
  private readonly endpointName: string;

  constructor(config: S3StoreConfig, options: S3StoreOptions = {}) {
    this.bucket = config.bucket;
    this.keyPrefix = config.prefix ? `${config.prefix}/` : '';
    this.location = `s3://${config.bucket}${config.prefix ? `/${config.prefix}` : ''}`;
    this.objectLock = config.objectLock;
    this.configuredPartSize = options.partSize ?? (config.partSizeMiB !== undefined ? config.partSizeMiB * MiB : undefined);
    if (this.configuredPartSize !== undefined && (!Number.isInteger(this.configuredPartSize) || this.configuredPartSize < MIN_PART_SIZE)) {
      throw new RangeError(`S3 part size must be a whole number of bytes, at least ${MIN_PART_SIZE}`);
    }
    this.queueSize = options.queueSize ?? config.uploadQueueSize ?? DEFAULT_QUEUE_SIZE;
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) throw new RangeError('S3 upload queue size must be a whole number, at least 1');
    ({ client: this.client, endpointName: this.endpointName } = createS3Client(config, options));
  }

  async put(key: string, body: Readable, options: S3PutOptions = {}): Promise<{ bytes: number }> {
    const { signal } = options;
    let objectKey: string;
    try {
      objectKey = this.objectKey(key);
      signal?.throwIfAborted();
      // A worker SIGKILLed mid-upload left its multipart upload (and billed parts) behind: this attempt owns the key.
      await this.abortIncompleteUploadsAt(objectKey);
      signal?.throwIfAborted();
    } catch (err) {
      body.destroy(); // the caller's producer must not wait forever on a body nobody reads
      throw this.describe(err, key);
    }

    const partSize = this.partSizeFor(options.expectedBytes);
    try {
      return await uploadInParts(
        this.client,
        { Bucket: this.bucket, Key: objectKey, ContentType: 'application/octet-stream', ...objectLockParams(this.objectLock) },
        body,
        {
          partSize,
          queueSize: this.queueSize,
          maxParts: MAX_PARTS,
          tooManyParts: () =>
            new StoreConfigurationError(
              `'${key}' is larger than ${partsCapacity(partSize, MAX_PARTS)} bytes, the most ${MAX_PARTS} parts` +
                `${typeof partSize === 'number' ? ` of ${partSize / MiB} MiB` : ''} hold: ` +
                'pass expectedBytes to put or raise the store part size',
              'TooManyParts',
            ),
          signal,
        },
      );
    } catch (err) {
      throw this.describe(err, key); // uploadInParts has aborted its multipart upload and stopped the body
    }
  }

  async get(key: string): Promise<Readable> {
    const objectKey = this.objectKey(key);
    let body: unknown;
    try {
      ({ Body: body } = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: objectKey })));
    } catch (err) {
      if (errorName(err) === 'NoSuchKey' || (httpStatus(err) === 404 && errorName(err) !== 'NoSuchBucket')) {
        throw new ObjectNotFoundError(key, this.location);
      }
      throw this.describe(err, key);
    }
    if (!(body instanceof Readable)) throw new Error(`S3 returned no readable body for '${key}' in ${this.location}`);
    return body;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    try {
      const pages = paginateListObjectsV2({ client: this.client }, { Bucket: this.bucket, Prefix: this.keyPrefix + prefix });
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          // Keys ending in "/" are "folder" markers some consoles create, not objects.
          if (object.Key === undefined || object.Key.endsWith('/')) continue;
          yield { key: object.Key.slice(this.keyPrefix.length), size: object.Size ?? 0, lastModified: object.LastModified };
        }
      }
    } catch (err) {
      throw this.describe(err, prefix);
    }
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      throw this.describe(err, key);
    }
  }

  /**
   * Incomplete multipart uploads whose (relative) key starts with prefix, for tests and `doctor`.
   * MinIO only answers for an exact object key (a shorter prefix lists nothing); AWS matches any prefix.
   */
  async listIncompleteUploads(prefix = ''): Promise<IncompleteUpload[]> {
    try {
      return (await this.listIncompleteUploadsAt(this.keyPrefix + prefix)).map((upload) => ({
        ...upload,
        key: upload.key.slice(this.keyPrefix.length),
      }));
    } catch (err) {
      throw this.describe(err, prefix);
    }
  }

  /** Aborts every incomplete multipart upload of exactly key; resolves with how many there were. */
  async abortIncompleteUploads(key: string): Promise<number> {
    try {
      return await this.abortIncompleteUploadsAt(this.objectKey(key));
    } catch (err) {
      throw this.describe(err, key);
    }
  }

  /** Closes the client's sockets; the store is unusable afterwards. */
  destroy(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    assertValidKey(key);
    return this.keyPrefix + key;
  }

  /**
   * The part size of one put. A known (estimated) size gets parts just large enough for 9,000 of them, not
   * 10,000, so an estimate somewhat short of the real size still fits; an unknown size gets parts that grow
   * to hold 1 TiB unless a part size was configured (then the configuration caps the object at 10,000 of its
   * parts).
   */
  partSizeFor(expectedBytes: number | undefined): PartSizes {
    if (expectedBytes === undefined || !(expectedBytes > 0)) return this.configuredPartSize ?? unknownSizePartSize;
    return Math.max(this.configuredPartSize ?? DEFAULT_PART_SIZE, Math.ceil(expectedBytes / 9_000 / MiB) * MiB);
  }

  private async abortIncompleteUploadsAt(objectKey: string): Promise<number> {
    // Prefix matching also returns uploads of longer keys ("a" finds "ab"): only exact matches are this key's.
    const stale = (await this.listIncompleteUploadsAt(objectKey)).filter((upload) => upload.key === objectKey);
    for (const upload of stale) await this.abortUpload(objectKey, upload.uploadId);
    return stale.length;
  }

  private async abortUpload(objectKey: string, uploadId: string): Promise<void> {
    try {
      await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: objectKey, UploadId: uploadId }));
    } catch (err) {
      if (errorName(err) !== 'NoSuchUpload') throw err; // already gone: what we wanted
    }
  }

  private async listIncompleteUploadsAt(fullPrefix: string): Promise<IncompleteUpload[]> {
    const uploads: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const page = await this.client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.bucket,
          Prefix: fullPrefix,
          KeyMarker: keyMarker,
          UploadIdMarker: uploadIdMarker,
        }),
      );
      for (const upload of page.Uploads ?? []) {
        if (upload.Key !== undefined && upload.UploadId !== undefined) {
          uploads.push({ key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated });
        }
      }
      if (!page.IsTruncated || page.NextKeyMarker === undefined) return uploads;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  }

  /** Turns the S3 errors a person must fix into errors that say what to fix; passes the rest through. */
  describe(err: unknown, key: string): unknown {
    const name = errorName(err);
    if (name === '' || err instanceof StoreConfigurationError || err instanceof StoreUnreachableError) return err;
    const bucket = `bucket '${this.bucket}' at ${this.endpointName}`;
    const code = unreachableCode(err);
    if (code !== undefined) {
      return new StoreUnreachableError(
        `cannot reach ${bucket} (${code}): check store.endpoint (or store.region) and that the store is up and reachable from here`,
        code,
        { cause: err },
      );
    }
    const lockProblem = objectLockProblem(err, bucket);
    if (lockProblem) return new StoreConfigurationError(lockProblem, 'ObjectLockNotEnabled', { cause: err });
    const cause = { cause: err };
    switch (name) {
      case 'NoSuchBucket':
        return new BucketNotFoundError(`${bucket} does not exist: create it or fix store.bucket`, cause);
      case 'InvalidAccessKeyId':
        return new StoreCredentialsError(
          `${bucket} rejected the access key id (InvalidAccessKeyId): fix AWS_ACCESS_KEY_ID, or the profile or role ` +
            "that provides credentials, in the worker's environment",
          name,
          cause,
        );
      case 'SignatureDoesNotMatch':
        return new StoreCredentialsError(
          `${bucket} rejected the request signature (SignatureDoesNotMatch): the secret key does not match the ` +
            "access key id; fix AWS_SECRET_ACCESS_KEY in the worker's environment",
          name,
          cause,
        );
      case 'InvalidToken':
      case 'ExpiredToken':
      case 'TokenRefreshRequired':
        return new StoreCredentialsError(
          `${bucket} rejected the session token (${name}): refresh AWS_SESSION_TOKEN or the role providing it`,
          name,
          cause,
        );
      case 'CredentialsProviderError':
        return new StoreCredentialsError(
          `no AWS credentials found for ${bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, ` +
            "or a role) in the worker's environment",
          name,
          cause,
        );
      case 'AccessDenied':
        return new StoreAccessDeniedError(
          `${bucket} denied access to '${this.keyPrefix}${key}': grant the worker's credentials s3:ListBucket, ` +
            's3:ListBucketMultipartUploads, s3:GetObject, s3:PutObject, s3:DeleteObject and s3:AbortMultipartUpload',
          cause,
        );
      case 'PermanentRedirect':
      case 'AuthorizationHeaderMalformed':
        return new StoreConfigurationError(
          `${bucket} is in another region (${name}): set store.region to the bucket's region`,
          name,
          cause,
        );
      default:
        return err;
    }
  }
}

const RETRYABLE_ERROR_NAMES = new Set([
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'Throttling',
  'ThrottlingException',
  'TimeoutError',
  'XMinioServerNotInitialized',
]);
const NON_RETRYABLE_ERROR_NAMES = new Set([
  'AbortError',
  'NoSuchBucket',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'InvalidToken',
  'ExpiredToken',
  'CredentialsProviderError',
  'AccessDenied',
  'PermanentRedirect',
  'AuthorizationHeaderMalformed',
]);
const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
]);
/** Network errors that mean no connection was made at all (as opposed to one that broke mid-request). */
const UNREACHABLE_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
/** Local-store failures a person must fix (permissions, a read-only or full disk). */
const PERMANENT_FILESYSTEM_CODES = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EISDIR']);

/**
 * Whether an error from a store may succeed on retry: network failures, 5xx and throttling may; wrong
 * configuration or credentials, a missing bucket, a missing object, an invalid key or an abort will not.
 * Unknown errors count as retryable: the activity's retry policy bounds what that costs.
 */
export function isRetryableStoreError(err: unknown): boolean {
  if (err instanceof StoreConfigurationError || err instanceof ObjectNotFoundError || err instanceof InvalidKeyError) {
    return false;
  }
  const name = errorName(err);
  if (NON_RETRYABLE_ERROR_NAMES.has(name)) return false;
  if (RETRYABLE_ERROR_NAMES.has(name)) return true;
  const code = errorCode(err);
  if (code !== undefined && NETWORK_ERROR_CODES.has(code)) return true;
  if (code !== undefined && PERMANENT_FILESYSTEM_CODES.has(code)) return false;
  const status = httpStatus(err);
  if (status !== undefined) return status >= 500 || status === 429 || status === 408;
  return true;
}

// Structural checks, not instanceof Error: Node's own errors (sockets, DNS) may come from another realm.
function errorCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

/**
 * The code of a network error that means no connection was made. The SDK passes Node's error through, but
 * one from another realm (a test's vm context) arrives wrapped, its code only in the message.
 */
function unreachableCode(err: unknown): string | undefined {
  const code = errorCode(err) ?? (err instanceof Error ? /\b(E[A-Z]+)\b/.exec(err.message)?.[1] : undefined);
  return code !== undefined && UNREACHABLE_ERROR_CODES.has(code) ? code : undefined;
}

function httpStatus(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('$metadata' in err)) return undefined;
  const metadata: unknown = err.$metadata;
  return typeof metadata === 'object' && metadata !== null && 'httpStatusCode' in metadata && typeof metadata.httpStatusCode === 'number'
    ? metadata.httpStatusCode
    : undefined;
}
