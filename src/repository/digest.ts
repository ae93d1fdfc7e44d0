import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

/** A pass-through that counts bytes and computes their sha256 as they stream by: no copy, no buffering. */
export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  bytes = 0;

  constructor() {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  /** The hex digest; call once, after the stream has ended. */
  sha256(): string {
    return this.hash.digest('hex');
  }
}

/** A pass-through that only counts bytes (progress before compression): no hashing, no copy. */
export class ByteCounter extends Transform {
  bytes = 0;

  constructor() {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

export class ChecksumMismatchError extends Error {
  constructor(key: string, expected: string, actual: string, bytes: number, expectedBytes: number) {
    super(`artifact ${key} does not match its manifest (sha256 ${actual.slice(0, 16)}…, ${bytes} bytes; expected ${expected.slice(0, 16)}…, ${expectedBytes} bytes): it was altered or damaged in the store`);
    this.name = 'ChecksumMismatchError';
  }
}

/**
 * Bytes of an artifact held back until its checksum matched: more than anything a decoder between this check
 * and the consumer needs before it can emit the artifact's last bytes (a zstd block is at most 128 KiB; deflate
 * decodes symbol by symbol), so the consumer cannot have seen the end of the content. (A decryptor releases
 * only chunks that authenticated, so what it lets through is whole and unaltered anyway.)
 */
export const HELD_BACK_BYTES = 256 * 1024;

/**
 * Passes an artifact through while checking it against its manifest, holding back its last HELD_BACK_BYTES
 * until the whole checksum is known: a consumer that commits at end of input (pg_restore --single-transaction
 * commits once it has read its last data block, without waiting for end of file) never sees the end of a
 * damaged artifact, even through a decompressor, only an error.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  bytes = 0;

  constructor(
    private readonly key: string,
    private readonly expectedSha256: string,
    private readonly expectedBytes: number,
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    // Releases the oldest chunks while what stays held is still at least HELD_BACK_BYTES.
    while (this.held.length > 1 && this.heldBytes - this.held[0].length >= HELD_BACK_BYTES) {
      const released = this.held.shift() as Buffer;
      this.heldBytes -= released.length;
      this.push(released);
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    const actual = this.hash.digest('hex');
    if (actual !== this.expectedSha256 || this.bytes !== this.expectedBytes) {
      callback(new ChecksumMismatchError(this.key, this.expectedSha256, actual, this.bytes, this.expectedBytes));
      return;
    }
    for (const chunk of this.held.splice(0)) this.push(chunk);
    callback();
  }
}
