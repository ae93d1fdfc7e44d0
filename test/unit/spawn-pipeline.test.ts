/** producer | filter through a kernel pipe (pg_dump | zstd): whole output only when both succeed. */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProcessFailedError, spawnConsumer, spawnPipeline } from '../../src/engines/childProcess';
import { ChecksumMismatchError, HELD_BACK_BYTES, VerifyingStream } from '../../src/repository/digest';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('spawnPipeline', () => {
  test('the filter sees every byte the producer wrote, and the output ends once both exited with 0', async () => {
    const piped = spawnPipeline({ command: 'head', args: ['-c', '3000000', '/dev/zero'] }, { command: 'zstd', args: ['-q', '-c', '-3'] });
    const compressed = await collect(piped.stdout);
    await Promise.all([piped.producerExited, piped.filterExited]);
    const restored = spawnSync('zstd', ['-q', '-d', '-c'], { input: compressed, maxBuffer: 8 * 1024 * 1024 }).stdout;
    expect(restored.length).toBe(3_000_000);
    expect(restored.every((byte) => byte === 0)).toBe(true);
    expect(compressed.length).toBeLessThan(10_000);
  });

  test('a producer that fails mid-stream fails the output, even though the filter ended cleanly', async () => {
    const piped = spawnPipeline(
      { command: 'sh', args: ['-c', 'head -c 200000 /dev/urandom; echo "connection lost" >&2; exit 3'] },
      { command: 'zstd', args: ['-q', '-c', '-3'] },
    );
    const failure = await collect(piped.stdout).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(ProcessFailedError);
    expect((failure as ProcessFailedError).exitCode).toBe(3);
    expect((failure as ProcessFailedError).stderr).toContain('connection lost');
  });

  test('a filter that fails fails the output', async () => {
    const piped = spawnPipeline({ command: 'head', args: ['-c', '100000', '/dev/zero'] }, { command: 'sh', args: ['-c', 'head -c 10 >/dev/null; exit 4'] });
    const failure = await collect(piped.stdout).then(() => undefined, (error: unknown) => error);
    expect(failure).toBeInstanceOf(ProcessFailedError);
  });

  test('reports the filter\'s input bytes from /proc while it runs', async () => {
    const piped = spawnPipeline({ command: 'sh', args: ['-c', 'head -c 1000000 /dev/zero; sleep 1'] }, { command: 'zstd', args: ['-q', '-c'] });
    let seen = 0;
    const watch = setInterval(() => (seen = Math.max(seen, piped.filterInputBytes() ?? 0)), 50);
    await collect(piped.stdout);
    clearInterval(watch);
    expect(seen).toBeGreaterThanOrEqual(1_000_000);
  });
});

describe('spawnConsumer (zstd -d | pg_restore, fed from Node)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'spawn-consumer-'));
  const compressed = spawnSync('zstd', ['-q', '-c', '-3'], { input: Buffer.alloc(3_000_000, 7) }).stdout;

  /** A consumer that records how many bytes it read, and that it saw the end of its input ("committed"). */
  function recordingConsumer(name: string): { command: string; args: string[]; committed: string; count: string } {
    const committed = path.join(dir, `${name}.committed`);
    const count = path.join(dir, `${name}.count`);
    return { command: 'sh', args: ['-c', `wc -c > ${count} && touch ${committed}`], committed, count };
  }

  /** Node's side: a stream of `bytes` in 64 KiB chunks that errors before its end when `failAt` is reached. */
  function source(bytes: Buffer, failAt?: number): Readable {
    let offset = 0;
    return new Readable({
      read() {
        if (failAt !== undefined && offset >= failAt) {
          this.destroy(new Error('checksum mismatch'));
          return;
        }
        const chunk = bytes.subarray(offset, offset + 65536);
        offset += chunk.length;
        this.push(chunk.length > 0 ? chunk : null);
      },
    });
  }

  test('the decompressed bytes go from the filter to the consumer through a kernel pipe: Node writes only the compressed ones', async () => {
    const consumer = recordingConsumer('whole');
    const restore = spawnConsumer(consumer, { command: 'zstd', args: ['-q', '-d', '-c'] });
    let written = 0;
    const counted = source(compressed).on('data', (chunk: Buffer) => (written += chunk.length));
    await Promise.all([pipeline(counted, restore.stdin), restore.exited]);
    expect(written).toBe(compressed.length);
    expect(written).toBeLessThan(10_000);
    expect(Number(readFileSync(consumer.count, 'utf8').trim())).toBe(3_000_000);
    expect(existsSync(consumer.committed)).toBe(true);
  });

  test.each([
    ['through zstd -d', { command: 'zstd', args: ['-q', '-d', '-c'] }],
    ['fed directly', undefined],
  ])('an input that errors before its end kills the consumer before its input closes (%s): it never sees an end', async (name, filter) => {
    const consumer = recordingConsumer(name.replace(/\W/g, '-'));
    const restore = spawnConsumer(consumer, filter);
    const input = filter ? compressed : Buffer.alloc(3_000_000, 7);
    const fed = await pipeline(source(input, Math.floor(input.length / 2)), restore.stdin).then(() => undefined, (error: Error) => error);
    expect(fed?.message).toBe('checksum mismatch');
    const exit = await restore.exited.then(() => undefined, (error: unknown) => error);
    expect(exit).toBeInstanceOf(ProcessFailedError);
    expect((exit as ProcessFailedError).signal).toBe('SIGKILL');
    // Give a surviving consumer time to act on an end of input it should never have seen.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(existsSync(consumer.committed)).toBe(false);
  });

  test('a consumer that fails by itself is the reported failure, and the feed stops', async () => {
    // 16 zstd frames of random bytes, 32 MB: far more than the pipes hold once the consumer stopped reading.
    const incompressible = spawnSync('zstd', ['-q', '-c', '-1'], { input: randomBytes(2_000_000), maxBuffer: 4 * 1024 * 1024 }).stdout;
    const restore = spawnConsumer({ command: 'sh', args: ['-c', 'head -c 1000 >/dev/null; echo "role app does not exist" >&2; exit 1'] }, { command: 'zstd', args: ['-q', '-d', '-c'] });
    const [fed, exited] = await Promise.allSettled([pipeline(source(Buffer.concat(new Array<Buffer>(16).fill(incompressible))), restore.stdin), restore.exited]);
    expect(exited.status).toBe('rejected');
    const failure = (exited as PromiseRejectedResult).reason as ProcessFailedError;
    expect(failure.command).toBe('sh');
    expect(failure.exitCode).toBe(1);
    expect(failure.stderr).toContain('does not exist');
    expect(fed.status).toBe('rejected');
  });
});

describe('VerifyingStream', () => {
  test('holds back the artifact\'s last HELD_BACK_BYTES until its checksum matched, and releases nothing more when it did not', async () => {
    const artifact = randomBytes(HELD_BACK_BYTES * 4);
    const sha256 = createHash('sha256').update(artifact).digest('hex');
    const released = async (expected: string): Promise<{ bytes: number; error?: Error }> => {
      const verifying = new VerifyingStream('set/db.pgdump.zst', expected, artifact.length);
      let bytes = 0;
      verifying.on('data', (chunk: Buffer) => (bytes += chunk.length));
      const error = await pipeline(Readable.from(chunksOf(artifact, 10_000)), verifying).then(() => undefined, (failure: Error) => failure);
      return { bytes, error };
    };
    expect(await released(sha256)).toEqual({ bytes: artifact.length, error: undefined });
    const damaged = await released('0'.repeat(64));
    expect(damaged.error).toBeInstanceOf(ChecksumMismatchError);
    expect(damaged.bytes).toBeGreaterThan(0);
    expect(damaged.bytes).toBeLessThanOrEqual(artifact.length - HELD_BACK_BYTES);
  });
});

function chunksOf(bytes: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < bytes.length; offset += size) chunks.push(bytes.subarray(offset, offset + size));
  return chunks;
}
