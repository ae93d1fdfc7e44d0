import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { Client } from 'pg';

/** What globalSetup started, as published to jest workers through process.env. */
export interface TestEnv {
  temporalAddress: string;
  /** The same dev server's HTTP API (what TEMPORAL_HTTP_ADDRESS takes). */
  temporalHttpAddress: string;
  /** Superuser URL (with password) to database `postgres`. */
  pgUrl: string;
  pgPassword: string;
  pgPort: number;
  /** Directory with psql, pg_dump, pg_restore, pgbench of the cluster's version. */
  pgBinDir: string;
  s3Endpoint: string;
  s3AccessKey: string;
  s3SecretKey: string;
  s3Bucket: string;
  /** A temp root tests may write under (removed after the run). */
  tmpRoot: string;
}

export const TEST_ENV_VARIABLES = {
  temporalAddress: 'LIFEBOAT_TEST_TEMPORAL_ADDRESS',
  temporalHttpAddress: 'LIFEBOAT_TEST_TEMPORAL_HTTP_ADDRESS',
  pgUrl: 'LIFEBOAT_TEST_PG_URL',
  pgPassword: 'LIFEBOAT_TEST_PG_PASSWORD',
  pgPort: 'LIFEBOAT_TEST_PG_PORT',
  pgBinDir: 'LIFEBOAT_TEST_PG_BIN',
  s3Endpoint: 'LIFEBOAT_TEST_S3_ENDPOINT',
  s3AccessKey: 'LIFEBOAT_TEST_S3_ACCESS_KEY',
  s3SecretKey: 'LIFEBOAT_TEST_S3_SECRET_KEY',
  s3Bucket: 'LIFEBOAT_TEST_S3_BUCKET',
  tmpRoot: 'LIFEBOAT_TEST_TMP',
} as const satisfies Record<keyof TestEnv, string>;

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: integration tests need the parts started by test/harness/globalSetup.ts. ` +
        'Run them through jest (`npm test` or `npx jest <file>`), which runs the global setup first.',
    );
  }
  return value;
}

/** The running parts' coordinates; throws naming the first missing variable. */
export function testEnv(): TestEnv {
  const v = TEST_ENV_VARIABLES;
  return {
    temporalAddress: required(v.temporalAddress),
    temporalHttpAddress: required(v.temporalHttpAddress),
    pgUrl: required(v.pgUrl),
    pgPassword: required(v.pgPassword),
    pgPort: Number(required(v.pgPort)),
    pgBinDir: required(v.pgBinDir),
    s3Endpoint: required(v.s3Endpoint),
    s3AccessKey: required(v.s3AccessKey),
    s3SecretKey: required(v.s3SecretKey),
    s3Bucket: required(v.s3Bucket),
    tmpRoot: required(v.tmpRoot),
  };
}

/**
 * `prefix_<time><random>` in lowercase letters, digits and underscores: usable unquoted as a PostgreSQL
 * identifier, an S3 key segment, a Redis key or a file name. (Not a bucket name: those forbid `_`.)
 */
export function uniqueName(prefix: string): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  return `${clean}_${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

/** A fresh directory under the run's temp root. */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(testEnv().tmpRoot, `${prefix.replace(/[^A-Za-z0-9_.-]+/g, '_')}-`));
}

/** The superuser URL pointed at another database. */
export function databaseUrl(database: string): string {
  const url = new URL(testEnv().pgUrl);
  url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/** Drops `name` if it exists (disconnecting its sessions), creates it empty, returns its superuser URL. */
export async function createDatabase(name: string): Promise<string> {
  const client = new Client({ connectionString: testEnv().pgUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } finally {
    await client.end();
  }
  return databaseUrl(name);
}

/** Connection settings for libpq tools, with the password in PGPASSWORD so it never shows in argv. */
export function libpqEnv(url: string): { args: string[]; env: NodeJS.ProcessEnv; database: string } {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres';
  return {
    args: ['-h', parsed.hostname, '-p', parsed.port || '5432', '-U', decodeURIComponent(parsed.username) || 'postgres'],
    env: { ...process.env, PGPASSWORD: decodeURIComponent(parsed.password) },
    database,
  };
}

const execFileAsync = promisify(execFile);

/** `pgbench -i -s <scale> -q` against `url`: about 100,000 pgbench_accounts rows per unit of scale. */
export async function runPgbenchInit(url: string, scale: number): Promise<void> {
  const { args, env, database } = libpqEnv(url);
  const pgbench = join(testEnv().pgBinDir, 'pgbench');
  try {
    await execFileAsync(pgbench, ['-i', '-s', String(scale), '-q', ...args, database], { env, maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`pgbench -i -s ${scale} failed on database ${database}: ${stderr.trim() || String(error)}`, { cause: error });
  }
}

/** Exact row counts of every user table, keyed 'schema.table'. */
export async function tableRowCounts(url: string): Promise<Record<string, number>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const tables = await client.query<{ schemaname: string; tablename: string }>(
      `SELECT schemaname, tablename FROM pg_catalog.pg_tables
        WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND schemaname NOT LIKE 'pg_toast%'
        ORDER BY schemaname, tablename`,
    );
    const counts: Record<string, number> = {};
    for (const { schemaname, tablename } of tables.rows) {
      const result = await client.query<{ n: string }>(`SELECT count(*) AS n FROM ${quoteIdent(schemaname)}.${quoteIdent(tablename)}`);
      counts[`${schemaname}.${tablename}`] = Number(result.rows[0].n);
    }
    return counts;
  } finally {
    await client.end();
  }
}

/** An S3 client for the run's MinIO (path-style; checksums only where S3 requires them, as MinIO expects). */
export function s3Client(): S3Client {
  const env = testEnv();
  return new S3Client({
    endpoint: env.s3Endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: env.s3AccessKey, secretAccessKey: env.s3SecretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
