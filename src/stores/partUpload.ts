/**
 * Streams a body into one S3 object through a fixed set of part buffers, reused from part to part.
 *
 * Why not @aws-sdk/lib-storage: it builds every part by concatenating the body's chunks into a new buffer.
 * On a backup's compressed stream those part-sized buffers, short-lived but large, made V8 run a full
 * mark-compact every few parts (external memory grew by a part each time) and held up to V8's external-memory
 * allowance of dead buffers in the worker's RSS (bench/RESULTS.md has the profile). Here the body's chunks are
 * copied into buffers allocated once per upload, so nothing part-sized is ever left for the collector.
 *
 * Memory: at most partSize × (queueSize + 1), allocated as the body needs it (a body smaller than a part
 * writes only its own size into the first buffer, which is not zero-filled).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
  type PutObjectCommandInput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { addAbortSignal, type Readable } from 'node:stream';

/** What CreateMultipartUpload and PutObject share: bucket, key, content type, object-lock parameters. */
export type UploadParams = Omit<PutObjectCommandInput, 'Body' | 'ContentLength'> & { Bucket: string; Key: string };

export interface PartUploadOptions {
  partSize: number;
  /** Parts in flight at once; one more buffer is filled meanwhile. */
  queueSize: number;
  /** The most parts the object may have (S3: 10,000); the error when the body needs more. */
  maxParts: number;
  tooManyParts: () => Error;
  signal?: AbortSignal;
}

/**
 * Uploads `body` as `params.Key`: one PutObject when it fits in a part, a multipart upload otherwise. Rejects
 * (and aborts the multipart upload, after every part in flight has settled) on the body's error, S3's error
 * or the signal; the body is destroyed then, so its producer stops. Once the whole body has been read the
 * upload completes regardless of the signal: a resolved upload has stored its object, a rejected one has not.
 */
export async function uploadInParts(client: S3Client, params: UploadParams, body: Readable, options: PartUploadOptions): Promise<{ bytes: number }> {
  const { partSize, queueSize, maxParts } = options;
  let uploadId: string | undefined;
  const free: Buffer[] = [];
  let buffersAllocated = 0;
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let failure: unknown;
  let bytes = 0;

  const takeBuffer = async (): Promise<Buffer> => {
    while (free.length === 0 && buffersAllocated > queueSize) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    if (free.length > 0) return free.pop()!;
    buffersAllocated += 1;
    return Buffer.allocUnsafe(partSize); // not zero-filled: a small body touches only its own size of it
  };
  const sendPart = (buffer: Buffer, length: number, partNumber: number, id: string): void => {
    const sending: Promise<void> = client
      .send(new UploadPartCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: id, PartNumber: partNumber, Body: buffer.subarray(0, length), ChecksumAlgorithm: params.ChecksumAlgorithm }))
      .then(
        (result) => {
          if (!result.ETag) throw new Error(`S3 answered part ${partNumber} of '${params.Key}' without an ETag`);
          parts.push({ PartNumber: partNumber, ETag: result.ETag, ChecksumCRC32: result.ChecksumCRC32, ChecksumCRC32C: result.ChecksumCRC32C, ChecksumSHA1: result.ChecksumSHA1, ChecksumSHA256: result.ChecksumSHA256 });
        },
      )
      .catch((error: unknown) => {
        failure ??= error;
        body.destroy(error as Error); // fail the read loop now, even while the body is idle
      })
      .finally(() => {
        free.push(buffer);
        inFlight.delete(sending);
      });
    inFlight.add(sending);
  };

  let current = await takeBuffer();
  let filled = 0;
  let partNumber = 0;
  // The signal fails the body, which ends the read loop even while the body is idle (and stops its producer).
  if (options.signal) addAbortSignal(options.signal, body);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        if (filled === partSize) {
          // A full part with more to come: the object needs a multipart upload.
          if (partNumber + 1 >= maxParts) throw options.tooManyParts();
          uploadId ??= (await client.send(new CreateMultipartUploadCommand(params))).UploadId;
          if (!uploadId) throw new Error(`S3 started no multipart upload for '${params.Key}'`);
          partNumber += 1;
          sendPart(current, filled, partNumber, uploadId);
          current = await takeBuffer();
          filled = 0;
        }
        const copied = chunk.copy(current, filled, offset, Math.min(chunk.length, offset + partSize - filled));
        filled += copied;
        offset += copied;
        bytes += copied;
      }
    }
    if (uploadId === undefined) {
      await client.send(new PutObjectCommand({ ...params, Body: current.subarray(0, filled) }));
      return { bytes };
    }
    partNumber += 1;
    sendPart(current, filled, partNumber, uploadId);
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    parts.sort((a, b) => a.PartNumber! - b.PartNumber!);
    await client.send(new CompleteMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }));
    return { bytes };
  } catch (error) {
    body.destroy(); // the producer must not wait on a body nobody reads any more
    await Promise.all(inFlight); // a part that lands after the abort would keep the upload (and its bill) alive
    // The SDK retries the abort; one that still fails leaves an upload the next put of this key removes.
    if (uploadId !== undefined) {
      await client.send(new AbortMultipartUploadCommand({ Bucket: params.Bucket, Key: params.Key, UploadId: uploadId })).catch(() => undefined);
    }
    throw error;
  }
}
