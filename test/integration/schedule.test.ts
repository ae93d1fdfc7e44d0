/**
 * Unattended operation: plans applied as Temporal Schedules run with nobody watching; pause, resume and
 * trigger work; a failing plan shows in the worker's metrics and goes STALE in `lifeboat status`.
 */
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { PlanInput } from '../../src/plan/schema';
import type { PlanStatus } from '../../src/repository/planStatus';
import { createDatabase, runPgbenchInit, tempDir, uniqueName } from '../harness/env';
import { deleteSchedules, eventually, lifeboatEnv, runCli, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';
import { metricValue, startWorkerWithMetrics } from '../harness/metrics';

async function completeSets(planFile: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
  if (listed.code !== 0) throw new Error(listed.stderr);
  return (JSON.parse(listed.stdout) as { sets: { setId: string }[] }).sets.map((set) => set.setId);
}

describe('schedules', () => {
  const dir = tempDir('schedule');
  const taskQueue = uniqueName('schedule');
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess & { metricsUrl: string };
  let temporal: { client: Client; close(): Promise<void> };
  const scheduleIds: string[] = [];

  beforeAll(async () => {
    const url = await createDatabase(uniqueName('scheduled'));
    await runPgbenchInit(url, 1);
    env = lifeboatEnv(taskQueue, { SCHEDULED_DATABASE_URL: url, GONE_DATABASE_URL: url.replace(/\/[^/]+$/, `/${uniqueName('gone')}`) });
    worker = await startWorkerWithMetrics(env);
    temporal = await temporalClient();
  });

  afterAll(async () => {
    await deleteSchedules(temporal.client, scheduleIds);
    await worker?.stop();
    await temporal?.close();
  });

  const plan = (name: string, every: string, component = 'SCHEDULED_DATABASE_URL', extra: Partial<PlanInput> = {}): PlanInput => ({
    name,
    store: { type: 'local', path: path.join(dir, `${name}-store`) },
    components: [{ name: 'db', type: 'postgres', connection: { urlFromEnv: component } }],
    schedule: { every, staleAfter: '30s' },
    ...extra,
  });

  test('runs unattended; apply is idempotent and updates; pause, trigger and resume work', async () => {
    const name = uniqueName('every').replace(/_/g, '-');
    scheduleIds.push(`lifeboat-${name}`);
    const file = writePlan(dir, plan(name, '2s'));
    const applied = await runCli(['plan', 'apply', file], { env });
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain(`schedule lifeboat-${name} created`);
    await eventually('two scheduled sets', async () => ((await completeSets(file, env)).length >= 2 ? true : undefined), 60_000, 500);

    const again = await runCli(['plan', 'apply', file], { env });
    expect(again.stdout).toContain('unchanged');
    writePlan(dir, plan(name, '3s'));
    const updated = await runCli(['plan', 'apply', file], { env });
    expect(updated.stdout).toContain('updated');
    const listed = JSON.parse((await runCli(['schedule', 'list', '--json'], { env })).stdout) as { scheduleId: string; cadenceMs: number; planRevision: string }[];
    const mine = listed.filter((row) => row.scheduleId === `lifeboat-${name}`);
    expect(mine).toHaveLength(1);
    expect(mine[0].cadenceMs).toBe(3000);

    const paused = await runCli(['schedule', 'pause', name, '--reason', 'maintenance'], { env });
    expect(paused.code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 4000)); // let a run that had already started finish
    const whilePaused = await completeSets(file, env);
    await new Promise((resolve) => setTimeout(resolve, 7000));
    expect(await completeSets(file, env)).toEqual(whilePaused);

    const triggered = await runCli(['schedule', 'trigger', file], { env });
    expect(triggered.stdout).toContain('overlap policy SKIP');
    await eventually('the triggered set', async () => ((await completeSets(file, env)).length === whilePaused.length + 1 ? true : undefined), 30_000, 500);

    expect((await runCli(['schedule', 'resume', name], { env })).code).toBe(0);
    const resumedFrom = (await completeSets(file, env)).length;
    await eventually('sets after resume', async () => ((await completeSets(file, env)).length >= resumedFrom + 2 ? true : undefined), 60_000, 500);

    // Scheduled sets record the plan revision that was applied.
    const sets = JSON.parse((await runCli(['backups', 'list', '--plan', file, '--json'], { env })).stdout) as { sets: { planRevision: string }[] };
    expect(sets.sets.at(-1)?.planRevision).toBe(mine[0].planRevision);

    const statuses = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as PlanStatus[];
    const status = statuses.find((candidate) => candidate.plan === name);
    expect(status).toMatchObject({ stale: false, cadenceMs: 3000, staleAfterMs: 30_000 });
    await temporal.client.schedule.getHandle(`lifeboat-${name}`).pause('test done');
  });

  test('a failing plan counts failures in the metrics and goes STALE', async () => {
    const name = uniqueName('failing').replace(/_/g, '-');
    scheduleIds.push(`lifeboat-${name}`);
    // First a healthy plan with the same name, so there is a last success to age from.
    // staleAfter leaves room for three CLI starts on a loaded machine before the "not stale yet" check (on a
    // virtual machine whose hypervisor took half its CPU, 25 s did not).
    const file = writePlan(dir, { ...plan(name, '1h'), schedule: { every: '1h', staleAfter: '45s' } });
    expect((await runCli(['backup', 'run', '--plan', file, '--wait'], { env })).code).toBe(0);
    // Then its database is gone: every scheduled run fails, quickly (one attempt).
    writePlan(dir, { ...plan(name, '2s', 'GONE_DATABASE_URL'), schedule: { every: '2s', staleAfter: '45s' }, retries: { maximumAttempts: 1 } });
    expect((await runCli(['plan', 'apply', file], { env })).code).toBe(0);

    const fresh = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as PlanStatus[];
    expect(fresh.find((candidate) => candidate.plan === name)?.stale).toBe(false);

    const failures = await eventually(
      'the failure counter',
      async () => {
        const text = await (await fetch(worker.metricsUrl)).text();
        const value = metricValue(text, 'lifeboat_backup_failures_total', name);
        return value !== undefined && value >= 1 ? text : undefined;
      },
      60_000,
      500,
    );
    expect(metricValue(failures, 'lifeboat_component_backup_failures_total', name)).toBeGreaterThanOrEqual(1);
    expect(failures).toContain('temporal_'); // the SDK's own metrics are served too

    const stale = await eventually(
      'the plan to go stale',
      async () => {
        const statuses = JSON.parse((await runCli(['status', '--json'], { env })).stdout) as PlanStatus[];
        const status = statuses.find((candidate) => candidate.plan === name);
        return status?.stale ? status : undefined;
      },
      90_000,
      1000,
    );
    expect(stale.ageMs).toBeGreaterThan(45_000);
    const human = await runCli(['status'], { env });
    expect(human.stdout).toMatch(new RegExp(`${name}\\s.*STALE`));
    await eventually('the stale gauge', async () => (metricValue(await (await fetch(worker.metricsUrl)).text(), 'lifeboat_backup_stale', name) === 1 ? true : undefined), 30_000, 500);
    await temporal.client.schedule.getHandle(`lifeboat-${name}`).pause('test done');
  });
});
