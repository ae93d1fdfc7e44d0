/**
 * `backup verify`, deep: the checksum and engine checks of verifyBackupSet on every artifact (or a random
 * sample of them, like `restic check --read-data-subset`), optionally a restore of every PostgreSQL artifact
 * into a scratch database with its row counts compared with the manifest, and the verdict recorded on the set:
 * a set that fails is marked (verify-failed.json), never deleted, and no longer offered for restore.
 */
import { randomInt } from 'node:crypto';
import type { ComponentBackup, Manifest } from '../catalog/manifest';
import { verifyFailedKey, type VerifyFailedMark } from '../catalog/verifyMark';
import { Keyring } from '../encryption';
import { ComponentError } from '../engines/errors';
import { restoreIntoScratchDatabase } from '../engines/postgresScratch';
import type { Plan, PostgresComponent } from '../plan/schema';
import type { BackupStore } from '../stores/types';
import { restoreFromArtifact } from './artifactRead';
import { verifyBackupSet, type SetVerification } from './backupSets';
import { ChecksumMismatchError, VerifyingStream } from './digest';
import { clearVerifyMark, writeVerifyMark } from './verifyMarks';

/** How much to read: a percentage of the artifacts, or a number of them. Either way at least one. */
export type SampleSpec = { percent: number } | { count: number };

export class InvalidSampleError extends Error {
  constructor(text: string) {
    super(`--sample "${text}" is not a sample size: give a percentage of the artifacts such as "10%" (more than 0, at most 100) or a number of artifacts such as "3"`);
    this.name = 'InvalidSampleError';
  }
}

export function parseSample(text: string): SampleSpec {
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(text.trim());
  if (percent) {
    const value = Number(percent[1]);
    if (value > 0 && value <= 100) return { percent: value };
    throw new InvalidSampleError(text);
  }
  if (/^\d+$/.test(text.trim()) && Number(text) >= 1) return { count: Number(text) };
  throw new InvalidSampleError(text);
}

/** How many of `total` artifacts a sample reads: the percentage rounded up, at least one, at most all. */
export function sampleSize(spec: SampleSpec | undefined, total: number): number {
  if (total === 0) return 0;
  if (!spec) return total;
  const wanted = 'percent' in spec ? Math.ceil((total * spec.percent) / 100) : spec.count;
  return Math.min(total, Math.max(1, wanted));
}

/** A uniformly random subset of `size` items (partial Fisher-Yates), in their original order. */
export function chooseSample<T>(items: readonly T[], size: number, random: (max: number) => number = randomInt): T[] {
  const indexes = items.map((_, index) => index);
  for (let i = 0; i < size && i < indexes.length; i++) {
    const j = i + random(indexes.length - i);
    [indexes[i], indexes[j]] = [indexes[j], indexes[i]];
  }
  return indexes
    .slice(0, size)
    .sort((a, b) => a - b)
    .map((index) => items[index]);
}

export interface RestoreCheck {
  component: string;
  key: string;
  /** The scratch database used (already dropped). */
  database?: string;
  ok: boolean;
  tablesCompared: number;
  problems: string[];
  /** The restore could not be attempted or finished for a reason that says nothing about the artifact (server unreachable). */
  inconclusive?: string;
}

export interface SetVerificationReport extends SetVerification {
  /** Every artifact of the set was read (no sample left one out). */
  readAll: boolean;
  restores: RestoreCheck[];
  /** Why no verdict could be reached for some artifact (store or database unreachable): such failures do not mark the set. */
  inconclusive: string[];
  /** The mark written for this failure (its key), when the set failed. */
  marked?: string;
  /** A full verification passed on a set that was marked: its mark was removed. */
  cleared?: boolean;
}

export interface VerifySetsOptions {
  sample?: SampleSpec;
  /** Restore each PostgreSQL artifact into a scratch database and compare row counts. */
  restore?: boolean;
  /** Set ids currently marked as failed (a full pass clears their mark). */
  marked?: ReadonlySet<string>;
  /** For tests: the sample's random source. */
  random?: (max: number) => number;
}

export interface VerifySetsResult {
  ok: boolean;
  artifactsTotal: number;
  artifactsRead: number;
  sets: SetVerificationReport[];
}

/** The first problem of a verification, for the mark's one-line reason and exit message. */
function firstFailure(report: SetVerificationReport): { artifact?: string; reason: string } {
  const artifact = report.artifacts.find((candidate) => !candidate.ok && !candidate.storeError);
  // Every problem of the artifact, the checksum's first: the decryptor naming the damaged chunk, zstd's own
  // frame checksum or the engine say more about the same damage.
  if (artifact) return { artifact: artifact.key, reason: `${artifact.key}: ${artifact.problems.length > 0 ? artifact.problems.join('; ') : 'failed'}` };
  const restore = report.restores.find((candidate) => !candidate.ok && !candidate.inconclusive);
  if (restore) return { artifact: restore.key, reason: `${restore.key}: ${restore.problems[0] ?? 'restore check failed'}` };
  return { reason: report.problems[0] ?? 'failed' };
}

/** Whether the set failed on evidence about its data (not merely because something could not be read). */
function failedOnEvidence(report: SetVerificationReport): boolean {
  return (
    report.problems.length > 0 ||
    report.artifacts.some((artifact) => !artifact.ok && !artifact.storeError) ||
    report.restores.some((restore) => !restore.ok && !restore.inconclusive)
  );
}

/** Restores one PostgreSQL artifact into a scratch database (re-reading it, checksum enforced) and compares row counts. */
async function restoreCheck(store: BackupStore, keyring: Keyring, component: PostgresComponent, recorded: ComponentBackup): Promise<RestoreCheck> {
  const check: RestoreCheck = { component: component.name, key: recorded.key, ok: true, tablesCompared: 0, problems: [] };
  try {
    const verifying = new VerifyingStream(recorded.key, recorded.sha256, recorded.bytes);
    // Decompression happens in the restore's own child process (zstd -d piped into pg_restore).
    const restored = await restoreFromArtifact(store, keyring, recorded, verifying, (content, compression) => restoreIntoScratchDatabase(component, content, compression), { compressed: true });
    check.database = restored.database;
    if (recorded.postgres?.rowCountsKind !== 'exact') {
      check.problems.push('the manifest holds estimated row counts only: the restore succeeded, counts were not compared');
      return check;
    }
    for (const [table, expected] of Object.entries(recorded.postgres.rowCounts)) {
      const actual = restored.rowCounts[table];
      check.tablesCompared++;
      if (actual !== expected) {
        check.ok = false;
        check.problems.push(`rows in ${table}: ${actual ?? 'table missing'} after restore, manifest says ${expected}`);
      }
    }
  } catch (error) {
    check.ok = false;
    const message = (error as Error).message;
    const evidence = error instanceof ChecksumMismatchError || (error instanceof ComponentError && error.kind === 'RestoreFailed');
    if (!evidence) check.inconclusive = `restore into a scratch database could not run: ${message}`;
    check.problems.push(`restore into a scratch database failed: ${message}`);
  }
  return check;
}

/**
 * Verifies the given sets: every artifact, or a random sample of all their artifacts (the unit is one
 * component's artifact with its sidecars). Marks each set that failed on evidence; clears the mark of a
 * marked set that passed a full read.
 */
export async function verifySets(store: BackupStore, plan: Plan, manifests: readonly Manifest[], options: VerifySetsOptions = {}): Promise<VerifySetsResult> {
  const all = manifests.flatMap((manifest) => manifest.components.map((component) => ({ setId: manifest.setId, key: component.key })));
  const chosen = new Set(chooseSample(all, sampleSize(options.sample, all.length), options.random).map((artifact) => artifact.key));
  const result: VerifySetsResult = { ok: true, artifactsTotal: all.length, artifactsRead: chosen.size, sets: [] };
  for (const manifest of manifests) {
    const only = new Set(manifest.components.map((component) => component.key).filter((key) => chosen.has(key)));
    if (only.size === 0) continue; // nothing of this set in the sample
    const verification = await verifyBackupSet(store, plan, manifest, { only });
    const report: SetVerificationReport = { ...verification, readAll: only.size === manifest.components.length, restores: [], inconclusive: [] };
    for (const artifact of report.artifacts) if (artifact.storeError) report.inconclusive.push(`${artifact.key}: the store failed: ${artifact.storeError}`);
    if (options.restore) {
      for (const recorded of manifest.components) {
        const component = plan.components.find((candidate) => candidate.name === recorded.name);
        const read = report.artifacts.find((artifact) => artifact.key === recorded.key);
        // Only artifacts that were read and passed are worth a restore; a failed one already failed.
        if (component?.type !== 'postgres' || !read?.ok) continue;
        const check = await restoreCheck(store, Keyring.forPlan(plan), component, recorded);
        report.restores.push(check);
        if (check.inconclusive) report.inconclusive.push(`${recorded.key}: ${check.inconclusive}`);
      }
    }
    report.ok = verification.ok && report.restores.every((restore) => restore.ok);
    if (!report.ok && failedOnEvidence(report)) {
      const { artifact, reason } = firstFailure(report);
      const mark: VerifyFailedMark = {
        setId: manifest.setId,
        at: new Date().toISOString(),
        artifact,
        reason,
        problems: [
          ...report.artifacts.flatMap((item) => item.problems.map((problem) => ({ key: item.key, problem }))),
          ...report.restores.flatMap((item) => item.problems.map((problem) => ({ key: item.key, problem }))),
          ...report.problems.map((problem) => ({ key: '', problem })),
        ],
      };
      // An existing mark keeps the first evidence (and, under object lock, no new version is written per run).
      report.marked = options.marked?.has(manifest.setId) ? verifyFailedKey(plan.name, manifest.setId) : await writeVerifyMark(store, plan.name, mark);
    } else if (report.ok && report.readAll && options.marked?.has(manifest.setId)) {
      await clearVerifyMark(store, plan.name, manifest.setId);
      report.cleared = true;
    }
    if (!report.ok) result.ok = false;
    result.sets.push(report);
  }
  return result;
}
