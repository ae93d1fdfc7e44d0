/** PostgreSQL helpers for tests that damage, restore and compare databases. */
import { Client as PgClient } from 'pg';

export const PGBENCH_TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'];

export async function sql(url: string, text: string): Promise<string> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    // Several statements come back as several results; the last one answers.
    const results: unknown = await client.query({ text, rowMode: 'array' });
    const last = (Array.isArray(results) ? results.at(-1) : results) as { rows: unknown[][] };
    return String(last.rows[0]?.[0] ?? '');
  } finally {
    await client.end();
  }
}

/** Per table: row count and an order-independent checksum of its contents (`missing` for a dropped table). Equal means same contents. */
export async function fingerprint(url: string, tables: string[] = PGBENCH_TABLES): Promise<Record<string, string>> {
  const result: Record<string, string> = {};
  for (const table of tables) {
    const exists = await sql(url, `select count(*) from pg_tables where schemaname = 'public' and tablename = '${table}'`);
    result[table] =
      exists === '0' ? 'missing' : await sql(url, `select count(*) || ':' || coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '') from ${table} t`);
  }
  return result;
}

/**
 * Incompressible rows, about 2.8 KB each on disk (70,000 rows: 190 MB), so that a dump or restore streams for
 * several seconds.
 */
export async function fillWithRandomRows(url: string, rows = 70_000): Promise<void> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    await client.query('create table blobs (id int primary key, payload bytea)');
    await client.query(
      `insert into blobs select g, (select decode(string_agg(md5(random()::text || g || s), ''), 'hex') from generate_series(1, 128) s)
         from generate_series(1, $1) g`,
      [rows],
    );
  } finally {
    await client.end();
  }
}
