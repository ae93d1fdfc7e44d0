/**
 * s3-versioned benchmark: takes a version map of N objects in a versioned MinIO bucket and rolls the bucket
 * back to it after 1% of the objects changed (overwritten, deleted, added), at two sizes so that the growth of
 * time and memory shows. Each map and each restore runs in its own child process, whose peak RSS is reported.
 *
 *   npm run build && node dist/bench/s3Versioned.js [--objects 10000,100000] [--merge 100000,1000000]
 *
 * --merge sizes run the merge alone (no S3) on generated maps, which is quick even at a million objects.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinio } from '../src/embedded/minio';
import { compressor, decompressor, resolveCompression } from '../src/engines/compression';
import { s3VersionedEngine } from '../src/engines/s3Versioned';
import type { KeyVersions } from '../src/engines/s3Versioned/bucket';
import { planRollback } from '../src/engines/s3Versioned/rollback';
import { encodeHeader, encodeRecord, readVersionMap } from '../src/engines/s3Versioned/versionMap';
import type { DumpContext } from '../src/engines/types';
import { planSchema, type S3VersionedComponent } from '../src/plan/schema';

const ACCESS_KEY = 'lifeboat-bench';
const SECRET_KEY = 'lifeboat-bench-secret';
const COMPRESSION = resolveCompression({ algorithm: 'zstd', level: 3 });

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : fallback;
}

function component(endpoint: string, bucket: string): S3VersionedComponent {
  return { name: 'blobs', type: 's3-versioned', bucket, prefix: 'data/', endpoint, after: [] };
}

/**
 * The child runs with --expose-gc and samples the live heap after a full collection every 250 ms: unlike peak
 * RSS, which includes garbage V8 has not collected yet, it shows what the work really holds.
 */
function sampleLiveHeap(): { sample(): void; stop(): number } {
  const collect = (globalThis as { gc?: () => void }).gc;
  let peak = 0;
  const sample = () => {
    collect?.();
    peak = Math.max(peak, process.memoryUsage().heapUsed);
  };
  const timer = setInterval(sample, 250);
  return {
    sample,
    stop: () => {
      clearInterval(timer);
      sample();
      return peak / 1024 / 1024;
    },
  };
}

/**
 * The merge alone, without S3: a map of n objects against a listing in which every object changed, so every
 * object becomes an action. Shows that the merge's memory does not grow with the number of objects.
 */
async function syntheticMerge(n: number): Promise<void> {
  const heap = sampleLiveHeap();
  const key = (index: number) => `data/${String(index).padStart(8, '0')}`;
  const recorded = (index: number) => `${index}-0123456789abcdef0123456789ab`;
  function* mapLines(): Generator<string> {
    yield encodeHeader({ bucket: 'bench', prefix: 'data/' });
    for (let index = 0; index < n; index++) {
      yield encodeRecord({ key: key(index), versionId: recorded(index), etag: 'd41d8cd98f00b204e9800998ecf8427e', size: 10, lastModified: '2026-11-21T00:00:00.000Z' });
    }
  }
  async function* listing(): AsyncGenerator<KeyVersions> {
    for (let index = 0; index < n; index++) {
      const version = { etag: 'd41d8cd98f00b204e9800998ecf8427e', size: 10, lastModified: '' };
      yield { key: key(index), deleted: false, current: { versionId: `new-${index}`, ...version, etag: 'changed' }, versions: new Map([[recorded(index), version]]) };
    }
  }
  const started = performance.now();
  let actions = 0;
  // The merge never waits on I/O here, so the timer cannot fire: sample every 50,000 actions instead.
  await planRollback({ map: readVersionMap(Readable.from(mapLines())), listing: listing(), onAction: () => void (++actions % 50_000 === 0 && heap.sample()) });
  console.log(JSON.stringify({ ms: performance.now() - started, maxRssMiB: process.resourceUsage().maxRSS / 1024, liveHeapMiB: heap.stop(), applied: actions }));
}

/** In the child: one map or one restore; prints {ms, maxRssMiB, liveHeapMiB, ...} as JSON. */
async function child(mode: string, endpoint: string, bucket: string, file: string): Promise<void> {
  if (mode === 'merge') return syntheticMerge(Number(endpoint));
  const heap = sampleLiveHeap();
  const blobs = component(endpoint, bucket);
  const plan = planSchema.parse({ name: 'bench', store: { type: 'local', path: tmpdir() }, components: [blobs] });
  const started = performance.now();
  if (mode === 'map') {
    const dump = await s3VersionedEngine.dump(blobs, { plan } as DumpContext);
    const [facts] = await Promise.all([dump.finished, pipeline(dump.stream, compressor(COMPRESSION), createWriteStream(file))]);
    const ms = performance.now() - started;
    console.log(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, liveHeapMiB: heap.stop(), objects: facts.s3Versioned?.objects, mapBytes: statSync(file).size }));
  } else {
    let applied = 0;
    const content = decompressor(COMPRESSION);
    await Promise.all([
      pipeline(createReadStream(file), content),
      s3VersionedEngine.restore!(blobs, content, { plan, progress: (detail) => (applied = detail.phase === 'applying' ? Number(detail.objects) : applied) }),
    ]);
    const ms = performance.now() - started;
    console.log(JSON.stringify({ ms, maxRssMiB: process.resourceUsage().maxRSS / 1024, liveHeapMiB: heap.stop(), applied }));
  }
}

async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) await work(items[next++]);
  }));
}

async function main(): Promise<void> {
  const sizes = option('objects', '10000,100000').split(',').map(Number);
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-bench-s3v-'));
  const minio = await startMinio({ accessKey: ACCESS_KEY, secretKey: SECRET_KEY, baseDir: dir });
  const s3 = new S3Client({ endpoint: minio.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET_KEY } });
  const env = { ...process.env, AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY, AWS_REGION: 'us-east-1' };
  const runChild = (args: string[]) =>
    JSON.parse(execFileSync(process.execPath, ['--expose-gc', __filename, '--child', ...args], { env, encoding: 'utf8' }).trim().split('\n').at(-1)!) as Record<string, number>;
  const run = (mode: string, bucket: string, file: string) => runChild([mode, minio.endpoint, bucket, file]);
  const rows: string[] = [];
  try {
    for (const size of sizes) {
      const bucket = `bench-${size}`;
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
      const keys = Array.from({ length: size }, (_, index) => `data/${String(index).padStart(7, '0')}`);
      let started = performance.now();
      await inParallel(keys, 64, (key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `object ${key}` })));
      process.stderr.write(`${size}: ${size} objects written in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      const file = path.join(dir, `map-${size}.jsonl.zst`);
      const map = run('map', bucket, file);
      process.stderr.write(`${size}: map ${JSON.stringify(map)}\n`);
      // 1% changes: a third overwritten, a third deleted, a third new keys.
      const changed = Math.max(3, Math.floor(size / 100));
      const third = Math.floor(changed / 3);
      started = performance.now();
      await inParallel(keys.slice(0, third), 64, (key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'overwritten' })));
      await inParallel(keys.slice(third, 2 * third), 64, (key) => s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key })));
      await inParallel(Array.from({ length: third }, (_, index) => `data/new-${index}`), 64, (key) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'new' })));
      const restore = run('restore', bucket, file);
      process.stderr.write(`${size}: restore ${JSON.stringify(restore)}\n`);
      const again = run('restore', bucket, file);
      rows.push(
        `| ${size.toLocaleString('en')} | ${(map.ms / 1000).toFixed(1)} s | ${(map.mapBytes / 1024 / 1024).toFixed(2)} MiB | ${map.maxRssMiB.toFixed(0)} / ${map.liveHeapMiB.toFixed(1)} MiB | ` +
          `${restore.applied} | ${(restore.ms / 1000).toFixed(1)} s | ${restore.maxRssMiB.toFixed(0)} / ${restore.liveHeapMiB.toFixed(1)} MiB | ${(again.ms / 1000).toFixed(1)} s (${again.applied} changes) |`,
      );
    }
  } finally {
    s3.destroy();
    await minio.destroy();
  }
  const merges = option('merge', '100000,1000000').split(',').map(Number).map((size) => ({ size, result: runChild(['merge', String(size), '', '']) }));
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}.`);
  console.log('| objects | map time | map size (zstd) | map peak RSS / live heap | rolled back | restore time | restore peak RSS / live heap | second restore |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('\n| merge only (no S3), objects | time | peak RSS | live heap |\n|---|---|---|---|');
  for (const merge of merges) console.log(`| ${merge.size.toLocaleString('en')} | ${(merge.result.ms / 1000).toFixed(1)} s | ${merge.result.maxRssMiB.toFixed(0)} MiB | ${merge.result.liveHeapMiB.toFixed(1)} MiB |`);
}

if (process.argv[2] === '--child') {
  child(process.argv[3], process.argv[4], process.argv[5], process.argv[6]).catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error: Error) => {
    console.error(error);
    process.exit(1);
  });
}
