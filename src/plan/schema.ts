/**
 * The plan file's schema: the single source of the plan's types (z.infer). Pure: workflows import it.
 * Secrets never appear here: a plan names the environment variable or file that holds them.
 */
import { z } from 'zod';

/** Names become parts of object keys, workflow ids and schedule ids, so they are kept to a safe alphabet. */
const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'use 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit');

const envVarName = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name such as APPS_DATABASE_URL');

/** A duration such as "500ms", "30s", "5m", "6h", "7d". */
export const durationSchema = z
  .string()
  .regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as "30s", "5m" or "6h"');

export const localStoreSchema = z.strictObject({
  type: z.literal('local'),
  /** Directory that holds the backup sets; relative paths are resolved against the worker's working directory. */
  path: z.string().min(1),
});

export const s3StoreSchema = z.strictObject({
  type: z.literal('s3'),
  bucket: z.string().min(3).max(63),
  /** Key prefix under which plans are stored; no leading or trailing "/". */
  prefix: z
    .string()
    .regex(/^([^/].*[^/]|[^/])?$/, 'must not start or end with "/"')
    .default(''),
  /** S3-compatible endpoint (MinIO, Ceph, R2...); omit for AWS. */
  endpoint: z.url().optional(),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
});

export const storeSchema = z.discriminatedUnion('type', [localStoreSchema, s3StoreSchema]);

export const connectionSchema = z.strictObject({
  /** The environment variable, in the worker's environment, that holds the connection URL. */
  urlFromEnv: envVarName,
});

export const postgresComponentSchema = z.strictObject({
  name,
  type: z.literal('postgres'),
  connection: connectionSchema,
  /** Components whose backups must complete before this one starts. */
  after: z.array(name).default([]),
  /**
   * Per-table row counts recorded in the manifest: "exact" counts every table inside the dump's own snapshot
   * (consistent with the dump, costs a scan); "estimated" reads the planner's statistics (free, approximate).
   */
  rowCounts: z.enum(['exact', 'estimated']).default('exact'),
});

export const componentSchema = z.discriminatedUnion('type', [postgresComponentSchema]);

export const timeoutsSchema = z.strictObject({
  /** A dump that reports no progress for this long is presumed dead (worker killed) and retried elsewhere. */
  heartbeat: durationSchema.default('30s'),
  /** The longest a single component's backup may take, all retries included. */
  component: durationSchema.default('12h'),
});

export const planSchema = z.strictObject({
  name,
  description: z.string().optional(),
  store: storeSchema,
  components: z.array(componentSchema).min(1, 'a plan needs at least one component'),
  timeouts: timeoutsSchema.default({ heartbeat: '30s', component: '12h' }),
});

export type Plan = z.infer<typeof planSchema>;
export type PlanInput = z.input<typeof planSchema>;
export type StoreConfig = z.infer<typeof storeSchema>;
export type LocalStoreConfig = z.infer<typeof localStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;
export type Component = z.infer<typeof componentSchema>;
export type ComponentType = Component['type'];
export type PostgresComponent = z.infer<typeof postgresComponentSchema>;

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in a duration string accepted by durationSchema. */
export function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}
