/**
 * One conformance suite every BackupStore runs (restic's idea: one interface, one suite, many backends).
 * A store only adds how to see and plant the leftovers a killed put leaves behind.
 */
import { CreateMultipartUploadCommand, UploadPartCommand } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import {
  BucketNotFoundError,
  createStore,
  isRetryableStoreError,
  LocalStore,
  ObjectNotFoundError,
  S3Store,
  StoreCredentialsError,
  StoreUnreachableError,
  type BackupStore,
  type StoredObject,
} from '../../src/stores';

const MiB = 1024 * 1024;

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set: run this suite through jest, whose global setup (test/harness) starts MinIO and sets it`);
  }
  return value;
}

interface StoreUnderTest {
  store: BackupStore;
  /** What a failed or killed put at key may leave behind: partial files, incomplete multipart uploads. */
  leftovers(key: string): Promise<string[]>;
  /** Leaves at key what a worker SIGKILLed in the middle of a put would. */
  simulateKilledPut(key: string): Promise<void>;
  cleanup(): Promise<void>;
}

/** Random bytes produced on demand (never held whole), hashed as they go out. */
function generatedBody(size: number, chunkSize = MiB): { body: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  let produced = 0;
  const body = new Readable({
    read() {
      if (produced >= size) {
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(chunkSize, size - produced));
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return { body, sha256: () => hash.digest('hex') };
}

/** Pushes `after` bytes, then either fails or stalls forever (until destroyed), calling onStall. */
function interruptedBody(after: number, ending: 'error' | 'stall', onStall?: () => void): Readable {
  let produced = 0;
  return new Readable({
    read() {
      if (produced < after) {
        const chunk = randomBytes(Math.min(MiB, after - produced));
        produced += chunk.length;
        this.push(chunk);
      } else if (ending === 'error') {
        this.destroy(new Error('source failed halfway'));
      } else {
        onStall?.();
      }
    },
  });
}

async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

async function collect(objects: AsyncIterable<StoredObject>): Promise<StoredObject[]> {
  const all: StoredObject[] = [];
  for await (const object of objects) all.push(object);
  return all;
}

async function keysOf(store: BackupStore, prefix: string): Promise<string[]> {
  return (await collect(store.list(prefix))).map((object) => object.key);
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

export function describeStoreConformance(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`${name} store conformance`, () => {
    let target: StoreUnderTest;
    let store: BackupStore;

    beforeEach(async () => {
      target = await makeStore();
      store = target.store;
    });
    afterEach(async () => {
      await target?.cleanup();
    });

    it.each([
      ['empty', 0],
      ['small', 1234],
      ['multi-part', 40 * MiB + 12_345],
    ])('put then get returns identical bytes: %s', async (_label, size) => {
      const { body, sha256: expected } = generatedBody(size);
      await expect(store.put(`roundtrip/${size}.bin`, body)).resolves.toEqual({ bytes: size });
      await expect(sha256Of(await store.get(`roundtrip/${size}.bin`))).resolves.toEqual({ sha256: expected(), bytes: size });
      expect(await target.leftovers(`roundtrip/${size}.bin`)).toEqual([]);
    });

    it('lists in key order, filtered by prefix, with relative keys and sizes', async () => {
      const contents: Record<string, string> = {
        'sets/b': 'bb',
        'sets/a/2': 'a2a2',
        'sets/a/1': 'a',
        'sets/a-x': 'ax-ax',
        'sets/c/d/e': '',
        'other/z': 'zzz',
      };
      for (const [key, text] of Object.entries(contents)) await store.put(key, Readable.from([Buffer.from(text)]));

      const listed = await collect(store.list('sets/'));
      // '-' sorts before '/', so 'sets/a-x' precedes everything under 'sets/a/' (S3's byte order).
      expect(listed.map((object) => object.key)).toEqual(['sets/a-x', 'sets/a/1', 'sets/a/2', 'sets/b', 'sets/c/d/e']);
      for (const object of listed) expect(object.size).toBe(Buffer.byteLength(contents[object.key]));
      // A prefix is a string prefix, not a directory.
      expect(await keysOf(store, 'sets/a')).toEqual(['sets/a-x', 'sets/a/1', 'sets/a/2']);
      expect(await keysOf(store, 'sets/a/')).toEqual(['sets/a/1', 'sets/a/2']);
      expect(await keysOf(store, 'sets/a/1')).toEqual(['sets/a/1']);
      expect(await keysOf(store, '')).toEqual(['other/z', 'sets/a-x', 'sets/a/1', 'sets/a/2', 'sets/b', 'sets/c/d/e']);
      expect(await keysOf(store, 'nothing/')).toEqual([]);
    });

    it('rejects a get of a missing key with ObjectNotFoundError', async () => {
      await expect(store.get('missing/key')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await store.put('present/key', Readable.from([Buffer.from('x')]));
      // A "directory" holding objects is not itself an object.
      await expect(store.get('present')).rejects.toBeInstanceOf(ObjectNotFoundError);
    });

    it('deletes, and deleting a missing key is fine', async () => {
      await store.put('del/one', Readable.from([Buffer.from('1')]));
      await store.put('del/two', Readable.from([Buffer.from('2')]));
      await store.delete('del/one');
      expect(await keysOf(store, 'del/')).toEqual(['del/two']);
      await expect(store.get('del/one')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.delete('del/one')).resolves.toBeUndefined();
      await expect(store.delete('never/was/here')).resolves.toBeUndefined();
      await store.delete('del/two');
      expect(await keysOf(store, '')).toEqual([]);
    });

    it('replaces an object on overwrite', async () => {
      await store.put('over/key', Readable.from([Buffer.from('first version, longer')]));
      await expect(store.put('over/key', Readable.from([Buffer.from('second')]))).resolves.toEqual({ bytes: 6 });
      await expect(sha256Of(await store.get('over/key'))).resolves.toEqual({ sha256: sha256('second'), bytes: 6 });
      expect(await collect(store.list('over/'))).toEqual([expect.objectContaining({ key: 'over/key', size: 6 })]);
    });

    it('leaves nothing behind when the source stream fails halfway', async () => {
      const put = store.put('failing/dump', interruptedBody(12 * MiB, 'error'));
      await expect(put).rejects.toThrow('source failed halfway');
      expect(await keysOf(store, '')).toEqual([]);
      expect(await target.leftovers('failing/dump')).toEqual([]);
    });

    it('leaves nothing behind when the put is aborted', async () => {
      const controller = new AbortController();
      // Abort once 12 MiB have been read: for S3 with 5 MiB parts, the multipart upload has begun.
      const body = interruptedBody(12 * MiB, 'stall', () => controller.abort());
      await expect(store.put('aborted/dump', body, { signal: controller.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(body.destroyed).toBe(true);
      expect(await keysOf(store, '')).toEqual([]);
      expect(await target.leftovers('aborted/dump')).toEqual([]);
      // An already-aborted signal stores nothing either.
      await expect(
        store.put('aborted/early', Readable.from([Buffer.from('x')]), { signal: AbortSignal.abort() }),
      ).rejects.toMatchObject({ name: 'AbortError' });
      expect(await keysOf(store, '')).toEqual([]);
    });

    it('cleans up what a killed earlier put of the same key left behind', async () => {
      await target.simulateKilledPut('stale/dump');
      expect(await target.leftovers('stale/dump')).toHaveLength(1);
      expect(await keysOf(store, '')).toEqual([]); // never visible as an object
      const { body, sha256: expected } = generatedBody(3 * MiB);
      await expect(store.put('stale/dump', body)).resolves.toEqual({ bytes: 3 * MiB });
      expect(await target.leftovers('stale/dump')).toEqual([]);
      await expect(sha256Of(await store.get('stale/dump'))).resolves.toEqual({ sha256: expected(), bytes: 3 * MiB });
    });

    it.each(['../escape', '/absolute', 'a//b', 'a/./b', 'trailing/', ''])('rejects the key %j', async (key) => {
      await expect(store.put(key, Readable.from([Buffer.from('x')]))).rejects.toThrow(/invalid store key/);
      await expect(store.get(key)).rejects.toThrow(/invalid store key/);
      await expect(store.delete(key)).rejects.toThrow(/invalid store key/);
    });
  });
}

// ---------------------------------------------------------------------------------------------------------------
// local: a fresh directory per test under the run's temp root.

describeStoreConformance('local', async () => {
  const root = await mkdtemp(path.join(requireEnv('LIFEBOAT_TEST_TMP'), 'local-store-'));
  const store = createStore({ type: 'local', path: path.join(root, 'backups') });
  expect(store).toBeInstanceOf(LocalStore);
  const partials = async (key: string): Promise<string[]> => {
    const dir = path.join(root, 'backups', path.dirname(key));
    const names = await readdir(dir).catch(() => [] as string[]);
    return names.filter((file) => file.startsWith(`.${path.basename(key)}.`) && file.endsWith('.partial'));
  };
  return {
    store,
    leftovers: partials,
    simulateKilledPut: async (key) => {
      const dir = path.join(root, 'backups', path.dirname(key));
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, `.${path.basename(key)}.${randomBytes(8).toString('hex')}.partial`), randomBytes(1000));
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
});

describe('local store on disk', () => {
  it('removes directories a delete leaves empty, and keeps the root', async () => {
    const root = await mkdtemp(path.join(requireEnv('LIFEBOAT_TEST_TMP'), 'local-store-'));
    try {
      const store = new LocalStore({ path: root });
      await store.put('a/b/c/object', Readable.from([Buffer.from('x')]));
      await store.put('a/keep', Readable.from([Buffer.from('y')]));
      await store.delete('a/b/c/object');
      expect(await readdir(root)).toEqual(['a']);
      expect(await readdir(path.join(root, 'a'))).toEqual(['keep']);
      await store.delete('a/keep');
      expect(await readdir(root)).toEqual([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------------------
// s3: the harness's MinIO bucket, a fresh key prefix per test, 5 MiB parts so 40 MiB spans several.

interface S3Env {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  bucket: string;
}

function s3Env(): S3Env {
  return {
    endpoint: requireEnv('LIFEBOAT_TEST_S3_ENDPOINT'),
    accessKey: requireEnv('LIFEBOAT_TEST_S3_ACCESS_KEY'),
    secretKey: requireEnv('LIFEBOAT_TEST_S3_SECRET_KEY'),
    bucket: requireEnv('LIFEBOAT_TEST_S3_BUCKET'),
  };
}

function s3Store(env: S3Env, overrides: { bucket?: string; prefix?: string; accessKey?: string; secretKey?: string } = {}): S3Store {
  const store = createStore(
    { type: 's3', bucket: overrides.bucket ?? env.bucket, prefix: overrides.prefix ?? '', endpoint: env.endpoint },
    {
      s3: {
        partSize: 5 * MiB,
        credentials: { accessKeyId: overrides.accessKey ?? env.accessKey, secretAccessKey: overrides.secretKey ?? env.secretKey },
      },
    },
  );
  if (!(store instanceof S3Store)) throw new Error('createStore did not make an S3Store for type s3');
  return store;
}

describeStoreConformance('s3', async () => {
  const env = s3Env();
  const prefix = `conformance/${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
  const store = s3Store(env, { prefix });
  return {
    store,
    leftovers: async (key) =>
      (await store.listIncompleteUploads(key)).filter((upload) => upload.key === key).map((upload) => upload.uploadId),
    simulateKilledPut: async (key) => {
      // What a worker SIGKILLed mid-upload leaves: a multipart upload with a part, never completed or aborted.
      const { UploadId } = await store.client.send(
        new CreateMultipartUploadCommand({ Bucket: env.bucket, Key: `${prefix}/${key}` }),
      );
      await store.client.send(
        new UploadPartCommand({ Bucket: env.bucket, Key: `${prefix}/${key}`, UploadId, PartNumber: 1, Body: randomBytes(5 * MiB) }),
      );
    },
    cleanup: async () => {
      for await (const object of store.list('')) await store.delete(object.key);
      // Best effort: MinIO lists incomplete uploads only by exact key, and the tests assert there are none.
      for (const upload of await store.listIncompleteUploads('')) await store.abortIncompleteUploads(upload.key);
      store.destroy();
    },
  };
});

describe('s3 store errors', () => {
  it('fails with a clear, non-retryable error naming the bucket on wrong credentials', async () => {
    const env = s3Env();
    for (const overrides of [{ accessKey: 'no-such-access-key' }, { secretKey: 'wrong-secret-key-0123456789' }]) {
      const store = s3Store(env, overrides);
      try {
        const error: unknown = await store.put('creds/object', Readable.from([Buffer.from('x')])).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).toBeInstanceOf(StoreCredentialsError);
        expect((error as Error).message).toContain(`bucket '${env.bucket}'`);
        expect((error as Error).message).toMatch(/AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY)/);
        expect(isRetryableStoreError(error)).toBe(false);
        await expect(collect(store.list(''))).rejects.toBeInstanceOf(StoreCredentialsError);
      } finally {
        store.destroy();
      }
    }
  });

  it('fails with a clear, non-retryable error naming the bucket when the bucket does not exist', async () => {
    const env = s3Env();
    const bucket = `lifeboat-missing-${randomBytes(4).toString('hex')}`;
    const store = s3Store(env, { bucket });
    try {
      const error: unknown = await store.put('object', Readable.from([Buffer.from('x')])).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(BucketNotFoundError);
      expect((error as Error).message).toContain(`bucket '${bucket}'`);
      expect((error as Error).message).toContain('store.bucket');
      expect(isRetryableStoreError(error)).toBe(false);
      await expect(store.get('object')).rejects.toBeInstanceOf(BucketNotFoundError);
      await expect(collect(store.list(''))).rejects.toBeInstanceOf(BucketNotFoundError);
    } finally {
      store.destroy();
    }
  });

  it('counts an unreachable endpoint as retryable, and names the bucket and endpoint', async () => {
    const env = s3Env();
    const store = new S3Store(
      { type: 's3', bucket: env.bucket, prefix: '', endpoint: 'http://127.0.0.1:1' },
      { credentials: { accessKeyId: env.accessKey, secretAccessKey: env.secretKey }, maxAttempts: 1 },
    );
    try {
      const error: unknown = await store.get('object').then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(error).toBeInstanceOf(StoreUnreachableError);
      expect((error as Error).message).toContain(`cannot reach bucket '${env.bucket}' at http://127.0.0.1:1 (ECONNREFUSED)`);
      expect(isRetryableStoreError(error)).toBe(true);
    } finally {
      store.destroy();
    }
  });
});
