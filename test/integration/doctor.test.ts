/**
 * `lifeboat doctor` against the real parts: the harness's Temporal, MinIO as the store, a PostgreSQL database,
 * a Redis, a files tree and an HTTP endpoint all pass; then an unreachable Temporal, a stopped Redis and a
 * missing variable each fail with what to fix, exit 1; a bad plan exits 2.
 */
import { mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { freePort } from '../../src/embedded/ports';
import { createDatabase, tempDir, testEnv, uniqueName } from '../harness/env';
import { lifeboatEnv, runCli, writePlan } from '../harness/lifeboat';
import { startRedisServer, type RedisServer } from '../harness/redis';

describe('lifeboat doctor', () => {
  const dir = tempDir('doctor');
  let redis: RedisServer;
  let http: Server;
  let env: NodeJS.ProcessEnv;
  let planFile: string;

  beforeAll(async () => {
    const [databaseUrl, started] = await Promise.all([createDatabase(uniqueName('doctor')), startRedisServer(dir)]);
    redis = started;
    http = createServer((request, response) => response.writeHead(request.headers.authorization === 'Bearer s3cret-token' ? 200 : 401).end());
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    const tree = path.join(dir, 'tree');
    mkdirSync(tree);
    env = lifeboatEnv(uniqueName('doctor'), { DOCTOR_PG_URL: databaseUrl, DOCTOR_REDIS_URL: redis.url, DOCTOR_TOKEN: 's3cret-token' });
    const { s3Endpoint, s3Bucket } = testEnv();
    planFile = writePlan(dir, {
      name: 'doctor',
      store: { type: 's3', bucket: s3Bucket, prefix: uniqueName('doctor'), endpoint: s3Endpoint, region: 'us-east-1', forcePathStyle: true },
      components: [
        { name: 'db', type: 'postgres', connection: { urlFromEnv: 'DOCTOR_PG_URL' } },
        { name: 'cache', type: 'redis', connection: { urlFromEnv: 'DOCTOR_REDIS_URL' } },
        { name: 'uploads', type: 'files', path: tree },
        { name: 'export', type: 'http', url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/export`, tokenFromEnv: 'DOCTOR_TOKEN' },
      ],
    });
  });

  afterAll(async () => {
    await redis?.stop();
    await new Promise((resolve) => http?.close(resolve));
  });

  test('everything in place: a ✓ line per check, exit 0', async () => {
    const result = await runCli(['doctor', '--plan', planFile], { env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines.filter((line) => line.startsWith('✗'))).toEqual([]);
    for (const expected of [
      /^✓ Temporal at 127\.0\.0\.1:\d+, namespace default$/,
      /^✓ store s3:\/\/.*: probe object written, read back and deleted$/,
      /^✓ component "db" \(postgres\): connected to database "doctor_\w+" on 127\.0\.0\.1(:\d+)?, PostgreSQL \d+$/,
      /^✓ component "db" \(postgres\): .*pg_dump \(pg_dump \(PostgreSQL\) \d+/,
      /^✓ component "db" \(postgres\): .*pg_restore \(pg_restore \(PostgreSQL\) \d+/,
      /^✓ component "cache" \(redis\): redis-cli .* found; PING to 127\.0\.0\.1:\d+ answered PONG$/,
      /^✓ component "uploads" \(files\): .* is a readable directory$/,
      /^✓ component "export" \(http\): http:\/\/127\.0\.0\.1:\d+\/export answered 200$/,
    ]) {
      expect({ expected: String(expected), found: lines.some((line) => expected.test(line)) }).toEqual({ expected: String(expected), found: true });
    }
    expect(result.stdout).toMatch(/all 10 checks passed/);
    // The probe object is gone: the store holds nothing under the plan.
    const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    expect(JSON.parse(listed.stdout)).toMatchObject({ sets: [], incomplete: [] });
  });

  test('an unreachable Temporal, a stopped Redis, a wrong token and a missing variable: ✗ with the fix, exit 1', async () => {
    const stoppedRedis = await startRedisServer(tempDir('doctor-redis'));
    await stoppedRedis.stop();
    const broken = {
      ...env,
      TEMPORAL_ADDRESS: `127.0.0.1:${await freePort()}`,
      DOCTOR_REDIS_URL: stoppedRedis.url,
      DOCTOR_TOKEN: 'wrong',
      DOCTOR_PG_URL: '',
    };
    const result = await runCli(['doctor', '--plan', planFile], { env: broken, timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/error: 4 of \d+ checks failed/);
    const out = result.stdout;
    expect(out).toMatch(/^✗ Temporal at 127\.0\.0\.1:\d+: cannot connect/m);
    expect(out).toMatch(/^ {4}fix: start Temporal \(`lifeboat up`, or `docker compose up`\), or point TEMPORAL_ADDRESS/m);
    expect(out).toMatch(/^✗ component "cache" \(redis\): PING to 127\.0\.0\.1:\d+ answered ".*"\n {4}fix: check DOCTOR_REDIS_URL/m);
    expect(out).toMatch(/^✗ component "export" \(http\): .* answered 401\n {4}fix: check the token \(DOCTOR_TOKEN\)/m);
    expect(out).toMatch(/^✗ component "db" \(postgres\): environment variable DOCTOR_PG_URL is not set\n {4}fix: set DOCTOR_PG_URL here and where the worker runs/m);
    // What still works is still reported as working.
    expect(out).toMatch(/^✓ store s3:\/\//m);
    expect(out).toMatch(/^✓ component "uploads" \(files\)/m);
  });

  test("with TEMPORAL_HTTP_ADDRESS, Temporal's HTTP API is checked too (what `backup run` then uses)", async () => {
    const answering = await runCli(['doctor', '--plan', planFile], { env: { ...env, TEMPORAL_HTTP_ADDRESS: testEnv().temporalHttpAddress } });
    expect(answering.code).toBe(0);
    expect(answering.stdout).toMatch(/^✓ Temporal's HTTP API at 127\.0\.0\.1:\d+, namespace default$/m);
    expect(answering.stdout).toMatch(/all 11 checks passed/);

    const nowhere = `127.0.0.1:${await freePort()}`;
    const refused = await runCli(['doctor', '--plan', planFile], { env: { ...env, TEMPORAL_HTTP_ADDRESS: nowhere } });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`✗ Temporal's HTTP API at ${nowhere}: cannot connect to Temporal at ${nowhere}`);
    expect(refused.stdout).toContain(`fix: point TEMPORAL_HTTP_ADDRESS (now ${nowhere}) at the same server's HTTP API`);
    expect(refused.stdout).toMatch(/^✓ Temporal at 127\.0\.0\.1:\d+, namespace default$/m);
  });

  test('a plan that does not validate: exit 2, nothing checked', async () => {
    const bad = writePlan(dir, { name: 'doctor-bad', store: { type: 'local', path: dir }, components: [] } as never, 'bad.yaml');
    const result = await runCli(['doctor', '--plan', bad], { env });
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/invalid plan/);
  });
});
