/**
 * zstd as Lifeboat runs it at the default level (4 MiB jobs) holds well under what zstd's own default for the
 * level (8 MiB jobs) holds, on the same input: compared side by side, so the figures of another zstd build do
 * not matter. The peak is read from /proc while zstd is still running (its input not yet ended).
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { spawnFilter } from '../../src/engines/childProcess';
import { zstdArguments } from '../../src/engines/compression';

const MiB = 1024 * 1024;
const INPUT_MIB = 48;

function procField(pid: number, file: 'status' | 'io', field: string): number {
  const match = new RegExp(`^${field}:\\s*(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/${pid}/${file}`);
  return Number(match[1]);
}

/** zstd's peak RSS in MiB after it has read INPUT_MIB of text-like input (base64 of random bytes). */
async function peakWhileCompressing(args: string[]): Promise<number> {
  const zstd = spawnFilter('zstd', args);
  zstd.stdout.resume();
  const pid = zstd.child.pid!;
  try {
    for (let written = 0; written < INPUT_MIB; written += 1) {
      if (!zstd.stdin.write(randomBytes((3 * MiB) / 4).toString('base64'))) await once(zstd.stdin, 'drain');
    }
    const deadline = Date.now() + 20_000;
    while (procField(pid, 'io', 'rchar') < INPUT_MIB * MiB) {
      if (Date.now() > deadline) throw new Error('zstd did not read its input within 20 s');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await new Promise((resolve) => setTimeout(resolve, 200)); // the last jobs are compressing meanwhile
    return procField(pid, 'status', 'VmHWM') / 1024;
  } finally {
    zstd.stdin.end();
    await zstd.exited;
  }
}

test("zstd at Lifeboat's default level peaks at least 12 MiB below zstd's own default for that level", async () => {
  const lifeboat = await peakWhileCompressing(zstdArguments({ algorithm: 'zstd', level: 3 }));
  const zstdDefault = await peakWhileCompressing(['-q', '-c', '-3']);
  expect(lifeboat).toBeLessThan(zstdDefault - 12);
}, 60_000);
