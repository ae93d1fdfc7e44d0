/** Reading, writing and clearing the verify-failed mark of a set (layout in src/catalog/verifyMark.ts). */
import { verifyFailedKey, verifyFailedMarkSchema, type VerifyFailedMark } from '../catalog/verifyMark';
import type { BackupStore } from '../stores/types';
import { jsonBody, readJson } from './storedJson';

/** The mark's document is JSON, but not a mark. */
class MalformedMarkError extends Error {}

export async function readVerifyMark(store: BackupStore, plan: string, setId: string): Promise<VerifyFailedMark> {
  const key = verifyFailedKey(plan, setId);
  try {
    return await readJson(store, key, verifyFailedMarkSchema, ({ kind, detail }) => (kind === 'schema' ? new MalformedMarkError(detail) : new Error(detail)));
  } catch (error) {
    // An unreadable mark still marks the set: failing safe means not offering it for restore.
    const reason = error instanceof MalformedMarkError ? `marked as failed, but the mark ${key} is not in the expected form` : `marked as failed, but the mark ${key} cannot be read (${(error as Error).message})`;
    return { setId, at: new Date(0).toISOString(), reason, problems: [] };
  }
}

export async function writeVerifyMark(store: BackupStore, plan: string, mark: VerifyFailedMark): Promise<string> {
  const key = verifyFailedKey(plan, mark.setId);
  await store.put(key, jsonBody(mark));
  return key;
}

/** Removes the mark after a full verification of the set passed again (e.g. an operator repaired it). */
export async function clearVerifyMark(store: BackupStore, plan: string, setId: string): Promise<void> {
  await store.delete(verifyFailedKey(plan, setId));
}
