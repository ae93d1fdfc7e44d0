/**
 * `lifeboat doctor --plan FILE`: is everything a backup of this plan needs in place, from where it runs? The
 * Temporal connection, the store (a probe object written, read back and deleted), each component's source, and
 * the client tools. One ✓/✗ line per check, with what to do about each ✗; exit 1 when any fails.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { Client as PgClient } from 'pg';
import { findOnPath } from '../../embedded/binaries';
import { runToCompletion } from '../../engines/childProcess';
import { parsePostgresUrl, postgresTool } from '../../engines/postgres';
import { parseRedisUrl, redisCliInvocation } from '../../engines/redis';
import { loadPlanFile } from '../../plan/load';
import type { Component, Plan } from '../../plan/schema';
import { createStore } from '../../stores';
import { connectClient } from '../../temporal/connection';
import { temporalSettingsFromEnv } from '../../temporal/settings';
import { OperationFailed } from '../errors';

export interface CheckOutcome {
  ok: boolean;
  /** What was checked, and what was found. */
  what: string;
  /** For a failure: what to do about it. */
  fix?: string;
}

const pass = (what: string): CheckOutcome => ({ ok: true, what });
const fail = (what: string, fix: string): CheckOutcome => ({ ok: false, what, fix });
const messageOf = (error: unknown) => (error as Error).message ?? String(error);

/** A check that throws instead of returning still yields its line. */
async function guarded(what: string, fix: string, check: () => Promise<CheckOutcome[]>): Promise<CheckOutcome[]> {
  try {
    return await check();
  } catch (error) {
    return [fail(`${what}: ${messageOf(error)}`, error instanceof VariableMissing ? error.fix : fix)];
  }
}

async function checkTemporal(): Promise<CheckOutcome[]> {
  const settings = temporalSettingsFromEnv();
  const fix = `start Temporal (\`lifeboat up\`, or \`docker compose up\`), or point TEMPORAL_ADDRESS (now ${settings.address}) and TEMPORAL_NAMESPACE at yours`;
  const overGrpc = guarded(`Temporal at ${settings.address}`, fix, async () => {
    const { client, connection } = await connectClient(settings);
    try {
      await client.workflowService.describeNamespace({ namespace: settings.namespace });
      return [pass(`Temporal at ${settings.address}, namespace ${settings.namespace}`)];
    } finally {
      await connection.close();
    }
  });
  const { httpAddress } = settings;
  if (!httpAddress) return overGrpc;
  // `backup run` uses it when it is set: it must reach the same namespace.
  const httpFix = `point TEMPORAL_HTTP_ADDRESS (now ${httpAddress}) at the same server's HTTP API (port 7243 by default), or unset it to use gRPC`;
  const overHttp = guarded(`Temporal's HTTP API at ${httpAddress}`, httpFix, async () => {
    const { TemporalHttpApi } = await import('../../temporal/httpApi');
    const api = new TemporalHttpApi(httpAddress, settings.namespace);
    try {
      await api.describeNamespace();
      return [pass(`Temporal's HTTP API at ${httpAddress}, namespace ${settings.namespace}`)];
    } finally {
      api.close();
    }
  });
  return (await Promise.all([overGrpc, overHttp])).flat();
}

async function checkStore(plan: Plan): Promise<CheckOutcome[]> {
  const store = createStore(plan.store);
  const fix =
    plan.store.type === 'local'
      ? `create ${plan.store.path} and make it writable by the user the worker runs as`
      : 'check the bucket, endpoint and region in the plan, and the AWS credentials in the environment (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE)';
  return guarded(`store ${store.location}`, fix, async () => {
    const key = `${plan.name}/.lifeboat-doctor-${randomBytes(6).toString('hex')}`;
    const probe = `lifeboat doctor probe ${new Date().toISOString()}`;
    await store.put(key, Readable.from([Buffer.from(probe)]));
    try {
      const read = await text(await store.get(key));
      if (read !== probe) return [fail(`store ${store.location}: the probe object read back differs from what was written`, fix)];
    } finally {
      await store.delete(key);
    }
    return [pass(`store ${store.location}: probe object written, read back and deleted`)];
  });
}

/** A variable the plan names is not set here. */
class VariableMissing extends Error {
  readonly fix: string;
  constructor(variable: string) {
    super(`environment variable ${variable} is not set`);
    this.fix = `set ${variable} here and where the worker runs (the plan references it; its value never goes into the plan)`;
  }
}

/** The variable a component names must be set here, as it must be where the worker runs. */
function fromEnv(variable: string): string {
  const value = process.env[variable];
  if (!value) throw new VariableMissing(variable);
  return value;
}

async function toolVersion(tool: string): Promise<{ major: number; text: string }> {
  const output = (await runToCompletion(tool, ['--version'])).trim();
  const match = output.match(/(\d+)(?:\.\d+)*/);
  if (!match) throw new Error(`${tool} --version said "${output}"`);
  return { major: Number(match[1]), text: output };
}

async function checkPostgres(component: Extract<Component, { type: 'postgres' }>): Promise<CheckOutcome[]> {
  const name = `component "${component.name}" (postgres)`;
  const url = fromEnv(component.connection.urlFromEnv);
  const connection = parsePostgresUrl(component.name, url);
  const where = `database "${connection.database}" on ${connection.host}`;
  let serverMajor: number;
  const client = new PgClient({ connectionString: url, connectionTimeoutMillis: 10_000, application_name: 'lifeboat-doctor' });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const result = await client.query<{ version: string }>(`select current_setting('server_version_num') as version`);
    serverMajor = Math.floor(Number(result.rows[0].version) / 10000);
  } catch (error) {
    return [fail(`${name}: cannot connect to ${where}: ${messageOf(error)}`, `check ${component.connection.urlFromEnv} (host, port, user, password, database) and that the server accepts connections from here`)];
  } finally {
    await client.end().catch(() => undefined);
  }
  const outcomes = [pass(`${name}: connected to ${where}, PostgreSQL ${serverMajor}`)];
  for (const tool of ['pg_dump', 'pg_restore'] as const) {
    const binary = postgresTool(tool, serverMajor);
    const install = `install PostgreSQL ${serverMajor}'s client tools (Debian: apt-get install postgresql-client-${serverMajor}) or set PG_BIN_DIR to their directory`;
    try {
      const { major, text: version } = await toolVersion(binary);
      outcomes.push(major >= serverMajor ? pass(`${name}: ${binary} (${version}) can read a PostgreSQL ${serverMajor} server`) : fail(`${name}: ${binary} is ${major}, older than the server (${serverMajor})`, install));
    } catch (error) {
      outcomes.push(fail(`${name}: ${tool} not found or not runnable (${messageOf(error)})`, install));
    }
  }
  return outcomes;
}

async function checkRedis(component: Extract<Component, { type: 'redis' }>): Promise<CheckOutcome[]> {
  const name = `component "${component.name}" (redis)`;
  const target = parseRedisUrl(component.name, fromEnv(component.connection.urlFromEnv));
  let version: string;
  try {
    version = (await toolVersion('redis-cli')).text;
  } catch (error) {
    return [fail(`${name}: redis-cli not found or not runnable (${messageOf(error)})`, 'install redis-cli on the worker (Debian: apt-get install redis-tools)')];
  }
  const { args, env } = redisCliInvocation(target);
  const reply = await runToCompletion('redis-cli', [...args, 'PING'], env).then((output) => output.trim(), (error: Error) => error.message);
  if (reply !== 'PONG') {
    return [fail(`${name}: PING to ${target.address} answered "${reply}"`, `check ${component.connection.urlFromEnv} (host, port, user, password) and that Redis accepts connections from here`)];
  }
  return [pass(`${name}: ${version} found; PING to ${target.address} answered PONG`)];
}

async function checkFiles(component: Extract<Component, { type: 'files' }>): Promise<CheckOutcome[]> {
  const name = `component "${component.name}" (files)`;
  const outcomes: CheckOutcome[] = [];
  try {
    if (!(await stat(component.path)).isDirectory()) throw new Error('not a directory');
    await access(component.path, constants.R_OK | constants.X_OK);
    outcomes.push(pass(`${name}: ${component.path} is a readable directory`));
  } catch (error) {
    outcomes.push(fail(`${name}: ${component.path}: ${messageOf(error)}`, `mount or create ${component.path} where the worker runs, readable by its user`));
  }
  for (const [tool, pkg] of [['tar', 'tar'], ['zstd', 'zstd']]) {
    outcomes.push(findOnPath(tool) ? pass(`${name}: ${tool} found`) : fail(`${name}: ${tool} not found on PATH`, `install it on the worker (Debian: apt-get install ${pkg})`));
  }
  return outcomes;
}

async function checkHttp(component: Extract<Component, { type: 'http' }>): Promise<CheckOutcome[]> {
  const name = `component "${component.name}" (http)`;
  const headers: Record<string, string> = {};
  if (component.tokenFromEnv) headers.authorization = `Bearer ${fromEnv(component.tokenFromEnv)}`;
  if (component.tokenFile) headers.authorization = `Bearer ${(await readFile(component.tokenFile, 'utf8')).trim()}`;
  const ask = (method: string) => fetch(component.url, { method, headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  let response: Response;
  try {
    response = await ask('HEAD');
    if (response.status === 405 || response.status === 501) {
      response = await ask('GET');
      await response.body?.cancel(); // reachability only: the export itself is the backup's job
    }
  } catch (error) {
    return [fail(`${name}: ${component.url} unreachable: ${messageOf((error as Error).cause ?? error)}`, 'check the URL and that the endpoint is reachable from the worker')];
  }
  if (response.status === 401 || response.status === 403) {
    return [fail(`${name}: ${component.url} answered ${response.status}`, `check the token (${component.tokenFromEnv ?? component.tokenFile ?? 'none configured'})`)];
  }
  if (response.status >= 500) return [fail(`${name}: ${component.url} answered ${response.status}`, 'the endpoint is failing: check the exporting service')];
  return [pass(`${name}: ${component.url} answered ${response.status}`)];
}

async function checkComponent(component: Component): Promise<CheckOutcome[]> {
  const fix = "check the component's settings in the plan";
  return guarded(`component "${component.name}" (${component.type})`, fix, async () => {
    switch (component.type) {
      case 'postgres':
        return checkPostgres(component);
      case 'redis':
        return checkRedis(component);
      case 'files':
        return checkFiles(component);
      case 'http':
        return checkHttp(component);
      default:
        return [pass(`component "${(component as Component).name}" (${(component as Component).type}): no reachability check for this type yet`)];
    }
  });
}

export async function runDoctor(plan: Plan): Promise<CheckOutcome[]> {
  const [temporal, store, ...components] = await Promise.all([checkTemporal(), checkStore(plan), ...plan.components.map(checkComponent)]);
  return [...temporal, ...store, ...components.flat()];
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description("check that a plan can run from here: Temporal, the store (probe object), each component's source, pg_dump/pg_restore/redis-cli versions")
    .requiredOption('--plan <file>', 'plan file')
    .action(async (options: { plan: string }) => {
      const { plan } = await loadPlanFile(options.plan);
      const outcomes = await runDoctor(plan);
      for (const outcome of outcomes) {
        console.log(`${outcome.ok ? '✓' : '✗'} ${outcome.what}`);
        if (outcome.fix) console.log(`    fix: ${outcome.fix}`);
      }
      const failed = outcomes.filter((outcome) => !outcome.ok).length;
      if (failed > 0) throw new OperationFailed(`${failed} of ${outcomes.length} checks failed`);
      console.log(`all ${outcomes.length} checks passed`);
    });
}
