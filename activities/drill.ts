/**
 * Restore-drill activities: refuse a sandbox that is production, restore a set into the sandboxes, check
 * them, drop them, record the drill. Sandbox URLs are resolved here, in the worker, and never returned:
 * workflows see component names, "database on host:port" descriptions, sizes and check results only.
 */
import { ApplicationFailure } from '@temporalio/activity';
import type { DrillRecord } from '../src/catalog/drills';
import { Keyring } from '../src/encryption';
import { dropPostgresDatabase, restorePostgresDatabase } from '../src/engines/postgres';
import { describeDatabase, resolveSandboxes } from '../src/engines/postgresSandbox';
import { recordDrillOutcome } from '../src/metrics';
import { drillChecks, drilledComponents } from '../src/plan/drill';
import type { Plan } from '../src/plan/schema';
import { listBackupSets, readManifest } from '../src/repository/backupSets';
import { restoreFromArtifact } from '../src/repository/artifactRead';
import { VerifyingStream } from '../src/repository/digest';
import { writeDrillRecord } from '../src/repository/drills';
import { createStore } from '../src/stores';
import { toApplicationFailure } from './failures';
import { checkRestoredData, recordedArtifact, withHeartbeat, type CheckResult } from './recovery';

export interface PreparedDrill {
  setId: string;
  /** Each drilled component's sandbox, described without credentials. */
  sandboxes: { component: string; sandbox: string }[];
}

/**
 * Before anything is touched: resolves every sandbox and refuses (not retryable, type SandboxIsProduction)
 * one that resolves to a production database; then picks the set to drill, the given one or the newest
 * complete one.
 */
export async function prepareDrill(input: { plan: Plan; setId?: string }): Promise<PreparedDrill> {
  try {
    const sandboxes = await resolveSandboxes(input.plan, drilledComponents(input.plan));
    const { complete } = await listBackupSets(createStore(input.plan.store), input.plan.name);
    const chosen = input.setId ? complete.find((manifest) => manifest.setId === input.setId) : complete.at(-1);
    if (!chosen) {
      throw ApplicationFailure.nonRetryable(
        input.setId ? `plan "${input.plan.name}" has no complete set "${input.setId}": see \`lifeboat backups list\`` : `plan "${input.plan.name}" has no complete backup set to drill: run a backup first`,
        'NoBackupSet',
      );
    }
    return { setId: chosen.setId, sandboxes: sandboxes.map(({ component, identity }) => ({ component, sandbox: describeDatabase(identity) })) };
  } catch (error) {
    throw toApplicationFailure(error);
  }
}

/**
 * Restores one component's artifact into its sandbox (dropped and recreated first), checking its sha256 as it
 * streams. The sandbox is resolved and checked against production again: this worker's environment may differ.
 */
export async function restoreSandbox(input: { plan: Plan; setId: string; component: string }): Promise<{ component: string; bytes: number }> {
  const component = drilledComponents(input.plan).find((candidate) => candidate.name === input.component);
  if (!component) throw ApplicationFailure.nonRetryable(`component "${input.component}" has no sandbox in drill.targets`, 'NoSandbox');
  const store = createStore(input.plan.store);
  let verifying: VerifyingStream | undefined;
  return withHeartbeat(
    () => ({ component: component.name, bytes: verifying?.bytes ?? 0 }),
    async () => {
      const [sandbox] = await resolveSandboxes(input.plan, [component]);
      const backup = await recordedArtifact(store, input.plan, input.setId, component.name);
      verifying = new VerifyingStream(backup.key, backup.sha256, backup.bytes);
      await restoreFromArtifact(store, Keyring.forPlan(input.plan), backup, verifying, (content, compression) => restorePostgresDatabase(component.name, sandbox.url, content, compression), { compressed: true });
      return { component: component.name, bytes: verifying.bytes };
    },
  );
}

/** Row counts against the manifest and the drill's SQL checks, on the sandboxes. Failed checks are results, not errors. */
export async function runDrillChecks(input: { plan: Plan; setId: string }): Promise<{ results: CheckResult[]; notRun: string[] }> {
  const results: CheckResult[] = [];
  return withHeartbeat(
    () => ({ checked: results.length }),
    async () => {
      const sandboxes = await resolveSandboxes(input.plan, drilledComponents(input.plan));
      const urls = new Map(sandboxes.map((sandbox) => [sandbox.component, sandbox.url]));
      const manifest = await readManifest(createStore(input.plan.store), input.plan.name, input.setId);
      const { run, notRun } = drillChecks(input.plan);
      await checkRestoredData(input.plan, manifest, run, (component) => urls.get(component.name), results);
      return { results, notRun };
    },
  );
}

/** Drops every sandbox database (after the drill, passed or not). A sandbox that resolves to production is never dropped. */
export async function dropSandboxes(input: { plan: Plan }): Promise<{ dropped: string[] }> {
  return withHeartbeat(
    () => ({ dropping: true }),
    async () => {
      const sandboxes = await resolveSandboxes(input.plan, drilledComponents(input.plan));
      const dropped: string[] = [];
      for (const sandbox of sandboxes) {
        await dropPostgresDatabase(sandbox.component, sandbox.url);
        dropped.push(describeDatabase(sandbox.identity));
      }
      return { dropped };
    },
  );
}

/** Writes the drill's record (last, once the sandboxes are gone) and sets the drill metrics. */
export async function recordDrill(input: { plan: Plan; record: DrillRecord }): Promise<{ key: string }> {
  try {
    const key = await writeDrillRecord(createStore(input.plan.store), input.record);
    recordDrillOutcome(input.record);
    return { key };
  } catch (error) {
    throw toApplicationFailure(error, `drill record of plan "${input.plan.name}"`);
  }
}
