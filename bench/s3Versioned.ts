/**
 * s3-versioned benchmark: takes a version map of N objects in a versioned MinIO bucket and rolls the bucket
 * back to it after 1% of the objects changed (overwritten, deleted, added), at two sizes so that the growth of
 * time and memory shows. Each map and each restore runs in its own child process, whose peak RSS is reported.
 *
 *   npm run build && node dist/bench/s3Versioned.js [--objects 10000,100000]
 */
import { execFileSync } from 'node:child_process';
import { createReadStream, createWriteStream, mkdtempSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { CreateBucketCommand, DeleteObjectCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startMinio } from '../src/embedded/minio';
import { compressor, decompressor, resolveCompression } from '../src/engines/compression';
import { s3VersionedEngine } from '../src/engines/s3Versioned';
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

/** In the child: one map or one restore; prints {ms, maxRssMiB, ...} as JSON. */
async function child(mode: string, endpoint: string, bucket: string, file: string): Promise<void> {
  const blobs = component(endpoint, bucket);
  const plan = planSchema.parse({ name: 'bench', store: { type: 'local', path: tmpdir() }, components: [blobs] });
  const started = performance.now();
  if (mode === 'map') {
    const dump = await s3VersionedEngine.dump(blobs, { plan } as DumpContext);
    const [facts] = await Promise.all([dump.finished, pipeline(dump.stream, compressor(COMPRESSION), createWriteStream(file))]);
    console.log(JSON.stringify({ ms: performance.now() - started, maxRssMiB: process.resourceUsage().maxRSS / 1024, objects: facts.s3Versioned?.objects, mapBytes: statSync(file).size }));
  } else {
    let applied = 0;
    const content = decompressor(COMPRESSION);
    await Promise.all([
      pipeline(createReadStream(file), content),
      s3VersionedEngine.restore!(blobs, content, { plan, progress: (detail) => (applied = detail.phase === 'applying' ? Number(detail.objects) : applied) }),
    ]);
    console.log(JSON.stringify({ ms: performance.now() - started, maxRssMiB: process.resourceUsage().maxRSS / 1024, applied }));
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
  const run = (mode: string, bucket: string, file: string) =>
    JSON.parse(execFileSync(process.execPath, [__filename, '--child', mode, minio.endpoint, bucket, file], { env, encoding: 'utf8' }).trim().split('\n').at(-1)!) as Record<string, number>;
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
        `| ${size.toLocaleString('en')} | ${(map.ms / 1000).toFixed(1)} s | ${(map.mapBytes / 1024 / 1024).toFixed(2)} MiB | ${map.maxRssMiB.toFixed(0)} MiB | ` +
          `${restore.applied} | ${(restore.ms / 1000).toFixed(1)} s | ${restore.maxRssMiB.toFixed(0)} MiB | ${(again.ms / 1000).toFixed(1)} s (${again.applied} changes) |`,
      );
    }
  } finally {
    s3.destroy();
    await minio.destroy();
  }
  console.log(`Machine: ${cpus().length} × ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}.`);
  console.log('| objects | map time | map size (zstd) | map peak RSS | rolled back | restore time | restore peak RSS | second restore |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
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
