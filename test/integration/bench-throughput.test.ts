/**
 * Keeps the throughput benchmark working: it runs at a tiny size, one round, on its own throwaway stack, and
 * must produce every table with every row measured (the numbers themselves are for bench/RESULTS.md).
 */
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from '../harness/env';

const execFileAsync = promisify(execFile);
const BENCH = path.resolve(__dirname, '..', '..', 'dist', 'bench', 'throughput.js');

describe('npm run bench (throughput)', () => {
  test('at 0.005 GB and one round: backup, restore, pair, fit and orchestration tables with all rows', async () => {
    const results = path.join(tempDir('bench'), 'RESULTS.md');
    const { stdout } = await execFileAsync(
      process.execPath,
      [BENCH, '--sizes', '0.005', '--rounds', '1', '--warmup', '0', '--components', '10', '--results', results],
      { env: process.env, maxBuffer: 16 * 1024 * 1024, timeout: 900_000 },
    );
    const written = readFileSync(results, 'utf8');
    expect(written).toContain(stdout.trim().split('\n')[0]);
    for (const heading of ['### Backup', '### Restore', '### Pairs', '### Fit over sizes', '### Orchestration: a plan of 10 tiny databases', '### The Lifeboat worker at rest']) {
      expect(written).toContain(heading);
    }
    const row = (label: string) => written.split('\n').find((line) => line.startsWith('| 0.005 |') && line.includes(label));
    for (const label of [
      'Lifeboat: `backup run --wait` through Temporal, the CLI over its HTTP API',
      'Lifeboat: `backup run --wait` through Temporal, the CLI over gRPC',
      'Lifeboat: the backup activity called directly, no Temporal',
      'Lifeboat: the backup activity called directly, `rowCounts: estimated`',
      'shell: `pg_dump -Fc -Z0 | zstd -3 | aws s3 cp -`',
      'runbook: `pg_dump | gzip | aws s3 cp -`',
      'full backup, zst level 3, process-max 1',
      'limit: `pg_dump -Fc -Z0 > /dev/null`',
      'Lifeboat: the restore activity',
      'shell: `aws s3 cp s3://… - | zstd -d | pg_restore',
    ]) {
      const line = row(label);
      expect(line).toBeDefined();
      // Measured, not skipped: a wall time, a throughput, the tree's CPU, the machine's (with PostgreSQL's above
      // zero: every row works a backend), and a peak RSS above zero.
      expect(line).not.toContain('not run');
      expect(line).toMatch(/\| \d+\.\d\d \(\d+\.\d\d–\d+\.\d\d\) \| \d+\.\d \| \d+\.\d\d \(.*\) \| \d+\.\d\d \((?!0\.00 )\d+\.\d\d \/ \d+\.\d\d\) \| [1-9]\d* \(\d+–\d+\) \|$/);
    }
    for (const id of ['lifeboat-temporal', 'lifeboat-temporal-grpc', 'lifeboat-engine', 'lifeboat-engine-estimated', 'shell-zstd', 'shell-runbook', 'pgbackrest', 'limit', 'lifeboat-restore', 'shell-restore']) {
      expect(written).toMatch(new RegExp(`^\\| ${id} \\| -?\\d+\\.\\d\\d \\| \\d+\\.\\d\\d \\|`, 'm'));
    }
    expect(written).toMatch(/\| overhead = CLI wall − dumps, s \(target < 2\) \| -?\d+\.\d\d/);
    expect(written.match(/^\| 0\.005 \| (backup|restore|peak RSS|CPU)/gm)?.length).toBe(16);
    expect(written).toMatch(/^\| after start, before any workflow \| \d+ \|$/m);
    expect(written).toMatch(/^The hypervisor took \d+ % of the machine's CPU time during the run \(steal: /m);
    expect(written).toMatch(/^\| after the 0\.005 GB rounds \| \d+ \|$/m);
  }, 1_000_000);

  test('Ctrl-C (SIGINT to the bench alone) stops every worker it started, the orchestration\'s second one included', async () => {
    const results = path.join(tempDir('bench-interrupted'), 'RESULTS.md');
    const bench = spawn(process.execPath, [BENCH, '--sizes', '0.005', '--rounds', '1', '--warmup', '0', '--components', '2', '--results', results], {
      env: process.env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => bench.once('close', (code) => resolve(code)));
    let log = '';
    const workerPids: number[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the orchestration's worker did not start:\n${log}`)), 300_000);
        bench.stderr.on('data', (chunk: Buffer) => {
          log += chunk.toString();
          workerPids.splice(0, workerPids.length, ...[...log.matchAll(/worker \(pid (\d+)\)/g)].map((match) => Number(match[1])));
          if (/a second worker \(pid \d+\)/.test(log)) {
            clearTimeout(timer);
            resolve();
          }
        });
        void exited.then(() => reject(new Error(`the bench exited before its second worker started:\n${log}`)));
      });
      expect(workerPids).toHaveLength(2);
      bench.kill('SIGINT');
      expect(await exited).toBe(130);
      const alive = (pid: number) => {
        try {
          process.kill(pid, 0);
          return true;
        } catch {
          return false;
        }
      };
      expect(workerPids.filter(alive)).toEqual([]);
    } finally {
      for (const pid of workerPids) {
        try {
          process.kill(pid, 'SIGKILL'); // only if the bench left it behind
        } catch {
          // already gone
        }
      }
      bench.kill('SIGKILL');
    }
  }, 600_000);
});
