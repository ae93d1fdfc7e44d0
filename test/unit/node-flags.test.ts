/**
 * Every launcher we ship runs Node with worker/nodeFlags.ts's flags and environment (the smaller young
 * generation, the fewer malloc arenas and the fixed mmap threshold that keep the worker's memory down): the npm scripts, and the image's
 * ENTRYPOINT and ENV, which Compose and Kubernetes use too. The tests' and the benchmark's workers import both
 * themselves.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { NODE_ENVIRONMENT, NODE_FLAGS } from '../../worker/nodeFlags';

const root = path.resolve(__dirname, '..', '..');
const CLI = 'dist/src/cli/main.js';
/** In a shell command: each variable set unless the user's environment already sets it. */
const shellAssignments = Object.entries(NODE_ENVIRONMENT)
  .map(([name, value]) => `${name}=\${${name}:-${value}}`)
  .join(' ');

test('the npm scripts that run the CLI set the environment and pass the flags before the script', () => {
  const { scripts } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const running = Object.entries(scripts).filter(([, command]) => command.includes(CLI));
  expect(running.map(([name]) => name).sort()).toEqual(['lifeboat', 'start']);
  for (const [name, command] of running) {
    expect({ name, command }).toEqual({ name, command: expect.stringContaining(`${shellAssignments} node ${NODE_FLAGS.join(' ')} ${CLI}`) as string });
  }
});

test("the image's ENTRYPOINT passes the flags and its ENV sets the environment", () => {
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const entrypoint = dockerfile.match(/^ENTRYPOINT\s+(\[.*\])\s*$/m)?.[1];
  expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...NODE_FLAGS, CLI]);
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  for (const [name, value] of Object.entries(NODE_ENVIRONMENT)) expect(finalStage).toMatch(new RegExp(`^ENV ${name}=${value}$`, 'm'));
});
