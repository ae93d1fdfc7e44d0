/**
 * The HTTP export engine against a real HTTP server started here (a validator's admin API, as far as
 * Lifeboat can tell): the engine on its own (streaming, backpressure, timeouts, status classification,
 * artifact checks), then whole backups through the CLI, a worker, Temporal, the local store and MinIO.
 */
import { execFile } from 'node:child_process';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import { freePort } from '../../src/embedded/ports';
import { ComponentError } from '../../src/engines/errors';
import { httpEngine } from '../../src/engines/http';
import type { ComponentDump, DumpContext, EngineFacts } from '../../src/engines/types';
import { httpComponentSchema, planSchema, type HttpComponent, type PlanInput } from '../../src/plan/schema';
import { tempDir, testEnv, uniqueName } from '../harness/env';
import { inProcessDumpContext } from '../harness/engines';
import { historyText, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

const execFileAsync = promisify(execFile);

const TOKEN = `lbtok-${randomBytes(24).toString('hex')}`;
const IDENTITIES_PATH = '/api/validator/v0/admin/participant/identities';
const SNAPSHOT_PATH = '/api/validator/v0/admin/domain/data-snapshot';
const IDENTITIES = `${JSON.stringify(
  {
    id: 'participant::1220aa',
    keys: Array.from({ length: 20 }, (_, index) => ({ name: `key-${index}`, keyPair: randomBytes(96).toString('base64') })),
    users: [],
  },
  null,
  2,
)}\n`;

// The large body: 50 MiB of AES-CTR keystream (incompressible, deterministic), served in 64 KiB chunks.
const BLOB_BYTES = 50 * 1024 * 1024;
const BLOB_CHUNK = 64 * 1024;
const BLOB_KEY = randomBytes(32);
const BLOB_IV = randomBytes(16);
function* blobChunks(): Generator<Buffer> {
  const cipher = createCipheriv('aes-256-ctr', BLOB_KEY, BLOB_IV);
  const zeros = Buffer.alloc(BLOB_CHUNK);
  for (let sent = 0; sent < BLOB_BYTES; sent += BLOB_CHUNK) yield cipher.update(zeros);
}
const BLOB_SHA256 = (() => {
  const hash = createHash('sha256');
  for (const chunk of blobChunks()) hash.update(chunk);
  return hash.digest('hex');
})();

/** Validator nodes behind the snapshot endpoint: one healthy, one pruned past any "now", one catching up. */
const NODES = {
  healthy: { prunedBefore: new Date(0), busyFor: 0 },
  pruned: { prunedBefore: new Date('3000-01-01T00:00:00Z'), busyFor: 0 },
  'catching-up': { prunedBefore: new Date(0), busyFor: 2 }, // 429 twice, then relents
} as const;

interface ExportServer {
  base: string;
  /** Requests per path (without query). */
  requests: Map<string, number>;
  /** Query strings received per path, in order. */
  queries: Map<string, string[]>;
  /** Authorization headers received, in order. */
  authorizations: (string | undefined)[];
  blob: { written: number; aborted: number };
  close(): Promise<void>;
}

async function startExportServer(): Promise<ExportServer> {
  const port = await freePort();
  const requests = new Map<string, number>();
  const queries = new Map<string, string[]>();
  const authorizations: (string | undefined)[] = [];
  const blob = { written: 0, aborted: 0 };

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const authorized = (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.headers.authorization === `Bearer ${TOKEN}`) return true;
    json(res, 401, { error: 'unauthorized: missing or invalid bearer token' });
    return false;
  };
  const serveBlob = async (res: ServerResponse) => {
    let closed = false;
    res.on('close', () => {
      closed = true;
      if (!res.writableFinished) blob.aborted += 1;
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(BLOB_BYTES) });
    blob.written = 0;
    for (const chunk of blobChunks()) {
      if (closed) return;
      blob.written += chunk.length;
      // Backpressure on the serving side too: the engine's reading pace sets how much is in flight.
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done).off('close', done);
            resolve();
          };
          res.on('drain', done).on('close', done);
        });
      }
    }
    res.end();
  };

  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    requests.set(url.pathname, (requests.get(url.pathname) ?? 0) + 1);
    queries.set(url.pathname, [...(queries.get(url.pathname) ?? []), url.search]);
    authorizations.push(req.headers.authorization);
    const node = /^\/(healthy|pruned|catching-up)(\/.*)$/.exec(url.pathname);
    if (url.pathname === IDENTITIES_PATH) {
      if (authorized(req, res)) json(res, 200, IDENTITIES);
    } else if (url.pathname === '/blob') {
      if (authorized(req, res)) void serveBlob(res);
    } else if (node && node[2] === SNAPSHOT_PATH) {
      if (!authorized(req, res)) return;
      const config = NODES[node[1] as keyof typeof NODES];
      const timestamp = url.searchParams.get('timestamp');
      if (!timestamp || Number.isNaN(Date.parse(timestamp))) return json(res, 400, { error: 'timestamp is required' });
      if (Date.parse(timestamp) < config.prunedBefore.getTime()) {
        return json(res, 400, { error: `participant has been pruned past ${timestamp}: earliest available is ${config.prunedBefore.toISOString()}` });
      }
      if ((requests.get(url.pathname) ?? 0) <= config.busyFor) return json(res, 429, { error: `not caught up to ${timestamp} yet` }, { 'retry-after': '1' });
      json(res, 200, { data_snapshot: { acs_timestamp: timestamp, acs_snapshot: randomBytes(64).toString('base64') }, migration_id: 1 });
    } else if (url.pathname === '/stall-headers') {
      // Never answers.
    } else if (url.pathname === '/stall-body') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"partial":');
    } else if (url.pathname === '/unavailable') {
      json(res, 503, { error: 'restarting' }, { 'retry-after': '7' });
    } else if (url.pathname === '/echo') {
      // A careless server that echoes the request's headers in its error.
      json(res, 400, { error: 'bad request', headers: req.headers, padding: 'x'.repeat(480) });
    } else if (url.pathname === '/moved') {
      res.writeHead(302, { location: '/elsewhere?secret=1' });
      res.end();
    } else {
      json(res, 404, { error: `no route ${url.pathname}` });
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    queries,
    authorizations,
    blob,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const dir = tempDir('engine-http');
let server: ExportServer;

beforeAll(async () => {
  server = await startExportServer();
});
afterAll(async () => {
  await server?.close();
});

function component(input: Record<string, unknown>): HttpComponent {
  return httpComponentSchema.parse({ name: 'export', type: 'http', tokenFromEnv: 'LIFEBOAT_TEST_HTTP_TOKEN', ...input });
}

function dumpContext(exported: HttpComponent, setStartedAt = new Date()): DumpContext {
  return inProcessDumpContext(planSchema.parse({ name: 'in-process', store: { type: 'local', path: path.join(dir, 'in-process') }, components: [exported] }), exported, setStartedAt);
}

/** Reads a dump to its end: what it streamed and the facts it settled with. */
async function drain(dump: ComponentDump): Promise<{ bytes: number; sha256: string; text: string; facts: EngineFacts }> {
  const hash = createHash('sha256');
  let bytes = 0;
  let head = '';
  const [facts] = await Promise.all([
    dump.finished,
    (async () => {
      for await (const chunk of dump.stream as AsyncIterable<Buffer>) {
        hash.update(chunk);
        bytes += chunk.length;
        if (head.length < 1_000_000) head += chunk.toString('utf8');
      }
    })(),
  ]);
  return { bytes, sha256: hash.digest('hex'), text: head, facts };
}

async function dumpError(exported: HttpComponent): Promise<ComponentError> {
  const error: unknown = await httpEngine
    .dump(exported, dumpContext(exported))
    .then(drain)
    .then(
      () => undefined,
      (failure: unknown) => failure,
    );
  expect(error).toBeInstanceOf(ComponentError);
  return error as ComponentError;
}

describe('http engine, in process', () => {
  beforeAll(() => {
    process.env.LIFEBOAT_TEST_HTTP_TOKEN = `  ${TOKEN}\n`; // trimmed before use
  });
  afterAll(() => {
    delete process.env.LIFEBOAT_TEST_HTTP_TOKEN;
  });

  test('streams the body with the bearer token and records url, status and content type', async () => {
    const exported = component({ url: `${server.base}${IDENTITIES_PATH}` });
    const result = await drain(await httpEngine.dump(exported, dumpContext(exported)));
    expect(result.text).toBe(IDENTITIES);
    expect(result.facts).toEqual({ http: { url: `${server.base}${IDENTITIES_PATH}`, status: 200, contentType: 'application/json' } });
    expect(server.authorizations.at(-1)).toBe(`Bearer ${TOKEN}`);
  });

  test('with timestampParam, asks for the set start and records it as asOf (not in the recorded url)', async () => {
    const startedAt = new Date('2031-05-06T07:08:09.123Z');
    const exported = component({ url: `${server.base}/healthy${SNAPSHOT_PATH}?force=true`, timestampParam: 'timestamp' });
    const result = await drain(await httpEngine.dump(exported, dumpContext(exported, startedAt)));
    expect(result.facts.http).toEqual({ url: `${server.base}/healthy${SNAPSHOT_PATH}`, status: 200, contentType: 'application/json', asOf: startedAt.toISOString() });
    expect(server.queries.get(`/healthy${SNAPSHOT_PATH}`)?.at(-1)).toBe(`?force=true&timestamp=${encodeURIComponent(startedAt.toISOString())}`);
  });

  test('backpressure: an unread dump holds the server back, and the whole 50 MiB arrives intact', async () => {
    const exported = component({ url: `${server.base}/blob` });
    const dump = await httpEngine.dump(exported, dumpContext(exported));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // Socket buffers and two stream buffers, not the body: the server is waiting for us.
    expect(server.blob.written).toBeLessThan(16 * 1024 * 1024);
    const result = await drain(dump);
    expect(result.bytes).toBe(BLOB_BYTES);
    expect(result.sha256).toBe(BLOB_SHA256);
    expect(result.facts.http?.contentType).toBe('application/octet-stream');
  });

  test('abort() hangs up on the server and settles the dump as aborted', async () => {
    const abortedBefore = server.blob.aborted;
    const exported = component({ url: `${server.base}/blob` });
    const dump = await httpEngine.dump(exported, dumpContext(exported));
    const streamFailed = new Promise<unknown>((resolve) => dump.stream.once('error', resolve));
    dump.stream.once('data', () => dump.abort());
    await expect(dump.finished).rejects.toMatchObject({ kind: 'Aborted' });
    await streamFailed;
    for (let waited = 0; server.blob.aborted === abortedBefore && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.blob.aborted).toBe(abortedBefore + 1);
    expect(server.blob.written).toBeLessThan(BLOB_BYTES);
  });

  test('4xx: non-retryable, with the status and the body excerpt; 401 names where the token came from', async () => {
    const pruned = await dumpError(component({ url: `${server.base}/pruned${SNAPSHOT_PATH}`, timestampParam: 'timestamp' }));
    expect(pruned.retryable).toBe(false);
    expect(pruned.kind).toBe('HttpClientError');
    expect(pruned.message).toContain(`HTTP 400 from ${server.base}/pruned${SNAPSHOT_PATH} (as of `);
    expect(pruned.message).toContain('{"error":"participant has been pruned past ');

    process.env.LIFEBOAT_TEST_HTTP_WRONG_TOKEN = 'not-the-token';
    const refused = await dumpError(component({ url: `${server.base}${IDENTITIES_PATH}`, tokenFromEnv: 'LIFEBOAT_TEST_HTTP_WRONG_TOKEN' }));
    delete process.env.LIFEBOAT_TEST_HTTP_WRONG_TOKEN;
    expect(refused).toMatchObject({ retryable: false, kind: 'AuthenticationFailed' });
    expect(refused.message).toContain('HTTP 401');
    expect(refused.message).toContain('unauthorized: missing or invalid bearer token');
    expect(refused.message).toContain('environment variable LIFEBOAT_TEST_HTTP_WRONG_TOKEN');
    expect(refused.message).not.toContain('not-the-token');

    const missing = await dumpError(component({ url: `${server.base}/nothing-here` }));
    expect(missing).toMatchObject({ retryable: false, kind: 'HttpClientError' });
    expect(missing.message).toContain('HTTP 404');
  });

  test('an error body that echoes the token shows it blanked out, and only ~500 bytes of it', async () => {
    const echoed = await dumpError(component({ url: `${server.base}/echo` }));
    expect(echoed.message).toContain('HTTP 400');
    expect(echoed.message).toContain('[token]');
    expect(echoed.message).not.toContain(TOKEN);
    expect(echoed.message).not.toContain(TOKEN.slice(0, 12));
    expect(echoed.message.length).toBeLessThan(800);
  });

  test('redirects are not followed (the token goes only where the plan says)', async () => {
    const moved = await dumpError(component({ url: `${server.base}/moved` }));
    expect(moved).toMatchObject({ retryable: false, kind: 'HttpRedirect' });
    expect(moved.message).toContain(`redirected to ${server.base}/elsewhere:`);
    expect(moved.message).not.toContain('secret=1');
  });

  test('408/429/5xx, refused connections and silence are retryable; 503 shows Retry-After', async () => {
    const unavailable = await dumpError(component({ url: `${server.base}/unavailable` }));
    expect(unavailable).toMatchObject({ retryable: true, kind: 'HttpServerError' });
    expect(unavailable.message).toContain('HTTP 503');
    expect(unavailable.message).toContain('(Retry-After: 7)');

    const refused = await dumpError(component({ url: `http://127.0.0.1:${await freePort()}/x` }));
    expect(refused).toMatchObject({ retryable: true, kind: 'ConnectionFailed' });
    expect(refused.message).toContain('ECONNREFUSED');

    const started = Date.now();
    const noHeaders = await dumpError(component({ url: `${server.base}/stall-headers`, timeout: '700ms' }));
    expect(noHeaders).toMatchObject({ retryable: true, kind: 'Timeout' });
    expect(noHeaders.message).toContain('no bytes from');
    const noBody = await dumpError(component({ url: `${server.base}/stall-body`, timeout: '700ms' }));
    expect(noBody).toMatchObject({ retryable: true, kind: 'Timeout' });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('a missing variable or token file fails at once, naming it', async () => {
    const noVariable = await dumpError(component({ url: `${server.base}${IDENTITIES_PATH}`, tokenFromEnv: 'LIFEBOAT_TEST_NO_SUCH_VARIABLE' }));
    expect(noVariable).toMatchObject({ retryable: false, kind: 'MissingEnvironmentVariable' });
    expect(noVariable.message).toContain('LIFEBOAT_TEST_NO_SUCH_VARIABLE');

    const file = path.join(dir, 'no-such-token-file');
    const noFile = await dumpError(component({ url: `${server.base}${IDENTITIES_PATH}`, tokenFromEnv: undefined, tokenFile: file }));
    expect(noFile).toMatchObject({ retryable: false, kind: 'TokenFileUnreadable' });
    expect(noFile.message).toContain(file);
    expect(noFile.message).toContain('ENOENT');

    const empty = path.join(dir, 'empty-token-file');
    writeFileSync(empty, '\n');
    const emptyFile = await dumpError(component({ url: `${server.base}${IDENTITIES_PATH}`, tokenFromEnv: undefined, tokenFile: empty }));
    expect(emptyFile).toMatchObject({ retryable: false, kind: 'MissingToken' });
  });
});

describe('http engine checkArtifact', () => {
  const SECRET = 'private-key-material-0123456789';
  const check = (body: HttpComponent['body'], content: string | Iterable<Buffer>) =>
    httpEngine.checkArtifact(component({ url: 'http://127.0.0.1/x', body }), Readable.from(typeof content === 'string' ? [Buffer.from(content)] : content));
  const problem = async (body: HttpComponent['body'], content: string | Iterable<Buffer>): Promise<string> => {
    const error: unknown = await check(body, content).then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(ComponentError);
    expect((error as ComponentError).message).not.toContain(SECRET.slice(0, 8));
    return (error as ComponentError).message;
  };

  test('json: whole documents parse, broken ones are named without quoting their content', async () => {
    await expect(check('json', IDENTITIES)).resolves.toBeUndefined();
    await expect(check('json', `\uFEFF  [1, 2, {"a": "${SECRET}"}]  `)).resolves.toBeUndefined();
    expect(await problem('json', IDENTITIES.slice(0, 200))).toContain('truncated');
    expect(await problem('json', `{"key": "${SECRET}" oops}`)).toContain('JSON syntax error');
    expect(await problem('json', '  \n')).toContain('empty');
  });

  test('ndjson: every line parses; the first bad one is named', async () => {
    await expect(check('ndjson', '{"a":1}\n{"b":2}\r\n\n[3]\n')).resolves.toBeUndefined();
    await expect(check('ndjson', '{"a":1}\n{"b":2}')).resolves.toBeUndefined();
    await expect(check('ndjson', '')).resolves.toBeUndefined();
    expect(await problem('ndjson', `{"a":1}\n{"b":2}\n{"c": "${SECRET}`)).toMatch(/^component "export": the artifact line 3 is not valid JSON: it ends before the JSON value does/);
    // Split across chunks, the line numbers still count right.
    expect(await problem('ndjson', [Buffer.from('{"a":1}\n{"b"'), Buffer.from(':2}\n{"c":,}\n{"d":4}\n')])).toContain('line 3 ');
  });

  test('any: read to the end, not parsed', async () => {
    await expect(check('any', [randomBytes(1000)])).resolves.toBeUndefined();
    await expect(check(undefined, '{ not json')).resolves.toBeUndefined();
  });

  test('the artifact is read to its end even when the check fails (the caller checksums the same stream)', async () => {
    const artifact = Readable.from([Buffer.from('{"a":1}\nbroken\n'), Buffer.from('{"b":2}\n'.repeat(10_000))]);
    await expect(httpEngine.checkArtifact(component({ url: 'http://127.0.0.1/x', body: 'ndjson' }), artifact)).rejects.toThrow('line 2');
    expect(artifact.readableEnded).toBe(true);
  });

  test('json over 64 MiB: checked for truncation only, in bounded memory', async () => {
    const record = Buffer.from(`{"k":"${'v'.repeat(1000)}"},`);
    function* large(close: boolean): Generator<Buffer> {
      yield Buffer.from('[');
      const chunk = Buffer.concat(Array.from({ length: 1024 }, () => record)); // ~1 MiB
      for (let index = 0; index < 70; index += 1) yield chunk;
      yield Buffer.from(close ? '{}]\n' : '{"k":"v');
    }
    await expect(check('json', large(true))).resolves.toBeUndefined();
    expect(await problem('json', large(false))).toContain('does not end with "]": it looks truncated');
  });
});

describe('http exports through the CLI, a worker and Temporal', () => {
  const taskQueue = uniqueName('http');
  const localStore = path.join(dir, 'local-store');
  const tokenFile = path.join(dir, 'validator-token');
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };
  const texts: string[] = []; // everything Lifeboat printed or stored, checked for the token at the end

  beforeAll(async () => {
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    env = lifeboatEnv(taskQueue, { VALIDATOR_TOKEN: TOKEN });
    worker = await startWorker(env);
    temporal = await temporalClient();
  });
  afterAll(async () => {
    await worker?.stop();
    await temporal?.close();
  });

  const s3Store = (): PlanInput['store'] => {
    const s3 = testEnv();
    return { type: 's3', bucket: s3.s3Bucket, prefix: 'engine-http', endpoint: s3.s3Endpoint, forcePathStyle: true };
  };
  const planWith = (prefix: string, store: PlanInput['store'], exported: Record<string, unknown>): string =>
    writePlan(dir, { name: uniqueName(prefix).replace(/_/g, '-'), store, components: [{ name: 'export', type: 'http', ...exported } as PlanInput['components'][number]] });

  async function backup(planFile: string): Promise<{ code: number | null; stdout: string; stderr: string; workflowId?: string; millis: number }> {
    const started = Date.now();
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    texts.push(run.stdout, run.stderr);
    const workflowId = run.code === 0 ? (JSON.parse(run.stdout) as { workflowId: string }).workflowId : /backup (\S+) failed/.exec(run.stderr)?.[1];
    if (workflowId) texts.push(await historyText(temporal.client, workflowId));
    return { ...run, workflowId, millis: Date.now() - started };
  }

  async function onlySet(planFile: string): Promise<Manifest> {
    const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    expect(listed.code).toBe(0);
    texts.push(listed.stdout);
    const { sets } = JSON.parse(listed.stdout) as { sets: Manifest[] };
    expect(sets).toHaveLength(1);
    return sets[0];
  }

  async function verify(planFile: string, setId: string): Promise<void> {
    const verified = await runCli(['backup', 'verify', '--plan', planFile, setId], { env });
    texts.push(verified.stdout, verified.stderr);
    expect(verified.stdout).toContain(`set ${setId} verified`);
    expect(verified.code).toBe(0);
  }

  test("a validator's identities into the local store: zstd by default, facts recorded, verified, byte-identical", async () => {
    const before = server.requests.get(IDENTITIES_PATH) ?? 0;
    const planFile = planWith('identities', { type: 'local', path: localStore }, { url: `${server.base}${IDENTITIES_PATH}`, tokenFromEnv: 'VALIDATOR_TOKEN', body: 'json' });
    const run = await backup(planFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const manifest = await onlySet(planFile);
    const [recorded] = manifest.components;
    expect(recorded).toMatchObject({ type: 'http', format: 'http-body', compression: { algorithm: 'zstd', level: 3 } });
    expect(recorded.key).toMatch(/\/export\.body\.zst$/);
    expect(recorded.http).toEqual({ url: `${server.base}${IDENTITIES_PATH}`, status: 200, contentType: 'application/json' });
    await verify(planFile, manifest.setId);
    const stored = path.join(localStore, recorded.key);
    texts.push(readFileSync(path.join(localStore, path.dirname(recorded.key), 'manifest.json'), 'utf8'));
    const { stdout } = await execFileAsync('zstd', ['-q', '-d', '-c', stored], { encoding: 'utf8' });
    expect(stdout).toBe(IDENTITIES);
    expect(server.requests.get(IDENTITIES_PATH)).toBe(before + 1);
  });

  test('tokenFile: the token is read from a file (trimmed) on the worker', async () => {
    const planFile = planWith('token-file', { type: 'local', path: localStore }, { url: `${server.base}${IDENTITIES_PATH}`, tokenFile, body: 'json' });
    const run = await backup(planFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.authorizations.at(-1)).toBe(`Bearer ${TOKEN}`);
    const manifest = await onlySet(planFile);
    expect(manifest.components[0].http?.status).toBe(200);
  });

  test('a data snapshot "as of" the set start into MinIO: asOf recorded, the server asked for exactly it, verified', async () => {
    const planFile = planWith('snapshot', s3Store(), { url: `${server.base}/healthy${SNAPSHOT_PATH}`, tokenFromEnv: 'VALIDATOR_TOKEN', timestampParam: 'timestamp', body: 'json' });
    const run = await backup(planFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const manifest = await onlySet(planFile);
    const facts = manifest.components[0].http;
    expect(facts).toEqual({ url: `${server.base}/healthy${SNAPSHOT_PATH}`, status: 200, contentType: 'application/json', asOf: manifest.startedAt });
    expect(server.queries.get(`/healthy${SNAPSHOT_PATH}`)?.at(-1)).toBe(`?timestamp=${encodeURIComponent(manifest.startedAt)}`);
    await verify(planFile, manifest.setId);
  });

  test('a 50 MiB body streams into MinIO: the stored bytes are the served bytes', async () => {
    const planFile = planWith('large', s3Store(), { url: `${server.base}/blob`, tokenFromEnv: 'VALIDATOR_TOKEN', compression: { algorithm: 'none' } });
    const run = await backup(planFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const manifest = await onlySet(planFile);
    expect(manifest.components[0]).toMatchObject({ bytes: BLOB_BYTES, sha256: BLOB_SHA256, http: { status: 200, contentType: 'application/octet-stream' } });
    await verify(planFile, manifest.setId); // re-reads the object from MinIO and checks its sha256
  });

  test('400 (pruned past the timestamp): fails at once with the status and the body, one request, exit 1', async () => {
    const before = server.requests.get(`/pruned${SNAPSHOT_PATH}`) ?? 0;
    const planFile = planWith('pruned', { type: 'local', path: localStore }, { url: `${server.base}/pruned${SNAPSHOT_PATH}`, tokenFromEnv: 'VALIDATOR_TOKEN', timestampParam: 'timestamp' });
    const run = await backup(planFile);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(`HTTP 400 from ${server.base}/pruned${SNAPSHOT_PATH} (as of `);
    expect(run.stderr).toContain('{"error":"participant has been pruned past ');
    expect(run.workflowId).toBeDefined();
    expect(server.requests.get(`/pruned${SNAPSHOT_PATH}`)).toBe(before + 1); // not retried...
    expect(run.millis).toBeLessThan(20_000); // ...where eight attempts would take minutes
    const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    expect((JSON.parse(listed.stdout) as { sets: Manifest[] }).sets).toEqual([]);
  });

  test('429 (not caught up yet): retried with backoff until the server relents', async () => {
    const planFile = planWith('catching-up', { type: 'local', path: localStore }, { url: `${server.base}/catching-up${SNAPSHOT_PATH}`, tokenFromEnv: 'VALIDATOR_TOKEN', timestampParam: 'timestamp', body: 'json' });
    const run = await backup(planFile);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(server.requests.get(`/catching-up${SNAPSHOT_PATH}`)).toBe(3);
    const asked = server.queries.get(`/catching-up${SNAPSHOT_PATH}`) ?? [];
    expect(new Set(asked).size).toBe(1); // every attempt asked for the same instant
    const manifest = await onlySet(planFile);
    expect(manifest.components[0]).toMatchObject({ attempt: 3, http: { status: 200, asOf: manifest.startedAt } });
    expect(run.millis).toBeGreaterThanOrEqual(6_000); // waited 2 s, then 4 s
    // The last failed attempt is in the history, with the server's words and its Retry-After.
    expect(await historyText(temporal.client, run.workflowId!)).toContain('HTTP 429');
  });

  test('the token appears nowhere: not in stdout, stderr, history, manifests or the worker log', () => {
    expect(texts.length).toBeGreaterThan(10);
    for (const text of [...texts, worker.output()]) expect(text).not.toContain(TOKEN);
    expect(texts.join('\n')).toContain('VALIDATOR_TOKEN'); // the reference travels, the secret does not
  });
});
