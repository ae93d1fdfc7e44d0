/**
 * The bench's memory sampler sees commands that are over within a tenth of a second (the tiny sizes' rows); its
 * reading of the machine's CPU keeps the hypervisor's steal apart from the work done.
 */
import { spawn } from 'node:child_process';
import { machineCpuSeconds, sampleTreePeak } from '../../bench/processTree';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('samples ten times in the first interval, then once per interval', async () => {
  let calls = 0;
  const sampler = sampleTreePeak(() => {
    calls += 1;
    return undefined;
  }, 100);
  await sleep(150);
  sampler.stop();
  expect(calls).toBeGreaterThanOrEqual(8); // 1 at once + 10 at 10 ms + 1 at 110 ms; 2 with one sample per 100 ms
  const stopped = calls;
  await sleep(250);
  expect(calls).toBe(stopped);
});

test("a process sampled while it runs reports a live process's memory (a sanity check, not the schedule)", async () => {
  // A Node process that ends soon after start-up: any sample of it while it runs finds tens of MiB resident.
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => undefined, 30)']);
  const sampler = sampleTreePeak(() => child.pid);
  await new Promise((resolve) => child.once('close', resolve));
  expect(sampler.stop()).toBeGreaterThan(10 * 1024 * 1024);
});

test("the machine's CPU time: busy and stolen are separate parts of the total, and busy grows while this process computes", () => {
  const before = machineCpuSeconds();
  const spinUntil = Date.now() + 300;
  while (Date.now() < spinUntil); // a third of a second of one core's work
  const after = machineCpuSeconds();
  for (const reading of [before, after]) {
    expect(reading.busy).toBeGreaterThan(0);
    expect(reading.stolen).toBeGreaterThanOrEqual(0);
    expect(reading.busy + reading.stolen).toBeLessThanOrEqual(reading.total + 1e-6);
  }
  // Even with half of the machine stolen, a core spinning for 0.3 s does at least 0.05 s of work.
  expect(after.busy - before.busy).toBeGreaterThanOrEqual(0.05);
  // Tick counts divided into seconds: compared to within a millionth of a second of rounding.
  expect(after.total - before.total).toBeGreaterThanOrEqual(after.busy - before.busy + (after.stolen - before.stolen) - 1e-6);
});
