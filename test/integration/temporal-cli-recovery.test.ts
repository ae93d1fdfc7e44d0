/** The README's stock-`temporal`-CLI runbook, run as written: start a recovery, query it, approve by signal and update. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findTemporalCli } from '../../src/embedded/temporalCli';
import { recoveryStatusQuery, type RecoveryReport } from '../../src/temporal/recovery';
import { DEFAULT_TASK_QUEUE } from '../../src/temporal/names';
import { createDatabase, runPgbenchInit, tempDir, testEnv, uniqueName } from '../harness/env';
import { eventually, lifeboatEnv, runCli, startWorker, temporalClient, writePlan, type WorkerProcess } from '../harness/lifeboat';

const execFileAsync = promisify(execFile);

/** The shell commands between the README's temporal-cli-recovery markers, continuation lines joined. */
function readmeCommands(): string[] {
  const readme = readFileSync(path.resolve(__dirname, '..', '..', 'README.md'), 'utf8');
  const block = readme.split('<!-- temporal-cli-recovery:start -->')[1]?.split('<!-- temporal-cli-recovery:end -->')[0];
  if (!block) throw new Error('README.md lost its temporal-cli-recovery block');
  const body = block.replace(/```sh\n|```/g, '').replace(/\\\n\s*/g, '');
  return body.split('\n').map((line) => line.trim()).filter(Boolean);
}

describe('the README runbook with the stock temporal CLI', () => {
  const cwd = tempDir('temporal-cli');
  let worker: WorkerProcess;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const url = await createDatabase(uniqueName('cli_apps'));
    await runPgbenchInit(url, 1);
    // The README's lines use task queue "lifeboat" and a plan "example" storing into ./lifeboat-backups.
    env = { ...lifeboatEnv(DEFAULT_TASK_QUEUE, { APPS_DATABASE_URL: url }), PATH: `${path.dirname(findTemporalCli()!)}:${process.env.PATH}` };
    worker = await startWorker(env, [], cwd);
    const planFile = writePlan(cwd, { name: 'example', store: { type: 'local', path: './lifeboat-backups' }, components: [{ name: 'apps', type: 'postgres', connection: { urlFromEnv: 'APPS_DATABASE_URL' } }] });
    const backup = await runCli(['backup', 'run', '--plan', planFile, '--wait'], { env, cwd });
    if (backup.code !== 0) throw new Error(backup.stderr);
  });

  afterAll(async () => {
    await worker?.stop();
  });

  test('start, query, signal and update lines work when pasted', async () => {
    const commands = readmeCommands();
    expect(commands.map((command) => command.split(' ').slice(0, 3).join(' '))).toEqual([
      'temporal workflow start',
      'temporal workflow query',
      'temporal workflow signal',
      'temporal workflow update',
      'temporal workflow result',
    ]);
    const run = (command: string, extra: NodeJS.ProcessEnv = {}) => execFileAsync('/bin/sh', ['-c', command], { cwd, env: { ...env, TEMPORAL_ADDRESS: testEnv().temporalAddress, ...extra } });

    await run(commands[0]);
    const temporal = await temporalClient();
    try {
      const handle = temporal.client.workflow.getHandle('recovery-by-hand');
      const status = await eventually('the agreement gate', async () => {
        const current = await handle.query(recoveryStatusQuery);
        return current.phase === 'agreement' ? current : undefined;
      });
      // The bundle's source map has no sources' text, yet the stack still names our workflow's file and line.
      const stack = await execFileAsync(findTemporalCli()!, ['workflow', 'stack', '--workflow-id', 'recovery-by-hand', '--address', testEnv().temporalAddress]);
      expect(stack.stdout).toMatch(/workflows\/disasterRecovery\.ts:\d+:\d+/);
      const timestamp = status.candidates[0].timestamp;
      expect((await run(commands[1])).stdout).toContain(timestamp);
      await run(commands[2], { TIMESTAMP: timestamp });
      const update = await run(commands[3], { TIMESTAMP: timestamp });
      expect(update.stdout).toContain('bob');
      const result = await run(commands[4]);
      expect(result.stdout).toContain('recovered');
      const report = (await handle.result()) as RecoveryReport;
      expect(report.outcome).toBe('recovered');
      expect(report.approvals.map((approval) => `${approval.approver}: ${approval.comment ?? ''}`)).toEqual(['alice: agreed on the call', 'bob: ']);
    } finally {
      await temporal.close();
    }
  });
});
