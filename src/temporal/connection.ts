/** The gRPC client, connected as the environment says (src/temporal/settings.ts). */
import { Client, Connection } from '@temporalio/client';
import { dataConverterFromEnv } from '../encryption/payloadCodec';
import { TemporalUnreachableError, temporalSettingsFromEnv, type TemporalSettings } from './settings';

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
