/**
 * Temporal's HTTP API (the frontend's JSON gateway under /api/v1), for the CLI's `backup run`: starting a
 * workflow and waiting for its result this way needs neither the gRPC client nor protobufjs, whose loading is
 * most of the CLI's start (bench/RESULTS.md). Everything else, the worker included, talks gRPC.
 *
 * - Payloads travel whole (metadata and data, base64), never in the API's JSON shorthand, so that the default
 *   payload converter and a payload codec (encryption) apply exactly as over gRPC.
 * - node:http, not fetch: fetch loads undici, about 0.1 s of the start this module exists to save.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { hostname } from 'node:os';
import type { PayloadCodec } from '@temporalio/common';
import { defaultPayloadConverter, fromPayloadsAtIndex, toPayloads } from '@temporalio/common/lib/converter/payload-converter';
import { decode, encode } from '@temporalio/common/lib/internal-non-workflow/codec-helpers';
import { payloadFromJson, payloadToJson, type JsonPayload } from './payloadJson';
import { TemporalUnreachableError } from './settings';

/** The gateway's JSON without payload shorthand, for the request (Content-Type) and the answer (Accept). */
const CONTENT_TYPE = 'application/json+no-payload-shorthand';
/** The server holds a history long poll for about 20 s, then answers with no event: this is only a backstop. */
const LONG_POLL_TIMEOUT_MS = 70_000;
const CALL_TIMEOUT_MS = 30_000;
/** Waiting for a result rides out a server restart or a network blip of about a minute, as the gRPC client's retries do. */
const RESULT_RETRY_DELAYS_MS = [1000, 2000, 4000, 8000, 10_000, 10_000, 10_000, 10_000];
const TRANSIENT_STATUSES = new Set([502, 503, 504]);

/** The HTTP API answered with an error (namespace unknown, host not allowed, ...): its message, and which call. */
export class TemporalHttpError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'TemporalHttpError';
  }
}

/** The workflow closed without a result: `message` is its failure's message, or what closed it. */
export class WorkflowClosedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkflowClosedError';
  }
}

interface JsonFailure {
  message?: string;
}
/** The close event's attributes, as the gateway spells them (protobuf JSON: lowerCamelCase). */
interface CloseEvent {
  workflowExecutionCompletedEventAttributes?: { result?: { payloads?: JsonPayload[] }; newExecutionRunId?: string };
  workflowExecutionFailedEventAttributes?: { failure?: JsonFailure; newExecutionRunId?: string };
  workflowExecutionTimedOutEventAttributes?: { newExecutionRunId?: string };
  workflowExecutionTerminatedEventAttributes?: { reason?: string };
  workflowExecutionCanceledEventAttributes?: object;
  workflowExecutionContinuedAsNewEventAttributes?: { newExecutionRunId?: string };
}

/** `host:port` (http) or an http:// URL, as TEMPORAL_HTTP_ADDRESS gives it; throws a message naming the variable. */
export function httpApiUrl(address: string): URL {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `http://${address}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`TEMPORAL_HTTP_ADDRESS "${address}" is not host:port or an http:// URL (e.g. localhost:7243, Temporal's HTTP port)`);
  }
  if (url.protocol !== 'http:') throw new Error(`TEMPORAL_HTTP_ADDRESS "${address}": only http:// is supported; unset it to use gRPC (TEMPORAL_ADDRESS)`);
  return url;
}

export class TemporalHttpApi {
  private readonly base: URL;
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly identity = `${process.pid}@${hostname()}`;

  /** `codecs` as the data converter's `payloadCodecs`, applied as the SDK's clients apply them (its codec helpers). */
  constructor(
    address: string,
    private readonly namespace: string,
    private readonly codecs: PayloadCodec[] = [],
  ) {
    this.base = httpApiUrl(address);
  }

  /** Starts a workflow; resolves with its run id once Temporal has recorded the start. */
  async startWorkflow(workflowType: string, options: { workflowId: string; taskQueue: string; args: unknown[] }): Promise<string> {
    const payloads = await encode(this.codecs, toPayloads(defaultPayloadConverter, ...options.args) ?? []);
    const started = await this.call<{ runId: string }>('POST', this.workflowPath(options.workflowId), CALL_TIMEOUT_MS, {
      workflowId: options.workflowId,
      workflowType: { name: workflowType },
      taskQueue: { name: options.taskQueue },
      input: { payloads: payloads.map(payloadToJson) },
      identity: this.identity,
      // The server's key for recognising this start if it arrives twice; the gRPC client sends one too.
      requestId: randomUUID(),
    });
    return started.runId;
  }

  /**
   * Waits for the run to close (long polls on its close event) and returns its result; follows the runs it
   * continues into, as the gRPC client's `result()` does. Rejects with WorkflowClosedError when it did not complete.
   */
  async result<T>(workflowId: string, firstRunId: string): Promise<T> {
    let runId = firstRunId;
    let pageToken: string | undefined;
    let failures = 0;
    for (;;) {
      const query = new URLSearchParams({ 'execution.runId': runId, waitNewEvent: 'true', historyEventFilterType: 'HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT', skipArchival: 'true' });
      if (pageToken) query.set('nextPageToken', pageToken);
      let page: { history?: { events?: CloseEvent[] }; nextPageToken?: string };
      try {
        page = await this.call('GET', `${this.workflowPath(workflowId)}/history?${query}`, LONG_POLL_TIMEOUT_MS);
        failures = 0;
      } catch (error) {
        const transient = error instanceof TemporalUnreachableError || (error instanceof TemporalHttpError && TRANSIENT_STATUSES.has(error.status ?? 0));
        if (!transient || failures >= RESULT_RETRY_DELAYS_MS.length) throw error;
        await new Promise((resolve) => setTimeout(resolve, RESULT_RETRY_DELAYS_MS[failures++]));
        continue;
      }
      const event = page.history?.events?.[0];
      if (!event) {
        pageToken = page.nextPageToken || undefined; // the long poll ended with nothing new: ask again from there
        continue;
      }
      const next = this.nextRun(event);
      if (next) {
        runId = next;
        pageToken = undefined;
        continue;
      }
      return this.outcome<T>(event);
    }
  }

  /** Whether the API answers and knows the namespace (for `doctor`); throws what it answered otherwise. */
  async describeNamespace(): Promise<void> {
    await this.call('GET', `/api/v1/namespaces/${encodeURIComponent(this.namespace)}`, CALL_TIMEOUT_MS);
  }

  /** Lets the process exit: the agent keeps its connection open otherwise. */
  close(): void {
    this.agent.destroy();
  }

  private nextRun(event: CloseEvent): string | undefined {
    return (
      event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ||
      event.workflowExecutionCompletedEventAttributes?.newExecutionRunId ||
      event.workflowExecutionFailedEventAttributes?.newExecutionRunId ||
      event.workflowExecutionTimedOutEventAttributes?.newExecutionRunId ||
      undefined
    );
  }

  private async outcome<T>(event: CloseEvent): Promise<T> {
    if (event.workflowExecutionCompletedEventAttributes) {
      const payloads = await decode(this.codecs, (event.workflowExecutionCompletedEventAttributes.result?.payloads ?? []).map(payloadFromJson));
      return fromPayloadsAtIndex<T>(defaultPayloadConverter, 0, payloads);
    }
    if (event.workflowExecutionFailedEventAttributes) {
      throw new WorkflowClosedError(event.workflowExecutionFailedEventAttributes.failure?.message || 'failed, with no message');
    }
    if (event.workflowExecutionTimedOutEventAttributes) throw new WorkflowClosedError('timed out (the workflow execution timeout)');
    if (event.workflowExecutionTerminatedEventAttributes) {
      const reason = event.workflowExecutionTerminatedEventAttributes.reason;
      throw new WorkflowClosedError(`terminated${reason ? `: ${reason}` : ''}`);
    }
    if (event.workflowExecutionCanceledEventAttributes) throw new WorkflowClosedError('canceled');
    throw new TemporalHttpError(`unexpected close event from Temporal's HTTP API: ${JSON.stringify(event).slice(0, 300)}`);
  }

  private workflowPath(workflowId: string): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  }

  private call<T>(method: 'GET' | 'POST', path: string, timeoutMs: number, body?: unknown): Promise<T> {
    const url = new URL(path, this.base);
    const what = `${method} ${url.pathname}`;
    return new Promise<T>((resolve, reject) => {
      const request = http.request(url, { method, agent: this.agent, timeout: timeoutMs, headers: { 'content-type': CONTENT_TYPE, accept: CONTENT_TYPE } }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: { message?: string } | undefined;
          try {
            parsed = JSON.parse(text) as { message?: string };
          } catch {
            parsed = undefined;
          }
          const status = response.statusCode ?? 0;
          if (status >= 200 && status < 300 && parsed !== undefined) resolve(parsed as T);
          else reject(new TemporalHttpError(`Temporal's HTTP API at ${this.base.host} refused ${what} (HTTP ${status}): ${parsed?.message ?? text.trim().slice(0, 200)}`, status));
        });
      });
      request.on('timeout', () => request.destroy(new Error(`no answer to ${what} within ${timeoutMs / 1000} s`)));
      request.on('error', (error) => reject(new TemporalUnreachableError(this.base.host, error, 'TEMPORAL_HTTP_ADDRESS (or unset it to use gRPC)')));
      request.end(body === undefined ? undefined : JSON.stringify(body));
    });
  }
}
