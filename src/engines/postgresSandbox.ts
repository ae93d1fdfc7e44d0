/**
 * Drill sandboxes for PostgreSQL components: where a drill restores a component, and the guard that a sandbox
 * is never a production database. The guard compares servers after resolving env references and host names
 * (localhost, 127.0.0.1 and a Unix socket are one server), so a differently spelled production URL is refused.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Plan, PostgresComponent } from '../plan/schema';
import { ComponentError, resolveEnvReference } from './errors';
import { parsePostgresUrl, withDatabase } from './postgres';

/** One PostgreSQL database, as a server (host, port) and a database name. */
export interface DatabaseIdentity {
  host: string;
  port: number;
  database: string;
}

export interface ResolvedSandbox {
  component: string;
  /** The sandbox URL, with its password: stays inside the activity, never returned to a workflow. */
  url: string;
  identity: DatabaseIdentity;
}

export function describeDatabase(identity: DatabaseIdentity): string {
  return `database "${identity.database}" on ${identity.host}:${identity.port}`;
}

/** host, port and database a libpq URL points at (query parameters host/port/dbname win, as in libpq). */
export function databaseIdentity(component: string, url: string): DatabaseIdentity {
  const { database } = parsePostgresUrl(component, url);
  const parsed = new URL(url);
  const host = parsed.searchParams.get('host') || decodeURIComponent(parsed.hostname) || 'localhost';
  const port = Number(parsed.searchParams.get('port') || parsed.port || 5432);
  return { host: host.replace(/^\[|\]$/g, '').toLowerCase(), port, database };
}

function productionUrl(component: PostgresComponent): string {
  return resolveEnvReference(component.name, component.connection.urlFromEnv, 'connection URL');
}

/** The sandbox URL of a drilled component: its own variable, or production's URL with the database name suffixed. */
export function sandboxUrl(plan: Plan, component: PostgresComponent): string {
  const target = plan.drill?.targets[component.name];
  if (!target) throw new ComponentError(component.name, 'has no sandbox in drill.targets', false, 'NoSandbox');
  if (target.urlFromEnv) return resolveEnvReference(component.name, target.urlFromEnv, 'drill sandbox URL');
  const url = productionUrl(component);
  const database = `${databaseIdentity(component.name, url).database}${target.databaseSuffix}`;
  if (Buffer.byteLength(database) > 63) {
    throw new ComponentError(component.name, `the sandbox database name "${database}" is longer than PostgreSQL's 63 bytes: use a shorter databaseSuffix or urlFromEnv`, false, 'InvalidSandbox');
  }
  return withDatabase(url, database);
}

const LOOPBACK = 'loopback';

/** The addresses a host resolves to; every loopback address and a Unix socket directory count as one: this machine. */
async function serverAddresses(host: string): Promise<Set<string>> {
  if (host.startsWith('/') || host === 'localhost') return new Set([LOOPBACK]);
  const isLoopback = (address: string) => address === '::1' || address.startsWith('127.') || address === '::ffff:127.0.0.1';
  if (isIP(host)) return new Set([isLoopback(host) ? LOOPBACK : host]);
  try {
    const addresses = await lookup(host, { all: true });
    return new Set([host, ...addresses.map(({ address }) => (isLoopback(address) ? LOOPBACK : address))]);
  } catch {
    return new Set([host]); // unresolvable here: compare by name
  }
}

async function sameServer(a: DatabaseIdentity, b: DatabaseIdentity): Promise<boolean> {
  if (a.port !== b.port) return false;
  if (a.host === b.host) return true;
  const [left, right] = await Promise.all([serverAddresses(a.host), serverAddresses(b.host)]);
  return [...left].some((address) => right.has(address));
}

/**
 * Resolves every drilled component's sandbox and refuses (not retryable) any that is a production database
 * of this plan (any PostgreSQL component's, not only its own) or another component's sandbox.
 */
export async function resolveSandboxes(plan: Plan, drilled: PostgresComponent[]): Promise<ResolvedSandbox[]> {
  const production = plan.components
    .filter((component): component is PostgresComponent => component.type === 'postgres')
    .map((component) => ({ component: component.name, identity: databaseIdentity(component.name, productionUrl(component)) }));
  const sandboxes: ResolvedSandbox[] = [];
  for (const component of drilled) {
    const url = sandboxUrl(plan, component);
    const identity = databaseIdentity(component.name, url);
    for (const live of production) {
      if (live.identity.database === identity.database && (await sameServer(live.identity, identity))) {
        throw new ComponentError(
          component.name,
          `refusing to drill: its sandbox resolves to ${describeDatabase(identity)}, the production database of component "${live.component}"; a drill would overwrite production. Point drill.targets.${component.name} at a sandbox (urlFromEnv naming another database or server, or databaseSuffix)`,
          false,
          'SandboxIsProduction',
        );
      }
    }
    for (const other of sandboxes) {
      if (other.identity.database === identity.database && (await sameServer(other.identity, identity))) {
        throw new ComponentError(component.name, `refusing to drill: its sandbox is also the sandbox of "${other.component}" (${describeDatabase(identity)}); give each component its own`, false, 'SandboxConflict');
      }
    }
    sandboxes.push({ component: component.name, url, identity });
  }
  return sandboxes;
}
