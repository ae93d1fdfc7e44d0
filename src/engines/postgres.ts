/**
 * PostgreSQL: pg_dump --format=custom, streamed. The dump runs inside a snapshot that Lifeboat exports from
 * its own REPEATABLE READ transaction, so the per-table row counts recorded in the manifest are counted in
 * exactly the state the dump captured.
 */
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Client } from 'pg';
import type { CompressionRecord, PostgresFacts } from '../catalog/manifest';
import type { PostgresComponent } from '../plan/schema';
import { ProcessFailedError, runToCompletion, spawnConsumer, spawnPipeline, spawnWithInput, spawnWithOutput } from './childProcess';
import { decompressor, requireZstd, zstdArguments, zstdDecompressArguments } from './compression';
import { ComponentError, resolveEnvReference } from './errors';
import type { ComponentDump, DumpContext, Engine } from './types';

/** SQLSTATE classes and codes that trying again cannot fix. */
const PERMANENT_SQLSTATES: Record<string, string> = {
  '28P01': 'authentication failed (wrong password)',
  '28000': 'authentication rejected (no pg_hba.conf entry or role not allowed)',
  '3D000': 'the database does not exist',
  '42501': 'permission denied',
};

/** Network-level failures: the server may be restarting, trying again with backoff is right. */
const TRANSIENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);

export interface PostgresConnection {
  /** The URL without its password: safe for argv (visible in ps) and messages. */
  urlWithoutPassword: string;
  password?: string;
  database: string;
  host: string;
}

export function parsePostgresUrl(component: string, url: string): PostgresConnection {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ComponentError(component, 'the connection URL in the environment is not a valid URL (expected postgres://user:password@host:port/database)', false, 'InvalidConnectionUrl');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ComponentError(component, `the connection URL must start with postgres:// or postgresql://, not ${parsed.protocol}//`, false, 'InvalidConnectionUrl');
  }
  // libpq also takes the password as a query parameter: it moves to the environment like the userinfo one.
  const password = parsed.password ? decodeURIComponent(parsed.password) : (parsed.searchParams.get('password') ?? undefined);
  parsed.password = '';
  parsed.searchParams.delete('password');
  return {
    urlWithoutPassword: parsed.toString(),
    password,
    // As libpq reads it: a dbname query parameter wins over the path, and the user name is the default.
    database: parsed.searchParams.get('dbname') || decodeURIComponent(parsed.pathname.replace(/^\//, '')) || decodeURIComponent(parsed.username) || 'postgres',
    host: `${parsed.hostname}${parsed.port ? `:${parsed.port}` : ''}`,
  };
}

/**
 * `url` naming `database` instead of its own: sets the path and removes a `dbname` query parameter, which
 * libpq (and parsePostgresUrl) would otherwise let win over the path.
 */
export function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  if (parsed.searchParams.has('dbname')) parsed.searchParams.delete('dbname');
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

/** Turns a driver or server error into the ComponentError an operator can act on. */
export function classifyPostgresError(component: string, connection: PostgresConnection, error: unknown): ComponentError {
  if (error instanceof ComponentError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  const where = `database "${connection.database}" on ${connection.host}`;
  if (PERMANENT_SQLSTATES[code]) {
    return new ComponentError(component, `${PERMANENT_SQLSTATES[code]}: ${message} (${where}); fix the URL or the server's access rules`, false, code === '3D000' ? 'DatabaseMissing' : 'AuthenticationFailed');
  }
  if (TRANSIENT_NETWORK_CODES.has(code) || /timeout|terminated unexpectedly|starting up|shutting down/i.test(message) || code === '57P03' || code === '53300') {
    return new ComponentError(component, `cannot reach ${where}: ${message}; will retry`, true, 'ConnectionFailed');
  }
  return new ComponentError(component, `${message} (${where})`, true, 'PostgresError');
}

/** Picks the client tool matching the server's major version (pg_dump refuses newer servers). */
export function postgresTool(tool: 'pg_dump' | 'pg_restore' | 'psql', serverMajor?: number): string {
  if (process.env.PG_BIN_DIR) return path.join(process.env.PG_BIN_DIR, tool);
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root)
      .map(Number)
      .filter((version) => Number.isInteger(version) && existsSync(path.join(root, String(version), 'bin', tool)))
      .sort((a, b) => b - a);
    const chosen = versions.find((version) => version === serverMajor) ?? versions.find((version) => serverMajor === undefined || version >= serverMajor);
    if (chosen !== undefined) return path.join(root, String(chosen), 'bin', tool);
  }
  return tool; // from PATH
}

function childEnv(connection: PostgresConnection): NodeJS.ProcessEnv {
  // The password goes to the child through its environment, never its argv.
  const env: NodeJS.ProcessEnv = { ...process.env, PGCONNECT_TIMEOUT: process.env.PGCONNECT_TIMEOUT ?? '10' };
  if (connection.password !== undefined) env.PGPASSWORD = connection.password;
  return env;
}

async function countRows(client: Client, kind: 'exact' | 'estimated'): Promise<Record<string, number>> {
  const tables = await client.query<{ schema: string; table: string; estimate: string }>(
    `select n.nspname as schema, c.relname as table, greatest(c.reltuples, 0)::bigint as estimate
       from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
        and n.nspname not like 'pg_toast%' and n.nspname not like 'pg_temp%'
      order by 1, 2`,
  );
  const counts: Record<string, number> = {};
  for (const row of tables.rows) {
    const name = `${row.schema}.${row.table}`;
    if (kind === 'estimated') {
      counts[name] = Number(row.estimate);
    } else {
      const result = await client.query<{ count: string }>(
        `select count(*) as count from only ${client.escapeIdentifier(row.schema)}.${client.escapeIdentifier(row.table)}`,
      );
      counts[name] = Number(result.rows[0].count);
    }
  }
  return counts;
}

/** Exact rows per table of the database at `url` (a component's live database or its drill sandbox). */
export async function liveRowCountsAt(component: string, url: string): Promise<Record<string, number>> {
  const connection = parsePostgresUrl(component, url);
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'lifeboat-verify' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await countRows(client, 'exact');
  } catch (error) {
    throw classifyPostgresError(component, connection, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * pg_dump's arguments. When the stream is compressed (zstd by default), pg_dump's own gzip is switched off
 * (`-Z0`): compressing inside pg_dump runs on pg_dump's one core at gzip's speed, while zstd runs in its own
 * process on the other core, faster and smaller. With compression "none" pg_dump keeps its built-in gzip,
 * as sets made before zstd became the default did; pg_restore reads both.
 */
function pgDumpArguments(compression: CompressionRecord, snapshot: string, connection: PostgresConnection): string[] {
  return [
    '--format=custom',
    ...(compression.algorithm !== 'none' ? ['--compress=0'] : []),
    `--snapshot=${snapshot}`,
    '--no-password',
    `--dbname=${connection.urlWithoutPassword}`,
  ];
}

async function dumpPostgres(component: PostgresComponent, { compression }: DumpContext): Promise<ComponentDump> {
  const connection = parsePostgresUrl(component.name, resolveEnvReference(component.name, component.connection.urlFromEnv, 'connection URL'));
  const client = new Client({ connectionString: process.env[component.connection.urlFromEnv], connectionTimeoutMillis: 10_000, application_name: 'lifeboat' });
  // A connection-level error after connect (server killed) must not crash the worker.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('begin isolation level repeatable read read only');
    // Exact counts run beside pg_dump and the compressor: one backend counts, without parallel workers that
    // would only take CPU from them (a parallel count also spends more CPU per row than a plain scan).
    await client.query('set local max_parallel_workers_per_gather = 0');
    const info = await client.query<{ snapshot: string; version: string; version_num: string; size: string }>(
      `select pg_export_snapshot() as snapshot, current_setting('server_version') as version,
              current_setting('server_version_num') as version_num, pg_database_size(current_database()) as size`,
    );
    const { snapshot, version, version_num, size } = info.rows[0];
    const pgDump = postgresTool('pg_dump', Math.floor(Number(version_num) / 10000));
    const pgDumpVersion = (await runToCompletion(pgDump, ['--version'])).trim();
    const dumpArguments = pgDumpArguments(compression, snapshot, connection);
    // zstd reads pg_dump's output through a kernel pipe: the uncompressed dump never passes through Node,
    // which only handles the compressed bytes (other compressions run in the activity, as for every engine).
    const dump =
      compression.algorithm === 'zstd'
        ? (() => {
            const piped = spawnPipeline({ command: pgDump, args: dumpArguments, env: childEnv(connection), largeStdoutBuffer: true }, { command: 'zstd', args: zstdArguments(compression) });
            return { stdout: piped.stdout, exited: Promise.all([piped.producerExited, piped.filterExited]), kill: piped.kill, sourceBytes: piped.filterInputBytes };
          })()
        : { ...spawnWithOutput(pgDump, dumpArguments, childEnv(connection), { largeStdoutBuffer: true }), sourceBytes: undefined };
    // Counting runs in the exporting transaction while pg_dump streams: both see the same snapshot.
    const counted = countRows(client, component.rowCounts);
    const finished = (async (): Promise<{ postgres: PostgresFacts }> => {
      try {
        const [rowCounts] = await Promise.all([counted, dump.exited]);
        return { postgres: { serverVersion: version, pgDumpVersion, rowCountsKind: component.rowCounts, rowCounts } };
      } catch (error) {
        dump.kill();
        if (error instanceof ProcessFailedError) {
          // pg_dump or the zstd it pipes into: say which one failed.
          const tool = path.basename(error.command);
          // Failures that retrying cannot fix: missing privileges, client tools older than the server.
          const permanent = tool !== 'zstd' && /permission denied|server version mismatch|aborting because of server version mismatch/i.test(error.stderr);
          if (permanent) throw new ComponentError(component.name, `${tool} failed: ${error.stderr}`, false, 'DumpRefused');
          throw classifyPostgresError(component.name, connection, new Error(`${tool} failed: ${error.message}`));
        }
        throw classifyPostgresError(component.name, connection, error);
      } finally {
        await client.end().catch(() => undefined);
      }
    })();
    // Until the caller awaits `finished`, a rejection here is reported through the stream instead.
    finished.catch(() => undefined);
    counted.catch((error: Error) => dump.stdout.destroy(error));
    return {
      stream: dump.stdout,
      finished,
      // The database's size (indexes and free space included) bounds its dump from above in practice.
      expectedBytes: Number(size),
      compressed: compression.algorithm === 'zstd' ? compression : undefined,
      sourceBytes: dump.sourceBytes,
      abort: () => {
        dump.kill();
        void client.end().catch(() => undefined);
      },
    };
  } catch (error) {
    await client.end().catch(() => undefined);
    throw classifyPostgresError(component.name, connection, error);
  }
}

/**
 * Reads an artifact with `pg_restore --list`: it parses only if the archive's header and table of contents
 * are whole. pg_restore stops reading once it has the table of contents; the rest of the artifact is still
 * read to its end, because the caller checksums the same stream.
 */
async function checkPostgresArtifact(component: PostgresComponent, artifact: Readable): Promise<void> {
  const restore = spawnWithInput(postgresTool('pg_restore'), ['--list'], process.env);
  restore.stdout.resume();
  let accepting = true;
  const stopAccepting = () => (accepting = false);
  restore.stdin.once('error', stopAccepting).once('close', stopAccepting);
  try {
    for await (const chunk of artifact) {
      if (accepting && !restore.stdin.write(chunk)) {
        await new Promise((resolve) => restore.stdin.once('drain', resolve).once('close', resolve));
      }
    }
    if (accepting) restore.stdin.end();
    await restore.exited;
  } catch (error) {
    restore.kill();
    const detail = error instanceof ProcessFailedError ? error.stderr || error.message : (error as Error).message;
    throw new ComponentError(component.name, `pg_restore --list cannot read the artifact: ${detail}`, false, 'ArtifactUnreadable');
  }
}

/**
 * Restores by dropping and recreating the target database, then `pg_restore --single-transaction` into it:
 * the result is exactly the dump, with no object left over from the damaged database (which
 * `pg_restore --clean` would keep when the dump does not name it), and a failure leaves an empty database
 * that a retry replaces again. Other sessions are disconnected first (the service is scaled down by then).
 */
async function restorePostgres(component: PostgresComponent, artifact: Readable, compression: CompressionRecord): Promise<void> {
  await restorePostgresDatabase(component.name, resolveEnvReference(component.name, component.connection.urlFromEnv, 'connection URL'), artifact, compression);
}

/** Runs statements on the server's maintenance database ("postgres") about the database `url` names. */
async function onMaintenanceDatabase(component: string, url: string, statements: (database: string) => string[]): Promise<void> {
  const connection = parsePostgresUrl(component, url);
  const admin = new Client({ connectionString: withDatabase(url, 'postgres'), connectionTimeoutMillis: 10_000, application_name: 'lifeboat-restore' });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    for (const statement of statements(admin.escapeIdentifier(connection.database))) await admin.query(statement);
  } catch (error) {
    throw classifyPostgresError(component, connection, error);
  } finally {
    await admin.end().catch(() => undefined);
  }
}

/** Drops the database `url` names, disconnecting its sessions (a drill's sandbox afterwards). */
export async function dropPostgresDatabase(component: string, url: string): Promise<void> {
  await onMaintenanceDatabase(component, url, (database) => [`drop database if exists ${database} with (force)`]);
}

/**
 * restorePostgres into the database at `url`, which need not be the component's own (a drill's sandbox).
 * `compression` is what is still applied to `artifact`: zstd is decompressed by a `zstd -d` process writing
 * into pg_restore's stdin through a kernel pipe, so Node only carries the compressed, checksum-verified bytes.
 * If `artifact` errors (its checksum did not match), pg_restore is killed before its input ends: it rolls back.
 */
export async function restorePostgresDatabase(component: string, url: string, artifact: Readable, compression: CompressionRecord = { algorithm: 'none' }): Promise<void> {
  const connection = parsePostgresUrl(component, url);
  await onMaintenanceDatabase(component, url, (database) => [`drop database if exists ${database} with (force)`, `create database ${database}`]);
  const inNode = compression.algorithm !== 'zstd';
  if (!inNode) requireZstd();
  const restore = spawnConsumer(
    { command: postgresTool('pg_restore'), args: ['--single-transaction', '--exit-on-error', '--no-password', `--dbname=${connection.urlWithoutPassword}`], env: childEnv(connection) },
    inNode ? undefined : { command: 'zstd', args: zstdDecompressArguments() },
  );
  const feed = inNode && compression.algorithm !== 'none' ? pipeline(artifact, decompressor(compression), restore.stdin) : pipeline(artifact, restore.stdin);
  const [fed, exited] = await Promise.allSettled([feed, restore.exited]);
  if (fed.status === 'rejected' || exited.status === 'rejected') {
    restore.kill();
    // pg_restore's own complaint says more than the broken pipe its exit causes.
    const refused = exited.status === 'rejected' && exited.reason instanceof ProcessFailedError && exited.reason.exitCode !== null ? exited.reason : undefined;
    if (refused) {
      const permanent = /role .* does not exist|extension .* is not available|permission denied|could not open extension control file/i.test(refused.stderr);
      throw new ComponentError(component, `${refused.command === 'zstd' ? 'zstd -d' : 'pg_restore'} failed: ${refused.stderr || refused.message}`, !permanent, 'RestoreFailed');
    }
    const reason = fed.status === 'rejected' ? fed.reason : (exited as PromiseRejectedResult).reason;
    throw new ComponentError(component, `restore stream failed: ${(reason as Error).message}`, true, 'RestoreFailed');
  }
}

export const postgresEngine: Engine<PostgresComponent> = {
  type: 'postgres',
  format: 'pg_dump-custom',
  extension: 'pgdump',
  // pg_dump -Z0 piped through a zstd process: about 3× pg_dump's built-in gzip (see bench/RESULTS.md).
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: dumpPostgres,
  checkArtifact: checkPostgresArtifact,
  restoreCompressed: (component, artifact, compression) => restorePostgres(component, artifact, compression),
};
