/**
 * Prune activities: list a plan's backup sets, choose what its retention policy keeps (src/catalog/retention),
 * delete the rest. Only set ids, reasons, counts and sizes go back to Temporal, never every key.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { isSetId, manifestKey, setIdTime, setPrefix } from '../src/catalog/manifest';
import { holdLockedSets, isStillRemovable, selectRetention, type RetentionSelection } from '../src/catalog/retention';
import type { Plan, Retention } from '../src/plan/schema';
import { listBackupSets } from '../src/repository/backupSets';
import { createStore, type BackupStore } from '../src/stores';
import { deleteAllVersions, lockedStore, lockedUntil, ObjectLockedError } from '../src/stores/objectLock';
import { toApplicationFailure } from './failures';

/** What retention decided for one set, with the objects the set holds. */
export interface PruneSetDecision {
  setId: string;
  /** The set's time (from its id), ISO 8601 UTC. */
  time: string;
  complete: boolean;
  action: 'keep' | 'remove';
  /** Why it is kept (every rule that matched), or the one reason it is removed. */
  reasons: string[];
  objects: number;
  bytes: number;
}

export interface PrunePlan {
  plan: string;
  /** Where the sets are, without credentials. */
  store: string;
  retention: Retention;
  /** The `now` the selection used (incomplete sets' age). */
  evaluatedAt: string;
  /** Every set, newest first. */
  sets: PruneSetDecision[];
  /** Ids of the sets to remove, newest first. */
  remove: string[];
  warnings: string[];
  totals: { sets: number; keep: number; remove: number; removeObjects: number; removeBytes: number };
  /** Sets retention would remove but whose object lock has not expired (kept, reported, not errors), newest first. */
  locked?: { setId: string; until: string }[];
}

export interface PlanPruneInput {
  plan: Plan;
}

export interface ApplyPruneInput {
  plan: Plan;
  /** The set ids planPrune chose; each is deleted only if a fresh selection still removes it. */
  remove: string[];
}

export interface ApplyPruneResult {
  removed: { setId: string; objects: number }[];
  /** Sets no longer to be removed (e.g. an incremental that finished meanwhile depends on one), with why. */
  skipped: { setId: string; reason: string }[];
}

/** Progress reported in applyPrune's heartbeats. */
export interface PruneProgress {
  setId: string;
  setsDone: number;
  setsTotal: number;
  objectsDeleted: number;
}

function retentionOf(plan: Plan): Retention {
  if (!plan.retention) throw ApplicationFailure.nonRetryable(`plan ${plan.name} has no retention policy`, 'NoRetentionPolicy');
  return plan.retention;
}

interface Evaluation {
  selection: RetentionSelection;
  /** Retention dates of sets held back by their object lock. */
  locked: Map<string, Date>;
  /** Objects and bytes stored under each set id. */
  usage: Map<string, { objects: number; bytes: number }>;
}

/**
 * Lists the plan's sets and applies the policy as of `now`. With `probeLocks` (planPrune), the sets chosen for
 * removal on a locked store are asked for their retention date and held while it has not passed.
 */
async function evaluate(store: BackupStore, plan: Plan, retention: Retention, now: Date, probeLocks: boolean): Promise<Evaluation> {
  const listing = await listBackupSets(store, plan.name);
  const usage = new Map<string, { objects: number; bytes: number }>();
  // A second listing for sizes: listBackupSets returns manifests, not the objects of complete sets.
  for await (const object of store.list(`${plan.name}/`)) {
    const setId = object.key.slice(plan.name.length + 1).split('/')[0];
    const entry = usage.get(setId) ?? { objects: 0, bytes: 0 };
    usage.set(setId, { objects: entry.objects + 1, bytes: entry.bytes + object.size });
  }
  const selection = selectRetention(
    {
      complete: listing.complete.map((manifest) => ({
        setId: manifest.setId,
        time: setIdTime(manifest.setId),
        dependsOn: [...new Set(manifest.components.flatMap((component) => (component.dependsOn ? [component.dependsOn] : [])))],
      })),
      // A listed manifest that could not be read makes the set "incomplete" with complete: true.
      incomplete: listing.incomplete.map((set) => ({ setId: set.setId, time: setIdTime(set.setId), ...(set.complete ? { manifestProblem: set.reason } : {}) })),
      failedVerification: listing.failedVerification.map(({ manifest, mark }) => ({ setId: manifest.setId, time: setIdTime(manifest.setId), reason: mark.reason })),
    },
    retention,
    now,
  );
  // With object lock, a set whose retention has not expired cannot be deleted: it is held, not failed.
  const locked = new Map<string, Date>();
  const lockingStore = probeLocks ? lockedStore(store) : undefined;
  if (lockingStore) {
    for (const set of selection.remove) {
      const until = await lockedUntil(lockingStore, setPrefix(plan.name, set.setId), now);
      if (until) locked.set(set.setId, until);
    }
  }
  return { selection: holdLockedSets(selection, locked, now), locked, usage };
}

export async function planPrune(input: PlanPruneInput): Promise<PrunePlan> {
  const { plan } = input;
  const retention = retentionOf(plan);
  const store = createStore(plan.store);
  const now = new Date();
  let evaluation: Evaluation;
  try {
    evaluation = await evaluate(store, plan, retention, now, true);
  } catch (error) {
    throw toApplicationFailure(error, 'prune');
  }
  const { selection, usage, locked } = evaluation;
  const sizeOf = (setId: string) => usage.get(setId) ?? { objects: 0, bytes: 0 };
  const sets: PruneSetDecision[] = [
    ...selection.keep.map((set) => ({ ...set, action: 'keep' as const, ...sizeOf(set.setId) })),
    ...selection.remove.map(({ reason, ...set }) => ({ ...set, action: 'remove' as const, reasons: [reason], ...sizeOf(set.setId) })),
  ].sort((a, b) => (a.setId < b.setId ? 1 : a.setId > b.setId ? -1 : 0));
  const removing = sets.filter((set) => set.action === 'remove');
  return {
    plan: plan.name,
    store: store.location,
    retention,
    evaluatedAt: now.toISOString(),
    sets,
    remove: removing.map((set) => set.setId),
    warnings: selection.warnings,
    locked: [...locked].map(([setId, until]) => ({ setId, until: until.toISOString() })).sort((a, b) => (a.setId < b.setId ? 1 : -1)),
    totals: {
      sets: sets.length,
      keep: sets.length - removing.length,
      remove: removing.length,
      removeObjects: removing.reduce((sum, set) => sum + set.objects, 0),
      removeBytes: removing.reduce((sum, set) => sum + set.bytes, 0),
    },
  };
}

/**
 * Deletes the chosen sets. Each is re-checked against a fresh selection first (a backup may have finished since
 * the plan was made). A set's manifest goes first, so a half-deleted set is never taken for a complete one;
 * then its artifacts. Idempotent: a retry finishes what an interrupted attempt started.
 */
export async function applyPrune(input: ApplyPruneInput): Promise<ApplyPruneResult> {
  const context = Context.current();
  const { plan } = input;
  const retention = retentionOf(plan);
  const store = createStore(plan.store);
  const result: ApplyPruneResult = { removed: [], skipped: [] };
  try {
    // No lock probe here: planPrune already held every set still locked. A delete S3 refuses all the same (a
    // retention extended since) becomes ObjectLockedError and the set is reported as skipped; its manifest,
    // written last and so locked longest, is deleted first, so such a set is left whole.
    const { selection } = await evaluate(store, plan, retention, new Date(), false);
    const listed = new Set([...selection.keep, ...selection.remove].map((set) => set.setId));
    const setIds = [...new Set(input.remove)];
    let objectsDeleted = 0;
    for (const [index, setId] of setIds.entries()) {
      if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? new Error('cancelled');
      const progress = (): PruneProgress => ({ setId, setsDone: index, setsTotal: setIds.length, objectsDeleted });
      context.heartbeat(progress());
      if (!isSetId(setId)) {
        result.skipped.push({ setId, reason: 'not a backup set id' });
        continue;
      }
      if (!listed.has(setId)) {
        result.removed.push({ setId, objects: 0 }); // already gone: an earlier attempt finished it
        continue;
      }
      if (!isStillRemovable(selection, setId)) {
        const kept = selection.keep.find((set) => set.setId === setId);
        result.skipped.push({ setId, reason: `kept now: ${kept?.reasons.join('; ') ?? 'no longer selected for removal'}` });
        continue;
      }
      const manifest = manifestKey(plan.name, setId);
      const lockingStore = lockedStore(store);
      let objects: number;
      if (lockingStore) {
        // Versioned (object lock): deleting a key only adds a delete marker; every version is deleted by id.
        try {
          objects = await deleteAllVersions(lockingStore, setPrefix(plan.name, setId), manifest, () => context.heartbeat(progress()));
        } catch (error) {
          if (!(error instanceof ObjectLockedError)) throw error;
          result.skipped.push({ setId, reason: `locked: ${error.message}` });
          continue;
        }
        objectsDeleted += objects;
      } else {
        const keys: string[] = [];
        for await (const object of store.list(setPrefix(plan.name, setId))) keys.push(object.key);
        for (const key of [manifest, ...keys.filter((key) => key !== manifest)]) {
          await store.delete(key);
          if (keys.includes(key)) objectsDeleted += 1;
          context.heartbeat(progress());
        }
        objects = keys.length;
      }
      context.log.info('backup set pruned', { plan: plan.name, setId, objects });
      result.removed.push({ setId, objects });
    }
  } catch (error) {
    if (context.cancellationSignal.aborted) throw context.cancellationSignal.reason ?? error;
    throw toApplicationFailure(error, 'prune');
  }
  return result;
}
