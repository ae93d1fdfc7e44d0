/** The `lifeboat` command's contract: exit 0 / 1 / 2, bad input named by its path, and nothing started on bad input. */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { tempDir, uniqueName } from '../harness/env';
import { eventually, lifeboatEnv, runCli, temporalClient } from '../harness/lifeboat';

const valid = (name: string) => `
name: ${name}
store: { type: local, path: ./backups }
components:
  - { name: apps, type: postgres, connection: { urlFromEnv: APPS_DATABASE_URL } }
  - { name: participant, type: postgres, connection: { urlFromEnv: PARTICIPANT_DATABASE_URL }, after: [apps] }
`;

describe('lifeboat CLI', () => {
  const dir = tempDir('cli');
  const taskQueue = uniqueName('cli');
  const env = lifeboatEnv(taskQueue);
  let temporal: { client: Client; close(): Promise<void> };

  beforeAll(async () => {
    temporal = await temporalClient();
  });
  afterAll(async () => {
    await temporal?.close();
  });

  const startedOnQueue = async () => {
    let count = 0;
    for await (const _ of temporal.client.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) count += 1;
    return count;
  };

  test.each([
    ['unknown key', (text: string) => text.replace('path: ./backups', 'path: ./backups, compress: true'), 'store', 'unknown key "compress"'],
    ['after naming no component', (text: string) => text.replace('after: [apps]', 'after: [ledger]'), 'components.1.after.0', '"ledger" is not a component'],
    ['cycle', (text: string) => text.replace('APPS_DATABASE_URL }', 'APPS_DATABASE_URL }, after: [participant]'), 'components.0.after', 'dependency cycle: apps -> participant -> apps'],
    ['duplicate name', (text: string) => text.replace('name: participant', 'name: apps'), 'components.1.name', 'duplicate component name "apps"'],
    ['literal password', (text: string) => text.replace('{ urlFromEnv: APPS_DATABASE_URL }', '{ urlFromEnv: APPS_DATABASE_URL, password: hunter2 }'), 'components.0.connection.password', 'secret is written literally'],
    ['literal URL with password', (text: string) => text.replace('{ urlFromEnv: APPS_DATABASE_URL }', '{ url: "postgres://u:hunter2@db/apps" }'), 'components.0.connection.url', 'URL with a password'],
  ])('a plan with a %s exits 2, names the path, and starts nothing', async (what, edit, pathName, message) => {
    const file = path.join(dir, `${what.replace(/ /g, '-')}.yaml`);
    writeFileSync(file, edit(valid('invalid')));
    const validate = await runCli(['plan', 'validate', file], { env });
    expect(validate.code).toBe(2);
    expect(validate.stderr).toContain(`${pathName}: `);
    expect(validate.stderr).toContain(message);
    expect(validate.stderr).not.toContain('hunter2');
    const run = await runCli(['backup', 'run', '--plan', file, '--wait'], { env });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stdout).not.toContain('started');
  });

  test('nothing reached Temporal from the invalid plans, while a valid plan does start a workflow', async () => {
    expect(await startedOnQueue()).toBe(0);
    const file = path.join(dir, 'valid.yaml');
    writeFileSync(file, valid('valid'));
    const validate = await runCli(['plan', 'validate', file], { env });
    expect(validate.code).toBe(0);
    expect(validate.stdout).toContain('plan "valid" is valid');
    const run = await runCli(['backup', 'run', '--plan', file], { env });
    expect(run.code).toBe(0);
    const workflowId = run.stdout.match(/lifeboat-backup-valid-\S+/)![0];
    await eventually('the started workflow to be visible', async () => ((await startedOnQueue()) === 1 ? true : undefined));
    await temporal.client.workflow.getHandle(workflowId).terminate('no worker in this test');
  });

  test('a missing plan file and a usage error exit 2', async () => {
    const missing = await runCli(['backup', 'run', '--plan', path.join(dir, 'nope.yaml')], { env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('cannot read the plan file: no such file');
    const usage = await runCli(['backups', 'list'], { env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("required option '--plan <file>'");
    const unknown = await runCli(['frobnicate'], { env });
    expect(unknown.code).toBe(2);
    const noSubcommand = await runCli(['restore'], { env });
    expect(noSubcommand.code).toBe(2);
    expect(noSubcommand.stderr + noSubcommand.stdout).toContain('Usage: lifeboat restore');
    const help = await runCli(['restore', '--help'], { env });
    expect(help.code).toBe(0);
    const noWorkflow = await runCli(['restore', 'status', 'lifeboat-recovery-nothing-here'], { env });
    expect(noWorkflow.code).toBe(2);
    expect(noWorkflow.stderr).toContain('no workflow lifeboat-recovery-nothing-here');
    const badCount = await runCli(['worker', '--max-concurrent', 'many'], { env });
    expect(badCount.code).toBe(2);
    expect(badCount.stderr).toContain('--max-concurrent must be a whole number');
  });

  test('an unreachable Temporal server exits 1 and says how to get one', async () => {
    const file = path.join(dir, 'valid-unreachable.yaml');
    writeFileSync(file, valid('unreachable'));
    const run = await runCli(['backup', 'run', '--plan', file], { env: { ...env, TEMPORAL_ADDRESS: '127.0.0.1:1' } });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('cannot connect to Temporal at 127.0.0.1:1');
    expect(run.stderr).toContain('TEMPORAL_ADDRESS');
  });
});
