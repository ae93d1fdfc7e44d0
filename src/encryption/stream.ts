/**
 * Streaming authenticated encryption of artifacts: AES-256-GCM over fixed-size chunks, in constant memory.
 *
 * Stored layout (format 1):
 *
 *   header   "LBOATENC" | version 1 | log2(chunk size) | key id length | key id | salt (32) | key check (16)
 *   chunks   ciphertext of each chunk followed by its 16-byte GCM tag; every chunk but the last holds exactly
 *            `chunk size` plaintext bytes, the last one 0..chunk size
 *
 * Each stream derives its own key with HKDF-SHA256(key, salt): so the per-chunk nonces (a derived prefix,
 * the chunk's index and a final-chunk flag) never repeat under one key. The whole header is every chunk's
 * additional data. A changed byte anywhere fails the chunk it is in (or the header); reordered chunks fail
 * their index; a cut-off stream fails because its last chunk is not marked final; appended bytes fail
 * because the final chunk is no longer last. The key check (also HKDF output) tells a wrong key apart
 * from a damaged artifact before any chunk is read.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { type ResolvedKey, WrongKeyError } from './keys';

export const ENCRYPTION_ALGORITHM = 'aes-256-gcm-chunked';

const MAGIC = Buffer.from('LBOATENC', 'ascii');
const FORMAT_VERSION = 1;
const SALT_BYTES = 32;
const KEY_CHECK_BYTES = 16;
const TAG_BYTES = 16;
const NONCE_PREFIX_BYTES = 7;
const FIXED_HEADER_BYTES = MAGIC.length + 3; // magic, version, log2(chunk size), key id length
const MAX_CHUNKS = 2 ** 32; // the index is 4 bytes of the nonce
export const DEFAULT_CHUNK_BYTES = 1024 * 1024;
const MIN_CHUNK_LOG2 = 10;
const MAX_CHUNK_LOG2 = 24;

/** Stored bytes that fail authentication: altered, truncated, extended or reordered. Never heals on retry. */
export class ArtifactTamperedError extends Error {
  constructor(
    readonly artifact: string,
    message: string,
  ) {
    super(`artifact ${artifact}: ${message}: it was altered or damaged in the store (restore another set)`);
    this.name = 'ArtifactTamperedError';
  }
}

interface StreamKeys {
  key: Buffer;
  noncePrefix: Buffer;
  keyCheck: Buffer;
}

function deriveStreamKeys(key: Buffer, salt: Buffer): StreamKeys {
  const derived = Buffer.from(hkdfSync('sha256', key, salt, 'lifeboat artifact stream v1', 32 + NONCE_PREFIX_BYTES + KEY_CHECK_BYTES));
  return { key: derived.subarray(0, 32), noncePrefix: derived.subarray(32, 32 + NONCE_PREFIX_BYTES), keyCheck: derived.subarray(32 + NONCE_PREFIX_BYTES) };
}

function nonceFor(prefix: Buffer, index: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  prefix.copy(nonce, 0);
  nonce.writeUInt32BE(index, NONCE_PREFIX_BYTES);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

/** Buffers incoming pieces and hands out exact-size runs of bytes, without re-copying the whole backlog. */
class ByteQueue {
  private parts: Buffer[] = [];
  length = 0;

  push(part: Buffer): void {
    if (part.length === 0) return;
    this.parts.push(part);
    this.length += part.length;
  }

  /** The first n bytes (n <= length), removed from the queue. */
  take(n: number): Buffer {
    const first = this.parts[0];
    if (first && first.length >= n) {
      const taken = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.length -= n;
      return taken;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const part = this.parts[0];
      const used = Math.min(part.length, n - filled);
      part.copy(out, filled, 0, used);
      filled += used;
      if (used === part.length) this.parts.shift();
      else this.parts[0] = part.subarray(used);
    }
    this.length -= n;
    return out;
  }

  peek(n: number): Buffer {
    const taken = this.take(n);
    this.parts.unshift(taken);
    this.length += n;
    return taken;
  }
}

/** Encrypts a stream under `key` (the plan's current key). */
export class EncryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private readonly header: Buffer;
  private readonly keys: StreamKeys;
  private readonly chunkBytes: number;
  private headerSent = false;
  private index = 0;

  constructor(key: ResolvedKey, options: { chunkBytes?: number } = {}) {
    super({ highWaterMark: DEFAULT_CHUNK_BYTES });
    this.chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const log2 = Math.log2(this.chunkBytes);
    if (!Number.isInteger(log2) || log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) throw new Error(`chunk size must be a power of two from 1 KiB to 16 MiB, not ${this.chunkBytes}`);
    const keyId = Buffer.from(key.id, 'utf8');
    if (keyId.length < 1 || keyId.length > 255) throw new Error('a key id must have 1 to 255 bytes');
    const salt = randomBytes(SALT_BYTES);
    this.keys = deriveStreamKeys(key.key, salt);
    this.header = Buffer.concat([MAGIC, Buffer.from([FORMAT_VERSION, log2, keyId.length]), keyId, salt, this.keys.keyCheck]);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.queue.push(chunk);
      // Strictly more than a chunk: the last chunk must stay behind until the end, to be sealed as final.
      while (this.queue.length > this.chunkBytes) this.seal(this.queue.take(this.chunkBytes), false);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(this.queue.take(this.queue.length), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header);
  }

  private seal(plaintext: Buffer, final: boolean): void {
    if (this.index >= MAX_CHUNKS) throw new Error('the artifact is too large to encrypt in one stream (2^32 chunks)');
    const cipher = createCipheriv('aes-256-gcm', this.keys.key, nonceFor(this.keys.noncePrefix, this.index, final));
    cipher.setAAD(this.header);
    this.push(Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]));
    this.index++;
  }
}

/** A key lookup by id: a plan's Keyring (which throws WrongKeyError saying what to configure). */
export type KeyLookup = (keyId: string) => ResolvedKey;

/**
 * Decrypts a stream written by EncryptStream, failing with ArtifactTamperedError (naming the artifact and
 * the chunk) or WrongKeyError. Plaintext leaves only after its chunk has been authenticated.
 */
export class DecryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private header: Buffer | undefined;
  private keys: StreamKeys | undefined;
  private chunkBytes = 0;
  private index = 0;
  /** Position in the stored stream, for messages. */
  private offset = 0;

  constructor(
    /** The artifact's key in the store, for messages. */
    private readonly artifact: string,
    private readonly lookup: KeyLookup,
  ) {
    super({ highWaterMark: DEFAULT_CHUNK_BYTES });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.queue.push(chunk);
      if (!this.keys && !this.readHeader()) return callback();
      // A full-size chunk may be the final one until more bytes (or the end) show which it is.
      while (this.queue.length > this.chunkBytes + TAG_BYTES) this.open(this.queue.take(this.chunkBytes + TAG_BYTES), false);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.keys && !this.readHeader()) throw new ArtifactTamperedError(this.artifact, `it ends after ${this.queue.length} bytes, inside the encryption header (truncated)`);
      if (this.queue.length < TAG_BYTES) throw new ArtifactTamperedError(this.artifact, `chunk ${this.index} is cut off (the stream ends ${this.queue.length} bytes into it): truncated`);
      this.open(this.queue.take(this.queue.length), true);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  /** Parses the header once enough bytes arrived; false while it is still incomplete. */
  private readHeader(): boolean {
    if (this.queue.length < FIXED_HEADER_BYTES) return false;
    const fixed = this.queue.peek(FIXED_HEADER_BYTES);
    if (!fixed.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new ArtifactTamperedError(this.artifact, 'it does not start with a Lifeboat encryption header');
    }
    const version = fixed[MAGIC.length];
    if (version !== FORMAT_VERSION) throw new ArtifactTamperedError(this.artifact, `unknown encryption format version ${version} (this Lifeboat reads version ${FORMAT_VERSION}; a newer one may read it)`);
    const log2 = fixed[MAGIC.length + 1];
    if (log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) throw new ArtifactTamperedError(this.artifact, `the encryption header names an impossible chunk size (2^${log2})`);
    const keyIdLength = fixed[MAGIC.length + 2];
    const headerBytes = FIXED_HEADER_BYTES + keyIdLength + SALT_BYTES + KEY_CHECK_BYTES;
    if (this.queue.length < headerBytes) return false;
    const header = Buffer.from(this.queue.take(headerBytes)); // a copy: it outlives the piece it came in
    const keyId = header.subarray(FIXED_HEADER_BYTES, FIXED_HEADER_BYTES + keyIdLength).toString('utf8');
    const salt = header.subarray(FIXED_HEADER_BYTES + keyIdLength, FIXED_HEADER_BYTES + keyIdLength + SALT_BYTES);
    const storedCheck = header.subarray(headerBytes - KEY_CHECK_BYTES);
    const key = this.lookup(keyId);
    const keys = deriveStreamKeys(key.key, salt);
    if (!timingSafeEqual(keys.keyCheck, storedCheck)) {
      throw new WrongKeyError(
        `artifact ${this.artifact}: the configured key ${keyId} (${key.source}) is not the key it was encrypted with (its key check fails): configure the right key, or the header was damaged`,
      );
    }
    this.header = header;
    this.keys = keys;
    this.chunkBytes = 2 ** log2;
    this.offset = headerBytes;
    return true;
  }

  private open(sealed: Buffer, final: boolean): void {
    const keys = this.keys!;
    if (this.index >= MAX_CHUNKS) throw new ArtifactTamperedError(this.artifact, 'it has more chunks than an encrypted stream can hold');
    const decipher = createDecipheriv('aes-256-gcm', keys.key, nonceFor(keys.noncePrefix, this.index, final));
    decipher.setAAD(this.header!);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plaintext = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      const where = `chunk ${this.index} (stored bytes ${this.offset}-${this.offset + sealed.length - 1})`;
      throw new ArtifactTamperedError(this.artifact, final ? `${where}, the last one, fails authentication (altered, or the stream was truncated or extended)` : `${where} fails authentication`);
    }
    this.offset += sealed.length;
    this.index++;
    if (plaintext.length > 0) this.push(plaintext);
  }
}
