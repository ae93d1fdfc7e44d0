/** Reading, writing and clearing the verify-failed mark of a set (layout in src/catalog/verifyMark.ts). */
import { Readable } from 'node:stream';
import { verifyFailedKey, verifyFailedMarkSchema, type VerifyFailedMark } from '../catalog/verifyMark';
import type { BackupStore } from '../stores/types';

export async function readVerifyMark(store: BackupStore, plan: string, setId: string): Promise<VerifyFailedMark> {
  const key = verifyFailedKey(plan, setId);
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of await store.get(key)) chunks.push(chunk as Buffer);
    const parsed = verifyFailedMarkSchema.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
    if (parsed.success) return parsed.data;
  } catch (error) {
    // An unreadable mark still marks the set: failing safe means not offering it for restore.
    return { setId, at: new Date(0).toISOString(), reason: `marked as failed, but the mark ${key} cannot be read (${(error as Error).message})`, problems: [] };
  }
  return { setId, at: new Date(0).toISOString(), reason: `marked as failed, but the mark ${key} is not in the expected form`, problems: [] };
}

export async function writeVerifyMark(store: BackupStore, plan: string, mark: VerifyFailedMark): Promise<string> {
  const key = verifyFailedKey(plan, mark.setId);
  await store.put(key, Readable.from([Buffer.from(`${JSON.stringify(mark, null, 2)}\n`)]));
  return key;
}

/** Removes the mark after a full verification of the set passed again (e.g. an operator repaired it). */
export async function clearVerifyMark(store: BackupStore, plan: string, setId: string): Promise<void> {
  await store.delete(verifyFailedKey(plan, setId));
}
