/**
 * The Web UI shows encrypted payloads through `lifeboat codec-server`: a dev server started with
 * `--ui-codec-endpoint`, a worker and CLI with LIFEBOAT_PAYLOAD_KEY_FILE, and headless Chromium reading a
 * backup's result (set id, times) in plain text on the workflow page. Screenshot in `.test-artifacts/webui-codec/`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { freePort } from '../../src/embedded/ports';
import { findTemporalCli, temporalCliMissingMessage } from '../../src/embedded/temporalCli';
import { startTemporalDevServer, type TemporalDevServerHandle } from '../../src/embedded/temporalDevServer';
import { artifactDir, launchChromium } from '../harness/browser';
import { createDatabase, runPgbenchInit, tempDir, uniqueName } from '../harness/env';
import { CLI, eventually, lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';

describe('Web UI with the codec server', () => {
  const dir = tempDir('webui-codec');
  const shots = artifactDir('webui-codec');
  const keyFile = path.join(dir, 'payload.keys');
  let server: TemporalDevServerHandle;
  let codecServer: ChildProcess;
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let browser: Browser;

  beforeAll(async () => {
    const binary = findTemporalCli();
    if (!binary) throw new Error(temporalCliMissingMessage());
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    // The UI's origin must be known to the codec server (CORS), and the codec endpoint to the UI: ports first.
    const [uiPort, codecPort] = [await freePort(), await freePort()];
    const databaseUrl = await createDatabase(uniqueName('webui_codec'));
    await runPgbenchInit(databaseUrl, 1);
    env = lifeboatEnv(uniqueName('webui_codec'), { APPS_DATABASE_URL: databaseUrl, LIFEBOAT_PAYLOAD_KEY_FILE: keyFile });
    codecServer = spawn(process.execPath, [CLI, 'codec-server', '--port', String(codecPort), '--cors-origin', `http://127.0.0.1:${uiPort}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let codecOutput = '';
    codecServer.stdout!.on('data', (chunk: Buffer) => (codecOutput += chunk.toString()));
    codecServer.stderr!.on('data', (chunk: Buffer) => (codecOutput += chunk.toString()));
    await eventually('the codec server', async () => (codecOutput.includes('codec server at') ? true : undefined), 30_000);
    [server, browser] = await Promise.all([
      startTemporalDevServer({ binary, ui: true, uiPort, logFile: path.join(dir, 'temporal.log'), extraArgs: ['--ui-codec-endpoint', `http://127.0.0.1:${codecPort}`] }),
      launchChromium(),
    ]);
    env.TEMPORAL_ADDRESS = server.address;
    worker = await startWorker(env);
  }, 15 * 60_000);

  afterAll(async () => {
    await browser?.close();
    await worker?.stop();
    codecServer?.kill('SIGTERM');
    await server?.stop();
  });

  test("the workflow page shows the decoded result of an encrypted backup", async () => {
    const planFile = writePlan(dir, {
      name: 'webui-codec',
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }],
    });
    const backup = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(backup.code).toBe(0);
    const { workflowId, setId } = JSON.parse(backup.stdout) as { workflowId: string; setId: string };

    const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
    page.setDefaultTimeout(30_000);
    try {
      await page.goto(`${server.uiUrl}/namespaces/default/workflows/${encodeURIComponent(workflowId)}`);
      // Only a decoded payload can show the set id: Temporal stores it encrypted.
      await page.getByText(setId).first().waitFor({ state: 'visible' });
      await page.screenshot({ path: path.join(shots, 'decoded-result.png'), fullPage: true });
    } catch (error) {
      await page.screenshot({ path: path.join(shots, 'failure.png'), fullPage: true }).catch(() => undefined);
      throw error;
    } finally {
      await page.close();
    }
  });
});
