/**
 * Backup sets and their manifests: the layout of keys in a store and the shape of manifest.json.
 * Pure (no I/O): workflows, activities and the CLI all use it.
 */
import { z } from 'zod';

export const MANIFEST_FORMAT_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

const isoTime = z.iso.datetime();

export const postgresFactsSchema = z.strictObject({
  serverVersion: z.string(),
  pgDumpVersion: z.string(),
  /** "exact": counted inside the dump's own snapshot; "estimated": the planner's statistics at dump time. */
  rowCountsKind: z.enum(['exact', 'estimated']),
  /** Rows per table, keyed "schema.table". */
  rowCounts: z.record(z.string(), z.number().int().nonnegative()),
});

export const redisFactsSchema = z.strictObject({
  serverVersion: z.string(),
  /** RDB format version from the file's header ("REDIS0011" -> 11). */
  rdbVersion: z.number().int(),
  /** Keys per logical database at dump time (INFO keyspace), keyed "db0", "db1"... */
  keyCounts: z.record(z.string(), z.number().int().nonnegative()),
  /** "crc64": the RDB's CRC64 trailer was verified; "disabled": the server runs with `rdbchecksum no` (trailer 0), only its structure was checked. */
  rdbChecksum: z.enum(['crc64', 'disabled']).optional(),
});

/** How an artifact's stored bytes are encrypted: the algorithm and the id of the key (never the key). */
export const encryptionRecordSchema = z.strictObject({
  algorithm: z.string(),
  keyId: z.string(),
});

export const artifactRefSchema = z.strictObject({
  key: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** Present when the stored bytes are encrypted (sha256 and bytes are of the stored, encrypted form). */
  encryption: encryptionRecordSchema.optional(),
});

export const invalidLineSchema = z.strictObject({
  /** Path relative to the component's root. */
  file: z.string(),
  /** 1-based line number (within the decompressed content for .gz files). */
  line: z.number().int().positive(),
  reason: z.string(),
});

export const filesFactsSchema = z.strictObject({
  mode: z.enum(['full', 'incremental']),
  /** Files in this artifact (for an incremental: the changed and new ones only). */
  fileCount: z.number().int().nonnegative(),
  /** Bytes of file content read from the source (before compression). */
  sourceBytes: z.number().int().nonnegative(),
  /** For an incremental: paths that existed in the base and are gone now, to delete on restore. */
  deleted: z.array(z.string()),
  /** The file index (path, size, mtime of every file in the tree) that the next incremental compares against. */
  index: artifactRefSchema,
  auditLog: z
    .strictObject({
      filesChecked: z.number().int().nonnegative(),
      linesChecked: z.number().int().nonnegative(),
      invalidLineCount: z.number().int().nonnegative(),
      /** The first invalid lines (at most 1000, so a broken log cannot bloat the manifest). */
      invalidLines: z.array(invalidLineSchema),
    })
    .optional(),
});

export const httpFactsSchema = z.strictObject({
  /** The URL fetched, without its query string (which may carry the timestamp, never a token). */
  url: z.string(),
  status: z.number().int(),
  contentType: z.string().optional(),
  /** The timestamp passed in timestampParam, when the plan asks for one. */
  asOf: z.string().optional(),
});

export const s3VersionedFactsSchema = z.strictObject({
  bucket: z.string(),
  prefix: z.string(),
  /** Keys in the version map (objects current at backup time) and the sum of their sizes. */
  objects: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** Days after which a lifecycle rule expires noncurrent versions under the prefix (the shortest); null: never. */
  noncurrentExpirationDays: z.number().int().positive().nullable(),
  /** How far back the plan's retention keeps restore points, in days; null: unbounded or unknown. */
  retentionDays: z.number().nonnegative().nullable(),
  /** Why older restore points may become unrestorable (a lifecycle rule shorter than the retention). */
  warnings: z.array(z.string()),
});

export const compressionRecordSchema = z.strictObject({
  algorithm: z.enum(['none', 'gzip', 'zstd']),
  level: z.number().int().optional(),
});

export const componentBackupSchema = z.strictObject({
  name: z.string(),
  type: z.string(),
  /** Key of the artifact, relative to the store root. */
  key: z.string(),
  format: z.string(),
  bytes: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** When the dump began (its point in time is at or after this instant) and when its artifact was durable. */
  startedAt: isoTime,
  completedAt: isoTime,
  /** The components that had to complete first, copied from the plan so the manifest can be checked alone. */
  after: z.array(z.string()),
  attempt: z.number().int().positive(),
  /** How the artifact's bytes are compressed (sha256 and bytes are of the stored, compressed form). */
  compression: compressionRecordSchema.default({ algorithm: 'none' }),
  /** Set id this artifact needs to be restored (an incremental's full): retention never removes it while this set is kept. */
  dependsOn: z.string().optional(),
  /** Extra artifacts the engine stored beside the main one (e.g. a file index). */
  sidecars: z.array(artifactRefSchema).default([]),
  postgres: postgresFactsSchema.optional(),
  redis: redisFactsSchema.optional(),
  files: filesFactsSchema.optional(),
  http: httpFactsSchema.optional(),
  /** Present when the artifact is encrypted (sha256 and bytes are of the stored, encrypted form). */
  encryption: encryptionRecordSchema.optional(),
  s3Versioned: s3VersionedFactsSchema.optional(),
});

export const manifestSchema = z.strictObject({
  formatVersion: z.literal(MANIFEST_FORMAT_VERSION),
  plan: z.string(),
  /** Content hash of the plan file that produced this set. */
  planRevision: z.string(),
  setId: z.string(),
  startedAt: isoTime,
  completedAt: isoTime,
  workflowId: z.string(),
  runId: z.string(),
  components: z.array(componentBackupSchema),
});

export type PostgresFacts = z.infer<typeof postgresFactsSchema>;
export type RedisFacts = z.infer<typeof redisFactsSchema>;
export type FilesFacts = z.infer<typeof filesFactsSchema>;
export type HttpFacts = z.infer<typeof httpFactsSchema>;
export type S3VersionedFacts = z.infer<typeof s3VersionedFactsSchema>;
export type ArtifactRef = z.infer<typeof artifactRefSchema>;
export type CompressionRecord = z.infer<typeof compressionRecordSchema>;
export type EncryptionRecord = z.infer<typeof encryptionRecordSchema>;
export type ComponentBackup = z.infer<typeof componentBackupSchema>;
export type ComponentBackupInput = z.input<typeof componentBackupSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/**
 * A time-sortable backup set id: UTC time to the millisecond plus a random suffix, e.g.
 * "20261121T083500.123Z-4f9c2a". Lexical order is time order.
 */
export function formatSetId(time: Date, suffix: string): string {
  const iso = time.toISOString(); // 2026-11-21T08:35:00.123Z
  return `${iso.slice(0, 10).replace(/-/g, '')}T${iso.slice(11, 19).replace(/:/g, '')}${iso.slice(19)}-${suffix.slice(0, 6)}`;
}

const SET_ID = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})\.(\d{3})Z-[0-9a-z]{6}$/;

export function isSetId(value: string): boolean {
  return SET_ID.test(value);
}

/** The instant encoded in a set id. */
export function setIdTime(setId: string): Date {
  const match = SET_ID.exec(setId);
  if (!match) throw new Error(`not a backup set id: ${setId}`);
  const [, year, month, day, hour, minute, second, millis] = match;
  return new Date(`${year}-${month}-${day}T${hour}:${minute}:${second}.${millis}Z`);
}

export function setPrefix(plan: string, setId: string): string {
  return `${plan}/${setId}/`;
}

export function artifactKey(plan: string, setId: string, component: string, extension: string): string {
  return `${setPrefix(plan, setId)}${component}.${extension}`;
}

export function manifestKey(plan: string, setId: string): string {
  return `${setPrefix(plan, setId)}${MANIFEST_FILE}`;
}

export interface ListedSet {
  setId: string;
  /** True when manifest.json exists: only complete sets are ever offered for restore. */
  complete: boolean;
  keys: string[];
}

/** Groups the keys stored under "<plan>/" into backup sets, oldest first. Keys that are not in a set are ignored. */
export function groupSets(plan: string, keys: Iterable<string>): ListedSet[] {
  const sets = new Map<string, ListedSet>();
  for (const key of keys) {
    if (!key.startsWith(`${plan}/`)) continue;
    const [setId, ...rest] = key.slice(plan.length + 1).split('/');
    if (!isSetId(setId) || rest.length === 0) continue;
    const set = sets.get(setId) ?? { setId, complete: false, keys: [] };
    set.keys.push(key);
    if (rest.join('/') === MANIFEST_FILE) set.complete = true;
    sets.set(setId, set);
  }
  return [...sets.values()].sort((a, b) => a.setId.localeCompare(b.setId));
}

export interface OrderViolation {
  component: string;
  predecessor: string;
  message: string;
}

/**
 * Checks that the recorded times honour every `after` constraint: each component started strictly after
 * every predecessor completed. A set that violates its order is not a consistent recovery point.
 */
export function checkRecordedOrder(manifest: Pick<Manifest, 'components'>): OrderViolation[] {
  const byName = new Map(manifest.components.map((component) => [component.name, component]));
  const violations: OrderViolation[] = [];
  for (const component of manifest.components) {
    for (const predecessorName of component.after) {
      const predecessor = byName.get(predecessorName);
      if (!predecessor) {
        violations.push({ component: component.name, predecessor: predecessorName, message: `${component.name} comes after ${predecessorName}, which is missing from the set` });
      } else if (Date.parse(component.startedAt) <= Date.parse(predecessor.completedAt)) {
        violations.push({
          component: component.name,
          predecessor: predecessorName,
          message: `${component.name} started at ${component.startedAt}, not after ${predecessorName} completed at ${predecessor.completedAt}`,
        });
      }
    }
  }
  return violations;
}
