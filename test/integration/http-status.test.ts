/** Which 2xx answers count as a backup: only a full body (200/203); 202 is retried, 204/206 refused. */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { freePort } from '../../src/embedded/ports';
import { ComponentError } from '../../src/engines/errors';
import { httpEngine } from '../../src/engines/http';
import { httpComponentSchema, planSchema } from '../../src/plan/schema';
import { tempDir } from '../harness/env';
import { inProcessDumpContext } from '../harness/engines';

describe('http export status codes', () => {
  let server: Server;
  let base = '';

  beforeAll(async () => {
    const port = await freePort();
    server = createServer((request, response) => {
      const status = Number(request.url?.slice(1));
      response.writeHead(status, { 'Content-Type': 'application/json' }).end(status === 204 ? undefined : '{"partial": true}');
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  async function outcome(status: number): Promise<ComponentError | 'stored'> {
    const exported = httpComponentSchema.parse({ name: 'export', type: 'http', url: `${base}/${status}` });
    const plan = planSchema.parse({ name: 'codes', store: { type: 'local', path: path.join(tempDir('http-status'), 'store') }, components: [exported] });
    try {
      const dump = await httpEngine.dump(exported, inProcessDumpContext(plan, exported));
      dump.stream.resume();
      await dump.finished;
      return 'stored';
    } catch (error) {
      if (error instanceof ComponentError) return error;
      throw error;
    }
  }

  test('200 and 203 are stored; 202 is retried as not ready; 204 and 206 are refused', async () => {
    expect(await outcome(200)).toBe('stored');
    expect(await outcome(203)).toBe('stored');
    expect(await outcome(202)).toMatchObject({ retryable: true, kind: 'NotReady', message: expect.stringContaining('not ready yet') });
    expect(await outcome(204)).toMatchObject({ retryable: false, kind: 'IncompleteExport' });
    expect(await outcome(206)).toMatchObject({ retryable: false, kind: 'IncompleteExport' });
  });
});
