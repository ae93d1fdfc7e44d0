/**
 * What versioning costs: the bucket's versions under the prefix, split into current ones, noncurrent ones that
 * kept restore points still need, and noncurrent ones no kept map references (a lifecycle rule may expire
 * them). Also, per kept set, the recorded versions that are already gone (that set can no longer be rolled
 * back fully). One merge of every kept map with the listing: memory grows with the number of maps, not objects.
 */
import type { Readable } from 'node:stream';
import type { S3VersionedComponent } from '../../plan/schema';
import { listKeyVersions, openVersionedBucket, type KeyVersions } from './bucket';
import { CappedList, compareKeys, Cursor, readVersionMap, type VersionRecord } from './versionMap';

export interface KeptMap {
  setId: string;
  /** The decompressed map (its checksum verified by the caller). */
  open(): Promise<Readable>;
}

export interface VersionCost {
  versions: number;
  bytes: number;
}

export interface NoncurrentVersionsReport {
  component: string;
  bucket: string;
  prefix: string;
  current: VersionCost;
  /** Noncurrent versions some kept restore point records: the storage versioning costs for restore points. */
  keptForRestorePoints: VersionCost;
  /** Noncurrent versions no kept map records: a lifecycle rule could expire them without loss. */
  unreferencedNoncurrent: VersionCost;
  sets: { setId: string; objects: number; missingVersions: number; missing: string }[];
}

export async function noncurrentVersionsReport(component: S3VersionedComponent, maps: KeptMap[]): Promise<NoncurrentVersionsReport> {
  const bucket = openVersionedBucket(component);
  const zero = (): VersionCost => ({ versions: 0, bytes: 0 });
  const report: NoncurrentVersionsReport = {
    component: component.name,
    bucket: component.bucket,
    prefix: component.prefix,
    current: zero(),
    keptForRestorePoints: zero(),
    unreferencedNoncurrent: zero(),
    sets: [],
  };
  const cursors: { setId: string; records: Cursor<VersionRecord>; objects: number; missing: CappedList<string> }[] = [];
  try {
    for (const map of maps) {
      const records = Cursor.of(readVersionMap(await map.open(), { bucket: component.bucket, prefix: component.prefix }));
      cursors.push({ setId: map.setId, records, objects: 0, missing: new CappedList(5) });
    }
    /** Consumes every map's records up to `key`; records of keys before it are missing (no version left at all). */
    const recordedAt = async (key: string | undefined): Promise<Set<string>> => {
      const recorded = new Set<string>();
      for (const cursor of cursors) {
        for (let next = await cursor.records.peek(); next && (key === undefined || compareKeys(next.key, key) <= 0); next = await cursor.records.peek()) {
          await cursor.records.next();
          cursor.objects++;
          if (next.key === key) recorded.add(next.versionId);
          else cursor.missing.add(next.key);
        }
      }
      return recorded;
    };
    const account = (listed: KeyVersions, recorded: Set<string>) => {
      for (const [versionId, version] of listed.versions) {
        const cost = versionId === listed.current?.versionId ? report.current : recorded.has(versionId) ? report.keptForRestorePoints : report.unreferencedNoncurrent;
        cost.versions++;
        cost.bytes += version.size;
      }
    };
    for await (const listed of listKeyVersions(bucket)) {
      const perSet = new Map<string, string>();
      for (const cursor of cursors) {
        const next = await cursor.records.peek();
        if (next?.key === listed.key) perSet.set(cursor.setId, next.versionId);
      }
      const recorded = await recordedAt(listed.key);
      // A set whose recorded version of this key is gone cannot bring the key back.
      for (const cursor of cursors) {
        const versionId = perSet.get(cursor.setId);
        if (versionId !== undefined && !listed.versions.has(versionId)) cursor.missing.add(listed.key);
      }
      account(listed, recorded);
    }
    await recordedAt(undefined);
  } finally {
    for (const cursor of cursors) await cursor.records.close();
    bucket.client.destroy();
  }
  report.sets = cursors.map((cursor) => ({ setId: cursor.setId, objects: cursor.objects, missingVersions: cursor.missing.count, missing: cursor.missing.describe((key) => `"${key}"`) }));
  return report;
}
