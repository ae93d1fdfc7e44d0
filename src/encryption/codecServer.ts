/**
 * Temporal's codec server protocol over node:http, for the Web UI and `temporal --codec-endpoint`:
 * `POST /encode` and `POST /decode` (also under a namespace segment, `/{namespace}/decode`), each taking and
 * returning `{"payloads": [...]}` in proto3 JSON (metadata values and data base64). The `X-Namespace` header
 * names the namespace; one set of keys serves them all. CORS answers only the configured origins.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PayloadCodec } from '@temporalio/common';
import { MalformedPayloadError, payloadFromJson, payloadToJson } from '../temporal/payloadJson';

const MAX_BODY_BYTES = 32 * 1024 * 1024;

class BadRequest extends Error {}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of request) {
    bytes += (chunk as Buffer).length;
    if (bytes > MAX_BODY_BYTES) throw new BadRequest(`the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export interface CodecServerOptions {
  codec: PayloadCodec;
  port: number;
  host: string;
  /** Origins allowed by CORS (the Web UI's, e.g. http://localhost:8233); none: no browser may call it. */
  corsOrigins: string[];
  log?: (line: string) => void;
}

export interface RunningCodecServer {
  server: Server;
  url: string;
  close(): Promise<void>;
}

export async function startCodecServer(options: CodecServerOptions): Promise<RunningCodecServer> {
  const setCors = (request: IncomingMessage, response: ServerResponse) => {
    const origin = request.headers.origin;
    if (!origin || !options.corsOrigins.includes(origin)) return;
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Vary', 'Origin');
    response.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
    response.setHeader('Access-Control-Allow-Headers', 'Content-Type, X-Namespace, Authorization');
    // The Web UI can send the user's credentials ("include cross-origin credentials").
    response.setHeader('Access-Control-Allow-Credentials', 'true');
  };
  const reply = (response: ServerResponse, status: number, body: unknown) => {
    response.writeHead(status, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(body));
  };

  const server = createServer((request, response) => {
    setCors(request, response);
    const route = /^(?:\/[^/]+)?\/(encode|decode)\/?$/.exec(new URL(request.url ?? '/', 'http://codec').pathname)?.[1] as 'encode' | 'decode' | undefined;
    if (request.method === 'OPTIONS') {
      response.writeHead(route ? 204 : 404);
      response.end();
      return;
    }
    if (!route) return reply(response, 404, { message: 'not found: POST /encode or /decode (optionally under /{namespace})' });
    if (request.method !== 'POST') return reply(response, 405, { message: `${route} takes POST` });
    void (async () => {
      try {
        let body: unknown;
        try {
          body = JSON.parse(await readBody(request));
        } catch (error) {
          throw error instanceof BadRequest ? error : new BadRequest('the body is not JSON');
        }
        const listed = (body as { payloads?: unknown } | null)?.payloads;
        if (!Array.isArray(listed)) throw new BadRequest('the body must be {"payloads": [...]}');
        const payloads = listed.map(payloadFromJson);
        const result = route === 'encode' ? await options.codec.encode(payloads) : await options.codec.decode(payloads);
        reply(response, 200, { payloads: result.map(payloadToJson) });
      } catch (error) {
        const status = error instanceof BadRequest || error instanceof MalformedPayloadError ? 400 : 422;
        options.log?.(`${route} for namespace ${String(request.headers['x-namespace'] ?? '-')} failed: ${(error as Error).message}`);
        reply(response, status, { message: (error as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    server,
    url: `http://${host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
