/**
 * Deterministic pgbench-style databases for the throughput benchmark: pgbench's four tables (narrow rows)
 * plus a `documents` table with wide text and jsonb columns, so the dump looks like an application's and not
 * only like pgbench's blank-padded rows. Everything comes from PostgreSQL's random() after setseed(), in one
 * backend without parallel workers: the same size gives the same data on every run.
 */
import { Client } from 'pg';

const GB = 1e9;
/** Bytes per row in a plain (COPY text) dump, measured on this data: used to pick row counts for a size. */
const PLAIN_BYTES = { accounts: 97, history: 62, documents: 1_430 } as const;
/** Shares of the plain dump's size. */
const SHARE = { accounts: 0.35, history: 0.05, documents: 0.6 } as const;

const VOCABULARY =
  'account ledger balance transfer payment invoice customer order refund settlement currency audit branch teller ' +
  'deposit withdrawal interest statement credit debit pending cleared reversed approved declined merchant card ' +
  'network batch report daily monthly quarterly annual region europe america asia pacific north south east west ' +
  'the a of to and in for on with by from at as is was be are were this that these those it its their our your';

export interface Dataset {
  database: string;
  /** Rows per "schema.table", as counted after generation. */
  rowCounts: Record<string, number>;
  /** Size of a plain dump's table data (COPY text), summed from the rows: the size axis of the benchmark. */
  plainBytes: number;
}

export function rowsFor(sizeGb: number): { accounts: number; history: number; documents: number } {
  const bytes = sizeGb * GB;
  return {
    accounts: Math.max(100, Math.round((bytes * SHARE.accounts) / PLAIN_BYTES.accounts)),
    history: Math.max(10, Math.round((bytes * SHARE.history) / PLAIN_BYTES.history)),
    documents: Math.max(10, Math.round((bytes * SHARE.documents) / PLAIN_BYTES.documents)),
  };
}

/** Creates `database` (dropping an older one) and fills it for sizeGb of plain dump. */
export async function createDataset(adminUrl: string, database: string, sizeGb: number): Promise<Dataset> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${admin.escapeIdentifier(database)} with (force)`);
    await admin.query(`create database ${admin.escapeIdentifier(database)}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    const rows = rowsFor(sizeGb);
    const branches = Math.max(1, Math.ceil(rows.accounts / 100_000));
    await client.query('set max_parallel_workers_per_gather = 0');
    await client.query(`
      create table pgbench_branches (bid int primary key, bbalance int, filler char(88));
      create table pgbench_tellers (tid int primary key, bid int, tbalance int, filler char(84));
      create table pgbench_accounts (aid int primary key, bid int, abalance int, filler char(84));
      create table pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22));
      create table documents (id bigint primary key, account int not null, title text not null, body text not null, attrs jsonb not null);
      create temp table corpus (text text not null)`);
    await client.query('select setseed(0.42)');
    await client.query(`insert into corpus
      select string_agg(words[1 + floor(random() * array_length(words, 1))::int], ' ')
        from (select string_to_array('${VOCABULARY}', ' ') as words) v, generate_series(1, 40000)`);
    await client.query(`insert into pgbench_branches select b, 0, '' from generate_series(1, ${branches}) b`);
    await client.query(`insert into pgbench_tellers select t, (t - 1) / 10 + 1, 0, '' from generate_series(1, ${branches * 10}) t`);
    await client.query(
      `insert into pgbench_accounts select a, (a - 1) / 100000 + 1, (random() * 20000 - 10000)::int, '' from generate_series(1, ${rows.accounts}) a`,
    );
    await client.query(
      `insert into pgbench_history
         select 1 + floor(random() * ${branches * 10})::int, 1 + floor(random() * ${branches})::int, 1 + floor(random() * ${rows.accounts})::int,
                (random() * 10000 - 5000)::int, timestamp '2026-01-01' + h * interval '1 second', ''
           from generate_series(1, ${rows.history}) h`,
    );
    // Wide rows: a title, a body of 400-2,400 characters of text and a jsonb document, all cut from the corpus.
    await client.query(
      `insert into documents
         select d, 1 + floor(random() * ${rows.accounts})::int,
                initcap(substr(c.text, 1 + floor(random() * 200000)::int, 48)),
                substr(c.text, 1 + floor(random() * 150000)::int, 400 + floor(random() * 2000)::int),
                jsonb_build_object(
                  'user', 'u' || floor(random() * 5000)::int,
                  'score', round((random() * 1000)::numeric, 1),
                  'active', random() < 0.7,
                  'tags', jsonb_build_array(substr(c.text, 1 + floor(random() * 200000)::int, 12), substr(c.text, 1 + floor(random() * 200000)::int, 9)),
                  'created', to_char(timestamp '2026-01-01' + d * interval '7 seconds', 'YYYY-MM-DD"T"HH24:MI:SS'),
                  'limits', jsonb_build_object('daily', floor(random() * 100000)::int, 'monthly', floor(random() * 1000000)::int))
           from corpus c, generate_series(1, ${rows.documents}) d`,
    );
    await client.query('vacuum analyze');
    const counted = await client.query<{ table: string; rows: string; bytes: string }>(`
      select 'public.pgbench_accounts' as table, count(*) as rows, coalesce(sum(octet_length(t::text)), 0) as bytes from pgbench_accounts t
      union all select 'public.pgbench_branches', count(*), coalesce(sum(octet_length(t::text)), 0) from pgbench_branches t
      union all select 'public.pgbench_tellers', count(*), coalesce(sum(octet_length(t::text)), 0) from pgbench_tellers t
      union all select 'public.pgbench_history', count(*), coalesce(sum(octet_length(t::text)), 0) from pgbench_history t
      union all select 'public.documents', count(*), coalesce(sum(octet_length(t::text)), 0) from documents t`);
    const rowCounts: Record<string, number> = {};
    let plainBytes = 0;
    for (const row of counted.rows) {
      rowCounts[row.table] = Number(row.rows);
      plainBytes += Number(row.bytes);
    }
    return { database, rowCounts, plainBytes };
  } finally {
    await client.end();
  }
}
