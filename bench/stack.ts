/**
 * The benchmark's throwaway stack: a PostgreSQL cluster (archiving WAL to pgBackRest when it is installed),
 * MinIO over HTTP for Lifeboat and the shell pipelines, a second MinIO over HTTPS (self-signed) for
 * pgBackRest, whose S3 repositories speak only HTTPS, a Temporal dev server and a Lifeboat worker.
 */
import { createBucket } from '../test/harness/buckets';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { findOnPath } from '../src/embedded/binaries';
import { findMinio, startMinio, type MinioHandle } from '../src/embedded/minio';
import { freePort } from '../src/embedded/ports';
import { startPostgresCluster, type PostgresClusterHandle } from '../src/embedded/postgresCluster';
import { sleep, spawnLogged, type ManagedProcess } from '../src/embedded/processes';
import { findTemporalCli, temporalCliMissingMessage } from '../src/embedded/temporalCli';
import { startTemporalDevServer, type TemporalDevServerHandle } from '../src/embedded/temporalDevServer';

export const BUCKET = 'bench';
export const PGBACKREST_STANZA = 'bench';

export interface PgBackRest {
  /** Runs `pgbackrest <args>` as the cluster's OS user; the argv to spawn. */
  command(args: string[]): [string, string[]];
  configFile: string;
  /** The cluster's archive_command that pushes WAL to pgBackRest's repository. */
  archiveCommand: string;
  /** What `pgbackrest version` prints, e.g. "pgBackRest 2.45". */
  version: string;
}

export interface Stack {
  root: string;
  postgres: PostgresClusterHandle;
  minio: MinioHandle;
  temporal: TemporalDevServerHandle;
  s3: { endpoint: string; accessKey: string; secretKey: string; bucket: string };
  /** Debian's awscli when installed (the peer the issue names), else whatever `aws` is on PATH. */
  awsCli: string | undefined;
  /** Why pgBackRest cannot run here, when it cannot. */
  pgBackRest: PgBackRest | { missing: string };
  stop(): Promise<void>;
}

function tlsCertificate(dir: string): void {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1',
    '-keyout', path.join(dir, 'private.key'), '-out', path.join(dir, 'public.crt'),
  ], { stdio: 'ignore' });
}

function httpsAnswers(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { rejectUnauthorized: false, timeout: 2_000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

/** A MinIO serving HTTPS with a self-signed certificate, for pgBackRest. */
async function startTlsMinio(root: string, accessKey: string, secretKey: string): Promise<{ endpoint: string; port: number; process: ManagedProcess }> {
  const binary = findMinio();
  if (!binary) throw new Error('minio not found');
  const dir = path.join(root, 'minio-tls');
  const certs = path.join(dir, 'certs');
  mkdirSync(path.join(dir, 'data', BUCKET), { recursive: true }); // a top-level directory is a bucket to MinIO
  mkdirSync(certs, { recursive: true });
  tlsCertificate(certs);
  const port = await freePort();
  const consolePort = await freePort();
  const endpoint = `https://127.0.0.1:${port}`;
  const process_ = spawnLogged(binary, ['server', path.join(dir, 'data'), '--address', `127.0.0.1:${port}`, '--console-address', `127.0.0.1:${consolePort}`, '--certs-dir', certs, '--quiet'], {
    logFile: path.join(dir, 'minio.log'),
    env: { ...process.env, MINIO_ROOT_USER: accessKey, MINIO_ROOT_PASSWORD: secretKey, MINIO_UPDATE: 'off' },
  });
  const deadline = Date.now() + 60_000;
  while (!(await httpsAnswers(`${endpoint}/minio/health/ready`))) {
    if (!process_.running() || Date.now() > deadline) {
      await process_.stop(10_000);
      throw new Error(`MinIO over TLS did not start:\n${process_.outputTail()}`);
    }
    await sleep(200);
  }
  return { endpoint, port, process: process_ };
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return { uid: Number(execFileSync('id', ['-u', 'postgres']).toString()), gid: Number(execFileSync('id', ['-g', 'postgres']).toString()) };
}

function pgBackRestConfig(dir: string, tlsPort: number, accessKey: string, secretKey: string, cluster: PostgresClusterHandle): string {
  return [
    '[global]',
    'repo1-type=s3',
    'repo1-s3-endpoint=127.0.0.1',
    `repo1-storage-port=${tlsPort}`,
    'repo1-s3-uri-style=path',
    `repo1-s3-bucket=${BUCKET}`,
    'repo1-s3-region=us-east-1',
    `repo1-s3-key=${accessKey}`,
    `repo1-s3-key-secret=${secretKey}`,
    // MinIO's certificate is self-signed; pgBackRest's S3 client speaks nothing but HTTPS.
    'repo1-storage-verify-tls=n',
    'repo1-path=/pgbackrest',
    'repo1-retention-full=1',
    // The same compressor and level as Lifeboat's default, and one process like pg_dump.
    'compress-type=zst',
    'compress-level=3',
    'process-max=1',
    'start-fast=y',
    `log-path=${path.join(dir, 'log')}`,
    `lock-path=${path.join(dir, 'lock')}`,
    `spool-path=${path.join(dir, 'spool')}`,
    'log-level-console=warn',
    'log-level-file=off',
    '',
    `[${PGBACKREST_STANZA}]`,
    `pg1-path=${cluster.dataDir}`,
    `pg1-port=${cluster.port}`,
    `pg1-socket-path=${cluster.socketDir}`,
    'pg1-user=postgres',
    '',
  ].join('\n');
}

function archiveCommand(binary: string, configFile: string): string {
  return `${binary} --config=${configFile} --stanza=${PGBACKREST_STANZA} archive-push %p`;
}

export async function startStack(log: (line: string) => void): Promise<Stack> {
  const temporalCli = findTemporalCli();
  if (!temporalCli) throw new Error(temporalCliMissingMessage());
  const root = mkdtempSync(path.join(tmpdir(), 'lifeboat-bench-'));
  chmodSync(root, 0o755); // the postgres OS user reaches its cluster and pgBackRest's files inside
  const accessKey = `bench-${randomBytes(4).toString('hex')}`;
  const secretKey = randomBytes(18).toString('hex');
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const minio = await startMinio({ accessKey, secretKey, baseDir: root });
    stops.push(() => minio.destroy());
    await createBucket(minio.endpoint, accessKey, secretKey, BUCKET);

    let pgBackRest: Stack['pgBackRest'];
    const settings: Record<string, string> = { max_wal_size: "'4GB'", checkpoint_timeout: "'30min'", full_page_writes: 'on' };
    const binary = findOnPath('pgbackrest');
    const dir = path.join(root, 'pgbackrest');
    const configFile = path.join(dir, 'pgbackrest.conf');
    let tlsPort = 0;
    if (binary) {
      const tls = await startTlsMinio(root, accessKey, secretKey);
      tlsPort = tls.port;
      stops.push(async () => void (await tls.process.stop(10_000)));
      for (const sub of ['log', 'lock', 'spool']) mkdirSync(path.join(dir, sub), { recursive: true });
      // pgBackRest needs WAL archiving for an online backup; segments finished before the config exists are retried.
      settings.archive_mode = 'on';
      settings.archive_command = `'${archiveCommand(binary, configFile)}'`;
    }
    const postgres = await startPostgresCluster({ superuserPassword: `bench-${randomBytes(8).toString('hex')}`, baseDir: root, settings });
    stops.push(() => postgres.stop());
    if (!binary) {
      pgBackRest = { missing: 'pgbackrest is not installed (Debian: apt-get install pgbackrest)' };
    } else {
      writeFileSync(configFile, pgBackRestConfig(dir, tlsPort, accessKey, secretKey, postgres), { mode: 0o640 });
      const owner = postgresUser();
      if (owner) for (const file of [dir, configFile, ...['log', 'lock', 'spool'].map((sub) => path.join(dir, sub))]) chownSync(file, owner.uid, owner.gid);
      const command = (args: string[]): [string, string[]] => {
        const argv = [`--config=${configFile}`, `--stanza=${PGBACKREST_STANZA}`, ...args];
        return owner ? ['runuser', ['-u', 'postgres', '--', binary, ...argv]] : [binary, argv];
      };
      try {
        const [program, args] = command(['stanza-create']);
        execFileSync(program, args, { stdio: 'pipe' });
        pgBackRest = { configFile, command, archiveCommand: archiveCommand(binary, configFile), version: execFileSync(binary, ['version']).toString().trim() };
      } catch (error) {
        const detail = (error as { stderr?: Buffer }).stderr?.toString() || String(error);
        pgBackRest = { missing: `pgbackrest stanza-create failed: ${detail.trim()}` };
      }
    }
    log(`PostgreSQL on 127.0.0.1:${postgres.port}, MinIO at ${minio.endpoint}`);

    const temporal = await startTemporalDevServer({ binary: temporalCli, ui: false, logFile: path.join(root, 'temporal.log') });
    stops.push(() => temporal.stop());
    const awsCli = existsSync('/usr/bin/aws') ? '/usr/bin/aws' : findOnPath('aws');
    return {
      root,
      postgres,
      minio,
      temporal,
      s3: { endpoint: minio.endpoint, accessKey, secretKey, bucket: BUCKET },
      awsCli,
      pgBackRest,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
