/**
 * The two changes a rollback makes, both server-side and both adding history rather than removing it: a
 * recorded version is made current again by copying it onto its own key, and a key created after the restore
 * point is hidden behind a delete marker. No object's bytes pass through the worker.
 */
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  UploadPartCopyCommand,
  AbortMultipartUploadCommand,
  type HeadObjectCommandOutput,
} from '@aws-sdk/client-s3';
import type { VersionedBucket } from './bucket';
import { isMultipartEtag } from './versionMap';

/** User metadata on a copy of a multipart original: the version it was restored from (its etag cannot say). */
export const RESTORED_FROM_METADATA = 'lifeboat-restored-from';
/** CopyObject's limit; larger versions are copied part by part (UploadPartCopy). */
export const MAX_COPY_OBJECT_BYTES = 5 * 1024 ** 3;
const COPY_PART_BYTES = 512 * 1024 ** 2;

function copySource(bucket: VersionedBucket, key: string, versionId: string): string {
  return `${bucket.name}/${key.split('/').map(encodeURIComponent).join('/')}?versionId=${encodeURIComponent(versionId)}`;
}

/** The version a Lifeboat restore copied `versionId` of `key` from, if it did. */
export async function restoredFromMark(bucket: VersionedBucket, key: string, versionId: string): Promise<string | undefined> {
  const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: key, VersionId: versionId }));
  return head.Metadata?.[RESTORED_FROM_METADATA];
}

/** The recorded version's headers and metadata, plus the mark: a REPLACE copy must restate them all. */
function replacedHeaders(head: HeadObjectCommandOutput, versionId: string) {
  return {
    ContentType: head.ContentType,
    ContentEncoding: head.ContentEncoding,
    ContentDisposition: head.ContentDisposition,
    ContentLanguage: head.ContentLanguage,
    CacheControl: head.CacheControl,
    Expires: head.Expires,
    Metadata: { ...head.Metadata, [RESTORED_FROM_METADATA]: versionId },
  };
}

/** Makes `versionId` the current version of `key` again by copying it onto the key (a new version with its content). */
export async function restoreVersion(bucket: VersionedBucket, action: { key: string; versionId: string; etag: string; size: number }): Promise<void> {
  const source = copySource(bucket, action.key, action.versionId);
  if (!isMultipartEtag(action.etag) && action.size <= MAX_COPY_OBJECT_BYTES) {
    // The copy's etag is the same MD5: a later run recognises it without a mark, and metadata is copied as is.
    await bucket.client.send(new CopyObjectCommand({ Bucket: bucket.name, Key: action.key, CopySource: source, MetadataDirective: 'COPY' }));
    return;
  }
  const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key: action.key, VersionId: action.versionId }));
  if (action.size <= MAX_COPY_OBJECT_BYTES) {
    await bucket.client.send(
      new CopyObjectCommand({ Bucket: bucket.name, Key: action.key, CopySource: source, MetadataDirective: 'REPLACE', ...replacedHeaders(head, action.versionId) }),
    );
    return;
  }
  const { UploadId: uploadId } = await bucket.client.send(
    new CreateMultipartUploadCommand({ Bucket: bucket.name, Key: action.key, ...replacedHeaders(head, action.versionId) }),
  );
  try {
    const parts: { ETag?: string; PartNumber: number }[] = [];
    for (let start = 0, part = 1; start < action.size; start += COPY_PART_BYTES, part++) {
      const end = Math.min(start + COPY_PART_BYTES, action.size) - 1;
      const copied = await bucket.client.send(
        new UploadPartCopyCommand({ Bucket: bucket.name, Key: action.key, UploadId: uploadId, PartNumber: part, CopySource: source, CopySourceRange: `bytes=${start}-${end}` }),
      );
      parts.push({ ETag: copied.CopyPartResult?.ETag, PartNumber: part });
    }
    await bucket.client.send(new CompleteMultipartUploadCommand({ Bucket: bucket.name, Key: action.key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
  } catch (error) {
    await bucket.client.send(new AbortMultipartUploadCommand({ Bucket: bucket.name, Key: action.key, UploadId: uploadId })).catch(() => undefined);
    throw error;
  }
}

/** Hides `key` behind a delete marker (a DeleteObject without a version id): its versions stay. */
export async function hideKey(bucket: VersionedBucket, key: string): Promise<void> {
  await bucket.client.send(new DeleteObjectCommand({ Bucket: bucket.name, Key: key }));
}
