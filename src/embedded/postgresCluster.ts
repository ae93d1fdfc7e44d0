import { execFileSync } from 'node:child_process';
import { appendFileSync, chownSync, chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isExecutableFile } from './binaries';
import { freePort } from './ports';
import { runCommand, type LogFn } from './processes';

const REQUIRED_BINARIES = ['initdb', 'pg_ctl', 'postgres'] as const;

export interface PostgresClusterOptions {
  /** Password of the `postgres` superuser over TCP (loopback connections use scram-sha-256). */
  superuserPassword: string;
  /** A free port when omitted. */
  port?: number;
  log?: LogFn;
  /** Parent of the cluster's temp dir (default: the OS temp dir). Must be reachable by the `postgres` user when run as root. */
  baseDir?: string;
  /** Extra postgresql.conf settings, e.g. { max_connections: '300' }. */
  settings?: Record<string, string>;
}

export interface PostgresClusterHandle {
  readonly port: number;
  /** Directory holding initdb, pg_ctl, psql, pg_dump, pg_restore, pgbench... */
  readonly binDir: string;
  readonly dataDir: string;
  /** Unix socket directory (trust auth for local connections). */
  readonly socketDir: string;
  /** The server's own log (pg_ctl -l). */
  readonly logFile: string;
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/database */
  superuserUrl(database?: string): string;
  /** pg_ctl stop -m fast, then remove the cluster's directory. */
  stop(): Promise<void>;
  /** pg_ctl stop -m immediate: a crash, the data dir is kept for start(). */
  kill(): Promise<void>;
  /** pg_ctl start again on the same port and data dir (after kill()). */
  start(): Promise<void>;
}

function versionOf(dir: string): number {
  const n = Number.parseFloat(dir);
  return Number.isFinite(n) ? n : -1;
}

function missingMessage(detail: string): string {
  return (
    `PostgreSQL server binaries (${REQUIRED_BINARIES.join(', ')}) not found: ${detail}. ` +
    'Install them with `apt-get install -y postgresql` (Debian keeps them in /usr/lib/postgresql/<version>/bin), ' +
    'or set PG_BIN_DIR to a directory that has them.'
  );
}

/** PG_BIN_DIR, else the highest /usr/lib/postgresql/<version>/bin that has the server binaries. */
export function findPostgresBinDir(): string {
  const override = process.env.PG_BIN_DIR;
  if (override) {
    const missing = REQUIRED_BINARIES.filter((name) => !isExecutableFile(join(override, name)));
    if (missing.length > 0) throw new Error(missingMessage(`PG_BIN_DIR=${override} lacks ${missing.join(', ')}`));
    return override;
  }
  const root = '/usr/lib/postgresql';
  let versions: string[];
  try {
    versions = readdirSync(root);
  } catch {
    throw new Error(missingMessage(`${root} does not exist`));
  }
  const candidates = versions
    .sort((a, b) => versionOf(b) - versionOf(a))
    .map((version) => join(root, version, 'bin'))
    .filter((dir) => REQUIRED_BINARIES.every((name) => isExecutableFile(join(dir, name))));
  if (candidates.length === 0) throw new Error(missingMessage(`no ${root}/<version>/bin has them`));
  return candidates[0];
}

interface OsUser {
  uid: number;
  gid: number;
}

function postgresOsUser(): OsUser {
  try {
    const id = (flag: string): number => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g') };
  } catch {
    throw new Error(
      'initdb refuses to run as root, and there is no `postgres` OS user to run it as. ' +
        'Install PostgreSQL from Debian (`apt-get install -y postgresql` creates the user) or run the tests as a non-root user.',
    );
  }
}

/** Starts a throwaway PostgreSQL cluster (initdb + pg_ctl) in a fresh temp dir, listening on 127.0.0.1 only. */
export async function startPostgresCluster(options: PostgresClusterOptions): Promise<PostgresClusterHandle> {
  const binDir = findPostgresBinDir();
  // initdb and pg_ctl refuse to run as root: hand the cluster to the `postgres` OS user instead.
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? postgresOsUser() : undefined;
  const port = options.port ?? (await freePort('127.0.0.1'));
  const dir = mkdtempSync(join(options.baseDir ?? tmpdir(), 'lifeboat-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const commandLog = join(dir, 'commands.log');
  const pwFile = join(dir, 'pwfile');
  writeFileSync(pwFile, `${options.superuserPassword}\n`, { mode: 0o600 });
  writeFileSync(logFile, '');
  if (owner) {
    for (const path of [dir, pwFile, logFile]) chownSync(path, owner.uid, owner.gid);
    chmodSync(dir, 0o700);
  }

  const pg = (name: string, args: string[], timeoutMs = 120_000): Promise<unknown> => {
    const binary = join(binDir, name);
    const [command, argv] = owner ? ['runuser', ['-u', 'postgres', '--', binary, ...args]] : [binary, args];
    return runCommand(command, argv, { cwd: dir, logFile: commandLog, timeoutMs });
  };

  try {
    if (owner) {
      // A TMPDIR under /root, say, would be unreachable for the postgres user: say so plainly.
      await runCommand('runuser', ['-u', 'postgres', '--', 'test', '-w', dir]).catch(() => {
        throw new Error(`the postgres OS user cannot write to ${dir}; pass baseDir (or set TMPDIR) to a directory it can reach`);
      });
    }
    options.log?.(`initdb in ${dataDir}`);
    await pg('initdb', [
      '-D', dataDir, '-U', 'postgres', '--auth-local=trust', '--auth-host=scram-sha-256',
      `--pwfile=${pwFile}`, '-E', 'UTF8', '--locale=C', '--no-sync',
    ]);
    rmSync(pwFile, { force: true });
    // Settings go in postgresql.conf rather than `pg_ctl -o` so a later start() reuses them verbatim.
    const settings: Record<string, string> = {
      listen_addresses: "'127.0.0.1'",
      port: String(port),
      unix_socket_directories: `'${dir}'`,
      max_connections: '200',
      // A throwaway cluster: durability against OS crashes buys nothing and costs test time.
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    };
    appendFileSync(
      join(dataDir, 'postgresql.conf'),
      `\n# lifeboat throwaway cluster\n${Object.entries(settings).map(([k, v]) => `${k} = ${v}`).join('\n')}\n`,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const start = async (): Promise<void> => {
    options.log?.(`starting PostgreSQL on 127.0.0.1:${port}`);
    try {
      await pg('pg_ctl', ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60']);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new Error(`${message}\n(server log: ${logFile})`, { cause: error });
    }
  };
  const stopWith = (mode: 'fast' | 'immediate') => pg('pg_ctl', ['stop', '-D', dataDir, '-m', mode, '-w', '-t', '60']);

  await start(); // on failure the dir stays: its logs explain why

  return {
    port,
    binDir,
    dataDir,
    socketDir: dir,
    logFile,
    superuserUrl: (database = 'postgres') =>
      `postgres://postgres:${encodeURIComponent(options.superuserPassword)}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: async () => {
      await stopWith('fast').catch(() => undefined); // already stopped (e.g. after kill()) is fine
      rmSync(dir, { recursive: true, force: true });
    },
    kill: async () => {
      await stopWith('immediate');
    },
    start,
  };
}
