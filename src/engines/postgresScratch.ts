/**
 * `backup verify --restore` for PostgreSQL: restore the artifact into a scratch database on the component's
 * own server (`<db>_verify_<random>`), count its rows, and drop it whatever happened. Production data is never
 * touched: the scratch name is new and random, and only that database is created and dropped.
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { CompressionRecord } from '../catalog/manifest';
import type { PostgresComponent } from '../plan/schema';
import { ComponentError, resolveEnvReference } from './errors';
import { dropPostgresDatabase, liveRowCountsAt, parsePostgresUrl, restorePostgresDatabase, withDatabase } from './postgres';

/** PostgreSQL truncates identifiers to 63 bytes: the random suffix must survive. */
const MAX_IDENTIFIER = 63;

export function scratchDatabaseName(database: string): string {
  const suffix = `_verify_${randomBytes(4).toString('hex')}`;
  const base = database.toLowerCase().replace(/[^a-z0-9_]+/g, '_').slice(0, MAX_IDENTIFIER - suffix.length);
  return `${base}${suffix}`;
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
    await dropPostgresDatabase(component.name, scratchUrl);
  } catch (error) {
    const detail = (error as Error).message;
    throw new ComponentError(component.name, `scratch database ${database} could not be dropped (${detail}): drop it by hand`, true, 'ScratchDatabaseLeft');
  }
  if (failure !== undefined) throw failure;
  return outcome as ScratchRestore;
}
