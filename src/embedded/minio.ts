import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { locateBinary } from './binaries';
import { assertPortFree, freePort } from './ports';
import { exitSummary, sleep, spawnLogged, type LogFn, type ManagedProcess } from './processes';

/** A pseudo-version of MinIO's main branch that `go install` builds. */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
export const MINIO_MODULE = 'github.com/minio/minio';
export const MINIO_GO_INSTALL = `go install ${MINIO_MODULE}@${MINIO_VERSION}`;

export function minioMissingMessage(): string {
  return (
    'MinIO (`minio`, the S3 server the tests use) was not found via MINIO_BIN, PATH or $(go env GOPATH)/bin. ' +
    `Build it with \`${MINIO_GO_INSTALL}\` (needs Go; takes several minutes the first time), ` +
    'or set MINIO_BIN to the path of an existing binary.'
  );
}

/** `minio` from env MINIO_BIN, then PATH, then Go's bin dir; undefined when absent. */
export function findMinio(): string | undefined {
  return locateBinary('minio', 'MINIO_BIN')?.path;
}

export interface MinioOptions {
  /** MINIO_ROOT_USER: at least 3 characters. */
  accessKey: string;
  /** MINIO_ROOT_PASSWORD: at least 8 characters. */
  secretKey: string;
  port?: number;
  consolePort?: number;
  /** Object storage directory; a fresh one in the temp dir when omitted. */
  dataDir?: string;
  /** Parent of the temp dir holding logs (and data, when dataDir is omitted). */
  baseDir?: string;
  /** Path to the binary; found with findMinio() when omitted. */
  binary?: string;
  log?: LogFn;
  readyTimeoutMs?: number;
}

export interface MinioHandle {
  /** http://127.0.0.1:PORT */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly port: number;
  readonly consoleUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  /** SIGTERM (SIGKILL after 10 s); data is kept, start() brings it back. */
  stop(): Promise<void>;
  /** SIGKILL; data is kept. */
  kill(): void;
  /** Start again on the same port and data dir; a no-op when running. */
  start(): Promise<void>;
  /** stop(), then remove the temp dir this handle created. */
  destroy(): Promise<void>;
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Starts `minio server` on loopback ports and resolves once it reports live and ready. */
export async function startMinio(options: MinioOptions): Promise<MinioHandle> {
  const binary = options.binary ?? findMinio();
  if (!binary) throw new Error(minioMissingMessage());
  const port = options.port ?? (await freePort('127.0.0.1'));
  const consolePort = options.consolePort ?? (await freePort('127.0.0.1'));
  const root = mkdtempSync(join(options.baseDir ?? tmpdir(), 'lifeboat-minio-'));
  // Data and certs are siblings: any directory inside the data dir would show up as a bucket.
  const dataDir = options.dataDir ?? join(root, 'data');
  const certsDir = join(root, 'certs');
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(certsDir, { recursive: true });
  const logFile = join(root, 'minio.log');
  const endpoint = `http://127.0.0.1:${port}`;
  const args = [
    'server', dataDir,
    '--address', `127.0.0.1:${port}`,
    '--console-address', `127.0.0.1:${consolePort}`,
    // Without this MinIO creates ~/.minio/certs, outside the test's temp dir.
    '--certs-dir', certsDir,
    '--quiet',
  ];
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    MINIO_ROOT_USER: options.accessKey,
    MINIO_ROOT_PASSWORD: options.secretKey,
    MINIO_UPDATE: 'off',
  };
  let current: ManagedProcess | undefined;

  const start = async (): Promise<void> => {
    if (current?.running()) return;
    options.log?.(`starting MinIO on ${endpoint} (data in ${dataDir})`);
    await assertPortFree(port, '127.0.0.1', 'MinIO');
    await assertPortFree(consolePort, '127.0.0.1', 'the MinIO console');
    const proc = spawnLogged(binary, args, { logFile, env });
    current = proc;
    const deadline = Date.now() + (options.readyTimeoutMs ?? 60_000);
    // live: the HTTP server is up; ready: the object layer can take reads and writes.
    while (!((await answers(`${endpoint}/minio/health/live`)) && (await answers(`${endpoint}/minio/health/ready`)))) {
      if (!proc.running()) throw new Error(exitSummary('MinIO', await proc.exited, proc.outputTail(), logFile));
      if (Date.now() > deadline) {
        proc.kill();
        throw new Error(`MinIO at ${endpoint} was not ready within the deadline\n--- last output ---\n${proc.outputTail()}\n--- (full log: ${logFile})`);
      }
      await sleep(200);
    }
  };
  const stop = async (): Promise<void> => {
    await current?.stop(10_000);
  };

  try {
    await start();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    endpoint,
    accessKey: options.accessKey,
    secretKey: options.secretKey,
    port,
    consoleUrl: `http://127.0.0.1:${consolePort}`,
    dataDir,
    logFile,
    get pid() {
      return current?.running() ? current.pid : undefined;
    },
    stop,
    kill: () => current?.kill(),
    start,
    destroy: async () => {
      await stop();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
