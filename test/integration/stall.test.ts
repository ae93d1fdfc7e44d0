/** The stall watch: a live worker whose source stops sending bytes gives up after timeouts.stall and retries. */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { freePort } from '../../src/embedded/ports';
import { tempDir, uniqueName } from '../harness/env';
import { lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';

describe('a source that stalls', () => {
  let server: Server;
  let port: number;
  let requests = 0;
  let worker: WorkerProcess;
  const env = lifeboatEnv(uniqueName('stall'));

  beforeAll(async () => {
    port = await freePort();
    // Sends a little, then nothing, keeping the connection open: a hung export.
    server = createServer((_request, response) => {
      requests += 1;
      response.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      response.write(Buffer.alloc(64 * 1024, 1));
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('is stopped after timeouts.stall, retried, and reported as stalled', async () => {
    const dir = tempDir('stall');
    const planFile = writePlan(dir, {
      name: 'stalling',
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'export', type: 'http', url: `http://127.0.0.1:${port}/export`, timeout: '5m' }],
      timeouts: { stall: '3s' },
      retries: { maximumAttempts: 2, initialInterval: '1s' },
    });
    const started = Date.now();
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('component "export": no bytes for 3s: the source stalled');
    expect(requests).toBe(2); // retried once, as the plan allows
    expect(Date.now() - started).toBeLessThan(60_000); // long before the 5 m server timeout
  });
});
