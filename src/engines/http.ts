/**
 * HTTP exports: fetches an export endpoint (a validator's identities, a data snapshot "as of" the set's start)
 * with a bearer token and streams the body, unchanged, as the artifact. Status codes are classified for
 * Temporal's retry policy: 408, 429 and 5xx are worth retrying ("not caught up yet"), other 4xx are not
 * ("pruned past that timestamp", "wrong token") and fail at once with the server's own words.
 *
 * node:http rather than fetch: fetch (undici) gives up on slow headers and idle bodies after its own fixed
 * 300 s timeouts, which an export that takes minutes to prepare would hit; here `timeout` is the only one.
 */
import { readFile } from 'node:fs/promises';
import http, { type ClientRequest, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { Readable } from 'node:stream';
import type { ComponentBackup, HttpFacts } from '../catalog/manifest';
import { durationMs, type HttpComponent } from '../plan/schema';
import { ComponentError, resolveEnvReference } from './errors';
import type { ComponentDump, DumpContext, Engine } from './types';

/** How much of an error response's body goes into the message. */
const EXCERPT_BYTES = 500;
/** JSON up to this size is parsed whole by checkArtifact; beyond it, only checked for truncation. */
const JSON_PARSE_LIMIT = 64 * 1024 * 1024;

/** The URL as recorded and shown: no query (it may carry the timestamp, or whatever else), no userinfo. */
function displayUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The bearer token, trimmed; undefined when the plan names none (an endpoint without authentication). */
async function readToken(component: HttpComponent): Promise<string | undefined> {
  let token: string;
  let source: string;
  if (component.tokenFromEnv) {
    token = resolveEnvReference(component.name, component.tokenFromEnv, 'bearer token');
    source = `environment variable ${component.tokenFromEnv}`;
  } else if (component.tokenFile) {
    source = `token file ${component.tokenFile}`;
    try {
      token = await readFile(component.tokenFile, 'utf8');
    } catch (error) {
      const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
      throw new ComponentError(component.name, `cannot read the ${source} (${reason}): mount or create it where the worker runs`, false, 'TokenFileUnreadable');
    }
  } else {
    return undefined;
  }
  token = token.trim();
  if (token === '') throw new ComponentError(component.name, `the ${source} is empty: it must hold the bearer token`, false, 'MissingToken');
  return token;
}

/** Calls `onIdle` once nothing has arrived for `ms` while Lifeboat was waiting for the server. */
class IdleTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  constructor(
    private readonly ms: number,
    private readonly onIdle: () => void,
  ) {}
  arm(): void {
    this.disarm();
    if (!this.stopped) this.timer = setTimeout(this.onIdle, this.ms);
  }
  disarm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
  /** For good: a settled dump must not be kept alive (or failed) by a timer re-armed on the way out. */
  stop(): void {
    this.stopped = true;
    this.disarm();
  }
}

/** Network-level failures: retryable (the server may be restarting), except those no retry can fix. */
function classifyRequestError(component: string, where: string, error: unknown): ComponentError {
  if (error instanceof ComponentError) return error;
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/.test(code)) {
    return new ComponentError(component, `TLS failure talking to ${where}: ${message}; fix the server's certificate or the URL`, false, 'TlsFailed');
  }
  if (code.startsWith('HPE_')) {
    return new ComponentError(component, `${where} does not answer in HTTP (${message}): check the URL's scheme and port`, false, 'ProtocolError');
  }
  return new ComponentError(component, `cannot reach ${where}: ${message}; will retry`, true, 'ConnectionFailed');
}

/** Up to EXCERPT_BYTES of an error response's body, on one line, with the token (if echoed) blanked out. */
async function bodyExcerpt(response: IncomingMessage, idle: IdleTimer, token: string | undefined): Promise<string> {
  // Read a token's length more than shown, so an echoed token cut at the edge is still recognised.
  const wanted = EXCERPT_BYTES + (token?.length ?? 0);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    idle.arm();
    for await (const chunk of response as AsyncIterable<Buffer>) {
      idle.arm();
      chunks.push(chunk);
      size += chunk.length;
      if (size >= wanted) break;
    }
  } catch {
    // Best effort: the status alone still says what happened.
  } finally {
    idle.disarm();
  }
  let text = Buffer.concat(chunks).subarray(0, wanted).toString('utf8');
  if (token) text = text.split(token).join('[token]');
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is being removed
  text = text.replace(/[\u0000-\u001f\u007f\s]+/g, ' ').trim();
  return text.length > EXCERPT_BYTES ? `${text.slice(0, EXCERPT_BYTES)}...` : text;
}

/** A non-2xx answer as the ComponentError an operator can act on; the retryable ones say so. */
function statusError(component: HttpComponent, where: string, response: IncomingMessage, excerpt: string): ComponentError {
  const status = response.statusCode ?? 0;
  const said = `HTTP ${status} from ${where}${excerpt ? `: ${excerpt}` : ' (empty body)'}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfter = response.headers['retry-after']?.slice(0, 64);
    const kind = status === 429 ? 'HttpTooManyRequests' : status === 408 ? 'HttpRequestTimeout' : 'HttpServerError';
    return new ComponentError(component.name, `${said}${retryAfter ? ` (Retry-After: ${retryAfter})` : ''}; will retry`, true, kind);
  }
  if (status === 401 || status === 403) {
    const source = component.tokenFromEnv ? `environment variable ${component.tokenFromEnv}` : component.tokenFile ? `token file ${component.tokenFile}` : 'tokenFromEnv or tokenFile (the plan gives none)';
    return new ComponentError(component.name, `${said}; the token was refused: check the ${source}`, false, 'AuthenticationFailed');
  }
  if (status >= 300 && status < 400) {
    const location = response.headers.location;
    let target = '';
    if (location) {
      try {
        target = ` to ${displayUrl(new URL(location, where))}`;
      } catch {
        target = '';
      }
    }
    // Not followed on purpose: the token goes only to the address the plan names.
    return new ComponentError(component.name, `${said}; redirected${target}: Lifeboat does not follow redirects, set the plan's url to the final address`, false, 'HttpRedirect');
  }
  return new ComponentError(component.name, said, false, status >= 400 ? 'HttpClientError' : 'HttpUnexpectedStatus');
}

async function dumpHttp(component: HttpComponent, context: DumpContext): Promise<ComponentDump> {
  const token = await readToken(component);
  const url = new URL(component.url);
  // Retries of the same set ask for the same instant: the set's start, not the attempt's.
  const asOf = component.timestampParam ? context.setStartedAt.toISOString() : undefined;
  if (component.timestampParam && asOf) url.searchParams.set(component.timestampParam, asOf);
  const where = displayUrl(url);
  const shown = asOf ? `${where} (as of ${asOf})` : where;

  const headers: Record<string, string> = { accept: '*/*', 'user-agent': 'lifeboat' };
  if (token) headers.authorization = `Bearer ${token}`;
  let request: ClientRequest;
  try {
    request = (url.protocol === 'https:' ? https : http).request(url, { method: component.method, headers });
  } catch (error) {
    // e.g. a token with a character a header cannot carry; Node's message names the header, not its value.
    throw new ComponentError(component.name, `cannot send the request to ${shown}: ${(error as Error).message}`, false, 'InvalidRequest');
  }

  // One outcome per dump: the first failure wins, later ones (the sockets closing because of it) are dropped.
  let failure: ComponentError | undefined;
  let onFailure: (error: ComponentError) => void = () => undefined;
  const fail = (error: ComponentError): void => {
    if (failure) return;
    failure = error;
    idle.stop();
    request.destroy();
    onFailure(error);
  };
  const idle = new IdleTimer(durationMs(component.timeout), () =>
    fail(new ComponentError(component.name, `no bytes from ${shown} for ${component.timeout}; will retry`, true, 'Timeout')),
  );
  // Kept for the request's whole life: an 'error' without a listener would crash the worker.
  request.on('error', (error) => fail(classifyRequestError(component.name, shown, error)));

  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    onFailure = reject;
    request.once('response', resolve);
    idle.arm();
    request.end();
  });
  idle.disarm();
  response.on('error', (error) => fail(classifyRequestError(component.name, shown, error)));

  const status = response.statusCode ?? 0;
  if (status < 200 || status >= 300) {
    const error = statusError(component, shown, response, await bodyExcerpt(response, idle, token));
    fail(error);
    throw error;
  }
  // Only a full body is a backup: 202 (an export still being prepared) is retried, 204/206 are refused.
  if (status !== 200 && status !== 203) {
    response.resume();
    const error = new ComponentError(
      component.name,
      status === 202 ? `HTTP 202 from ${shown}: the export is not ready yet; will retry` : `HTTP ${status} from ${shown} is not a complete export (expected 200)`,
      status === 202,
      status === 202 ? 'NotReady' : 'IncompleteExport',
    );
    fail(error);
    throw error;
  }

  const contentType = response.headers['content-type'];
  const facts: HttpFacts = { url: where, status, ...(contentType ? { contentType } : {}), ...(asOf ? { asOf } : {}) };
  // The body is handed on chunk by chunk and the response paused whenever the consumer is full (backpressure).
  // The idle timer runs only while the consumer wants data: a slow store is not the server's silence.
  response.pause();
  let ended = false;
  const stream = new Readable({
    read: () => {
      if (failure) return;
      idle.arm();
      response.resume();
    },
    destroy: (error, callback) => {
      // The consumer gave up before the end (its own failure): settle `finished` and hang up.
      if (!ended) fail(new ComponentError(component.name, `the export from ${shown} was stopped${error ? `: ${error.message}` : ''}`, true, 'Aborted'));
      callback(error);
    },
  });
  const finished = new Promise<{ http: HttpFacts }>((resolve, reject) => {
    onFailure = (error) => {
      stream.destroy(error);
      reject(error);
    };
    response.on('data', (chunk: Buffer) => {
      // push() may run the consumer, and the consumer may abort: `failure` is checked after it.
      if (stream.push(chunk) && !failure) {
        idle.arm();
      } else {
        idle.disarm();
        response.pause();
      }
    });
    response.on('end', () => {
      if (failure) return;
      if (!response.complete) {
        fail(new ComponentError(component.name, `the connection to ${shown} closed before the whole body arrived; will retry`, true, 'ConnectionFailed'));
        return;
      }
      ended = true;
      idle.stop();
      stream.push(null);
      resolve({ http: facts });
    });
  });
  // Until the caller awaits `finished`, a rejection here is reported through the stream instead.
  finished.catch(() => undefined);
  return {
    stream,
    finished,
    abort: () => fail(new ComponentError(component.name, `the export from ${shown} was aborted`, true, 'Aborted')),
  };
}

/** First and last bytes that are not whitespace (nor a UTF-8 byte order mark at the start), in constant memory. */
class EdgeBytes {
  first: number | undefined;
  last: number | undefined;
  see(chunk: Buffer): void {
    for (let index = chunk.length - 1; index >= 0; index -= 1) {
      if (!isJsonWhitespace(chunk[index])) {
        this.last = chunk[index];
        break;
      }
    }
    for (let index = 0; this.first === undefined && index < chunk.length; index += 1) {
      const byte = chunk[index];
      if (!isJsonWhitespace(byte) && byte !== 0xef && byte !== 0xbb && byte !== 0xbf) this.first = byte;
    }
  }
  /** What looks wrong about a value too large to parse: only that it ends without closing what it opened. */
  truncation(): string | undefined {
    if (this.first === undefined) return 'is empty, not JSON';
    const closer = CLOSERS[this.first];
    if (closer !== undefined && this.last !== closer) {
      return `does not end with "${String.fromCharCode(closer)}": it looks truncated (JSON over ${JSON_PARSE_LIMIT / 1024 / 1024} MiB is checked only for truncation)`;
    }
    return undefined;
  }
}

const CLOSERS: Record<number, number> = { 0x7b: 0x7d, 0x5b: 0x5d, 0x22: 0x22 }; // { } [ ] " "

function isJsonWhitespace(byte: number): boolean {
  return byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09;
}

/**
 * Why `text` is not JSON, or undefined when it is. The parser's own message is not used: V8 quotes the
 * text around the error, and these artifacts may hold private keys.
 */
function jsonProblem(bytes: Buffer): string | undefined {
  try {
    JSON.parse(bytes.toString('utf8').replace(/^\uFEFF/, ''));
    return undefined;
  } catch (error) {
    const message = (error as Error).message;
    const position = /at position (\d+)/.exec(message)?.[1];
    const what = /end of JSON input|Unterminated/i.test(message) ? 'it ends before the JSON value does (truncated)' : 'JSON syntax error';
    return `is not valid JSON: ${what}${position ? ` at character ${position}` : ''}`;
  }
}

/** body: json. Parsed whole up to JSON_PARSE_LIMIT (a streaming parser would be a dependency); beyond, checked for truncation. */
class JsonDocumentCheck {
  private chunks: Buffer[] | undefined = [];
  private size = 0;
  private readonly edges = new EdgeBytes();
  write(chunk: Buffer): void {
    this.edges.see(chunk);
    this.size += chunk.length;
    if (this.chunks && this.size <= JSON_PARSE_LIMIT) this.chunks.push(chunk);
    else this.chunks = undefined;
  }
  end(): string | undefined {
    if (this.edges.first === undefined) return 'is empty, not JSON';
    return this.chunks ? jsonProblem(Buffer.concat(this.chunks)) : this.edges.truncation();
  }
}

/** body: ndjson. Every non-blank line must be one JSON value; memory is bounded by the longest line (or the limit). */
class JsonLinesCheck {
  private line: Buffer[] = [];
  private lineSize = 0;
  /** Set once the current line is over the limit: it is then only checked for truncation. */
  private longLine: EdgeBytes | undefined;
  private lineNumber = 0;
  private problem: string | undefined;
  write(chunk: Buffer): void {
    if (this.problem) return; // the rest is still read: the caller checksums the same stream
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1 && !this.problem; newline = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, newline));
      this.endLine();
      start = newline + 1;
    }
    if (!this.problem) this.append(chunk.subarray(start));
  }
  end(): string | undefined {
    if (!this.problem && (this.lineSize > 0 || this.longLine)) this.endLine();
    return this.problem;
  }
  private append(part: Buffer): void {
    if (part.length === 0) return;
    if (!this.longLine && this.lineSize + part.length > JSON_PARSE_LIMIT) {
      this.longLine = new EdgeBytes();
      for (const buffered of this.line) this.longLine.see(buffered);
      this.line = [];
    }
    if (this.longLine) this.longLine.see(part);
    else this.line.push(part);
    this.lineSize += part.length;
  }
  private endLine(): void {
    this.lineNumber += 1;
    const bytes = Buffer.concat(this.line);
    const problem = this.longLine ? this.longLine.truncation() : bytes.every(isJsonWhitespace) ? undefined : jsonProblem(bytes);
    if (problem) this.problem = `line ${this.lineNumber} ${problem}`;
    this.line = [];
    this.lineSize = 0;
    this.longLine = undefined;
  }
}

/** What the recorded content type says the body is: "application/json" and "+json" types, or NDJSON / JSON Lines. */
export function bodyKindOfContentType(contentType: string | undefined): 'json' | 'ndjson' | undefined {
  const type = contentType?.split(';')[0].trim().toLowerCase() ?? '';
  if (/^application\/(x-)?(ndjson|jsonl|json-seq|jsonlines)$/.test(type)) return 'ndjson';
  if (type === 'application/json' || /^[a-z]+\/[a-z0-9.+-]+\+json$/.test(type)) return 'json';
  return undefined;
}

/**
 * Reads the artifact to its end (the caller checksums the same stream) and parses it when the plan declares
 * the body as json or ndjson, or, when the plan says nothing, when the content type recorded at backup says so.
 */
async function checkHttpArtifact(component: HttpComponent, artifact: Readable, recorded?: ComponentBackup): Promise<void> {
  const kind = component.body ?? bodyKindOfContentType(recorded?.http?.contentType);
  const check = kind === 'json' ? new JsonDocumentCheck() : kind === 'ndjson' ? new JsonLinesCheck() : undefined;
  for await (const chunk of artifact as AsyncIterable<Buffer>) check?.write(chunk);
  const problem = check?.end();
  if (problem) throw new ComponentError(component.name, `the artifact ${problem}`, false, 'ArtifactUnreadable');
}

export const httpEngine: Engine<HttpComponent> = {
  type: 'http',
  format: 'http-body',
  extension: 'body',
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: dumpHttp,
  checkArtifact: checkHttpArtifact,
};
