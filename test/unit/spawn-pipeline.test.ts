/** producer | filter through a kernel pipe (pg_dump | zstd): whole output only when both succeed. */
import { spawnSync } from 'node:child_process';
import type { Readable } from 'node:stream';
import { ProcessFailedError, spawnPipeline } from '../../src/engines/childProcess';

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
