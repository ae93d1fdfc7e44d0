/**
 * The repository logic written once on top of any store (restic's repository idea): list the sets of a
 * plan, read their manifests, verify their artifacts.
 */
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkRecordedOrder, groupSets, manifestKey, manifestSchema, type ArtifactRef, type ListedSet, type Manifest } from '../catalog/manifest';
import { verifyFailedKey, type VerifyFailedMark } from '../catalog/verifyMark';
import { engineFor } from '../engines';
import { decompressor } from '../engines/compression';
import { Keyring, unsealingStream } from '../encryption';
import { ComponentError } from '../engines/errors';
import type { Plan } from '../plan/schema';
import { ObjectNotFoundError, type BackupStore } from '../stores/types';
import { DigestStream } from './digest';
import { readJson } from './storedJson';
import { readVerifyMark } from './verifyMarks';

export class ManifestUnreadableError extends Error {
  constructor(key: string, reason: string) {
    super(`manifest ${key} cannot be read: ${reason}`);
    this.name = 'ManifestUnreadableError';
  }
}

export async function readManifest(store: BackupStore, plan: string, setId: string): Promise<Manifest> {
  const key = manifestKey(plan, setId);
  return readJson(store, key, manifestSchema, ({ kind, detail }) => new ManifestUnreadableError(key, kind === 'json' ? `not JSON (${detail})` : detail));
}

export interface BackupSetListing {
  /** Complete sets (manifest present and readable), oldest first: the only ones ever offered for restore. */
  complete: Manifest[];
  /** Sets without a manifest (still being written, or abandoned), or whose manifest is unreadable. */
  incomplete: (ListedSet & { reason: string })[];
  /** Sets with a readable manifest that `backup verify` marked as failed (verify-failed.json): never offered for restore. */
  failedVerification: { manifest: Manifest; mark: VerifyFailedMark }[];
}

export async function listBackupSets(store: BackupStore, plan: string): Promise<BackupSetListing> {
  const keys: string[] = [];
  for await (const object of store.list(`${plan}/`)) keys.push(object.key);
  const listing: BackupSetListing = { complete: [], incomplete: [], failedVerification: [] };
  for (const set of groupSets(plan, keys)) {
    if (!set.complete) {
      listing.incomplete.push({ ...set, reason: 'no manifest: the backup did not finish (or is still running)' });
      continue;
    }
    let manifest: Manifest;
    try {
      manifest = await readManifest(store, plan, set.setId);
    } catch (error) {
      listing.incomplete.push({ ...set, reason: (error as Error).message });
      continue;
    }
    if (set.keys.includes(verifyFailedKey(plan, set.setId))) listing.failedVerification.push({ manifest, mark: await readVerifyMark(store, plan, set.setId) });
    else listing.complete.push(manifest);
  }
  return listing;
}

export interface ArtifactVerification {
  component: string;
  key: string;
  ok: boolean;
  bytes: number;
  sha256: string;
  problems: string[];
  /** Set when the store failed to serve the bytes (network, credentials): the artifact's state is unknown, not bad. */
  storeError?: string;
}

export interface SetVerification {
  setId: string;
  ok: boolean;
  artifacts: ArtifactVerification[];
  /** Problems with the set as a whole, e.g. its recorded order breaks an `after` constraint. */
  problems: string[];
}

/** Streams one stored object through a digest (and its decryption, which authenticates it); resolves with what was read. */
async function digestObject(store: BackupStore, artifact: ArtifactRef, keyring: Keyring): Promise<{ bytes: number; sha256: string }> {
  const digest = new DigestStream();
  await pipeline(await store.get(artifact.key), digest, unsealingStream(artifact, keyring), new Writable({ write: (_chunk, _encoding, done) => done() }));
  return { bytes: digest.bytes, sha256: digest.sha256() };
}

/**
 * Re-reads every artifact of a set: its sha256 and size must match the manifest (they are of the stored,
 * compressed bytes), and its engine must be able to read the decompressed content (for PostgreSQL,
 * `pg_restore --list`). Both checks read the same single stream. Sidecars are checked by checksum.
 */
export async function verifyBackupSet(store: BackupStore, plan: Plan, manifest: Manifest, options: { only?: ReadonlySet<string> } = {}): Promise<SetVerification> {
  const artifacts: ArtifactVerification[] = [];
  const keyring = Keyring.forPlan(plan);
  for (const recorded of manifest.components) {
    if (options.only && !options.only.has(recorded.key)) continue; // not in this sample
    const result: ArtifactVerification = { component: recorded.name, key: recorded.key, ok: true, bytes: 0, sha256: '', problems: [] };
    const component = plan.components.find((candidate) => candidate.name === recorded.name);
    try {
      const digest = new DigestStream();
      const decrypt = unsealingStream(recorded, keyring);
      const source = await store.get(recorded.key).catch((error: Error) => {
        if (!(error instanceof ObjectNotFoundError)) result.storeError = error.message;
        throw error;
      });
      source.once('error', (error: Error) => (result.storeError ??= error.message));
      const content = decompressor(recorded.compression);
      const check = component ? engineFor(component).checkArtifact(component, content, recorded) : (async () => void content.resume())();
      const engineProblem = check.then(
        () => undefined,
        (error: Error) => (error instanceof ComponentError ? error.message : `cannot check: ${error.message}`),
      );
      await pipeline(source, digest, decrypt, content).catch((error: Error) => {
        // The engine may stop reading early once it has failed; that failure is the one to report.
        result.problems.push(`reading the artifact failed: ${error.message}`);
      });
      const problem = await engineProblem;
      if (problem) result.problems.push(problem);
      result.bytes = digest.bytes;
      result.sha256 = digest.sha256();
      if (result.problems.length > 0 && result.bytes < recorded.bytes) {
        // The read stopped early (the decompressor or the engine failed first): finish the checksum on a second
        // read, so an artifact altered in the store is reported as such, not only as undecodable.
        const whole = new DigestStream();
        await pipeline(await store.get(recorded.key), whole, new Writable({ write: (_chunk, _encoding, done) => done() }));
        result.bytes = whole.bytes;
        result.sha256 = whole.sha256();
      }
      // A checksum or size mismatch is the root cause of whatever else failed on the same bytes: it goes first.
      if (result.bytes !== recorded.bytes) result.problems.unshift(`size mismatch: stored ${result.bytes} bytes, manifest says ${recorded.bytes}`);
      if (result.sha256 !== recorded.sha256) result.problems.unshift(`sha256 mismatch: stored ${result.sha256}, manifest says ${recorded.sha256}`);
      for (const sidecar of recorded.sidecars) {
        const stored = await digestObject(store, sidecar, keyring);
        if (stored.sha256 !== sidecar.sha256 || stored.bytes !== sidecar.bytes) result.problems.push(`sidecar ${sidecar.key} does not match its checksum`);
      }
      if (!component) result.problems.push(`component "${recorded.name}" is no longer in the plan; only its checksum was verified`);
    } catch (error) {
      result.problems.push((error as Error).message);
    }
    // A component dropped from the plan is a note, not a corruption.
    result.ok = result.problems.every((problem) => problem.includes('no longer in the plan'));
    artifacts.push(result);
  }
  const problems = checkRecordedOrder(manifest).map((violation) => violation.message);
  return { setId: manifest.setId, ok: problems.length === 0 && artifacts.every((artifact) => artifact.ok), artifacts, problems };
}
