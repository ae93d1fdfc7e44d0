/**
 * Streams a body into one S3 object through a fixed set of part buffers, reused from part to part.
 *
 * Why not @aws-sdk/lib-storage: it builds every part by concatenating the body's chunks into a new buffer.
 * On a backup's compressed stream those part-sized buffers, short-lived but large, made V8 run a full
 * mark-compact every few parts (external memory grew by a part each time) and held up to V8's external-memory
 * allowance of dead buffers in the worker's RSS (bench/RESULTS.md has the profile). Here the body's chunks are
 * copied into buffers allocated once per upload, so nothing part-sized is ever left for the collector.
 *
 * Memory: at most (queueSize + 1) buffers of the largest part size reached, allocated as the body needs them
 * (a body smaller than a part writes only its own size into the first buffer, which is not zero-filled). When
 * the parts grow (PartSizes as a function), a buffer of the old size is let go as it comes back.
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

/** The size of every part, or of part `partNumber` (1-based; S3 allows parts of different sizes, all but the last >= 5 MiB). */
export type PartSizes = number | ((partNumber: number) => number);

/** The most bytes `maxParts` parts of these sizes hold. */
export function partsCapacity(sizes: PartSizes, maxParts: number): number {
  if (typeof sizes === 'number') return sizes * maxParts;
  let total = 0;
  for (let part = 1; part <= maxParts; part += 1) total += sizes(part);
  return total;
}

export interface PartUploadOptions {
  partSize: PartSizes;
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
  const sizeOf = typeof partSize === 'number' ? () => partSize : partSize;
  let uploadId: string | undefined;
  const free: Buffer[] = [];
  let buffersAllocated = 0;
  const inFlight = new Set<Promise<void>>();
  const parts: CompletedPart[] = [];
  let failure: unknown;
  let bytes = 0;

  const takeBuffer = async (size: number): Promise<Buffer> => {
    while (free.length === 0 && buffersAllocated > queueSize) await Promise.race(inFlight);
    if (failure !== undefined) throw failure;
    const reused = free.pop();
    if (reused?.length === size) return reused;
    if (reused) buffersAllocated -= 1; // the parts have grown: this smaller buffer is let go
    buffersAllocated += 1;
    return Buffer.allocUnsafe(size); // not zero-filled: a small body touches only its own size of it
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

  let current = await takeBuffer(sizeOf(1));
  let filled = 0;
  let partNumber = 0;
  // The signal fails the body, which ends the read loop even while the body is idle (and stops its producer).
  if (options.signal) addAbortSignal(options.signal, body);
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      let offset = 0;
      while (offset < chunk.length) {
        if (filled === current.length) {
          // A full part with more to come: the object needs a multipart upload.
          if (partNumber + 1 >= maxParts) throw options.tooManyParts();
          uploadId ??= (await client.send(new CreateMultipartUploadCommand(params))).UploadId;
          if (!uploadId) throw new Error(`S3 started no multipart upload for '${params.Key}'`);
          partNumber += 1;
          sendPart(current, filled, partNumber, uploadId);
          current = await takeBuffer(sizeOf(partNumber + 1));
          filled = 0;
        }
        const copied = chunk.copy(current, filled, offset, Math.min(chunk.length, offset + current.length - filled));
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
