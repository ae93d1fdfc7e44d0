/**
 * `backup verify --restore` for PostgreSQL: restore the artifact into a scratch database on the component's
 * own server (`<db>_verify_<random>`), count its rows, and drop it whatever happened. Production data is never
 * touched: the scratch name is new and random, and only that database is created and dropped.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { Client } from 'pg';
import type { CompressionRecord } from '../catalog/manifest';
import type { PostgresComponent } from '../plan/schema';
import { ComponentError, resolveEnvReference } from './errors';
import { classifyPostgresError, parsePostgresUrl, restorePostgresDatabase, liveRowCountsAt } from './postgres';

/** PostgreSQL truncates identifiers to 63 bytes: the random suffix must survive. */
const MAX_IDENTIFIER = 63;

export function scratchDatabaseName(database: string): string {
  const suffix = `_verify_${randomBytes(4).toString('hex')}`;
  const base = database.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, MAX_IDENTIFIER - suffix.length);
  return `${base}${suffix}`;
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

async function dropDatabase(componentName: string, url: string, database: string): Promise<void> {
  const connection = parsePostgresUrl(componentName, url);
  const admin = new Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 10_000, application_name: 'lifeboat-verify' });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    await admin.query(`drop database if exists ${admin.escapeIdentifier(database)} with (force)`);
  } catch (error) {
    throw classifyPostgresError(componentName, connection, error);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

export interface ScratchRestore {
  /** The scratch database's name (dropped by the time this resolves). */
  database: string;
  /** Exact rows per table of the restored copy. */
  rowCounts: Record<string, number>;
}

/**
 * Restores the (checksum-verifying; still `compression`-compressed, none by default) artifact into a new scratch database on the component's
 * server, counts every table's rows and drops the database, also when the restore or the count failed.
 */
export async function restoreIntoScratchDatabase(component: PostgresComponent, artifact: Readable, compression?: CompressionRecord): Promise<ScratchRestore> {
  const url = resolveEnvReference(component.name, component.connection.urlFromEnv, 'connection URL');
  const database = scratchDatabaseName(parsePostgresUrl(component.name, url).database);
  const scratchUrl = withDatabase(url, database);
  let outcome: ScratchRestore | undefined;
  let failure: unknown;
  try {
    await restorePostgresDatabase(component.name, scratchUrl, artifact, compression);
    outcome = { database, rowCounts: await liveRowCountsAt(component.name, scratchUrl) };
  } catch (error) {
    failure = error;
    artifact.destroy();
  }
  try {
    await dropDatabase(component.name, url, database);
  } catch (error) {
    const detail = (error as Error).message;
    throw new ComponentError(component.name, `scratch database ${database} could not be dropped (${detail}): drop it by hand`, true, 'ScratchDatabaseLeft');
  }
  if (failure !== undefined) throw failure;
  return outcome as ScratchRestore;
}
