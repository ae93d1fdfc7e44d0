/**
 * Retention on real parts: sets written straight into MinIO (schema-valid manifests, fake artifacts), pruned
 * through the CLI, a real Temporal server and a real worker. A real prune removes exactly what the dry run listed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { DeleteObjectCommand, paginateListObjectsV2, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Client } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { applyPrune, planPrune, type ApplyPruneInput, type ApplyPruneResult, type PlanPruneInput, type PrunePlan } from '../../activities/prune';
import { formatSetId, manifestKey, manifestSchema, setPrefix, type Manifest } from '../../src/catalog/manifest';
import { NEWEST_COMPLETE_REASON, YOUNG_INCOMPLETE_REASON } from '../../src/catalog/retention';
import { planSchema, type PlanInput } from '../../src/plan/schema';
import type { PruneResult } from '../../workflows';
import { s3Client, tempDir, testEnv, uniqueName } from '../harness/env';
import { lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('prune: retention on MinIO', () => {
  const s3 = testEnv();
  const client = s3Client();
  const dir = tempDir('prune');
  const taskQueue = uniqueName('prune');
  const env = lifeboatEnv(taskQueue);
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };

  const planFor = (name: string, prefix: string, retention?: PlanInput['retention']): PlanInput => ({
    name,
    store: { type: 's3', bucket: s3.s3Bucket, prefix, endpoint: s3.s3Endpoint, region: 'us-east-1', forcePathStyle: true },
    // Never run: prune reads only the store.
    components: [{ name: 'data', type: 'files', path: '/srv/data', incremental: true }],
    ...(retention ? { retention } : {}),
  });

  async function listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client }, { Bucket: s3.s3Bucket, Prefix: `${prefix}/` })) {
      for (const object of page.Contents ?? []) keys.push(object.Key as string);
    }
    return keys.sort();
  }

  const put = (key: string, body: Buffer | string) => client.send(new PutObjectCommand({ Bucket: s3.s3Bucket, Key: key, Body: body }));

  /** Writes one set: its artifact (and index sidecar), then, for a complete set, a schema-valid manifest. */
  async function writeSet(prefix: string, plan: string, ageMs: number, options: { complete: boolean; dependsOn?: string }): Promise<string> {
    const started = new Date(Date.now() - ageMs);
    const setId = formatSetId(started, randomBytes(3).toString('hex'));
    const artifact = randomBytes(1024 + Math.floor(Math.random() * 1024));
    const index = Buffer.from(JSON.stringify({ files: [] }));
    const ref = (key: string, bytes: Buffer) => ({ key, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
    const dataKey = `${setPrefix(plan, setId)}data.tar`;
    const indexKey = `${setPrefix(plan, setId)}data.index.json`;
    await put(`${prefix}/${dataKey}`, artifact);
    await put(`${prefix}/${indexKey}`, index);
    if (options.complete) {
      const completedAt = new Date(started.getTime() + 60_000).toISOString();
      const manifest: Manifest = manifestSchema.parse({
        formatVersion: 1,
        plan,
        planRevision: 'test',
        setId,
        startedAt: started.toISOString(),
        completedAt,
        workflowId: 'written-by-prune-test',
        runId: 'none',
        components: [
          {
            name: 'data',
            type: 'files',
            ...ref(dataKey, artifact),
            format: 'tar',
            startedAt: started.toISOString(),
            completedAt,
            after: [],
            attempt: 1,
            ...(options.dependsOn ? { dependsOn: options.dependsOn } : {}),
            sidecars: [ref(indexKey, index)],
          },
        ],
      });
      await put(`${prefix}/${manifestKey(plan, setId)}`, JSON.stringify(manifest, null, 2));
    }
    return setId;
  }

  beforeAll(async () => {
    worker = await startWorker(env);
    temporal = await temporalClient();
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
  });

  test('a plan without a retention policy exits 2 and starts nothing', async () => {
    const queue = uniqueName('prune_none');
    const file = writePlan(dir, planFor('no-retention', uniqueName('prune')));
    const result = await runCli(['prune', '--plan', file, '--dry-run'], { env: lifeboatEnv(queue) });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('plan no-retention has no retention policy');
    expect(result.stderr).not.toContain('started');
    let started = 0;
    for await (const _ of temporal.client.workflow.list({ query: `TaskQueue = '${queue}'` })) started += 1;
    expect(started).toBe(0);
  });

  test('an unknown time zone exits 2', async () => {
    const file = writePlan(dir, planFor('bad-zone', uniqueName('prune'), { keepDaily: 7, timezone: 'Mars/Olympus_Mons' }));
    const result = await runCli(['prune', '--plan', file], { env });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('retention.timezone: unknown time zone "Mars/Olympus_Mons"');
  });

  test('a real prune removes exactly the sets the dry run listed, keeping dependencies and young incomplete sets', async () => {
    const prefix = uniqueName('prune');
    const plan = 'retained';
    const full40 = await writeSet(prefix, plan, 40 * DAY, { complete: true });
    const full30 = await writeSet(prefix, plan, 30 * DAY, { complete: true });
    const full20 = await writeSet(prefix, plan, 20 * DAY, { complete: true });
    const full10 = await writeSet(prefix, plan, 10 * DAY, { complete: true });
    const incompleteOld = await writeSet(prefix, plan, 3 * DAY, { complete: false });
    const incremental = await writeSet(prefix, plan, 2 * DAY, { complete: true, dependsOn: full30 });
    const newest = await writeSet(prefix, plan, 6 * HOUR, { complete: true });
    const incompleteYoung = await writeSet(prefix, plan, 2 * HOUR, { complete: false });
    await put(`${prefix}/${plan}/NOTES.txt`, 'not a backup set: prune leaves it alone');
    const file = writePlan(dir, planFor(plan, prefix, { keepLast: 2 }));
    const before = await listKeys(prefix);

    // Dry run: decides, explains, deletes nothing.
    const dry = await runCli(['prune', '--plan', file, '--dry-run', '--json'], { env });
    expect(dry.stderr).toBe('');
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout) as PruneResult & { workflowId: string };
    expect(planned.workflowId).toMatch(new RegExp(`^lifeboat-prune-${plan}-`));
    expect(planned.dryRun).toBe(true);
    expect(planned.removed).toEqual([]);
    expect(await listKeys(prefix)).toEqual(before);
    expect([...planned.remove].sort()).toEqual([full40, full20, full10, incompleteOld].sort());
    const reasons = Object.fromEntries(planned.sets.map((set) => [set.setId, set.reasons]));
    expect(reasons).toEqual({
      [newest]: ['last 2', NEWEST_COMPLETE_REASON],
      [incremental]: ['last 2'],
      [full30]: [`needed by incremental ${incremental}`],
      [incompleteYoung]: [YOUNG_INCOMPLETE_REASON],
      [full40]: ['no keep rule matches'],
      [full20]: ['no keep rule matches'],
      [full10]: ['no keep rule matches'],
      [incompleteOld]: ['incomplete, older than a day (abandoned)'],
    });
    expect(planned.sets.map((set) => set.setId)).toEqual([incompleteYoung, newest, incremental, incompleteOld, full10, full20, full30, full40]);
    expect(planned.totals).toMatchObject({ sets: 8, keep: 4, remove: 4, removeObjects: 3 * 3 + 2 });

    // The table a person reads.
    const table = await runCli(['prune', '--plan', file, '--dry-run'], { env });
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/SET ID\s+TIME\s+STATE\s+ACTION\s+REASONS/);
    expect(table.stdout).toMatch(new RegExp(`${full30}\\s+\\S+\\s+complete\\s+KEEP\\s+needed by incremental ${incremental}`));
    expect(table.stdout).toMatch(new RegExp(`${incompleteOld}\\s+\\S+\\s+incomplete\\s+REMOVE\\s+incomplete, older than a day`));
    expect(table.stdout).toContain('dry run: would remove 4 of 8 set(s) (11 object(s)');
    expect(await listKeys(prefix)).toEqual(before);

    // The real prune.
    const real = await runCli(['prune', '--plan', file, '--json'], { env });
    expect(real.stderr).toBe('');
    expect(real.code).toBe(0);
    const pruned = JSON.parse(real.stdout) as PruneResult;
    expect(pruned.dryRun).toBe(false);
    expect([...pruned.removed].sort()).toEqual([...planned.remove].sort());
    expect(pruned.skipped).toEqual([]);
    const removedPrefixes = planned.remove.map((setId) => `${prefix}/${setPrefix(plan, setId)}`);
    const after = await listKeys(prefix);
    expect(after).toEqual(before.filter((key) => !removedPrefixes.some((removed) => key.startsWith(removed))));
    expect(before.length - after.length).toBe(planned.totals.removeObjects);
    for (const kept of [newest, incremental, full30, incompleteYoung]) {
      expect(after.filter((key) => key.startsWith(`${prefix}/${setPrefix(plan, kept)}`)).length).toBe(kept === incompleteYoung ? 2 : 3);
    }
    expect(after).toContain(`${prefix}/${plan}/NOTES.txt`);

    // What is left is still listed as complete, and a second prune finds nothing more to do.
    const listed = await runCli(['backups', 'list', '--plan', file, '--json'], { env });
    expect((JSON.parse(listed.stdout) as { sets: Manifest[] }).sets.map((set) => set.setId)).toEqual([full30, incremental, newest]);
    const again = JSON.parse((await runCli(['prune', '--plan', file, '--json'], { env })).stdout) as PruneResult;
    expect(again.remove).toEqual([]);
    expect(await listKeys(prefix)).toEqual(after);
  });

  describe('applyPrune re-checks every set just before deleting it', () => {
    const previousEnv = { ...process.env };
    beforeAll(() => {
      // The activities run in this process here: the S3 store takes credentials from the standard AWS chain.
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: s3.s3AccessKey, AWS_SECRET_ACCESS_KEY: s3.s3SecretKey, AWS_REGION: 'us-east-1' });
    });
    afterAll(() => {
      for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
        if (previousEnv[name] === undefined) delete process.env[name];
        else process.env[name] = previousEnv[name];
      }
    });

    test('a set an incremental finished meanwhile depends on is skipped; a half-deleted set is finished off', async () => {
      const prefix = uniqueName('prune');
      const name = 'rechecked';
      const plan = planSchema.parse(planFor(name, prefix, { keepLast: 1 }));
      const older = await writeSet(prefix, name, 5 * HOUR, { complete: true });
      const interrupted = await writeSet(prefix, name, 3 * HOUR, { complete: true });
      const newest = await writeSet(prefix, name, 1 * HOUR, { complete: true });
      const activityEnvironment = new MockActivityEnvironment({}, { logger: new DefaultLogger('WARN') });
      // run()'s generic signature cannot infer the result type from a one-argument activity.
      const runPlanPrune = (input: PlanPruneInput) => activityEnvironment.run(planPrune, input) as Promise<PrunePlan>;
      const runApplyPrune = (input: ApplyPruneInput) => activityEnvironment.run(applyPrune, input) as Promise<ApplyPruneResult>;

      const planned = await runPlanPrune({ plan });
      expect(planned.remove).toEqual([interrupted, older]);

      // Meanwhile: a prune was killed right after deleting `interrupted`'s manifest (it now looks like a young
      // incomplete set), and a backup finished an incremental on top of `older`.
      await client.send(new DeleteObjectCommand({ Bucket: s3.s3Bucket, Key: `${prefix}/${manifestKey(name, interrupted)}` }));
      const incremental = await writeSet(prefix, name, 10 * 60_000, { complete: true, dependsOn: older });
      const heartbeats: unknown[] = [];
      activityEnvironment.on('heartbeat', (details: unknown) => heartbeats.push(details));

      const applied = await runApplyPrune({ plan, remove: [...planned.remove, 'not-a-set-id'] });
      expect(applied.removed).toEqual([{ setId: interrupted, objects: 2 }]);
      expect(applied.skipped).toEqual([
        { setId: older, reason: `kept now: needed by incremental ${incremental}` },
        { setId: 'not-a-set-id', reason: 'not a backup set id' },
      ]);
      expect(heartbeats.length).toBeGreaterThan(0);
      const left = await listKeys(prefix);
      expect(left.some((key) => key.includes(interrupted))).toBe(false);
      // `newest` is no longer kept by keepLast 1 (the incremental is newer), but it was not chosen: untouched.
      for (const setId of [older, newest, incremental]) expect(left.filter((key) => key.includes(setId)).length).toBe(3);

      // Idempotent: running the same removal again changes nothing and fails nothing.
      const repeated = await runApplyPrune({ plan, remove: planned.remove });
      expect(repeated.removed).toEqual([{ setId: interrupted, objects: 0 }]);
      expect(await listKeys(prefix)).toEqual(left);
    });
  });
});
