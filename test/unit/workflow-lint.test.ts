/** The lint rule that keeps workflow code deterministic: Node built-ins and I/O libraries are refused in workflows/. */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** Lints code as if it were a file in workflows/, with the project's own ESLint config, as `npm run lint` does. */
async function lintAsWorkflow(code: string): Promise<string[]> {
  const eslint = spawnSync(process.execPath, [path.join(root, 'node_modules', 'eslint', 'bin', 'eslint.js'), '--format', 'json', '--stdin', '--stdin-filename', 'workflows/probe.ts'], {
    cwd: root,
    input: code,
    encoding: 'utf8',
  });
  if (!eslint.stdout) throw new Error(`eslint failed: ${eslint.stderr}`);
  const [result] = JSON.parse(eslint.stdout) as { messages: { ruleId: string; message: string }[] }[];
  return result.messages.map((message) => `${message.ruleId}: ${message.message}`);
}

test.each([
  ["import { readFile } from 'fs';", /Node built-ins/],
  ["import { readFile } from 'node:fs/promises';", /Node built-ins/],
  ["import { Client } from 'pg';", /I\/O libraries/],
  ["import { S3Client } from '@aws-sdk/client-s3';", /I\/O libraries/],
  ["import { backupComponent } from '../activities/backup';", /pure modules/],
  ["import { createStore } from '../src/stores';", /pure modules/],
])('workflows may not %s', async (line, message) => {
  const messages = await lintAsWorkflow(`${line}\nexport const used = [${line.match(/\{ (\w+) \}/)![1]}];\n`);
  expect(messages).toContainEqual(expect.stringMatching(message));
});

test('workflows may import the workflow API and pure modules', async () => {
  const messages = await lintAsWorkflow(
    "import { proxyActivities } from '@temporalio/workflow';\nimport { formatSetId } from '../src/catalog/manifest';\nexport const used = [proxyActivities, formatSetId];\n",
  );
  expect(messages).toEqual([]);
});
