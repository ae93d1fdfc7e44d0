/**
 * The artifact encryption stream and its keys: round trips at chunk boundaries, constant memory, and every way
 * stored bytes can be damaged (flipped, truncated, extended, reordered) or read with the wrong key.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parsePlanText, PlanError } from '../../src/plan/load';
import {
  ArtifactTamperedError,
  DecryptStream,
  EncryptStream,
  KeyMaterialError,
  Keyring,
  keyFingerprint,
  parseKeyText,
  unsealingStream,
  WrongKeyError,
} from '../../src/encryption';
import type { ResolvedKey } from '../../src/encryption/keys';

const CHUNK = 1024;
const keyA: ResolvedKey = { id: 'key-a', key: randomBytes(32), source: 'test' };
const keyB: ResolvedKey = { id: 'key-b', key: randomBytes(32), source: 'test' };
const lookupOf = (...keys: ResolvedKey[]) => (keyId: string) => {
  const found = keys.find((key) => key.id === keyId);
  if (!found) throw new WrongKeyError(`key ${keyId} is not configured`);
  return found;
};

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Feeds the data in pieces of `piece` bytes (to cross chunk boundaries in every way). */
function source(data: Buffer, piece = 777): Readable {
  return Readable.from((function* () {
    for (let offset = 0; offset < data.length; offset += piece) yield data.subarray(offset, offset + piece);
  })());
}

const encrypt = (data: Buffer, key = keyA) => collect(source(data).pipe(new EncryptStream(key, { chunkBytes: CHUNK })));
const decrypt = (sealed: Buffer, ...keys: ResolvedKey[]) => collect(source(sealed, 500).pipe(new DecryptStream('plan/set/db.pgdump', lookupOf(...(keys.length ? keys : [keyA])))));

async function decryptError(sealed: Buffer, ...keys: ResolvedKey[]): Promise<Error> {
  const stream = new DecryptStream('plan/set/db.pgdump', lookupOf(...(keys.length ? keys : [keyA])));
  try {
    await pipeline(source(sealed, 500), stream, new Writable({ write: (_chunk, _encoding, done) => done() }));
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected decryption to fail');
}

describe('artifact encryption stream', () => {
  test.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 10 * CHUNK + 17])('round trip of %i bytes', async (size) => {
    const data = randomBytes(size);
    const sealed = await encrypt(data);
    expect((await decrypt(sealed)).equals(data)).toBe(true);
    // Every chunk carries a 16-byte tag; the empty stream still has one (final) chunk.
    const chunks = Math.max(1, Math.ceil(size / CHUNK));
    expect(sealed.length - size - chunks * 16).toBe(8 + 3 + keyA.id.length + 32 + 16);
  });

  test('the ciphertext holds no plaintext, and two encryptions of the same data differ', async () => {
    const data = Buffer.from('DISTINCTIVE-PLAINTEXT-MARKER '.repeat(200));
    const first = await encrypt(data);
    const second = await encrypt(data);
    expect(first.includes(Buffer.from('DISTINCTIVE-PLAINTEXT-MARKER'))).toBe(false);
    expect(first.equals(second)).toBe(false);
  });

  test('a flipped byte in a chunk fails on that chunk, naming the artifact and the chunk', async () => {
    const data = randomBytes(5 * CHUNK);
    const sealed = await encrypt(data);
    const header = sealed.length - 5 * CHUNK - 5 * 16;
    const tampered = Buffer.from(sealed);
    tampered[header + 2 * (CHUNK + 16) + 100] ^= 0x01; // inside chunk 2
    const error = await decryptError(tampered);
    expect(error).toBeInstanceOf(ArtifactTamperedError);
    expect(error.message).toContain('artifact plan/set/db.pgdump');
    expect(error.message).toContain('chunk 2 ');
    expect(error.message).toContain('fails authentication');
  });

  test('no plaintext of a tampered chunk (or after it) is released', async () => {
    const data = randomBytes(4 * CHUNK);
    const sealed = await encrypt(data);
    const header = sealed.length - 4 * CHUNK - 4 * 16;
    const tampered = Buffer.from(sealed);
    tampered[header + 1 * (CHUNK + 16) + 5] ^= 0x80;
    const released: Buffer[] = [];
    await expect(pipeline(source(tampered, 500), new DecryptStream('a', lookupOf(keyA)), new Writable({ write: (chunk: Buffer, _encoding, done) => (released.push(chunk), done()) }))).rejects.toThrow('fails authentication');
    expect(Buffer.concat(released).equals(data.subarray(0, CHUNK))).toBe(true);
  });

  test('a flipped byte in a tag or the header fails too', async () => {
    const sealed = await encrypt(randomBytes(2 * CHUNK));
    const tagged = Buffer.from(sealed);
    tagged[tagged.length - 1] ^= 0x01;
    expect((await decryptError(tagged)).message).toMatch(/chunk 1 .*the last one, fails authentication/);
    const salted = Buffer.from(sealed);
    salted[8 + 3 + keyA.id.length + 3] ^= 0x01; // in the salt: the derived key check no longer matches
    expect(await decryptError(salted)).toBeInstanceOf(WrongKeyError);
    const magic = Buffer.from(sealed);
    magic[0] ^= 0x01;
    expect((await decryptError(magic)).message).toContain('does not start with a Lifeboat encryption header');
  });

  test('truncation at a chunk boundary, inside a chunk or inside the header fails', async () => {
    const sealed = await encrypt(randomBytes(3 * CHUNK));
    const header = sealed.length - 3 * CHUNK - 3 * 16;
    const atBoundary = sealed.subarray(0, header + 2 * (CHUNK + 16));
    expect((await decryptError(atBoundary)).message).toMatch(/chunk 1 .*the last one, fails authentication \(altered, or the stream was truncated/);
    expect(await decryptError(sealed.subarray(0, sealed.length - 100))).toBeInstanceOf(ArtifactTamperedError);
    expect((await decryptError(sealed.subarray(0, 20))).message).toContain('inside the encryption header (truncated)');
    expect((await decryptError(sealed.subarray(0, header + 5))).message).toContain('chunk 0 is cut off');
  });

  test('appended bytes and reordered chunks fail', async () => {
    const sealed = await encrypt(randomBytes(3 * CHUNK));
    expect(await decryptError(Buffer.concat([sealed, randomBytes(CHUNK + 16)]))).toBeInstanceOf(ArtifactTamperedError);
    const header = sealed.length - 3 * CHUNK - 3 * 16;
    const segment = (index: number) => sealed.subarray(header + index * (CHUNK + 16), header + (index + 1) * (CHUNK + 16));
    const swapped = Buffer.concat([sealed.subarray(0, header), segment(1), segment(0), segment(2)]);
    expect((await decryptError(swapped)).message).toContain('chunk 0 ');
  });

  test('a key that is not configured, and a configured key that is not the right one, say it is the key', async () => {
    const sealed = await encrypt(randomBytes(100));
    const missing = await decryptError(sealed, keyB);
    expect(missing).toBeInstanceOf(WrongKeyError);
    expect(missing.message).toContain('key-a');
    const impostor = await decryptError(sealed, { ...keyB, id: 'key-a' });
    expect(impostor).toBeInstanceOf(WrongKeyError);
    expect(impostor.message).toMatch(/the configured key key-a .* is not the key it was encrypted with/);
  });

  test('memory stays flat: 64 MiB through encrypt and decrypt without holding it', async () => {
    const piece = randomBytes(64 * 1024);
    const total = 64 * 1024 * 1024;
    let sent = 0;
    const input = new Readable({
      read() {
        if (sent >= total) return this.push(null);
        sent += piece.length;
        this.push(piece);
      },
    });
    const hash = createHash('sha256');
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers)), 5);
    const before = process.memoryUsage().arrayBuffers;
    await pipeline(input, new EncryptStream(keyA), new DecryptStream('big', lookupOf(keyA)), new Writable({ write: (chunk: Buffer, _encoding, done) => (hash.update(chunk), done()) }));
    clearInterval(sampler);
    const expected = createHash('sha256');
    for (let i = 0; i < total / piece.length; i++) expected.update(piece);
    expect(hash.digest('hex')).toBe(expected.digest('hex'));
    expect(peak - before).toBeLessThan(48 * 1024 * 1024);
  });
});

describe('encryption keys', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-keys-'));
  const raw = randomBytes(32);

  test('keys are 32 bytes as hex or base64; anything else is refused', () => {
    expect(parseKeyText(raw.toString('hex'))?.equals(raw)).toBe(true);
    expect(parseKeyText(` ${raw.toString('base64')}\n`)?.equals(raw)).toBe(true);
    expect(parseKeyText(raw.toString('base64url'))?.equals(raw)).toBe(true);
    expect(parseKeyText(randomBytes(16).toString('base64'))).toBeUndefined();
    expect(parseKeyText('correct horse battery staple')).toBeUndefined();
  });

  test('a keyring loads from env and file, derives ids, and names the source (never the key) when it cannot', () => {
    const file = path.join(dir, 'old.key');
    const old = randomBytes(32);
    writeFileSync(file, `${old.toString('base64')}\n`);
    const ring = Keyring.forPlan({ encryption: { keyFromEnv: 'BACKUP_KEY', previousKeys: [{ keyFile: file }] } }, { BACKUP_KEY: raw.toString('hex') });
    expect(ring.current()).toMatchObject({ id: keyFingerprint(raw), source: 'environment variable BACKUP_KEY (encryption.keyFromEnv/keyFile)' });
    expect(ring.require(keyFingerprint(old), 'artifact x').key.equals(old)).toBe(true);
    expect(() => ring.require('0123456789abcdef', 'artifact x')).toThrow('artifact x was encrypted with key 0123456789abcdef, which is not configured: add it to encryption.previousKeys');

    const unset = Keyring.forPlan({ encryption: { keyFromEnv: 'BACKUP_KEY', previousKeys: [] } }, {});
    expect(() => unset.current()).toThrow(KeyMaterialError);
    expect(() => unset.current()).toThrow(/environment variable BACKUP_KEY .* is not set/);
    const secret = 'not-a-key-but-secret-text';
    const malformed = Keyring.forPlan({ encryption: { keyFromEnv: 'BACKUP_KEY', previousKeys: [] } }, { BACKUP_KEY: secret });
    expect(() => malformed.current()).toThrow(/BACKUP_KEY .* does not hold a 32-byte key/);
    try {
      malformed.current();
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
    const missingFile = Keyring.forPlan({ encryption: { keyFile: path.join(dir, 'nope.key'), previousKeys: [] } }, {});
    expect(() => missingFile.current()).toThrow(/key file .*nope\.key .* does not exist/);
    expect(() => Keyring.forPlan({}).require('abc', 'artifact y')).toThrow(/artifact y is encrypted with key abc, and the plan configures no encryption keys/);
  });

  test('an unloadable previous key does not hide a loadable one, and is named when no key matches', () => {
    const ring = Keyring.forPlan({ encryption: { keyFromEnv: 'NEW_KEY', previousKeys: [{ keyFromEnv: 'UNMOUNTED_KEY' }, { keyFromEnv: 'OLD_KEY' }] } }, { NEW_KEY: randomBytes(32).toString('hex'), OLD_KEY: raw.toString('hex') });
    expect(ring.require(keyFingerprint(raw), 'artifact x').key.equals(raw)).toBe(true);
    expect(() => ring.require('feedfacefeedface', 'artifact x')).toThrow(/artifact x needs key feedfacefeedface, and a configured key cannot be loaded: environment variable UNMOUNTED_KEY \(encryption.previousKeys\[0\]\) is not set/);
  });

  test('an explicit keyId is used as given', () => {
    const ring = Keyring.forPlan({ encryption: { keyFromEnv: 'K', keyId: 'prod-2026', previousKeys: [] } }, { K: raw.toString('hex') });
    expect(ring.current()?.id).toBe('prod-2026');
  });

  test('unsealingStream checks the key before reading, and passes plain artifacts through', () => {
    const ring = Keyring.forPlan({ encryption: { keyFromEnv: 'K', previousKeys: [] } }, { K: raw.toString('hex') });
    expect(() => unsealingStream({ key: 'p/s/db', encryption: { algorithm: 'aes-256-gcm-chunked', keyId: 'other' } }, ring)).toThrow(WrongKeyError);
    expect(() => unsealingStream({ key: 'p/s/db', encryption: { algorithm: 'rot13', keyId: 'other' } }, ring)).toThrow(/encrypted with "rot13"/);
    expect(unsealingStream({ key: 'p/s/db' }, Keyring.forPlan({}))).not.toBeInstanceOf(DecryptStream);
  });

  test('the plan schema takes encryption with one key source each and unique key ids', () => {
    const base = 'name: p\nstore: { type: local, path: /b }\ncomponents: [{ name: db, type: postgres, connection: { urlFromEnv: DB_URL } }]\n';
    const { plan } = parsePlanText(`${base}encryption: { keyFromEnv: BACKUP_KEY, previousKeys: [{ keyFile: /etc/lifeboat/old.key }] }\n`, 'p.yaml');
    expect(plan.encryption).toEqual({ keyFromEnv: 'BACKUP_KEY', previousKeys: [{ keyFile: '/etc/lifeboat/old.key' }] });
    expect(parsePlanText(base, 'p.yaml').plan.encryption).toBeUndefined();
    const invalid = (text: string) => {
      try {
        parsePlanText(`${base}${text}`, 'p.yaml');
      } catch (error) {
        return (error as PlanError).message;
      }
      throw new Error('expected an invalid plan');
    };
    expect(invalid('encryption: { keyFromEnv: A, keyFile: /k }\n')).toContain('give exactly one of keyFromEnv or keyFile');
    expect(invalid('encryption: {}\n')).toContain('give exactly one of keyFromEnv or keyFile');
    expect(invalid('encryption: { keyFromEnv: A, keyId: x, previousKeys: [{ keyFromEnv: B, keyId: x }] }\n')).toContain('two keys have the same keyId');
    expect(invalid('encryption: { key: c2VjcmV0 }\n')).toContain('key');
  });

  test('the encrypted example plan is valid', async () => {
    const { loadPlanFile } = await import('../../src/plan/load');
    const { plan } = await loadPlanFile(path.resolve(__dirname, '..', '..', 'examples', 'encrypted-plan.yaml'));
    expect(plan.encryption).toEqual({ keyFromEnv: 'LIFEBOAT_BACKUP_KEY', previousKeys: [] });
  });
});
