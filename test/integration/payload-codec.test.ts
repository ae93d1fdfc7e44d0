/**
 * Payload encryption on real Temporal: with LIFEBOAT_PAYLOAD_KEY_FILE set for the worker and the CLI, a
 * backup's history holds no plaintext plan, set id or timestamps; `lifeboat codec-server` decodes them for
 * the Web UI and for `temporal workflow show --codec-endpoint`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import type { Manifest } from '../../src/catalog/manifest';
import { findTemporalCli } from '../../src/embedded/temporalCli';
import { createDatabase, runPgbenchInit, tempDir, testEnv, uniqueName } from '../harness/env';
import { CLI, historyText, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

const execFileAsync = promisify(execFile);

describe('payload encryption for Temporal', () => {
  const dir = tempDir('payload-codec');
  const taskQueue = uniqueName('payload_codec');
  const keyFile = path.join(dir, 'payload.keys');
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;
  let temporal: { client: Client; close(): Promise<void> };
  let codecServer: ChildProcess | undefined;

  beforeAll(async () => {
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const url = await createDatabase(uniqueName('payload_db'));
    await runPgbenchInit(url, 1);
    env = lifeboatEnv(taskQueue, { PAYROLL_DATABASE_URL: url, LIFEBOAT_PAYLOAD_KEY_FILE: keyFile });
    worker = await startWorker(env);
    temporal = await temporalClient(); // no codec: sees what Temporal stores
  });

  afterAll(async () => {
    codecServer?.kill('SIGTERM');
    await worker?.stop();
    await temporal?.close();
  });

  async function startCodecServer(): Promise<string> {
    const child = spawn(process.execPath, [CLI, 'codec-server', '--port', '0', '--cors-origin', 'http://localhost:8233'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    codecServer = child;
    return new Promise<string>((resolve, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`codec server did not start:\n${output}`)), 30_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        const match = /codec server at (http:\/\/\S+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('close', (code) => reject(new Error(`codec server exited with ${code}:\n${output}`)));
    });
  }

  /** A plan of one PostgreSQL component, into a local store. */
  const writePayrollPlan = (name: string) =>
    writePlan(dir, { name, store: { type: 'local', path: path.join(dir, 'store') }, components: [{ name: 'salaries', type: 'postgres', connection: { urlFromEnv: 'PAYROLL_DATABASE_URL' } }] });

  test('the history holds ciphertext only; the codec server and `temporal --codec-endpoint` decode it', async () => {
    const planName = uniqueName('payroll');
    const planFile = writePayrollPlan(planName);
    // Without --json the CLI follows progress from (encrypted) heartbeats, and prints the (encrypted) result.
    const backup = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env });
    expect(backup.code).toBe(0);
    const workflowId = /started backupPlan (\S+)/.exec(backup.stdout)![1];
    const { sets } = JSON.parse((await runCli(['backups', 'list', '--plan', planFile, '--json'], { env })).stdout) as { sets: Manifest[] };
    const set = sets[0];
    expect(backup.stdout).toContain(`backup set ${set.setId} complete`);

    // Workflow ids are not payloads (Temporal must read them); everything else about the plan is encrypted.
    const history = (await historyText(temporal.client, workflowId)).split(workflowId).join('<workflow id>');
    for (const plaintext of [planName, set.setId, set.startedAt, set.completedAt, set.components[0].startedAt, 'PAYROLL_DATABASE_URL', 'salaries', set.components[0].sha256]) {
      expect(history).not.toContain(plaintext);
    }
    const raw = await temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const started = raw.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
    expect(Buffer.from(started.metadata!.encoding!).toString()).toBe('binary/encrypted');

    // The codec server (the Web UI's protocol) decodes the input back to the plan.
    const codecUrl = await startCodecServer();
    const response = await fetch(`${codecUrl}/decode`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Namespace': 'default', Origin: 'http://localhost:8233' },
      body: JSON.stringify({
        payloads: [{ metadata: Object.fromEntries(Object.entries(started.metadata!).map(([name, value]) => [name, Buffer.from(value).toString('base64')])), data: Buffer.from(started.data!).toString('base64') }],
      }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-allow-origin')).toBe('http://localhost:8233');
    const decoded = ((await response.json()) as { payloads: { data: string }[] }).payloads[0];
    const input = JSON.parse(Buffer.from(decoded.data, 'base64').toString()) as { plan: { name: string; components: { connection: { urlFromEnv: string } }[] } };
    expect(input.plan.name).toBe(planName);
    expect(input.plan.components[0].connection.urlFromEnv).toBe('PAYROLL_DATABASE_URL');

    // The temporal CLI shows the decoded history through it.
    const shown = await execFileAsync(findTemporalCli()!, ['workflow', 'show', '--address', testEnv().temporalAddress, '--workflow-id', workflowId, '--codec-endpoint', codecUrl, '--output', 'json'], {
      maxBuffer: 16 * 1024 * 1024,
    });
    const events = (JSON.parse(shown.stdout) as { events: { eventType: string; workflowExecutionCompletedEventAttributes?: { result: { payloads: { metadata: { encoding: string }; data: string }[] } } }[] }).events;
    const result = events.find((event) => event.eventType === 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED')!.workflowExecutionCompletedEventAttributes!.result.payloads[0];
    expect(Buffer.from(result.metadata.encoding, 'base64').toString()).toBe('json/plain');
    expect(JSON.parse(Buffer.from(result.data, 'base64').toString())).toMatchObject({ plan: planName, setId: set.setId, startedAt: set.startedAt });
  });

  test("over Temporal's HTTP API the CLI encrypts the input and decrypts the result with the same keys", async () => {
    const planName = uniqueName('payroll_http');
    const planFile = writePayrollPlan(planName);
    // gRPC points nowhere: the start and the result go over HTTP, through the codec.
    const overHttp = { ...env, TEMPORAL_HTTP_ADDRESS: testEnv().temporalHttpAddress, TEMPORAL_ADDRESS: '127.0.0.1:1' };
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env: overHttp });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as { workflowId: string; plan: string; setId: string };
    expect(result.plan).toBe(planName);

    const raw = await temporal.client.workflow.getHandle(result.workflowId).fetchHistory();
    const started = raw.events![0].workflowExecutionStartedEventAttributes!.input!.payloads![0];
    expect(Buffer.from(started.metadata!.encoding!).toString()).toBe('binary/encrypted');
    const history = (await historyText(temporal.client, result.workflowId)).split(result.workflowId).join('<workflow id>');
    for (const plaintext of [planName, result.setId, 'PAYROLL_DATABASE_URL']) expect(history).not.toContain(plaintext);
  });

  test('schedules: `plan apply` stores encrypted arguments, which Lifeboat (with the keys) still reads', async () => {
    const planName = uniqueName('scheduled_payroll');
    const scheduleId = `lifeboat-${planName}`;
    const planFile = writePlan(dir, {
      name: planName,
      store: { type: 'local', path: path.join(dir, 'store') },
      components: [{ name: 'salaries', type: 'postgres', connection: { urlFromEnv: 'PAYROLL_DATABASE_URL' } }],
      schedule: { every: '24h' },
    });
    expect((await runCli(['plan', 'apply', planFile], { env })).code).toBe(0);
    try {
      const described = await execFileAsync(findTemporalCli()!, ['schedule', 'describe', '--address', testEnv().temporalAddress, '--schedule-id', scheduleId, '--output', 'json']);
      // Every payload in the schedule's action (its workflow input) is encrypted and holds no plan text.
      const payloads: { metadata: { encoding: string }; data: string }[] = [];
      const walk = (value: unknown): void => {
        if (Array.isArray(value)) value.forEach(walk);
        else if (value !== null && typeof value === 'object') {
          const candidate = value as { metadata?: { encoding?: string }; data?: string };
          if (candidate.metadata?.encoding && typeof candidate.data === 'string') payloads.push(candidate as (typeof payloads)[number]);
          else Object.values(value).forEach(walk);
        }
      };
      walk((JSON.parse(described.stdout) as { schedule: { action: unknown } }).schedule.action);
      expect(payloads.length).toBeGreaterThan(0);
      for (const payload of payloads) {
        expect(Buffer.from(payload.metadata.encoding, 'base64').toString()).toBe('binary/encrypted');
        const data = Buffer.from(payload.data, 'base64').toString('latin1');
        expect(data).not.toContain(planName);
        expect(data).not.toContain('PAYROLL_DATABASE_URL');
      }
      const listed = await runCli(['schedule', 'list', '--json'], { env });
      expect(listed.code).toBe(0);
      expect((JSON.parse(listed.stdout) as { scheduleId: string; plan?: string }[]).find((row) => row.scheduleId === scheduleId)?.plan).toBe(planName);
    } finally {
      await temporal.client.schedule.getHandle(scheduleId).delete();
    }
  });

  test('a worker with a malformed payload key refuses to start, naming the variable', async () => {
    const result = await runCli(['worker'], { env: { ...env, LIFEBOAT_PAYLOAD_KEY_FILE: '', LIFEBOAT_PAYLOAD_KEY: 'not-a-key' }, timeoutMs: 60_000 });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('environment variable LIFEBOAT_PAYLOAD_KEY (payload encryption keys) does not hold a 32-byte key');
    expect(result.stderr).not.toContain('not-a-key');
  });
});
