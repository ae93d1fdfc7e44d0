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
  path: z.string().min(1).describe('Directory that holds the backup sets; relative paths are resolved against the worker\'s working directory.'),
  objectLock: z.never({ error: 'object lock needs an S3 store (a bucket created with object lock enabled): a local directory cannot keep backups immutable; remove objectLock or use store type s3' }).optional().describe('Refused with a message that says why: only an S3 bucket with object lock can keep sets immutable.'),
});

/**
 * Write every object with an S3 object-lock retention date (`days` from the write): "governance" can be
 * lifted by a principal with s3:BypassGovernanceRetention, "compliance" by no one until the date.
 */
export const objectLockSchema = z.strictObject({
  mode: z.enum(['governance', 'compliance']),
  days: z.number().int().min(1).max(36_500),
});

export const s3StoreSchema = z.strictObject({
  type: z.literal('s3'),
  bucket: z.string().min(3).max(63),
  /** Key prefix under which plans are stored; no leading or trailing "/". */
  prefix: z
    .string()
    .regex(/^([^/].*[^/]|[^/])?$/, 'must not start or end with "/"')
    .default(''),
  endpoint: z.url().optional().describe('S3-compatible endpoint (MinIO, Ceph, R2...); omit for AWS.'),
  region: z.string().min(1).optional(),
  forcePathStyle: z.boolean().optional(),
  /** Immutable backups: see "Immutable backups" in the README. The bucket must have object lock enabled. */
  objectLock: objectLockSchema.optional(),
  /** Multipart part size in MiB: the part size for dumps of unknown size, the smallest for estimated ones. */
  partSizeMiB: z.number().int().min(5).max(5120).optional(),
  /** Parts uploaded at once per component; memory per component is about partSize × (uploadQueueSize + 1). */
  uploadQueueSize: z.number().int().min(1).max(16).optional(),
});

export const storeSchema = z.discriminatedUnion('type', [localStoreSchema, s3StoreSchema]);

export const connectionSchema = z.strictObject({
  urlFromEnv: envVarName.describe('The environment variable, in the worker\'s environment, that holds the connection URL.'),
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
  after: z.array(name).default([]).describe('Components whose backups must complete before this one starts.'),
  compression: compressionSchema.optional().describe('Stream compression of the artifact; each engine has its own default (see README).'),
};

export const postgresComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('postgres'),
  connection: connectionSchema,
  rowCounts: z.enum(['exact', 'estimated']).default('exact').describe('Per-table row counts recorded in the manifest: "exact" counts every table inside the dump\'s own snapshot (consistent with the dump, costs a scan); "estimated" reads the planner\'s statistics (free, approximate).'),
});

export const redisComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('redis'),
  connection: connectionSchema.describe('redis://[user:password@]host:port[/db], from the worker\'s environment.'),
});

export const auditLogSchema = z.strictObject({
  format: z.literal('jsonl').describe('Every line of every matching file must be one JSON object.'),
  requiredFields: z.array(z.string().min(1)).min(1).describe('Fields every line must have.'),
  files: z.array(z.string().min(1)).default(['**/*.log', '**/*.log.*.gz']).describe('Which files are audit logs (globs relative to the component\'s path).'),
});

export const filesComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('files'),
  path: z.string().min(1).describe('The directory tree to back up, on the worker\'s filesystem.'),
  exclude: z.array(z.string().min(1)).default([]).describe('Globs (relative to path) of files and directories to leave out, e.g. "cache/**", "*.tmp".'),
  incremental: z.boolean().default(false).describe('Store only what changed since the last full set; a full is taken when none exists.'),
  fullEvery: z.number().int().positive().default(7).describe('With incremental: take a new full after this many incrementals (bounds restore chains).'),
  auditLog: auditLogSchema.optional().describe('Validate audit logs line by line as they stream; invalid lines are recorded in the manifest.'),
});

export const httpComponentSchema = z
  .strictObject({
    ...componentBase,
    type: z.literal('http'),
    url: z.url({ protocol: /^https?$/ }).describe('The export endpoint (no credentials in it: the token travels in an Authorization header).'),
    method: z.enum(['GET', 'POST']).default('GET'),
    tokenFromEnv: envVarName.optional().describe('Bearer token, from the worker\'s environment or a file (e.g. a mounted Kubernetes secret).'),
    tokenFile: z.string().min(1).optional(),
    timestampParam: z.string().min(1).optional().describe('Query parameter that carries the backup\'s timestamp (ISO 8601), for exports "as of" a time.'),
    timeout: durationSchema.default('60s').describe('Give up on a request that has sent nothing for this long.'),
    body: z.enum(['json', 'ndjson', 'any']).optional().describe('What the body is, for `backup verify`: "json" (one document), "ndjson" (one JSON value per line) or "any" (not parsed). Left out, verify parses JSON when the content type recorded at backup says so.'),
  })
  .refine((value) => !(value.tokenFromEnv && value.tokenFile), { message: 'give tokenFromEnv or tokenFile, not both', path: ['tokenFile'] });

/** Credentials for a bucket the standard AWS chain does not cover, by environment variable (never literal). */
export const s3CredentialsSchema = z.strictObject({
  accessKeyIdFromEnv: envVarName,
  secretAccessKeyFromEnv: envVarName,
  sessionTokenFromEnv: envVarName.optional(),
});

/**
 * A versioned S3 bucket (or a prefix of it) whose backup is a map of the version current for each key, not a
 * copy of the data; restore rolls the prefix back to those versions. See README "Versioned S3 buckets".
 */
export const s3VersionedComponentSchema = z.strictObject({
  ...componentBase,
  type: z.literal('s3-versioned'),
  bucket: s3StoreSchema.shape.bucket,
  /** Raw S3 key prefix to back up ("blobs/" for a folder); empty: the whole bucket. */
  prefix: z.string().regex(/^(?!\/)/, 'must not start with "/"').default(''),
  endpoint: s3StoreSchema.shape.endpoint,
  region: s3StoreSchema.shape.region,
  forcePathStyle: s3StoreSchema.shape.forcePathStyle,
  /** Without it, the standard AWS chain (as for S3 stores). */
  credentials: s3CredentialsSchema.optional(),
  /** A query on a postgres component (one of this component's predecessors) returning the object keys its rows reference. */
  consistency: z.strictObject({ component: name, query: z.string().min(1) }).optional(),
});

export const componentSchema = z.discriminatedUnion('type', [postgresComponentSchema, redisComponentSchema, filesComponentSchema, httpComponentSchema, s3VersionedComponentSchema]);

export const overlapPolicies = ['skip', 'buffer_one', 'buffer_all', 'cancel_other', 'terminate_other', 'allow_all'] as const;

export const scheduleSchema = z
  .strictObject({
    cron: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).optional().describe('Cron expression(s), e.g. "30 2 * * *" (daily at 02:30).'),
    every: durationSchema.optional().describe('A fixed interval instead of cron, e.g. "4h".'),
    timezone: z.string().min(1).optional().describe('IANA time zone the cron is read in (default UTC).'),
    overlap: z.enum(overlapPolicies).default('skip').describe('What a run does when the previous one is still going.'),
    catchupWindow: durationSchema.default('1h').describe('How late a missed run (server down) may still start.'),
    pauseOnFailure: z.boolean().default(false).describe('Pause the schedule after a failed run, until someone resumes it.'),
    jitter: durationSchema.optional().describe('Random delay added to each run, to spread load.'),
    staleAfter: durationSchema.optional().describe('Age of the newest complete set after which the plan counts as stale (default: cadence plus 1/24 of it: 25 h for daily).'),
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
    timezone: z.string().min(1).default('UTC').describe('IANA time zone whose hours, days, weeks, months and years the policy counts in (default UTC).'),
  })
  .refine((value) => Object.entries(value).some(([key, keep]) => key !== 'timezone' && keep !== undefined), {
    message: 'a retention policy needs at least one keep rule (keepLast, keepDaily, ...)',
  });

export const timeoutsSchema = z.strictObject({
  heartbeat: durationSchema.default('30s').describe('A dump that reports no progress for this long is presumed dead (worker killed) and retried elsewhere.'),
  component: durationSchema.default('12h').describe('The longest a single component\'s backup may take, all retries included.'),
  stall: durationSchema.default('10m').describe('A live dump whose source sends no bytes for this long is stopped and retried (a hung server or lock wait).'),
});

export const retriesSchema = z.strictObject({
  maximumAttempts: z.number().int().positive().default(8).describe('Attempts per component before the backup run fails (retryable failures only: a wrong password fails at once).'),
  initialInterval: durationSchema.default('2s').describe('Wait before the first retry; each later wait doubles, up to maximumInterval.'),
  maximumInterval: durationSchema.default('2m'),
});

/** A check after restore: a query on a restored database whose first value must equal `expect`... */
export const sqlCheckSchema = z.strictObject({
  component: name,
  sql: z.string().min(1),
  expect: z.union([z.string(), z.number(), z.boolean()]).describe('Compared with the first column of the first row, as text.'),
});

/** ...or an HTTP endpoint of the service that must answer with this status once it is back up. */
export const httpCheckSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }),
  expectStatus: z.number().int().min(100).max(599).default(200),
});

export const restoreSchema = z.strictObject({
  scaling: scalingSchema.default([]).describe('What to scale to 0 before restoring and back afterwards (remembering the replica counts).'),
  checks: z.array(z.union([sqlCheckSchema, httpCheckSchema])).default([]).describe('Checks run after the restore (SQL) and after scale-up (HTTP); the manifest\'s row counts are always compared.'),
  /** The agreement gate: how many distinct operators must approve the same recovery point. */
  approvals: z
    .strictObject({
      required: z.number().int().min(1).default(1),
      approvers: z.array(z.string().min(1)).min(1).optional(),
      timeout: durationSchema.optional(),
    })
    .default({ required: 1 }),
  onAbort: z.enum(['leave-down', 'scale-up']).default('leave-down').describe('After an abort past scale-down: leave the service down (default: it may hold half-restored data) or scale it up.'),
});

/**
 * Where a restore drill puts one PostgreSQL component: a whole sandbox URL from the worker's environment, or
 * production's own server with a database name suffix (apps -> apps_drill). Never production itself: a
 * sandbox that resolves to a production server and database is refused before anything is touched.
 */
export const drillTargetSchema = z
  .strictObject({
    urlFromEnv: envVarName.optional(),
    databaseSuffix: z.string().regex(/^[a-z0-9_]{1,32}$/, 'use 1-32 lower-case letters, digits or "_", e.g. "_drill"').optional(),
  })
  .refine((value) => (value.urlFromEnv === undefined) !== (value.databaseSuffix === undefined), {
    message: 'give exactly one of urlFromEnv (a variable holding the sandbox URL) or databaseSuffix (e.g. "_drill": a sandbox database beside production\'s)',
  });

export const drillSchema = z.strictObject({
  /** The sandbox of each PostgreSQL component to drill, by component name; other components are reported as not drilled. */
  targets: z.record(z.string(), drillTargetSchema),
  /** SQL checks run on the sandboxes after the restore (default: the SQL checks of restore.checks); row counts are always compared. */
  checks: z.array(sqlCheckSchema).optional(),
  /** Run drills unattended, like backups (`plan apply` creates schedule "lifeboat-<plan>.drill"); staleAfter is the drill window. */
  schedule: scheduleSchema.optional(),
});

/**
 * Where one client-side encryption key comes from: an environment variable or a file (e.g. a mounted
 * Kubernetes secret) holding 32 random bytes as base64 or hex text (`openssl rand -base64 32`). Resolved in the
 * worker (and by `backup verify`), never carried in the plan, workflow history or manifest.
 */
const encryptionKeyFields = {
  keyFromEnv: envVarName.optional(),
  keyFile: z.string().min(1).optional(),
  /** Recorded in the manifest; default: a fingerprint derived from the key (first 16 hex digits of an HMAC). */
  keyId: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'use 1-64 letters, digits, ".", "_" or "-"')
    .optional(),
};

const oneKeySource = (value: { keyFromEnv?: string; keyFile?: string }) => (value.keyFromEnv === undefined) !== (value.keyFile === undefined);
const oneKeySourceMessage = { message: 'give exactly one of keyFromEnv or keyFile' };

export const encryptionKeySchema = z.strictObject(encryptionKeyFields).refine(oneKeySource, oneKeySourceMessage);

/** Client-side encryption of every artifact (AES-256-GCM in chunks); see the README's encryption section. */
export const encryptionSchema = z
  .strictObject({
    ...encryptionKeyFields,
    /** Keys of older sets, still needed to restore or verify them after a rotation. */
    previousKeys: z.array(encryptionKeySchema).default([]),
  })
  .refine(oneKeySource, oneKeySourceMessage)
  .refine(
    (value) => {
      const ids = [value.keyId, ...value.previousKeys.map((key) => key.keyId)].filter((id) => id !== undefined);
      return new Set(ids).size === ids.length;
    },
    { message: 'two keys have the same keyId', path: ['previousKeys'] },
  );

export const planSchema = z.strictObject({
  name: name.describe('The plan\'s name: the first part of every key it stores and of its schedule id (lifeboat-<name>).'),
  description: z.string().optional().describe('Free text.'),
  store: storeSchema.describe('Where backup sets go: a local directory or an S3 bucket.'),
  components: z.array(componentSchema).min(1, 'a plan needs at least one component').describe('The things to back up; `after` orders them.'),
  timeouts: timeoutsSchema.default({ heartbeat: '30s', component: '12h', stall: '10m' }).describe('How long a dump may go without news before it is retried or given up.'),
  retries: retriesSchema.default({ maximumAttempts: 8, initialInterval: '2s', maximumInterval: '2m' }).describe('Retries of retryable failures, the wait doubling each time.'),
  schedule: scheduleSchema.optional().describe('When the plan runs unattended (`lifeboat plan apply` creates the Temporal Schedule).'),
  retention: retentionSchema.optional().describe('Which complete sets to keep (restic `forget` semantics); the rest are pruned after each backup.'),
  restore: restoreSchema.optional(),
  /** Recovery time objective: a drill's measured RTO (start to checks passed) is compared with it. */
  rtoTarget: durationSchema.optional(),
  /** Restore drills into sandboxes (see README "Restore drills"). */
  drill: drillSchema.optional(),
  encryption: encryptionSchema.optional(),
});

export type Plan = z.infer<typeof planSchema>;
export type PlanInput = z.input<typeof planSchema>;
export type StoreConfig = z.infer<typeof storeSchema>;
export type LocalStoreConfig = z.infer<typeof localStoreSchema>;
export type S3StoreConfig = z.infer<typeof s3StoreSchema>;
export type ObjectLockConfig = z.infer<typeof objectLockSchema>;
export type Component = z.infer<typeof componentSchema>;
export type ComponentType = Component['type'];
export type PostgresComponent = z.infer<typeof postgresComponentSchema>;
export type RedisComponent = z.infer<typeof redisComponentSchema>;
export type FilesComponent = z.infer<typeof filesComponentSchema>;
export type HttpComponent = z.infer<typeof httpComponentSchema>;
export type S3VersionedComponent = z.infer<typeof s3VersionedComponentSchema>;
export type Compression = z.infer<typeof compressionSchema>;
export type Schedule = z.infer<typeof scheduleSchema>;
export type Retention = z.infer<typeof retentionSchema>;
export type RestoreSettings = z.infer<typeof restoreSchema>;
export type DrillSettings = z.infer<typeof drillSchema>;
export type DrillTarget = z.infer<typeof drillTargetSchema>;
export type SqlCheck = z.infer<typeof sqlCheckSchema>;
export type EncryptionSettings = z.infer<typeof encryptionSchema>;
export type EncryptionKeySource = z.infer<typeof encryptionKeySchema>;

const unitMs = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Milliseconds in a duration string accepted by durationSchema. */
export function durationMs(duration: string): number {
  const match = /^(\d+)(ms|s|m|h|d)$/.exec(duration);
  if (!match) throw new Error(`not a duration: ${duration}`);
  return Number(match[1]) * unitMs[match[2] as keyof typeof unitMs];
}
