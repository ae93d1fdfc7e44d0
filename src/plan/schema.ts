/**
 * The plan file's schema: the single source of the plan's types (z.infer). Pure: workflows import it.
 * Secrets never appear here: a plan names the environment variable or file that holds them.
 */
import { z } from 'zod';
import { scalingSchema } from '../scalers/schema';

// Scaling targets are part of the plan; workflows reach their (pure) schema through this module.
export { describeScalingTarget, scaledStateSchema, type ScaledState, type ScalingTarget } from '../scalers/schema';

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
  /** Multipart part size in MiB: the part size for dumps of unknown size, the smallest for estimated ones. */
  partSizeMiB: z.number().int().min(5).max(5120).optional(),
  /** Parts uploaded at once per component; memory per component is about partSize × (uploadQueueSize + 1). */
  uploadQueueSize: z.number().int().min(1).max(16).optional(),
});

export const storeSchema = z.discriminatedUnion('type', [localStoreSchema, s3StoreSchema]);

export const connectionSchema = z.strictObject({
  /** The environment variable, in the worker's environment, that holds the connection URL. */
  urlFromEnv: envVarName,
});

/**
 * How an artifact is compressed as it streams. zstd runs as a separate `zstd` process (off the event loop,
 * on another core); gzip uses Node's zlib. Levels: zstd 1-19, gzip 1-9.
 */
export const compressionSchema = z
  .strictObject({
    algorithm: z.enum(['none', 'gzip', 'zstd']),
    level: z.number().int().min(1).max(19).optional(),
  })
  .refine((value) => value.algorithm !== 'gzip' || value.level === undefined || value.level <= 9, {
    message: 'gzip levels go from 1 to 9',
    path: ['level'],
  });

/** Fields every component has. */
const componentBase = {
  name,
  /** Components whose backups must complete before this one starts. */
  after: z.array(name).default([]),
  /** Stream compression of the artifact; each engine has its own default (see README). */
  compression: compressionSchema.optional(),
};

export const postgresComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('postgres'),
  connection: connectionSchema,
  /**
   * Per-table row counts recorded in the manifest: "exact" counts every table inside the dump's own snapshot
   * (consistent with the dump, costs a scan); "estimated" reads the planner's statistics (free, approximate).
   */
  rowCounts: z.enum(['exact', 'estimated']).default('exact'),
});

export const redisComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('redis'),
  /** redis://[user:password@]host:port[/db], from the worker's environment. */
  connection: connectionSchema,
});

export const auditLogSchema = z.strictObject({
  /** Every line of every matching file must be one JSON object. */
  format: z.literal('jsonl'),
  /** Fields every line must have. */
  requiredFields: z.array(z.string().min(1)).min(1),
  /** Which files are audit logs (globs relative to the component's path). */
  files: z.array(z.string().min(1)).default(['**/*.log', '**/*.log.*.gz']),
});

export const filesComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('files'),
  /** The directory tree to back up, on the worker's filesystem. */
  path: z.string().min(1),
  /** Globs (relative to path) of files and directories to leave out, e.g. "cache/**", "*.tmp". */
  exclude: z.array(z.string().min(1)).default([]),
  /** Store only what changed since the last full set; a full is taken when none exists. */
  incremental: z.boolean().default(false),
  /** With incremental: take a new full after this many incrementals (bounds restore chains). */
  fullEvery: z.number().int().positive().default(7),
  /** Validate audit logs line by line as they stream; invalid lines are recorded in the manifest. */
  auditLog: auditLogSchema.optional(),
});

export const httpComponentSchema = z
  .strictObject({
    ...componentBase,
    type: z.literal('http'),
    /** The export endpoint (no credentials in it: the token travels in an Authorization header). */
    url: z.url({ protocol: /^https?$/ }),
    method: z.enum(['GET', 'POST']).default('GET'),
    /** Bearer token, from the worker's environment or a file (e.g. a mounted Kubernetes secret). */
    tokenFromEnv: envVarName.optional(),
    tokenFile: z.string().min(1).optional(),
    /** Query parameter that carries the backup's timestamp (ISO 8601), for exports "as of" a time. */
    timestampParam: z.string().min(1).optional(),
    /** Give up on a request that has sent nothing for this long. */
    timeout: durationSchema.default('60s'),
    /**
     * What the body is, for `backup verify`: "json" (one document), "ndjson" (one JSON value per line) or
     * "any" (not parsed; the default). Declared, not sniffed: verify does not see the recorded content type.
     */
    body: z.enum(['json', 'ndjson', 'any']).optional(),
  })
  .refine((value) => !(value.tokenFromEnv && value.tokenFile), { message: 'give tokenFromEnv or tokenFile, not both', path: ['tokenFile'] });

export const componentSchema = z.discriminatedUnion('type', [postgresComponentSchema, redisComponentSchema, filesComponentSchema, httpComponentSchema]);

export const overlapPolicies = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;

export const scheduleSchema = z
  .strictObject({
    /** Cron expression(s), e.g. "30 2 * * *" (daily at 02:30). */
    cron: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional(),
    /** A fixed interval instead of cron, e.g. "4h". */
    every: durationSchema.optional(),
    /** IANA time zone the cron is read in (default UTC). */
    timezone: z.string().min(1).optional(),
    /** What a run does when the previous one is still going. */
    overlap: z.enum(overlapPolicies).default('skip'),
    /** How late a missed run (server down) may still start. */
    catchupWindow: durationSchema.default('1h'),
    /** Pause the schedule after a failed run, until someone resumes it. */
    pauseOnFailure: z.boolean().default(false),
    /** Random delay added to each run, to spread load. */
    jitter: durationSchema.optional(),
    /** Age of the newest complete set after which the plan counts as stale (default: cadence plus 1/24 of it: 25 h for daily). */
    staleAfter: durationSchema.optional(),
  })
  .refine((value) => (value.cron === undefined) !== (value.every === undefined), { message: 'give exactly one of cron or every' });

/** restic's --keep-within form: "1y2m3d4h" (years, months, days, hours). */
const withinSchema = z.string().regex(/^(\d+y)?(\d+m)?(\d+d)?(\d+h)?$/, 'must look like "7d", "2m15d" or "1y" (y, m, d, h)').refine((value) => value !== '', 'must not be empty');

export const retentionSchema = z
  .strictObject({
    keepLast: z.number().int().positive().optional(),
    keepHourly: z.number().int().positive().optional(),
    keepDaily: z.number().int().positive().optional(),
    keepWeekly: z.number().int().positive().optional(),
    keepMonthly: z.number().int().positive().optional(),
    keepYearly: z.number().int().positive().optional(),
    keepWithin: withinSchema.optional(),
    /** IANA time zone whose hours, days, weeks, months and years the policy counts in (default UTC). */
    timezone: z.string().min(1).default('UTC'),
  })
  .refine((value) => Object.entries(value).some(([key, keep]) => key !== 'timezone' && keep !== undefined), {
    message: 'a retention policy needs at least one keep rule (keepLast, keepDaily, ...)',
  });

export const timeoutsSchema = z.strictObject({
  /** A dump that reports no progress for this long is presumed dead (worker killed) and retried elsewhere. */
  heartbeat: durationSchema.default('30s'),
  /** The longest a single component's backup may take, all retries included. */
  component: durationSchema.default('12h'),
  /** A live dump whose source sends no bytes for this long is stopped and retried (a hung server or lock wait). */
  stall: durationSchema.default('10m'),
});

export const retriesSchema = z.strictObject({
  /** Attempts per component before the backup run fails (retryable failures only: a wrong password fails at once). */
  maximumAttempts: z.number().int().positive().default(8),
  /** Wait before the first retry; each later wait doubles, up to maximumInterval. */
  initialInterval: durationSchema.default('2s'),
  maximumInterval: durationSchema.default('2m'),
});

/** A check after restore: a query on a restored database whose first value must equal `expect`... */
export const sqlCheckSchema = z.strictObject({
  component: name,
  sql: z.string().min(1),
  /** Compared with the first column of the first row, as text. */
  expect: z.union([z.string(), z.number(), z.boolean()]),
});

/** ...or an HTTP endpoint of the service that must answer with this status once it is back up. */
export const httpCheckSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  expectStatus: z.number().int().min(100).max(599).default(200),
});

export const restoreSchema = z.strictObject({
  /** What to scale to 0 before restoring and back afterwards (remembering the replica counts). */
  scaling: scalingSchema.default([]),
  /** Checks run after the restore (SQL) and after scale-up (HTTP); the manifest's row counts are always compared. */
  checks: z.array(z.union([sqlCheckSchema, httpCheckSchema])).default([]),
  /** The agreement gate: how many distinct operators must approve the same recovery point. */
  approvals: z
    .strictObject({
      required: z.number().int().min(1).default(1),
      approvers: z.array(z.string().min(1)).min(1).optional(),
      timeout: durationSchema.optional(),
    })
    .default({ required: 1 }),
  /** After an abort past scale-down: leave the service down (default: it may hold half-restored data) or scale it up. */
  onAbort: z.enum(['leave-down', 'scale-up']).default('leave-down'),
});

export const planSchema = z.strictObject({
  name,
  description: z.string().optional(),
  store: storeSchema,
  components: z.array(componentSchema).min(1, 'a plan needs at least one component'),
  timeouts: timeoutsSchema.default({ heartbeat: '30s', component: '12h', stall: '10m' }),
  retries: retriesSchema.default({ maximumAttempts: 8, initialInterval: '2s', maximumInterval: '2m' }),
  schedule: scheduleSchema.optional(),
  retention: retentionSchema.optional(),
  restore: restoreSchema.optional(),
});

export type Plan = z.infer<typeof planSchema>;
export type PlanInput = z.input<typeof planSchema>;
export type StoreConfig = z.infer<typeof storeSchema>;
export type LocalStoreConfig = z.infer<typeof localStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;
export type Component = z.infer<typeof componentSchema>;
export type ComponentType = Component['type'];
export type PostgresComponent = z.infer<typeof postgresComponentSchema>;
export type RedisComponent = z.infer<typeof redisComponentSchema>;
export type FilesComponent = z.infer<typeof filesComponentSchema>;
export type HttpComponent = z.infer<typeof httpComponentSchema>;
export type Compression = z.infer<typeof compressionSchema>;
export type Schedule = z.infer<typeof scheduleSchema>;
export type Retention = z.infer<typeof retentionSchema>;
export type RestoreSettings = z.infer<typeof restoreSchema>;

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in a duration string accepted by durationSchema. */
export function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}
