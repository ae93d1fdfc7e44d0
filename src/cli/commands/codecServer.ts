/** `lifeboat codec-server`: decodes Lifeboat's encrypted Temporal payloads for the Web UI and the `temporal` CLI. */
import type { Command } from 'commander';
import { startCodecServer } from '../../encryption/codecServer';
import { PAYLOAD_KEY_HELP, payloadCodecFromEnv } from '../../encryption/payloadCodec';
import { portOption, UsageError } from '../errors';

function parseOrigin(value: string, previous: string[]): string[] {
  let origin: string;
  try {
    origin = new URL(value).origin;
  } catch {
    throw new UsageError(`--cors-origin must be an origin such as http://localhost:8233, not "${value}"`);
  }
  if (origin === 'null') throw new UsageError(`--cors-origin must be an http(s) origin such as http://localhost:8233, not "${value}"`);
  return [...previous, origin];
}

export function registerCodecServerCommand(program: Command): void {
  program
    .command('codec-server')
    .description(`serve Temporal's codec server protocol (POST /encode, /decode) with the payload keys (${PAYLOAD_KEY_HELP})`)
    .option('--port <port>', 'port to listen on', portOption('--port'), 8888)
    .option('--host <address>', 'address to listen on (anyone who can reach it can decrypt payloads)', '127.0.0.1')
    .option('--cors-origin <url>', 'an origin allowed to call it from a browser, e.g. the Web UI http://localhost:8233 (repeatable)', parseOrigin, [] as string[])
    .action(async (options: { port: number; host: string; corsOrigin: string[] }) => {
      const codec = payloadCodecFromEnv();
      if (!codec) throw new UsageError(`payload encryption is not configured: set ${PAYLOAD_KEY_HELP}`);
      const running = await startCodecServer({ codec, port: options.port, host: options.host, corsOrigins: options.corsOrigin, log: (line) => console.error(line) });
      console.log(`codec server at ${running.url} (current payload key ${codec.currentKeyId}${options.corsOrigin.length > 0 ? `; CORS for ${options.corsOrigin.join(', ')}` : ''}); Ctrl-C stops it`);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await running.close();
    });
}
