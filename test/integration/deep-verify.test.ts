/**
 * Deep verification on real parts: backups of a PostgreSQL database and an audit-logged file tree into MinIO
 * through a real worker; one byte flipped in a stored artifact; `backup verify` names it, exits 1 and marks the
 * set; `backups list` shows it as FAILED-VERIFY; a real disasterRecovery workflow no longer offers it and says
 * why. `--restore` restores a good set into a scratch database and leaves none behind; `--sample` reads a subset.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import type { PlanInput } from '../../src/plan/schema';
import { abortUpdate, recoveryStatusQuery, type RecoveryReport } from '../../src/temporal/recovery';
import { createDatabase, s3Client, tempDir, testEnv, uniqueName } from '../harness/env';
import { sql } from '../harness/postgres';
import { eventually, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

interface ListedSets {
  sets: { setId: string; components: { name: string; key: string }[] }[];
  failedVerification: { setId: string; state: string; reason: string; artifact?: string }[];
}

describe('backup verify: deep checks, marking and the recovery candidates', () => {
  const s3 = testEnv();
  const client = s3Client();
  const dir = tempDir('deep-verify');
  const taskQueue = uniqueName('deep_verify');
  const prefix = uniqueName('deep_verify');
  const database = uniqueName('verify_src');
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };
  let planFile: string;
  const sets: string[] = [];

  const objectKey = (key: string) => `${prefix}/${key}`;
  async function readObject(key: string): Promise<Buffer> {
    const { Body } = await client.send(new GetObjectCommand({ Bucket: s3.s3Bucket, Key: objectKey(key) }));
    return Buffer.from(await (Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  }
  const writeObject = (key: string, body: Buffer) => client.send(new PutObjectCommand({ Bucket: s3.s3Bucket, Key: objectKey(key), Body: body }));
  const listSets = async () => JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as ListedSets;
  const scratchDatabases = async () => sql(s3.pgUrl, `select count(*) from pg_database where datname like '${database}_verify_%'`);

  beforeAll(async () => {
    const url = await createDatabase(database);
    await sql(url, `create table accounts as select g as id, md5(g::text) as owner from generate_series(1, 5000) g;
                    create table events as select g as id, now() as at from generate_series(1, 1234) g`);
    const files = path.join(dir, 'files');
    mkdirSync(path.join(files, 'audit'), { recursive: true });
    writeFileSync(path.join(files, 'audit', 'app.log'), `${JSON.stringify({ at: 1, user: 'a', action: 'login' })}\n${JSON.stringify({ at: 2, user: 'b', action: 'pay' })}\n`);
    writeFileSync(path.join(files, 'report.txt'), 'quarterly numbers\n');
    const plan: PlanInput = {
      name: 'deep',
      store: { type: 's3', bucket: s3.s3Bucket, prefix, endpoint: s3.s3Endpoint, region: 'us-east-1', forcePathStyle: true },
      components: [
        { name: 'apps', type: 'postgres', connection: { urlFromEnv: 'VERIFY_DATABASE_URL' } },
        { name: 'files', type: 'files', path: files, auditLog: { format: 'jsonl', requiredFields: ['at', 'user', 'action'] } },
      ],
    };
    planFile = writePlan(dir, plan);
    env = lifeboatEnv(taskQueue, { VERIFY_DATABASE_URL: url });
    worker = await startWorker(env);
    temporal = await temporalClient();
    for (let i = 0; i < 2; i++) {
      const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
      expect(run.code).toBe(0);
      sets.push((JSON.parse(run.stdout) as { setId: string }).setId);
    }
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
    client.destroy();
  });

  test('--restore restores a good set into a scratch database, compares row counts, and drops it', async () => {
    const verify = await runCli(['backup', 'verify', '--plan', planFile, sets[0], '--restore'], { env, timeoutMs: 300_000 });
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(new RegExp(`ok +apps restore into scratch database ${database}_verify_[0-9a-f]{8} \\(dropped\\): 2 table\\(s\\) compared`));
    expect(verify.stdout).toContain(`ok     files deep/${sets[0]}/files.tar.zst`);
    expect(verify.stdout).toContain(`set ${sets[0]} verified`);
    expect(await scratchDatabases()).toBe('0');
  });

  test('a flipped byte: verify names the artifact, exits 1 and marks the set; list and recovery exclude it, saying why', async () => {
    const [good, bad] = sets;
    const badKey = `deep/${bad}/apps.pgdump.zst`;
    const original = await readObject(badKey);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)] ^= 0x01;
    await writeObject(badKey, flipped);

    // Every set (no set id): the good one passes, the damaged one fails and is marked.
    const verify = await runCli(['backup', 'verify', '--plan', planFile], { env });
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(`FAILED apps ${badKey}`);
    expect(verify.stdout).toContain('sha256 mismatch');
    expect(verify.stdout).toContain(`set ${good} verified`);
    expect(verify.stdout).toContain(`set ${bad} FAILED verification: marked (deep/${bad}/verify-failed.json)`);
    expect(verify.stdout).toContain('read 4 of 4 artifact(s) in 2 set(s)');
    expect(verify.stderr).toContain(`verification failed: set ${bad}: ${badKey}`);
    const mark = JSON.parse((await readObject(`deep/${bad}/verify-failed.json`)).toString('utf8')) as { artifact: string; reason: string; at: string };
    expect(mark.artifact).toBe(badKey);
    expect(mark.reason).toContain('sha256 mismatch');
    expect(Date.parse(mark.at)).toBeGreaterThan(Date.now() - 600_000);

    // Listed, not offered.
    const listing = await listSets();
    expect(listing.sets.map((set) => set.setId)).toEqual([good]);
    expect(listing.failedVerification).toEqual([expect.objectContaining({ setId: bad, state: 'FAILED-VERIFY', artifact: badKey })]);
    const text = await runCli(['backups', 'list', '--plan', planFile], { env });
    expect(text.stdout).toMatch(new RegExp(`${bad}  FAILED-VERIFY  failed verification at .*${badKey}: sha256 mismatch`));

    // A real disasterRecovery workflow on the worker: only the good set is a candidate; the marked one is rejected with the reason.
    const started = await runCli(['restore', 'start', '--plan', planFile, '--json'], { env });
    expect(started.code).toBe(0);
    const handle = temporal.client.workflow.getHandle((JSON.parse(started.stdout) as { workflowId: string }).workflowId);
    const status = await eventually('the agreement gate', async () => {
      const current = await handle.query(recoveryStatusQuery);
      return current.phase === 'agreement' ? current : undefined;
    });
    expect(status.candidates.map((candidate) => candidate.setId)).toEqual([good]);
    expect(status.rejected).toEqual([{ setId: bad, reason: expect.stringContaining(`failed verification at ${mark.at}: ${badKey}: sha256 mismatch`) }]);
    const shown = await runCli(['restore', 'status', handle.workflowId], { env });
    expect(shown.stdout).toContain(`not a candidate: ${bad}: failed verification`);
    await handle.executeUpdate(abortUpdate, { args: [{ by: 'test', reason: 'only checking the candidates' }] });
    expect(((await handle.result()) as RecoveryReport).outcome).toBe('aborted');

    // Repaired (the original bytes put back): a full verify of the set passes again and removes the mark.
    await writeObject(badKey, original);
    const again = await runCli(['backup', 'verify', '--plan', planFile, bad], { env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`set ${bad} verified; its verify-failed mark was removed`);
    expect((await listSets()).sets.map((set) => set.setId)).toEqual([good, bad]);
  });

  test('--sample reads a random subset of the artifacts (at least one), and refuses a bad size with exit 2', async () => {
    const one = await runCli(['backup', 'verify', '--plan', planFile, '--sample', '1'], { env });
    expect(one.code).toBe(0);
    expect(one.stdout).toContain('read 1 of 4 artifact(s) in 1 set(s) (sample 1)');
    expect(one.stdout.match(/^ok {5}/gm)).toHaveLength(1);
    const half = await runCli(['backup', 'verify', '--plan', planFile, '--sample', '50%'], { env });
    expect(half.code).toBe(0);
    expect(half.stdout).toMatch(/read 2 of 4 artifact\(s\) in [12] set\(s\) \(sample 50%\)/);
    expect(half.stdout.match(/^ok {5}/gm)).toHaveLength(2);
    const tiny = await runCli(['backup', 'verify', '--plan', planFile, '--sample', '1%'], { env });
    expect(tiny.stdout).toContain('read 1 of 4 artifact(s)');
    for (const bad of ['0%', '150%', 'some']) {
      const refused = await runCli(['backup', 'verify', '--plan', planFile, '--sample', bad], { env });
      expect(refused.code).toBe(2);
      expect(refused.stderr).toContain('is not a sample size');
    }
    const unknown = await runCli(['backup', 'verify', '--plan', planFile, '20200101T000000.000Z-aaaaaa'], { env });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no complete backup set');
  });
});
