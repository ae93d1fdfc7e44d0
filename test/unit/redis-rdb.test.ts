/** The RDB checks the Redis engine relies on: CRC64 as Redis computes it, and the streaming header/trailer check. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { crc64, RdbInvalidError, RdbStreamCheck, RdbValidator, restoreRedisRdb } from '../../src/engines/redis';

/** Bit-at-a-time CRC64-Jones (reflected), written independently of the table-driven one under test. */
function referenceCrc64(data: Uint8Array): bigint {
  const poly = 0x95ac9329ac4bc9b5n; // 0xad93d23594c935a9 reflected
  let crc = 0n;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc;
}

/** A structurally valid RDB: header, opaque body, EOF opcode, CRC64 trailer (or 0 when checksums are off). */
function syntheticRdb(body: Buffer, options: { version?: string; checksum?: boolean } = {}): Buffer {
  const content = Buffer.concat([Buffer.from(`REDIS${options.version ?? '0010'}`), body, Buffer.from([0xff])]);
  const trailer = Buffer.alloc(8);
  if (options.checksum ?? true) trailer.writeBigUInt64LE(crc64(content));
  return Buffer.concat([content, trailer]);
}

const EOF_MARK = Buffer.from('6c15971c424dc6dcddf6bff1164875681026aeec'); // 40 hex digits, as Redis makes them

function chunks(data: Buffer, size: number): Buffer[] {
  const parts: Buffer[] = [];
  for (let offset = 0; offset < data.length; offset += size) parts.push(data.subarray(offset, offset + size));
  return parts;
}

async function throughValidator(parts: Buffer[]): Promise<{ output: Buffer; validator: RdbValidator }> {
  const validator = new RdbValidator();
  const received: Buffer[] = [];
  await pipeline(
    Readable.from(parts),
    validator,
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received.push(chunk);
        callback();
      },
    }),
  );
  return { output: Buffer.concat(received), validator };
}

describe('crc64 (Jones, reflected: Redis)', () => {
  test("matches Redis's test vector", () => {
    expect(crc64(Buffer.from('123456789'))).toBe(0xe9c6d914c4b8d9can);
    expect(crc64(Buffer.alloc(0))).toBe(0n);
  });

  test('matches a bit-at-a-time reference for every length and alignment up to 100 bytes', () => {
    const data = randomBytes(100);
    for (let start = 0; start < 9; start += 1) {
      for (let end = start; end <= data.length; end += 1) {
        expect(crc64(data.subarray(start, end))).toBe(referenceCrc64(data.subarray(start, end)));
      }
    }
  });

  test('continues across chunks: crc64(b, crc64(a)) = crc64(a + b)', () => {
    const data = randomBytes(10_000);
    for (const split of [0, 1, 7, 8, 9, 4095, 9999, 10_000]) {
      expect(crc64(data.subarray(split), crc64(data.subarray(0, split)))).toBe(crc64(data));
    }
    expect(crc64(data)).toBe(referenceCrc64(data));
  });
});

describe('RDB stream check', () => {
  const rdb = syntheticRdb(randomBytes(5000));

  test.each([1, 7, 47, 48, 49, 1000, 100_000])('passes a whole RDB through unchanged in %i-byte chunks', async (size) => {
    const { output, validator } = await throughValidator(chunks(rdb, size));
    expect(output.equals(rdb)).toBe(true);
    await expect(validator.summary).resolves.toEqual({ rdbVersion: 10, checksum: 'crc64', bytes: rdb.length });
  });

  test.each([1, 13, 48, 100_000])("strips the EOF mark redis-cli leaves on stdout after a diskless transfer (%i-byte chunks)", async (size) => {
    const { output } = await throughValidator(chunks(Buffer.concat([rdb, EOF_MARK]), size));
    expect(output.equals(rdb)).toBe(true);
  });

  test('accepts a zero trailer (rdbchecksum no) and says the checksum was not checked', async () => {
    const unchecked = syntheticRdb(randomBytes(300), { checksum: false, version: '0011' });
    const { output, validator } = await throughValidator([unchecked]);
    expect(output.equals(unchecked)).toBe(true);
    await expect(validator.summary).resolves.toMatchObject({ rdbVersion: 11, checksum: 'disabled' });
  });

  test('the smallest RDB (no body) is whole', async () => {
    await expect(throughValidator([syntheticRdb(Buffer.alloc(0))])).resolves.toBeDefined();
  });

  const failures: [string, Buffer, RegExp][] = [
    ['a flipped byte', Buffer.from(rdb.map((byte, index) => (index === 2000 ? byte ^ 0x01 : byte))), /CRC64 mismatch/],
    ['a truncated transfer', rdb.subarray(0, 3000), /does not end with its EOF opcode|CRC64 mismatch/],
    ['a transfer cut inside the trailer', rdb.subarray(0, rdb.length - 1), /does not end with its EOF opcode|CRC64 mismatch/],
    ['a transfer cut inside the header', rdb.subarray(0, 6), /inside its 9-byte header/],
    ['an empty stream', Buffer.alloc(0), /inside its 9-byte header/],
    ['something else', Buffer.from('HELLO WORLD, this is not an RDB at all'), /not an RDB: it starts with bytes/],
    ['a compressed artifact', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), randomBytes(40)]), /zstd magic number/],
    ['a bad version', Buffer.from('REDIS00x1aaaaaaaaaaaaaaaaaaaaaaaaa'), /not a 4-digit version/],
    ['an RDB from before checksums', syntheticRdb(randomBytes(10), { version: '0004' }), /predates checksums/],
  ];

  test.each(failures)('fails on %s', async (_what, bytes, message) => {
    const validator = new RdbValidator();
    const consumed = pipeline(Readable.from(chunks(bytes, 512)), validator, new Writable({ write: (_chunk, _encoding, callback) => callback() }));
    await expect(consumed).rejects.toThrow(message);
    await expect(validator.summary).rejects.toBeInstanceOf(RdbInvalidError);
  });

  test('the plain check reports the same failures without a stream', () => {
    const check = new RdbStreamCheck();
    for (const part of chunks(rdb.subarray(0, rdb.length - 20), 100)) check.update(part);
    expect(() => check.finish()).toThrow(RdbInvalidError);
  });
});

describe('restoreRedisRdb', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-redis-rdb-'));

  test('writes the RDB where redis-server will load it', async () => {
    const rdb = syntheticRdb(randomBytes(70_000));
    await restoreRedisRdb(Readable.from(chunks(Buffer.concat([rdb, EOF_MARK]), 4096)), path.join(dir, 'data'));
    expect(readFileSync(path.join(dir, 'data', 'dump.rdb')).equals(rdb)).toBe(true);
    expect(readdirSync(path.join(dir, 'data'))).toEqual(['dump.rdb']);
  });

  test('leaves no file behind when the RDB is not whole', async () => {
    const rdb = syntheticRdb(randomBytes(70_000));
    await expect(restoreRedisRdb(Readable.from(chunks(rdb.subarray(0, 50_000), 4096)), path.join(dir, 'broken'), 'other.rdb')).rejects.toThrow(RdbInvalidError);
    expect(existsSync(path.join(dir, 'broken', 'other.rdb'))).toBe(false);
    expect(readdirSync(path.join(dir, 'broken'))).toEqual([]);
  });
});
