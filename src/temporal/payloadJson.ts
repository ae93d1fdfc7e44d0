/**
 * Temporal payloads in proto3 JSON (metadata values and data in base64): the codec server's protocol
 * (src/encryption/codecServer.ts) and Temporal's HTTP API without payload shorthand (src/temporal/httpApi.ts).
 */
import type { Payload } from '@temporalio/common';

export interface JsonPayload {
  metadata?: Record<string, string> | null;
  data?: string | null;
}

/** A value that is not a payload in proto3 JSON; the message says which part. */
export class MalformedPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPayloadError';
  }
}

export function payloadFromJson(value: unknown): Payload {
  if (value === null || typeof value !== 'object') throw new MalformedPayloadError('every payload must be an object');
  const { metadata, data } = value as JsonPayload;
  if (metadata !== undefined && metadata !== null && typeof metadata !== 'object') throw new MalformedPayloadError('payload metadata must be an object');
  if (data !== undefined && data !== null && typeof data !== 'string') throw new MalformedPayloadError('payload data must be a base64 string');
  const decodedMetadata: Record<string, Uint8Array> = {};
  for (const [name, encoded] of Object.entries(metadata ?? {})) {
    if (typeof encoded !== 'string') throw new MalformedPayloadError(`payload metadata "${name}" must be a base64 string`);
    decodedMetadata[name] = Buffer.from(encoded, 'base64');
  }
  return { metadata: decodedMetadata, data: data ? Buffer.from(data, 'base64') : undefined };
}

export function payloadToJson(payload: Payload): JsonPayload {
  return {
    metadata: Object.fromEntries(Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value).toString('base64')])),
    data: payload.data ? Buffer.from(payload.data).toString('base64') : undefined,
  };
}
