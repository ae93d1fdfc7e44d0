/**
 * One plan with every kind of component (PostgreSQL, Redis, a file tree with excludes, an HTTP export) backed up
 * into MinIO as one set, verified, and each artifact restored and compared with its source.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import type { Manifest } from '../../src/catalog/manifest';
import { freePort } from '../../src/embedded/ports';
import { decompressor } from '../../src/engines/compression';
import { openFilesArtifact, restoreFilesArtifacts } from '../../src/engines/files';
import { restoreRedisRdb } from '../../src/engines/redis';
import type { S3StoreConfig } from '../../src/plan/schema';
import { S3Store } from '../../src/stores/s3';
import { createDatabase, databaseUrl, libpqEnv, runPgbenchInit, tableRowCounts, tempDir, testEnv, uniqueName } from '../harness/env';
import { lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';
import { canonicalDb, fill, startRedisServer, type RedisServer } from '../harness/redis';

const execFileAsync = promisify(execFile);

/** Relative path -> sha256 of every regular file under dir. */
function treeDigest(dir: string): Record<string, string> {
  const digest: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    digest[path.relative(dir, file)] = createHash('sha256').update(readFileSync(file)).digest('hex');
  }
  return digest;
}

describe('a plan with every kind of component', () => {
  const dir = tempDir('all-components');
  const identities = JSON.stringify({ participant: 'validator-1', keys: Array.from({ length: 200 }, (_, i) => `key-${i}`) });
  const token = `tok-${uniqueName('secret')}`;
  let http: Server;
  let redis: RedisServer;
  let worker: WorkerProcess;
  let env: NodeJS.ProcessEnv;
  let pgUrl: string;
  const ledger = path.join(dir, 'ledger');

  beforeAll(async () => {
    pgUrl = await createDatabase(uniqueName('all_apps'));
    await runPgbenchInit(pgUrl, 1);
    redis = await startRedisServer(tempDir('all-redis'));
    await fill(redis);
    for (const [file, content] of Object.entries({ 'blocks/0001.dat': 'block one', 'blocks/0002.dat': Buffer.alloc(200_000, 7), 'state.json': '{"height":2}', 'cache/tmp.bin': 'excluded', 'x.tmp': 'excluded' })) {
      mkdirSync(path.dirname(path.join(ledger, file)), { recursive: true });
      writeFileSync(path.join(ledger, file), content);
    }
    const port = await freePort();
    http = createServer((request, response) => {
      if (request.headers.authorization !== `Bearer ${token}`) return void response.writeHead(401).end();
      response.writeHead(200, { 'Content-Type': 'application/json' }).end(identities);
    });
    await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    env = lifeboatEnv(uniqueName('all'), { APPS_DATABASE_URL: pgUrl, CACHE_REDIS_URL: redis.url, IDENTITIES_TOKEN: token });
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
    await redis?.stop();
    await new Promise((resolve) => http?.close(resolve));
  });

  test('backs up every component into one set, and each artifact restores to its source', async () => {
    const { s3Endpoint, s3Bucket, s3AccessKey, s3SecretKey } = testEnv();
    const storeConfig: S3StoreConfig = { type: 's3', bucket: s3Bucket, prefix: uniqueName('all'), endpoint: s3Endpoint, forcePathStyle: true };
    const planFile = writePlan(dir, {
      name: 'everything',
      store: storeConfig,
      components: [
        { name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } },
        { name: 'cache', type: 'redis', connection: { urlFromEnv: 'CACHE_REDIS_URL' }, after: ['apps'] },
        { name: 'ledger', type: 'files', path: ledger, exclude: ['cache/**', '*.tmp'] },
        { name: 'identities', type: 'http', url: `http://127.0.0.1:${(http.address() as { port: number }).port}/identities`, tokenFromEnv: 'IDENTITIES_TOKEN', body: 'json' },
      ],
    });
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env, timeoutMs: 180_000 });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const verify = await runCli(['backup', 'verify', '--plan', planFile, (JSON.parse(run.stdout) as { setId: string }).setId], { env });
    expect(verify.code).toBe(0);
    const { sets } = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[] };
    const byName = new Map(sets[0].components.map((component) => [component.name, component]));
    expect([...byName.keys()].sort()).toEqual(['apps', 'cache', 'identities', 'ledger']);
    expect(JSON.stringify(sets[0])).not.toContain(token);

    const store = new S3Store(storeConfig, { credentials: { accessKeyId: s3AccessKey, secretAccessKey: s3SecretKey } });
    const download = async (name: string, file: string) => {
      const backup = byName.get(name)!;
      await pipeline(await store.get(backup.key), decompressor(backup.compression), createWriteStream(file));
    };

    // PostgreSQL: pg_restore into a fresh database, same row counts.
    const dump = path.join(dir, 'apps.pgdump');
    await download('apps', dump);
    const restoredDb = uniqueName('all_restored');
    await createDatabase(restoredDb);
    const { args, env: pgEnv } = libpqEnv(databaseUrl(restoredDb));
    await execFileAsync(path.join(testEnv().pgBinDir, 'pg_restore'), [...args, '--dbname', restoredDb, '--exit-on-error', dump], { env: pgEnv });
    expect(await tableRowCounts(databaseUrl(restoredDb))).toEqual(await tableRowCounts(pgUrl));

    // Redis: a fresh redis-server loads the RDB and has the same keys and values.
    const redisDir = tempDir('all-redis-restored');
    const rdb = path.join(dir, 'cache.rdb');
    await download('cache', rdb);
    await restoreRedisRdb(createReadStream(rdb), redisDir);
    const restoredRedis = await startRedisServer(redisDir);
    try {
      for (const db of [0, 1]) expect(await canonicalDb(restoredRedis, db)).toEqual(await canonicalDb(redis, db));
    } finally {
      await restoredRedis.stop();
    }

    // Files: the extracted tree equals the source minus the excludes, byte for byte.
    const extracted = tempDir('all-ledger-restored');
    await restoreFilesArtifacts({ full: await openFilesArtifact(store, byName.get('ledger')!), targetDir: extracted });
    const expected = treeDigest(ledger);
    delete expected['cache/tmp.bin'];
    delete expected['x.tmp'];
    expect(treeDigest(extracted)).toEqual(expected);

    // HTTP: the stored body is what the endpoint served.
    const body = path.join(dir, 'identities.json');
    await download('identities', body);
    expect(readFileSync(body, 'utf8')).toBe(identities);
  });
});
