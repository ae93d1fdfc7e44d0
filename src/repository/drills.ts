/** Drill history on top of any store: write one drill's record, list a plan's records newest first. */
import { drillIdOfKey, drillRecordKey, drillRecordSchema, drillsPrefix, type DrillRecord } from '../catalog/drills';
import type { BackupStore } from '../stores/types';
import { jsonBody, readJson } from './storedJson';

export async function writeDrillRecord(store: BackupStore, record: DrillRecord): Promise<string> {
  const key = drillRecordKey(record.plan, record.drillId);
  await store.put(key, jsonBody(drillRecordSchema.parse(record)));
  return key;
}

export interface DrillHistory {
  /** Newest first. */
  records: DrillRecord[];
  /** Records that could not be read, with why (left for an operator, never counted as a drill). */
  unreadable: { key: string; reason: string }[];
}

/** The plan's drill records, newest first; `limit` reads only the newest ones. */
export async function listDrillRecords(store: BackupStore, plan: string, limit = Number.POSITIVE_INFINITY): Promise<DrillHistory> {
  const keys: string[] = [];
  for await (const object of store.list(drillsPrefix(plan))) if (drillIdOfKey(plan, object.key)) keys.push(object.key);
  keys.sort().reverse();
  const history: DrillHistory = { records: [], unreadable: [] };
  for (const key of keys.slice(0, limit)) {
    try {
      history.records.push(await readJson(store, key, drillRecordSchema, ({ detail }) => new Error(detail)));
    } catch (error) {
      history.unreadable.push({ key, reason: (error as Error).message });
    }
  }
  return history;
}
