/** The example plan's databases for `lifeboat up`: on the PostgreSQL the user points to, or a throwaway cluster. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Client } from 'pg';
import { findPostgresBinDir, startPostgresCluster, type PostgresClusterHandle } from './postgresCluster';
import { runCommand, type LogFn } from './processes';

export interface ExampleDatabases {
  /** Environment variable name -> connection URL, as the example plan references them. */
  urls: Record<string, string>;
  /** Where they live, for the user (no password). */
  description: string;
  cluster?: PostgresClusterHandle;
}

/** A server URL from DATABASE_URL or the libpq PG* variables; undefined when the user gave neither. */
export function userPostgresUrl(env: NodeJS.ProcessEnv = process.env): URL | undefined {
  if (env.DATABASE_URL) return new URL(env.DATABASE_URL);
  if (!env.PGHOST && !env.PGPORT && !env.PGUSER) return undefined;
  const url = new URL('postgres://localhost');
  const host = env.PGHOST ?? 'localhost';
  // A socket directory travels as the `host` query parameter, which libpq and node-postgres both honour.
  if (host.startsWith('/')) url.searchParams.set('host', host);
  else url.hostname = host;
  if (env.PGPORT) url.port = env.PGPORT;
  url.username = env.PGUSER ?? 'postgres';
  if (env.PGPASSWORD) url.password = env.PGPASSWORD;
  return url;
}

function withDatabase(server: URL, database: string): string {
  const url = new URL(server.toString());
  url.pathname = `/${database}`;
  return url.toString();
}

/** Creates the database when missing and fills it with pgbench's tables when it has none. */
async function prepareDatabase(serverUrl: URL, database: string, binDir: string, log: LogFn): Promise<string> {
  const admin = new Client({ connectionString: withDatabase(serverUrl, serverUrl.pathname.length > 1 ? serverUrl.pathname.slice(1) : 'postgres') });
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [database]);
    if (exists.rowCount === 0) {
      await admin.query(`create database ${admin.escapeIdentifier(database)}`);
      log(`created database ${database}`);
    }
  } finally {
    await admin.end();
  }
  const url = withDatabase(serverUrl, database);
  const client = new Client({ connectionString: url });
  await client.connect();
  const tables = await client.query(`select 1 from pg_tables where schemaname = 'public' limit 1`).finally(() => client.end());
  if (tables.rowCount === 0) {
    log(`filling ${database} with example data (pgbench -i -s 1)`);
    const parsed = new URL(url);
    const env: NodeJS.ProcessEnv = { ...process.env, PGPASSWORD: decodeURIComponent(parsed.password) };
    parsed.password = '';
    await runCommand(join(binDir, 'pgbench'), ['-i', '-s', '1', '-q', parsed.toString()], { env });
  }
  return url;
}

export async function prepareExampleDatabases(options: { log: LogFn; names: Record<string, string> }): Promise<ExampleDatabases> {
  const binDir = findPostgresBinDir();
  let server = userPostgresUrl();
  let cluster: PostgresClusterHandle | undefined;
  if (!server) {
    cluster = await startPostgresCluster({ superuserPassword: randomBytes(12).toString('hex'), log: options.log });
    server = new URL(cluster.superuserUrl('postgres'));
  }
  const urls: Record<string, string> = {};
  try {
    for (const [variable, database] of Object.entries(options.names)) {
      urls[variable] = await prepareDatabase(server, database, binDir, options.log);
    }
  } catch (error) {
    await cluster?.stop(); // the caller never got the handle: stop it here
    throw error;
  }
  const shown = new URL(server.toString());
  shown.password = '';
  return {
    urls,
    cluster,
    description: cluster ? `a throwaway PostgreSQL cluster on 127.0.0.1:${cluster.port} (removed on exit)` : `PostgreSQL at ${shown.host || shown.searchParams.get('host')}`,
  };
}
