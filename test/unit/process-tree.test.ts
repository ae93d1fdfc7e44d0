/** The bench's memory sampler sees commands that are over within a tenth of a second (the tiny sizes' rows). */
import { spawn } from 'node:child_process';
import { sampleTreePeak } from '../../bench/processTree';

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
