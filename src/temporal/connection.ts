/** Connection settings from the environment, shared by the CLI and the worker. */
import { randomBytes } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../encryption/payloadCodec';
import { DEFAULT_TASK_QUEUE } from './names';

export interface TemporalSettings {
  /** host:port of the Temporal frontend (TEMPORAL_ADDRESS, default localhost:7233). */
  address: string;
  /** TEMPORAL_NAMESPACE, default "default". */
  namespace: string;
  /** LIFEBOAT_TASK_QUEUE, default "lifeboat". */
  taskQueue: string;
}

export function temporalSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalSettings {
  return {
    address: env.TEMPORAL_ADDRESS || 'localhost:7233',
    namespace: env.TEMPORAL_NAMESPACE || 'default',
    taskQueue: env.LIFEBOAT_TASK_QUEUE || DEFAULT_TASK_QUEUE,
  };
}

export class TemporalUnreachableError extends Error {
  constructor(address: string, cause: Error) {
    super(`cannot connect to Temporal at ${address}: ${cause.message}. Start one with \`npm start\` (embedded) or set TEMPORAL_ADDRESS`);
    this.name = 'TemporalUnreachableError';
  }
}

export async function connectClient(settings: TemporalSettings): Promise<{ client: Client; connection: Connection }> {
  // Payload encryption (when configured) applies to every client: starts, schedules, queries, results.
  const dataConverter = dataConverterFromEnv();
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: settings.address, connectTimeout: '10s' });
  } catch (error) {
    throw new TemporalUnreachableError(settings.address, error as Error);
  }
  return { client: new Client({ connection, namespace: settings.namespace, dataConverter }), connection };
}

/** Runs `action` with a client connected as the environment says, and closes the connection afterwards. */
export async function withTemporalClient<T>(action: (client: Client, settings: TemporalSettings) => Promise<T>): Promise<T> {
  const settings = temporalSettingsFromEnv();
  const { client, connection } = await connectClient(settings);
  try {
    return await action(client, settings);
  } finally {
    await connection.close();
  }
}

/** A suffix that makes workflow ids unique per start while keeping them readable and time-ordered. */
export function uniqueRunSuffix(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
