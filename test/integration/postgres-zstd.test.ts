/**
 * The fast PostgreSQL default: pg_dump -Fc -Z0 piped through zstd, recorded in the manifest, restored by
 * Lifeboat's own restore activity with identical row counts; and a set in the old shape (pg_dump's built-in
 * compression, manifest compression "none") still restores, because the manifest says what to do.
 */
import { execFile } from 'node:child_process';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { restoreComponent, type RestoreComponentResult } from '../../activities/recovery';
import type { Manifest } from '../../src/catalog/manifest';
import { decompressor } from '../../src/engines/compression';
import { postgresEngine } from '../../src/engines/postgres';
import { planSchema, postgresComponentSchema, type Compression, type PlanInput } from '../../src/plan/schema';
import { createDatabase, databaseUrl, runPgbenchInit, tableRowCounts, tempDir, testEnv, uniqueName } from '../harness/env';
import { inProcessDumpContext } from '../harness/engines';
import { backupSet, lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';

const execFileAsync = promisify(execFile);

describe('PostgreSQL dumps: -Z0 through zstd by default', () => {
  const taskQueue = uniqueName('zstd');
  const dir = tempDir('zstd');
  const source = uniqueName('zstd_source');
  const target = uniqueName('zstd_target');
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;

  beforeAll(async () => {
    const url = await createDatabase(source);
    await runPgbenchInit(url, 1);
    await createDatabase(target);
    env = lifeboatEnv(taskQueue, { SOURCE_DATABASE_URL: url });
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
  });

  /** A plan that dumps the source database into a local store of its own (named after the plan). */
  function localPlan(name: string, compression?: Compression): { plan: PlanInput; store: string } {
    const store = path.join(dir, `${name}-store`);
    const component = { name: 'db', type: 'postgres' as const, connection: { urlFromEnv: 'SOURCE_DATABASE_URL' }, ...(compression ? { compression } : {}) };
    return { plan: { name, store: { type: 'local', path: store }, components: [component] }, store };
  }

  /** Backs the plan up through the worker; the new set's manifest. */
  async function backup(plan: PlanInput): Promise<Manifest> {
    const planFile = writePlan(dir, plan);
    const setId = await backupSet(planFile, env);
    const { sets } = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[] };
    return sets.find((set) => set.setId === setId)!;
  }

  /** The header pg_restore reads from the (decompressed) archive: how pg_dump itself compressed the data. */
  async function archiveCompression(store: string, manifest: Manifest): Promise<string> {
    const [component] = manifest.components;
    const archive = path.join(dir, `${manifest.setId}.pgdump`);
    await pipeline(createReadStream(path.join(store, component.key)), decompressor(component.compression), createWriteStream(archive));
    const { stdout } = await execFileAsync(path.join(testEnv().pgBinDir, 'pg_restore'), ['--list', archive]);
    return /Compression: (\S+)/.exec(stdout)?.[1] ?? 'unknown';
  }

  /** Lifeboat's restore activity (the one the disasterRecovery workflow runs) into the target database; its row counts. */
  async function restoreWithLifeboat(plan: PlanInput, setId: string): Promise<Record<string, number>> {
    const result = await runRestoreActivity(plan, setId);
    expect(result).toMatchObject({ component: 'db', restored: true });
    return tableRowCounts(databaseUrl(target));
  }

  function runRestoreActivity(plan: PlanInput, setId: string): Promise<RestoreComponentResult> {
    const restorePlan = planSchema.parse({ ...plan, components: [{ ...plan.components[0], connection: { urlFromEnv: 'TARGET_DATABASE_URL' } }] });
    process.env.TARGET_DATABASE_URL = databaseUrl(target);
    const activities = new MockActivityEnvironment({}, { logger: new DefaultLogger('WARN') });
    return activities.run(restoreComponent, { plan: restorePlan, setId, component: 'db' });
  }

  test('a new set is zstd level 3 over an uncompressed custom-format archive, and restores with the same row counts', async () => {
    const { plan, store } = localPlan('zstd-default');
    const manifest = await backup(plan);
    const [component] = manifest.components;
    expect(component.compression).toEqual({ algorithm: 'zstd', level: 3 });
    expect(component.key).toMatch(/\/db\.pgdump\.zst$/);
    // pg_dump ran with -Z0: its archive says so (PostgreSQL 15 prints 0, 16 and later "none").
    expect(await archiveCompression(store, manifest)).toMatch(/^(0|none)$/);
    const restored = await restoreWithLifeboat(plan, manifest.setId);
    expect(restored).toEqual(component.postgres?.rowCounts);
    expect(restored['public.pgbench_accounts']).toBe(100_000);
  });

  /**
   * Dumps the source through the engine in this process with a pg_dump that runs the real one under strace
   * (PG_BIN_DIR points there): the bytes pg_dump wrote and its write(2) calls.
   */
  async function tracedDump(compression: Compression): Promise<{ dumpBytes: number; writes: number }> {
    const bin = path.join(dir, `traced-bin-${compression.algorithm}`);
    const trace = path.join(dir, `pg_dump-${compression.algorithm}.strace`);
    mkdirSync(bin, { recursive: true });
    writeFileSync(path.join(bin, 'pg_dump'), `#!/bin/sh\nexec strace -f -qq -c -e trace=write -o '${trace}' '${path.join(testEnv().pgBinDir, 'pg_dump')}' "$@"\n`, { mode: 0o755 });
    const component = postgresComponentSchema.parse({ name: 'db', type: 'postgres', connection: { urlFromEnv: 'SOURCE_DATABASE_URL' }, rowCounts: 'estimated', compression });
    const context = inProcessDumpContext(planSchema.parse(localPlan('traced').plan), component);
    process.env.SOURCE_DATABASE_URL = env.SOURCE_DATABASE_URL;
    const binDir = process.env.PG_BIN_DIR; // put back afterwards: the later tests' in-process restores read it
    process.env.PG_BIN_DIR = bin;
    const dump = await postgresEngine.dump(component, context).finally(() => {
      if (binDir === undefined) delete process.env.PG_BIN_DIR;
      else process.env.PG_BIN_DIR = binDir;
    });
    let dumpBytes = 0;
    const count = async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) dumpBytes += chunk.length;
    };
    // zstd runs behind pg_dump: what pg_dump wrote is the stream decompressed; otherwise the stream itself.
    await (dump.compressed ? pipeline(dump.stream, decompressor(dump.compressed), count) : pipeline(dump.stream, count));
    await dump.finished;
    // strace -c's table: "% time  seconds  usecs/call  calls  [errors]  syscall".
    const writeLine = readFileSync(trace, 'utf8').split('\n').find((line) => line.trim().endsWith(' write'));
    return { dumpBytes, writes: Number(writeLine?.trim().split(/\s+/)[3]) };
  }

  test('pg_dump writes into zstd in 1 MiB blocks, not C stdio\'s 4 KiB ones (its write(2) calls counted by strace)', async () => {
    const { dumpBytes, writes } = await tracedDump({ algorithm: 'zstd', level: 3 });
    expect(dumpBytes).toBeGreaterThan(8e6); // pgbench at scale 1 (10 MB): C stdio alone would make some 2,500 writes
    expect(writes).toBeLessThanOrEqual(Math.ceil(dumpBytes / (1024 * 1024)) + 8);
  });

  test('pg_dump writing straight to Node (its own gzip, compression "none") writes in 1 MiB blocks too', async () => {
    const { dumpBytes, writes } = await tracedDump({ algorithm: 'none' });
    expect(dumpBytes).toBeGreaterThan(200_000); // gzip makes pgbench at scale 1 small: C stdio alone would make some 50 writes
    expect(writes).toBeLessThanOrEqual(Math.ceil(dumpBytes / (1024 * 1024)) + 8);
  });

  test('the level is configurable and recorded', async () => {
    const manifest = await backup(localPlan('zstd-level-9', { algorithm: 'zstd', level: 9 }).plan);
    expect(manifest.components[0].compression).toEqual({ algorithm: 'zstd', level: 9 });
    // The level reaches zstd, not only the manifest: the same database at level 1 is larger.
    const level1 = await backup(localPlan('zstd-level-1', { algorithm: 'zstd', level: 1 }).plan);
    expect(level1.components[0].bytes).toBeGreaterThan(manifest.components[0].bytes);
  });

  test('a set in the old shape (pg_dump compresses, manifest says none) still restores', async () => {
    const { plan, store } = localPlan('old-shape', { algorithm: 'none' });
    const manifest = await backup(plan);
    const [component] = manifest.components;
    expect(component.compression).toEqual({ algorithm: 'none' });
    expect(component.key).toMatch(/\/db\.pgdump$/);
    // pg_dump's own gzip, as every set made before zstd became the default (15: -1, the default level; 16+: gzip).
    expect(await archiveCompression(store, manifest)).toMatch(/^(-1|gzip)/);
    await createDatabase(target);
    expect(await restoreWithLifeboat(plan, manifest.setId)).toEqual(component.postgres?.rowCounts);
  });

  test('a gzip set restores too (decompressed in Node, then into pg_restore)', async () => {
    const { plan } = localPlan('gzip-set', { algorithm: 'gzip' });
    const manifest = await backup(plan);
    expect(manifest.components[0].key).toMatch(/\/db\.pgdump\.gz$/);
    await createDatabase(target);
    expect(await restoreWithLifeboat(plan, manifest.setId)).toEqual(manifest.components[0].postgres?.rowCounts);
  });

  test('damage only in the artifact\'s last bytes (the zstd frame checksum) is refused, and pg_restore commits nothing', async () => {
    // The decompressed archive is whole and valid: only the sha256 (and zstd's own checksum, at the very
    // end) can tell. pg_restore commits once it has read its last data block, before the end of its input,
    // so it must not get those bytes before the artifact's checksum matched.
    const { plan, store } = localPlan('tail-damage');
    const manifest = await backup(plan);
    const artifact = path.join(store, manifest.components[0].key);
    const original = readFileSync(artifact);
    const damaged = Buffer.from(original);
    damaged[damaged.length - 1] ^= 0x01;
    writeFileSync(artifact, damaged);
    await createDatabase(target);
    await expect(runRestoreActivity(plan, manifest.setId)).rejects.toThrow(/does not match its manifest/);
    expect(await tableRowCounts(databaseUrl(target))).toEqual({});

    writeFileSync(artifact, original); // repaired: the same restore now succeeds
    expect(await restoreWithLifeboat(plan, manifest.setId)).toEqual(manifest.components[0].postgres?.rowCounts);
  });
});
