import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Connection } from '@temporalio/client';
import { assertPortFree, freePort } from './ports';
import { exitSummary, sleep, spawnLogged, type LogFn, type ManagedProcess } from './processes';

export interface TemporalDevServerOptions {
  /** Path to the `temporal` CLI (see ensureTemporalCli). */
  binary: string;
  ip?: string;
  /** gRPC frontend port; a free one when omitted. */
  port?: number;
  /** HTTP API port (TEMPORAL_HTTP_ADDRESS, for `backup run`); a free one when omitted. */
  httpPort?: number;
  /** Web UI port; a free one when omitted and the UI is on. */
  uiPort?: number;
  /** Serve the Web UI (default true); false passes --headless. */
  ui?: boolean;
  /** SQLite file to persist to; without it everything is lost when the process ends. */
  dbFilename?: string;
  namespace?: string;
  log?: LogFn;
  /** Where the server's output goes; a fresh temp dir when omitted. */
  logFile?: string;
  /** Extra flags, e.g. ['--dynamic-config-value', 'frontend.enableUpdateWorkflowExecution=true']. */
  extraArgs?: string[];
  /** How long to wait for the frontend to answer (default 60 s). */
  readyTimeoutMs?: number;
}

export interface TemporalDevServerHandle {
  /** host:port of the gRPC frontend. */
  readonly address: string;
  /** host:port of the HTTP API (what TEMPORAL_HTTP_ADDRESS takes); undefined when not known. */
  readonly httpAddress: string | undefined;
  readonly uiUrl: string | undefined;
  readonly namespace: string;
  /** The current server process (changes on restart); undefined when not known. */
  readonly pid: number | undefined;
  readonly logFile: string | undefined;
  /** SIGTERM, then SIGKILL after 10 s. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would. */
  kill(): void;
  /** Stop (if still running), then start again on the same ports and database file. */
  restart(): Promise<void>;
}

/** Waits until the frontend answers GetSystemInfo and knows the namespace, or throws. */
async function waitForFrontend(
  address: string,
  namespace: string,
  deadline: number,
  died: () => string | undefined,
): Promise<void> {
  let lastError = 'no attempt made';
  while (Date.now() < deadline) {
    const death = died();
    if (death) throw new Error(death);
    let connection: Connection | undefined;
    try {
      connection = await Connection.connect({ address, connectTimeout: '2s' });
      await connection.workflowService.getSystemInfo({});
      // Workers and clients start right after this returns: make sure the namespace is usable too.
      await connection.workflowService.describeNamespace({ namespace });
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
    } finally {
      await connection?.close().catch(() => undefined);
    }
    await sleep(250);
  }
  throw new Error(`Temporal dev server at ${address} did not answer within the deadline (last error: ${lastError})`);
}

/** Starts `temporal server start-dev` and resolves once its frontend answers. */
export async function startTemporalDevServer(options: TemporalDevServerOptions): Promise<TemporalDevServerHandle> {
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const ui = options.ui ?? true;
  const port = options.port ?? (await freePort(ip));
  // Named, so that clients can be told it: the CLI picks a random one otherwise.
  const httpPort = options.httpPort ?? (await freePort(ip));
  // The CLI's default UI port is port+1000, which nobody checked is free.
  const uiPort = ui ? (options.uiPort ?? (await freePort(ip))) : undefined;
  const logFile = options.logFile ?? join(mkdtempSync(join(tmpdir(), 'lifeboat-temporal-')), 'temporal.log');
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  const host = ip.includes(':') ? `[${ip}]` : ip;
  const address = `${host}:${port}`;

  const args = ['server', 'start-dev', '--ip', ip, '--port', String(port), '--http-port', String(httpPort), '--log-level', 'warn'];
  if (uiPort !== undefined) args.push('--ui-port', String(uiPort));
  else args.push('--headless');
  if (options.dbFilename) args.push('--db-filename', options.dbFilename);
  // "default" is always created; naming it again would ask the server to create it twice.
  if (namespace !== 'default') args.push('--namespace', namespace);
  args.push(...(options.extraArgs ?? []));

  let current: ManagedProcess | undefined;

  const launch = async (): Promise<void> => {
    options.log?.(`starting Temporal dev server on ${address}${uiPort ? ` (UI on ${uiPort})` : ''}`);
    await assertPortFree(port, ip, 'the Temporal dev server');
    await assertPortFree(httpPort, ip, "the Temporal dev server's HTTP API");
    if (uiPort !== undefined) await assertPortFree(uiPort, ip, 'the Temporal Web UI');
    const proc = spawnLogged(options.binary, args, { logFile });
    current = proc;
    let exit: string | undefined;
    void proc.exited.then((e) => {
      exit = exitSummary('Temporal dev server', e, proc.outputTail(), logFile);
    });
    try {
      await waitForFrontend(address, namespace, Date.now() + readyTimeoutMs, () => exit);
      // An answer from a process that is already gone came from someone else's server on this port.
      await sleep(100);
      if (!proc.running()) throw new Error(exit ?? 'Temporal dev server exited right after starting');
    } catch (error) {
      proc.kill();
      await proc.exited;
      const message = error instanceof Error ? error.message : String(error);
      const tail = exit ? '' : `\n--- last output ---\n${proc.outputTail()}\n--- (full log: ${logFile})`;
      throw new Error(`${message}${tail}`, { cause: error });
    }
  };

  const stop = async (): Promise<void> => {
    await current?.stop(10_000);
  };

  await launch();
  return {
    address,
    httpAddress: `${host}:${httpPort}`,
    uiUrl: uiPort ? `http://${ip}:${uiPort}` : undefined,
    namespace,
    get pid() {
      return current?.running() ? current.pid : undefined;
    },
    logFile,
    stop,
    kill: () => current?.kill(),
    restart: async () => {
      await stop();
      await launch();
    },
  };
}

export interface DownloadedDevServerOptions {
  ip?: string;
  port?: number;
  uiPort?: number;
  ui?: boolean;
  dbFilename?: string;
  namespace?: string;
  /** An existing CLI binary; without it the SDK downloads one (needs internet). */
  binary?: string;
}

/**
 * Fallback through @temporalio/testing's ephemeral server: the SDK downloads the CLI unless `binary` is given.
 * It hides the process, so kill() and restart() are not supported.
 */
export async function startDownloadedDevServer(options: DownloadedDevServerOptions = {}): Promise<TemporalDevServerHandle> {
  // Imported lazily: @temporalio/testing loads the native worker bridge, which plain clients don't need.
  const { TestWorkflowEnvironment } = await import('@temporalio/testing');
  const ip = options.ip ?? '127.0.0.1';
  const namespace = options.namespace ?? 'default';
  const ui = options.ui ?? false;
  const port = options.port ?? (await freePort(ip));
  const uiPort = ui ? (options.uiPort ?? (await freePort(ip))) : undefined;
  const env = await TestWorkflowEnvironment.createLocal({
    server: {
      ip,
      port,
      ui,
      uiPort,
      namespace,
      dbFilename: options.dbFilename,
      log: { format: 'pretty', level: 'warn' },
      executable: options.binary ? { type: 'existing-path', path: options.binary } : undefined,
    },
  });
  const notSupported = (what: string): Error =>
    new Error(`${what} is not supported by the downloaded dev server (it hides its process); use startTemporalDevServer with a CLI binary`);
  return {
    address: env.address,
    httpAddress: undefined,
    uiUrl: uiPort ? `http://${ip}:${uiPort}` : undefined,
    namespace,
    pid: undefined,
    logFile: undefined,
    stop: () => env.teardown(),
    kill: () => {
      throw notSupported('kill()');
    },
    restart: () => Promise.reject(notSupported('restart()')),
  };
}
