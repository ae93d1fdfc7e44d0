/**
 * Compression benchmark: gzip (Node's zlib, in process) against zstd (the `zstd` program, as Lifeboat runs it)
 * on data shaped like what Lifeboat stores (database text dumps and JSON-lines logs). Alternates the
 * candidates, reports median throughput and ratio, and appends a table to bench/RESULTS.md.
 *
 *   npm run bench:compression -- [--mib 256] [--rounds 3]
 */
import { appendFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { compressor, hasZstd } from '../src/engines/compression';
import type { CompressionRecord } from '../src/catalog/manifest';

const MiB = 1024 * 1024;

function argument(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

/** Deterministic (fixed-seed) rows like pgbench's and audit-log lines, so runs compare. */
function* sampleChunks(totalBytes: number): Generator<Buffer> {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let produced = 0;
  let row = 0;
  while (produced < totalBytes) {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i += 1, row += 1) {
      lines.push(
        i % 3 === 0
          ? JSON.stringify({ ts: 1_700_000_000_000 + row * 37, user: `u${Math.floor(random() * 5000)}`, action: ['login', 'transfer', 'logout'][row % 3], amount: Math.floor(random() * 1e6) })
          : `${row}\t${Math.floor(random() * 100)}\t${Math.floor(random() * 2e6) - 1e6}\t${'x'.repeat(Math.floor(random() * 40))}`,
      );
    }
    const chunk = Buffer.from(`${lines.join('\n')}\n`);
    produced += chunk.length;
    yield chunk;
  }
}

async function measure(record: CompressionRecord, bytes: number): Promise<{ seconds: number; ratio: number }> {
  let out = 0;
  const started = process.hrtime.bigint();
  await pipeline(Readable.from(sampleChunks(bytes)), compressor(record), new Writable({ write: (chunk: Buffer, _e, done) => ((out += chunk.length), done()) }));
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, ratio: bytes / out };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main(): Promise<void> {
  if (!hasZstd()) throw new Error('zstd is not installed: apt-get install zstd');
  const bytes = argument('mib', 256) * MiB;
  const rounds = argument('rounds', 3);
  const candidates: CompressionRecord[] = [
    { algorithm: 'gzip', level: 1 },
    { algorithm: 'gzip', level: 6 },
    { algorithm: 'zstd', level: 1 },
    { algorithm: 'zstd', level: 3 },
    { algorithm: 'zstd', level: 9 },
  ];
  await measure(candidates[0], 8 * MiB); // warm-up
  const results = new Map(candidates.map((candidate) => [candidate, [] as { seconds: number; ratio: number }[]]));
  for (let round = 0; round < rounds; round += 1) {
    for (const candidate of candidates) results.get(candidate)!.push(await measure(candidate, bytes));
  }
  const gzip6 = median(results.get(candidates[1])!.map((result) => bytes / MiB / result.seconds));
  const rows = candidates.map((candidate) => {
    const runs = results.get(candidate)!;
    const speeds = runs.map((result) => bytes / MiB / result.seconds);
    return `| ${candidate.algorithm} -${candidate.level} | ${median(speeds).toFixed(0)} (${Math.min(...speeds).toFixed(0)}–${Math.max(...speeds).toFixed(0)}) | ${median(runs.map((result) => result.ratio)).toFixed(2)} | ${(median(speeds) / gzip6).toFixed(2)}× |`;
  });
  const report = [
    `\n## Compression: gzip (zlib) vs zstd (process), ${new Date().toISOString().slice(0, 10)}`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}. Command: \`npm run bench:compression -- --mib ${bytes / MiB} --rounds ${rounds}\`.`,
    `Input: ${bytes / MiB} MiB of generated pgbench-like rows and JSON-lines logs (fixed seed), streamed; median of ${rounds} alternating rounds after a warm-up.`,
    '',
    '| compressor | MiB/s of input, median (min–max) | ratio | speed vs gzip -6 |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  process.stdout.write(report);
  appendFileSync(path.resolve(__dirname, '..', '..', 'bench', 'RESULTS.md'), report);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
