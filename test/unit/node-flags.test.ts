/**
 * Every launcher we ship runs Node with worker/nodeFlags.ts's flags (the smaller young generation that keeps
 * the worker's memory down): the npm scripts and the image's ENTRYPOINT, which Compose and Kubernetes use
 * too. The tests' and the benchmark's workers import the flags themselves.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NODE_FLAGS } from '../../worker/nodeFlags';

const root = path.resolve(__dirname, '..', '..');
const CLI = 'dist/src/cli/main.js';

test('the npm scripts that run the CLI pass the flags before the script', () => {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const running = Object.entries(scripts).filter(([, command]) => command.includes(CLI));
  expect(running.map(([name]) => name).sort()).toEqual(['lifeboat', 'start']);
  for (const [name, command] of running) expect({ name, command }).toEqual({ name, command: expect.stringContaining(`node ${NODE_FLAGS.join(' ')} ${CLI}`) as string });
});

test("the image's ENTRYPOINT passes the flags", () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const entrypoint = dockerfile.match(/^ENTRYPOINT\s+(\[.*\])\s*$/m)?.[1];
  expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...NODE_FLAGS, CLI]);
});
