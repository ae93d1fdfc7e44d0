/**
 * The S3 store's multipart uploads against MinIO: parts go out of a fixed set of buffers reused from part to
 * part (the property lib-storage, which it replaced, lacked), parts of unknown-size bodies start small and
 * grow, bodies of every shape arrive byte for byte, and
 * a failure mid-way aborts the upload and stops the body. An SDK middleware only watches what is sent; every
 * answer, the failure's included, comes from MinIO.
 */
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Store, StoreConfigurationError } from '../../src/stores';
import { uploadInParts } from '../../src/stores/partUpload';
import { testEnv, uniqueName } from '../harness/env';

const MiB = 1024 * 1024;
const PART = 5 * MiB;

interface Sent {
  command: string;
  partNumber?: number;
  body?: Uint8Array;
}

/** Records every command the client sends (name, part number, body), and runs `after` on each answer. */
function watch(client: S3Client, after?: (sent: Sent, output: unknown) => Promise<void>): Sent[] {
  const sent: Sent[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { PartNumber?: number; Body?: unknown };
      const record: Sent = { command: context.commandName ?? '?', partNumber: input.PartNumber, body: input.Body instanceof Uint8Array ? input.Body : undefined };
      sent.push(record);
      const result = await next(args);
      await after?.(record, result.output);
      return result;
    },
    { step: 'initialize', name: 'watchSentCommands' },
  );
  return sent;
}

/** `size` random bytes in chunks of `chunkSize` (not a divisor of the part size, so chunks straddle parts). */
function body(size: number, chunkSize = MiB + 7): { stream: Readable; sha256: () => string; destroyed: () => boolean } {
  const hash = createHash('sha256');
  let produced = 0;
  const stream = new Readable({
    read() {
      if (produced >= size) return void this.push(null);
      const chunk = randomBytes(Math.min(chunkSize, size - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { stream, sha256: () => hash.digest('hex'), destroyed: () => stream.destroyed };
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

describe('S3 multipart uploads through reused part buffers (MinIO)', () => {
  const env = testEnv();
  const prefix = `part-upload/${uniqueName('run')}`;
  const credentials = { accessKeyId: env.s3AccessKey, secretAccessKey: env.s3SecretKey };
  const stores: S3Store[] = [];
  const newStore = (queueSize = 2) => {
    const store = new S3Store({ type: 's3', bucket: env.s3Bucket, prefix, endpoint: env.s3Endpoint }, { credentials, partSize: PART, queueSize });
    stores.push(store);
    return store;
  };
  const incompleteUploads = async (store: S3Store, key: string) => (await store.listIncompleteUploads(key)).filter((upload) => upload.key === key);

  afterAll(async () => {
    const store = newStore();
    for await (const object of store.list('')) await store.delete(object.key);
    for (const each of stores) each.destroy();
  });

  test.each([1, 2, 4])('a 12-part body goes out of queueSize + 1 buffers (queueSize %i), and arrives byte for byte', async (queueSize) => {
    const store = newStore(queueSize);
    const sent = watch(store.client);
    const size = 11 * PART + 12_345;
    const source = body(size);
    await expect(store.put(`twelve-${queueSize}.bin`, source.stream)).resolves.toEqual({ bytes: size });

    const parts = sent.filter((each) => each.command === 'UploadPartCommand');
    expect(parts.map((part) => part.partNumber)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(parts.map((part) => part.body!.byteLength)).toEqual([...Array(11).fill(PART), 12_345]);
    // Each part's bytes live in one of the upload's own buffers: their number is bounded by the queue, not the body.
    expect(new Set(parts.map((part) => part.body!.buffer)).size).toBeLessThanOrEqual(queueSize + 1);
    expect(await sha256Of(await store.get(`twelve-${queueSize}.bin`))).toBe(source.sha256());
    expect(await incompleteUploads(store, `twelve-${queueSize}.bin`)).toEqual([]);
  });

  test.each([
    ['empty', 0, ['PutObjectCommand']],
    ['one byte', 1, ['PutObjectCommand']],
    ['exactly one part', PART, ['PutObjectCommand']],
    ['one part and a byte', PART + 1, ['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']],
    ['exactly two parts', 2 * PART, ['CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand']],
  ])('%s: one PutObject while it fits in a part, a multipart upload beyond', async (_label, size, commands) => {
    const store = newStore();
    const sent = watch(store.client);
    const source = body(size, 3 * MiB);
    const key = `shape-${size}.bin`;
    await expect(store.put(key, source.stream)).resolves.toEqual({ bytes: size });
    expect(sent.map((each) => each.command).filter((command) => command !== 'ListMultipartUploadsCommand')).toEqual(commands);
    expect(await sha256Of(await store.get(key))).toBe(source.sha256());
  });

  test('parts that grow along the upload: each has its size, at most queueSize + 1 buffers of either size, the body arrives byte for byte', async () => {
    const store = newStore();
    const sent = watch(store.client);
    const key = 'growing.bin';
    const grown = (part: number) => (part <= 3 ? PART : 2 * PART);
    const size = 3 * PART + 2 * (2 * PART) + 12_345;
    const source = body(size);
    const upload = uploadInParts(store.client, { Bucket: env.s3Bucket, Key: `${prefix}/${key}` }, source.stream, {
      partSize: grown,
      queueSize: 2,
      maxParts: 10_000,
      tooManyParts: () => new StoreConfigurationError('too many parts', 'TooManyParts'),
    });
    await expect(upload).resolves.toEqual({ bytes: size });
    const parts = sent.filter((each) => each.command === 'UploadPartCommand');
    expect(parts.map((part) => part.body!.byteLength)).toEqual([PART, PART, PART, 2 * PART, 2 * PART, 12_345]);
    // Still at most queueSize + 1 buffers of each size: the grown parts do not add to the small ones' buffers.
    const buffersOfSize = (length: number) => new Set(parts.map((part) => part.body!.buffer).filter((buffer) => buffer.byteLength === length)).size;
    expect(buffersOfSize(PART)).toBeLessThanOrEqual(3);
    expect(buffersOfSize(2 * PART)).toBeLessThanOrEqual(3);
    expect(await sha256Of(await store.get(key))).toBe(source.sha256());
  });

  test('a body of unknown size starts in 8 MiB parts, not parts sized for 1 TiB', async () => {
    const store = new S3Store({ type: 's3', bucket: env.s3Bucket, prefix, endpoint: env.s3Endpoint }, { credentials });
    stores.push(store);
    const sent = watch(store.client);
    const size = 16 * MiB + 1;
    const source = body(size);
    await expect(store.put('unknown-size.bin', source.stream)).resolves.toEqual({ bytes: size });
    expect(sent.filter((each) => each.command === 'UploadPartCommand').map((part) => part.body!.byteLength)).toEqual([8 * MiB, 8 * MiB, 1]);
    expect(await sha256Of(await store.get('unknown-size.bin'))).toBe(source.sha256());
  });

  test('a part MinIO refuses fails the put, stops the body, and leaves no upload behind', async () => {
    const store = newStore();
    const key = 'refused.bin';
    // Once part 2 is stored, the upload is aborted behind the store's back: MinIO then refuses the next part.
    watch(store.client, async (sent) => {
      if (sent.command !== 'UploadPartCommand' || sent.partNumber !== 2) return;
      const [upload] = await incompleteUploads(store, key);
      await store.client.send(new AbortMultipartUploadCommand({ Bucket: env.s3Bucket, Key: `${prefix}/${key}`, UploadId: upload.uploadId }));
    });
    const source = body(40 * PART);
    await expect(store.put(key, source.stream)).rejects.toThrow(/NoSuchUpload|upload does not exist/i);
    expect(source.destroyed()).toBe(true);
    expect(await incompleteUploads(store, key)).toEqual([]);
    const listed = await store.client.send(new ListMultipartUploadsCommand({ Bucket: env.s3Bucket, Prefix: `${prefix}/${key}` }));
    expect(listed.Uploads ?? []).toEqual([]);
  });

  test('a body that needs more parts than allowed fails before its last part, and leaves no upload behind', async () => {
    const store = newStore();
    const key = `${prefix}/too-many.bin`;
    const source = body(3 * PART + 1);
    const upload = uploadInParts(store.client, { Bucket: env.s3Bucket, Key: key }, source.stream, {
      partSize: PART,
      queueSize: 2,
      maxParts: 3,
      tooManyParts: () => new StoreConfigurationError('more than 3 parts', 'TooManyParts'),
    });
    await expect(upload).rejects.toThrow('more than 3 parts');
    expect(source.destroyed()).toBe(true);
    const listed = await store.client.send(new ListMultipartUploadsCommand({ Bucket: env.s3Bucket, Prefix: key }));
    expect(listed.Uploads ?? []).toEqual([]);
  });
});
