/**
 * What rolling a prefix back to a version map takes, found by merging the map with a listing of the bucket
 * (both in key order, so memory stays flat): keys whose current version differs get their recorded version
 * back, keys the map does not know get a delete marker, and recorded versions S3 no longer holds are missing.
 */
import type { KeyVersions } from './bucket';
import { CappedList, compareKeys, Cursor, isMultipartEtag, type VersionRecord } from './versionMap';

export type RollbackAction =
  | { kind: 'restore'; key: string; versionId: string; etag: string; size: number }
  | { kind: 'delete'; key: string };

export interface RollbackSummary {
  /** Objects in the map. */
  objects: number;
  /** Recorded versions to make current again. */
  restore: number;
  /** Keys created after the restore point, to hide behind a delete marker. */
  delete: number;
  /** Keys already as the map says (current version recorded, or already deleted). */
  unchanged: number;
  /** Recorded versions S3 no longer holds (expired by a lifecycle rule, or deleted by version id). */
  missing: CappedList<{ key: string; versionId: string }>;
}

export interface RollbackInputs {
  map: AsyncIterable<VersionRecord>;
  listing: AsyncIterable<KeyVersions>;
  /**
   * The version id a Lifeboat restore copied the current version from, when it did. Copies of multipart
   * uploads get another etag, so for them equality of content is proven by this mark, not by the etag.
   */
  restoredFrom?(key: string, currentVersionId: string): Promise<string | undefined>;
  onAction?(action: RollbackAction): Promise<void> | void;
  /** Called every 1000 objects (map records plus extra keys) with the number merged so far. */
  onProgress?(objects: number): void;
}

async function isCurrent(record: VersionRecord, listed: KeyVersions | undefined, inputs: RollbackInputs): Promise<boolean> {
  const current = listed?.current;
  if (!current) return false;
  if (current.versionId === record.versionId) return true;
  if (current.size !== record.size) return false;
  // A single-part etag is the content's MD5: the same etag is the same bytes (e.g. an earlier restore's copy).
  if (!isMultipartEtag(record.etag)) return current.etag === record.etag;
  return inputs.restoredFrom !== undefined && (await inputs.restoredFrom(record.key, current.versionId)) === record.versionId;
}

export async function planRollback(inputs: RollbackInputs): Promise<RollbackSummary> {
  const summary: RollbackSummary = { objects: 0, restore: 0, delete: 0, unchanged: 0, missing: new CappedList() };
  const listing = Cursor.of(inputs.listing);
  let merged = 0;
  const progressed = () => {
    merged++;
    if (merged % 1000 === 0) inputs.onProgress?.(merged);
  };
  const extra = async (listed: KeyVersions) => {
    progressed();
    if (!listed.current) {
      summary.unchanged++;
      return;
    }
    summary.delete++;
    await inputs.onAction?.({ kind: 'delete', key: listed.key });
  };
  try {
    for await (const record of inputs.map) {
      for (let next = await listing.peek(); next && compareKeys(next.key, record.key) < 0; next = await listing.peek()) {
        await extra((await listing.next())!);
      }
      const listed = (await listing.peek())?.key === record.key ? await listing.next() : undefined;
      summary.objects++;
      progressed();
      if (await isCurrent(record, listed, inputs)) {
        summary.unchanged++;
      } else if (!listed?.versions.has(record.versionId)) {
        summary.missing.add({ key: record.key, versionId: record.versionId });
      } else {
        summary.restore++;
        await inputs.onAction?.({ kind: 'restore', key: record.key, versionId: record.versionId, etag: record.etag, size: record.size });
      }
    }
    for (let next = await listing.next(); next; next = await listing.next()) await extra(next);
  } finally {
    await listing.close();
  }
  inputs.onProgress?.(merged);
  return summary;
}

/** Passes every item through, calling `visit` on it first: one pass can feed a second merge (the consistency check). */
export async function* tap<T>(items: AsyncIterable<T>, visit: (item: T) => Promise<void> | void): AsyncGenerator<T> {
  for await (const item of items) {
    await visit(item);
    yield item;
  }
}
