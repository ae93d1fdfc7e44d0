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
const PARAGRAPHS = 20_000;

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
      -- 20,000 distinct paragraphs (28 MB): far more than zstd's window, so bodies do not compress as repeats.
      create temp table paragraphs (id int primary key, body text not null)`);
    await client.query('select setseed(0.42)');
    const words = `'{${VOCABULARY.split(' ').join(',')}}'::text[]`;
    await client.query(
      // The subquery mentions p so it runs once per paragraph, and g so the aggregate is its own (60-360 words).
      `insert into paragraphs
         select p, (select string_agg(v.w[1 + floor(random() * array_length(v.w, 1))::int + g * 0], ' ') from generate_series(1, 60 + floor(random() * 300)::int + p * 0) g)
           from (select ${words} as w) v, generate_series(1, ${PARAGRAPHS}) p`,
    );
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
    // Wide rows: a title, a paragraph as body, and a jsonb document. Every random value is drawn in the inner
    // query, in generate_series order, so the join's output order cannot change the data.
    await client.query(
      `insert into documents
         select d.id, d.account, initcap(left(t.body, 48)), b.body,
                jsonb_build_object(
                  'user', 'u' || d.user_id, 'score', d.score, 'active', d.active,
                  'tags', jsonb_build_array(v.w[d.tag1], v.w[d.tag2]),
                  'created', to_char(timestamp '2026-01-01' + d.id * interval '7 seconds', 'YYYY-MM-DD"T"HH24:MI:SS'),
                  'limits', jsonb_build_object('daily', d.daily, 'monthly', d.monthly))
           from (select n as id, 1 + floor(random() * ${rows.accounts})::int as account,
                        1 + floor(random() * ${PARAGRAPHS})::int as body_id, 1 + floor(random() * ${PARAGRAPHS})::int as title_id,
                        floor(random() * 5000)::int as user_id, round((random() * 1000)::numeric, 1) as score, random() < 0.7 as active,
                        1 + floor(random() * ${VOCABULARY.split(' ').length})::int as tag1, 1 + floor(random() * ${VOCABULARY.split(' ').length})::int as tag2,
                        floor(random() * 100000)::int as daily, floor(random() * 1000000)::int as monthly
                   from generate_series(1, ${rows.documents}) n) d
           join paragraphs b on b.id = d.body_id
           join paragraphs t on t.id = d.title_id
           cross join (select ${words} as w) v`,
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
