/** `lifeboat up` (what `npm start` runs): dev server + Web UI, worker, throwaway databases, a backup of the example plan. */
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import type { Manifest } from '../../src/catalog/manifest';
import { tempDir, uniqueName } from '../harness/env';
import { lifeboatEnv, runCli } from '../harness/lifeboat';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('up --once backs up the example plan into ./lifeboat-backups and stops everything it started', async () => {
  const cwd = tempDir('up');
  // No DATABASE_URL/PG* (lifeboatEnv removes them): up must create its own throwaway cluster.
  const env = lifeboatEnv(uniqueName('unused'));
  delete env.TEMPORAL_ADDRESS;
  const up = await runCli(['up', '--once', '--state-dir', path.join(cwd, '.lifeboat')], { env, cwd, timeoutMs: 240_000 });
  expect(up.stderr).not.toMatch(/error/i);
  expect(up.code).toBe(0);
  expect(up.stdout).toMatch(/using the temporal CLI from (TEMPORAL_CLI|PATH|GOPATH)/);
  expect(up.stdout).toMatch(/Web UI at http:\/\/127\.0\.0\.1:\d+/);
  expect(up.stdout).toContain('a throwaway PostgreSQL cluster');
  const setId = up.stdout.match(/backup set (\S+) complete/)![1];

  const plan = path.resolve(__dirname, '..', '..', 'examples', 'plan.yaml');
  const listed = await runCli(['backups', 'list', '--plan', plan, '--json'], { env, cwd });
  const sets = (JSON.parse(listed.stdout) as { sets: Manifest[] }).sets;
  expect(sets.map((set) => set.setId)).toEqual([setId]);
  expect(sets[0].components.map((component) => component.name).sort()).toEqual(['apps', 'participant']);
  expect(existsSync(path.join(cwd, 'lifeboat-backups', 'example', setId, 'manifest.json'))).toBe(true);

  // Everything it started is stopped: nothing listens any more on the cluster's or the dev server's port.
  const clusterPort = Number(up.stdout.match(/cluster on 127\.0\.0\.1:(\d+)/)![1]);
  const temporalPort = Number(up.stdout.match(/Temporal dev server at 127\.0\.0\.1:(\d+)/)![1]);
  expect(await listening(clusterPort)).toBe(false);
  expect(await listening(temporalPort)).toBe(false);
  const verify = await runCli(['backup', 'verify', '--plan', plan, setId], { env, cwd });
  expect(verify.code).toBe(0);
});
