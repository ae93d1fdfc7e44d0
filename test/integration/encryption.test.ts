/**
 * Client-side encryption on real parts (worker, Temporal, PostgreSQL, MinIO): an encrypted set holds no
 * plaintext, verifies and restores with identical rows; a wrong key fails saying it is the key; after a
 * rotation old sets stay readable while their key is in previousKeys; a flipped byte fails on its chunk.
 */
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import { ArtifactTamperedError, keyFingerprint, Keyring, unsealingStream } from '../../src/encryption';
import { openFilesArtifact, restoreFilesArtifacts } from '../../src/engines/files';
import type { PlanInput } from '../../src/plan/schema';
import { createStore } from '../../src/stores';
import { recoveryStatusQuery, type RecoveryReport } from '../../src/temporal/recovery';
import { createDatabase, runPgbenchInit, s3Client, tableRowCounts, tempDir, testEnv, uniqueName } from '../harness/env';
import { fingerprint, sql } from '../harness/postgres';
import { eventually, historyText, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

describe('client-side encryption', () => {
  const dir = tempDir('encryption');
  const taskQueue = uniqueName('encryption');
  const prefix = uniqueName('encrypted');
  const marker = uniqueName('confidential_ledger'); // a table name: pg_dump's table of contents is never compressed
  const keyA = randomBytes(32);
  const keyB = randomBytes(32);
  const idA = keyFingerprint(keyA);
  const idB = keyFingerprint(keyB);
  let url: string;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };

  beforeAll(async () => {
    url = await createDatabase(uniqueName('encrypted_db'));
    await runPgbenchInit(url, 1);
    await sql(url, `create table ${marker} (id int primary key, note text); insert into ${marker} select g, 'salary of employee ' || g from generate_series(1, 500) g`);
    // Key A as base64, key B as hex: both forms are accepted.
    env = lifeboatEnv(taskQueue, { LEDGER_DATABASE_URL: url, BACKUP_KEY_A: keyA.toString('base64'), BACKUP_KEY_B: keyB.toString('hex') });
    worker = await startWorker(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
  });

  const s3 = () => testEnv();
  const plan = (name: string, encryption: PlanInput['encryption'], storePrefix = prefix): PlanInput => ({
    name,
    store: { type: 's3', bucket: s3().s3Bucket, prefix: storePrefix, endpoint: s3().s3Endpoint, forcePathStyle: true },
    components: [{ name: 'ledger', type: 'postgres', connection: { urlFromEnv: 'LEDGER_DATABASE_URL' } }],
    ...(encryption ? { encryption } : {}),
  });
  // The same plan name with different keys: one store, one history of sets, as after a rotation.
  const withKeyA = () => writePlan(dir, plan('ledger', { keyFromEnv: 'BACKUP_KEY_A' }), 'key-a.yaml');
  const withKeyB = () => writePlan(dir, plan('ledger', { keyFromEnv: 'BACKUP_KEY_B' }), 'key-b.yaml');
  const rotated = () => writePlan(dir, plan('ledger', { keyFromEnv: 'BACKUP_KEY_B', previousKeys: [{ keyFromEnv: 'BACKUP_KEY_A' }] }), 'rotated.yaml');

  async function stored(key: string, storePrefix = prefix): Promise<Buffer> {
    const object = await s3Client().send(new GetObjectCommand({ Bucket: s3().s3Bucket, Key: `${storePrefix}/${key}` }));
    return Buffer.from(await object.Body!.transformToByteArray());
  }

  let lastWorkflowId = '';
  async function backup(planFile: string): Promise<Manifest> {
    const result = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(result.code).toBe(0);
    const { setId, workflowId } = JSON.parse(result.stdout) as { setId: string; workflowId: string };
    lastWorkflowId = workflowId;
    const listing = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    return (JSON.parse(listing.stdout) as { sets: Manifest[] }).sets.find((set) => set.setId === setId)!;
  }

  /** Runs a disaster recovery of one set to its end (one approval); resolves with its report or rejects with its failure. */
  async function recover(planFile: string, setId: string): Promise<RecoveryReport> {
    const started = await runCli(['restore', 'start', '--plan', planFile, '--set', setId, '--json'], { env });
    expect(started.code).toBe(0);
    const handle = temporal.client.workflow.getHandle((JSON.parse(started.stdout) as { workflowId: string }).workflowId);
    // The gate, or the end: a recovery without a readable candidate fails before it.
    const agreement = await eventually('the agreement gate or the end of the recovery', async () => {
      if ((await handle.describe()).status.name !== 'RUNNING') return 'closed' as const;
      const status = await handle.query(recoveryStatusQuery);
      return status.phase === 'agreement' ? status : undefined;
    }, 150_000); // a recovery's first steps took over a minute on a virtual machine whose hypervisor took half its CPU
    if (agreement !== 'closed') {
      const approved = await runCli(['restore', 'approve', handle.workflowId, '--timestamp', agreement.candidates[0].timestamp, '--as', 'alice'], { env });
      expect(approved.code).toBe(0);
    }
    return (await handle.result()) as RecoveryReport;
  }

  let setA: Manifest;

  test('an encrypted set holds no plaintext, records only the key id, verifies, and restores with identical rows', async () => {
    // Control: uncompressed and not encrypted, the marker is in the stored bytes (pg_dump's table of contents
    // is plain text), so its absence from the same artifact encrypted means something. (zstd, the default,
    // would hide it on its own.)
    const uncompressed = (input: PlanInput): PlanInput => ({ ...input, components: input.components.map((component) => ({ ...component, compression: { algorithm: 'none' as const } })) });
    const plainPrefix = `${prefix}-plain`;
    const plain = await backup(writePlan(dir, uncompressed(plan('ledger', undefined, plainPrefix)), 'plain.yaml'));
    expect((await stored(plain.components[0].key, plainPrefix)).includes(Buffer.from(marker))).toBe(true);
    expect(plain.components[0].encryption).toBeUndefined();
    const sealedPrefix = `${prefix}-sealed`;
    const sealed = await backup(writePlan(dir, uncompressed(plan('ledger', { keyFromEnv: 'BACKUP_KEY_A' }, sealedPrefix)), 'sealed.yaml'));
    const sealedArtifact = await stored(sealed.components[0].key, sealedPrefix);
    expect(sealedArtifact.includes(Buffer.from(marker))).toBe(false);
    expect(sealedArtifact.subarray(0, 8).toString()).toBe('LBOATENC');

    // The default (zstd, then encryption) for the rest: restore decrypts in Node, then `zstd -d` feeds pg_restore.
    const planFile = withKeyA();
    setA = await backup(planFile);
    const component = setA.components[0];
    expect(component.encryption).toEqual({ algorithm: 'aes-256-gcm-chunked', keyId: idA });
    const artifact = await stored(component.key);
    expect(artifact.includes(Buffer.from(marker))).toBe(false);
    expect(artifact.includes(Buffer.from('salary of employee'))).toBe(false);
    expect(artifact.subarray(0, 8).toString()).toBe('LBOATENC');
    const manifestText = (await stored(`ledger/${setA.setId}/manifest.json`)).toString();
    const history = await historyText(temporal.client, lastWorkflowId);
    expect(history).toContain('BACKUP_KEY_A'); // the reference travels, the key never does
    for (const secret of [keyA.toString('base64'), keyA.toString('hex'), keyB.toString('hex')]) {
      expect(manifestText).not.toContain(secret);
      expect(history).not.toContain(secret);
    }

    const verified = await runCli(['backup', 'verify', '--plan', planFile, setA.setId], { env });
    expect(verified.stdout).toContain(`set ${setA.setId} verified`);
    expect(verified.code).toBe(0);

    const expected = await fingerprint(url, ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', marker]);
    const counts = await tableRowCounts(url);
    await sql(url, `delete from ${marker} where id > 10; drop table pgbench_tellers`);
    const report = await recover(planFile, setA.setId);
    expect(report.outcome).toBe('recovered');
    expect(report.steps.map((step) => `${step.outcome} ${step.step}`)).toEqual(['ok restore ledger', 'ok verify data', 'ok verify service']);
    expect(await fingerprint(url, ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', marker])).toEqual(expected);
    expect(await tableRowCounts(url)).toEqual(counts);
  });

  test('a wrong key fails saying it is the key: verify, restore, and an impostor key under the right id', async () => {
    const planFile = withKeyB();
    const verified = await runCli(['backup', 'verify', '--plan', planFile, setA.setId], { env });
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain(`was encrypted with key ${idA}, which is not configured: add it to encryption.previousKeys`);

    const failed = await recover(planFile, setA.setId).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failed).toBeInstanceOf(WorkflowFailedError);
    expect((failed as WorkflowFailedError).cause?.message).toContain(`encrypted with key ${idA}, which is not configured`);

    // Key B configured under A's id: the key check in the header tells it apart from a damaged artifact.
    const impostor = writePlan(dir, plan('ledger', { keyFromEnv: 'BACKUP_KEY_B', keyId: idA }), 'impostor.yaml');
    const checked = await runCli(['backup', 'verify', '--plan', impostor, setA.setId], { env });
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`the configured key ${idA} (environment variable BACKUP_KEY_B (encryption.keyFromEnv/keyFile)) is not the key it was encrypted with`);

    // A key that cannot be loaded is bad input: exit 2, naming the variable, never printing its value.
    const malformed = await runCli(['backup', 'verify', '--plan', planFile, setA.setId], { env: { ...env, BACKUP_KEY_B: 'correct-horse-battery-staple' } });
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('environment variable BACKUP_KEY_B (encryption.keyFromEnv/keyFile) does not hold a 32-byte key');
    expect(malformed.stderr).not.toContain('correct-horse-battery-staple');
    const unset = await runCli(['backup', 'verify', '--plan', planFile, setA.setId], { env: { ...env, BACKUP_KEY_B: '' } });
    expect(unset.code).toBe(2);
    expect(unset.stderr).toContain('environment variable BACKUP_KEY_B (encryption.keyFromEnv/keyFile) is not set');
  });

  test('a backup whose key the worker lacks fails at once, naming the variable', async () => {
    const planFile = writePlan(dir, plan('ledger', { keyFromEnv: 'UNSET_BACKUP_KEY' }), 'unset-key.yaml');
    const result = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('environment variable UNSET_BACKUP_KEY (encryption.keyFromEnv/keyFile) is not set');
    // Not retried: a missing key does not appear by waiting.
    const workflowId = /lifeboat-backup-ledger-\S+/.exec(result.stderr)![0];
    const history = await historyText(temporal.client, workflowId);
    expect(history).toContain('EncryptionKey');
    const events = (await temporal.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const attempts = events.map((event) => event.activityTaskStartedEventAttributes?.attempt).filter((attempt) => attempt !== undefined && attempt !== null);
    expect(attempts.length).toBeGreaterThan(0);
    expect(attempts.every((attempt) => attempt === 1)).toBe(true);
  });

  test('rotation: new sets use the new key; the old set verifies and restores while its key is in previousKeys', async () => {
    const planFile = rotated();
    const setB = await backup(planFile);
    expect(setB.components[0].encryption).toEqual({ algorithm: 'aes-256-gcm-chunked', keyId: idB });
    for (const setId of [setA.setId, setB.setId]) {
      const verified = await runCli(['backup', 'verify', '--plan', planFile, setId], { env });
      expect(verified.code).toBe(0);
    }
    // Without key A the old set is refused, the new one is fine.
    expect((await runCli(['backup', 'verify', '--plan', withKeyB(), setB.setId], { env })).code).toBe(0);

    const expected = await tableRowCounts(url);
    await sql(url, `truncate ${marker}`);
    const report = await recover(planFile, setA.setId);
    expect(report.outcome).toBe('recovered');
    expect(await tableRowCounts(url)).toEqual(expected);
  });

  test('a flipped byte: verify names the artifact and the chunk, the decryptor fails on it, recovery rejects the set', async () => {
    const planFile = withKeyA();
    const set = await backup(planFile);
    const key = set.components[0].key;
    const bytes = await stored(key);
    bytes[bytes.length - 40] ^= 0x01; // inside the last chunk's ciphertext
    await s3Client().send(new PutObjectCommand({ Bucket: s3().s3Bucket, Key: `${prefix}/${key}`, Body: bytes }));

    const verified = await runCli(['backup', 'verify', '--plan', planFile, set.setId], { env });
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain(`FAILED ledger ${key}`);
    expect(verified.stdout).toMatch(new RegExp(`artifact ${key}: chunk \\d+ \\(stored bytes \\d+-\\d+\\), the last one, fails authentication`));
    expect(verified.stdout).toContain('sha256 mismatch');
    expect(verified.stderr).toContain(key);

    // The decryptor alone (no checksum in front of it) refuses the tampered chunk.
    const store = createStore(plan('ledger', undefined).store as Parameters<typeof createStore>[0], {
      s3: { credentials: { accessKeyId: s3().s3AccessKey, secretAccessKey: s3().s3SecretKey } },
    });
    const decrypting = unsealingStream(set.components[0], Keyring.forPlan({ encryption: { keyFromEnv: 'BACKUP_KEY_A', previousKeys: [] } }, env));
    const failure = await pipeline(await store.get(key), decrypting, new Writable({ write: (_chunk, _encoding, done) => done() })).then(
      () => undefined,
      (error: Error) => error,
    );
    expect(failure).toBeInstanceOf(ArtifactTamperedError);
    expect(failure?.message).toMatch(new RegExp(`artifact ${key}: chunk \\d+ .*the last one, fails authentication`));

    const recovery = await recover(planFile, set.setId).then(
      () => undefined,
      (error: Error) => error,
    );
    // Rejected with the reason: the mark `backup verify` left above names the artifact and what is wrong with it.
    const reason = (recovery as WorkflowFailedError).cause?.message;
    expect(reason).toContain(`rejected: ${set.setId} (`);
    expect(reason).toContain(`${key}: sha256 mismatch`); // the root cause comes first; the chunk failure is shown by verify above
  });

  test('files: tar and index sidecar encrypted; an incremental reads its encrypted base index; a restore decrypts; without the old key a full is taken', async () => {
    const tree = path.join(dir, 'documents');
    mkdirSync(path.join(tree, 'contracts'), { recursive: true });
    writeFileSync(path.join(tree, 'contracts', 'merger-terms.txt'), 'TOP-SECRET-MERGER-TERMS '.repeat(100));
    writeFileSync(path.join(tree, 'readme.txt'), 'hello');
    const storeDir = path.join(dir, 'files-store');
    const filesPlan = (encryption: PlanInput['encryption'], file: string) =>
      writePlan(dir, { name: 'documents', store: { type: 'local', path: storeDir }, components: [{ name: 'docs', type: 'files', path: tree, incremental: true, compression: { algorithm: 'none' } }], encryption }, file);
    const planFile = filesPlan({ keyFromEnv: 'BACKUP_KEY_A' }, 'files-a.yaml');
    const full = (await backup(planFile)).components[0];
    writeFileSync(path.join(tree, 'contracts', 'addendum.txt'), 'TOP-SECRET-ADDENDUM');
    const incremental = (await backup(planFile)).components[0];
    expect([full.files?.mode, incremental.files?.mode]).toEqual(['full', 'incremental']);
    for (const artifact of [full, full.sidecars[0], full.files!.index, incremental, incremental.sidecars[0]]) {
      expect(artifact.encryption).toEqual({ algorithm: 'aes-256-gcm-chunked', keyId: idA });
      const bytes = readFileSync(path.join(storeDir, artifact.key));
      for (const plaintext of ['TOP-SECRET', 'merger-terms', 'contracts']) expect(bytes.includes(Buffer.from(plaintext))).toBe(false);
    }
    for (const setId of [full.key, incremental.key].map((key) => key.split('/')[1])) {
      expect((await runCli(['backup', 'verify', '--plan', planFile, setId], { env })).code).toBe(0);
    }

    const store = createStore({ type: 'local', path: storeDir });
    const keyring = Keyring.forPlan({ encryption: { keyFromEnv: 'BACKUP_KEY_A', previousKeys: [] } }, env);
    const target = path.join(dir, 'documents-restored');
    await restoreFilesArtifacts({ full: () => openFilesArtifact(store, full, keyring), incremental: () => openFilesArtifact(store, incremental, keyring), deleted: incremental.files!.deleted, targetDir: target });
    expect(readFileSync(path.join(target, 'contracts', 'merger-terms.txt'), 'utf8')).toBe('TOP-SECRET-MERGER-TERMS '.repeat(100));
    expect(readFileSync(path.join(target, 'contracts', 'addendum.txt'), 'utf8')).toBe('TOP-SECRET-ADDENDUM');

    // Key A dropped: the base index cannot be decrypted, so the next backup is a full (always correct), under key B.
    const afterRotation = (await backup(filesPlan({ keyFromEnv: 'BACKUP_KEY_B' }, 'files-b.yaml'))).components[0];
    expect(afterRotation.files?.mode).toBe('full');
    expect(afterRotation.encryption?.keyId).toBe(idB);
  });
});
