/**
 * "No time travel": every object key the database references must exist in the bucket. The plan's query
 * returns the keys; they are read through a cursor in byte order (collation "C", S3's order) and merged with
 * the map or the bucket's listing, so neither side is held in memory.
 */
import { Client } from 'pg';
import type { Plan, S3VersionedComponent } from '../../plan/schema';
import { ComponentError, resolveEnvReference } from '../errors';
import { classifyPostgresError, parsePostgresUrl } from '../postgres';
import { CappedList, compareKeys, Cursor } from './versionMap';

const FETCH_ROWS = 1000;

/** The consistency query's keys, ascending, without nulls or repeats. */
export async function* referencedKeys(component: S3VersionedComponent, plan: Plan): AsyncGenerator<string> {
  const consistency = component.consistency;
  if (!consistency) return;
  const database = plan.components.find((candidate) => candidate.name === consistency.component);
  if (database?.type !== 'postgres') {
    throw new ComponentError(component.name, `consistency.component "${consistency.component}" is not a postgres component of the plan`, false, 'InvalidPlan');
  }
  const url = resolveEnvReference(database.name, database.connection.urlFromEnv, 'connection URL');
  const connection = parsePostgresUrl(database.name, url);
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'lifeboat-consistency' });
  client.on('error', () => undefined);
  const query = consistency.query.trim().replace(/;\s*$/, '');
  try {
    await client.connect();
    await client.query('begin isolation level repeatable read read only');
    // The first column, as text in byte order: the order S3 lists keys in.
    await client.query(`declare lifeboat_keys no scroll cursor for select k::text collate "C" as k from (${query}) as q(k) where k is not null order by 1`);
    let previous: string | undefined;
    for (;;) {
      const { rows } = await client.query<{ k: string }>(`fetch ${FETCH_ROWS} from lifeboat_keys`);
      for (const { k } of rows) {
        if (previous !== undefined && compareKeys(previous, k) >= 0) {
          if (previous === k) continue;
          throw new ComponentError(component.name, `the consistency query's keys do not sort in byte order ("${previous}" before "${k}"): is the database encoding UTF8?`, false, 'InvalidConsistencyQuery');
        }
        previous = k;
        yield k;
      }
      if (rows.length < FETCH_ROWS) break;
    }
    await client.query('commit');
  } catch (error) {
    if (error instanceof ComponentError) throw error;
    const code = (error as { code?: string }).code ?? '';
    // Class 42: syntax errors, unknown tables or columns: the plan's query is wrong, retrying will not help.
    if (code.startsWith('42')) {
      throw new ComponentError(component.name, `the consistency query failed on "${database.name}": ${(error as Error).message}; fix consistency.query`, false, 'InvalidConsistencyQuery');
    }
    throw classifyPostgresError(database.name, connection, error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Merges the referenced keys with keys seen in ascending order; what is never seen is missing. */
export class ReferencedKeysCheck {
  readonly missing = new CappedList<string>();
  referenced = 0;
  private readonly keys: Cursor<string>;

  constructor(keys: AsyncIterable<string>) {
    this.keys = Cursor.of(keys);
  }

  /** Call with every existing key, ascending. */
  async see(key: string): Promise<void> {
    for (let next = await this.keys.peek(); next !== undefined && compareKeys(next, key) <= 0; next = await this.keys.peek()) {
      await this.keys.next();
      this.referenced++;
      if (next !== key) this.missing.add(next);
    }
  }

  /** The keys never seen are missing; resolves with the list. */
  async finish(): Promise<CappedList<string>> {
    for (let next = await this.keys.next(); next !== undefined; next = await this.keys.next()) {
      this.referenced++;
      this.missing.add(next);
    }
    return this.missing;
  }

  async close(): Promise<void> {
    await this.keys.close();
  }
}
