/**
 * Where Temporal is, from the environment, shared by the CLI and the worker. Free of the Temporal SDK: the CLI's
 * fast path (`backup run` over the HTTP API) reads it without loading the gRPC client.
 */
import { randomBytes } from 'node:crypto';
import { DEFAULT_TASK_QUEUE } from './names';

export interface TemporalSettings {
  /** host:port of the Temporal frontend (TEMPORAL_ADDRESS, default localhost:7233). */
  address: string;
  /** TEMPORAL_NAMESPACE, default "default". */
  namespace: string;
  /** LIFEBOAT_TASK_QUEUE, default "lifeboat". */
  taskQueue: string;
  /**
   * TEMPORAL_HTTP_ADDRESS: the same frontend's HTTP API (host:port or an http:// URL; Temporal's default port
   * is 7243). When set, `backup run` starts its workflow and waits for it over HTTP (src/temporal/httpApi.ts);
   * unset, everything goes over gRPC.
   */
  httpAddress?: string;
}

export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.LIFEBOAT_TASK_QUEUE || DEFAULT_TASK_QUEUE,
    httpAddress: env.TEMPORAL_HTTP_ADDRESS || undefined,
  };
}

export class TemporalUnreachableError extends Error {
  constructor(address: string, cause: Error, setting = 'TEMPORAL_ADDRESS') {
    super(`cannot connect to Temporal at ${address}: ${cause.message}. Start one with \`npm start\` (embedded) or set ${setting}`);
    this.name = 'TemporalUnreachableError';
  }
}

/** A suffix that makes workflow ids unique per start while keeping them readable and time-ordered. */
export function uniqueRunSuffix(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
