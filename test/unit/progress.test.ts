/** The progress display of `backup run --wait` and `restore status --watch`: rate, ETA, the line, the in-place redraw. */
import { PassThrough } from 'node:stream';
import { formatProgress, ProgressPrinter, ProgressTracker, redrawFrame } from '../../src/cli/progress';

const MiB = 1024 * 1024;

test('rate is measured over the recent window and the ETA divides what is left by it', () => {
  const tracker = new ProgressTracker();
  const t0 = 1_000_000;
  expect(tracker.update([{ component: 'apps', state: 'running', done: 0, expected: 100 * MiB }], t0)[0].rate).toBeUndefined();
  const [after10s] = tracker.update([{ component: 'apps', state: 'running', done: 20 * MiB, expected: 100 * MiB }], t0 + 10_000);
  expect(after10s.rate).toBeCloseTo(2 * MiB);
  expect(after10s.etaMs).toBeCloseTo(40_000);
  // A stall: 20 s later still 20 MiB. The window forgets the fast start, so the rate falls to 0 and no ETA is claimed.
  tracker.update([{ component: 'apps', state: 'running', done: 20 * MiB, expected: 100 * MiB }], t0 + 20_000);
  const [stalled] = tracker.update([{ component: 'apps', state: 'running', done: 20 * MiB, expected: 100 * MiB }], t0 + 40_000);
  expect(stalled.rate).toBe(0);
  expect(stalled.etaMs).toBeUndefined();
});

test('the line: bytes of the estimated total with a percentage capped below 100, rate and ETA', () => {
  expect(formatProgress({ component: 'apps', state: 'running', done: 12 * MiB, expected: 160 * MiB, rate: 4 * MiB, etaMs: 37_000 })).toBe(
    'apps running 12.0 MiB of ~160.0 MiB (7%), 4.0 MiB/s, ETA 37.0s',
  );
  // Past the estimate (indexes are not dumped, but an estimate may still be low): 99%, no ETA.
  expect(formatProgress({ component: 'apps', state: 'running', done: 170 * MiB, expected: 160 * MiB, rate: MiB })).toBe('apps running 170.0 MiB of ~160.0 MiB (99%), 1.0 MiB/s');
  expect(formatProgress({ component: 'cache', state: 'running', done: 2048 })).toBe('cache running 2.0 KiB');
  expect(formatProgress({ component: 'participant', state: 'waiting' })).toBe('participant waiting');
});

test('on a terminal the block is redrawn in place: cursor up over the old block, each line cleared', () => {
  expect(redrawFrame(['a', 'b'], 0)).toBe('\x1b[2Ka\n\x1b[2Kb\n');
  expect(redrawFrame(['a', 'b'], 2)).toBe('\x1b[2F\x1b[2Ka\n\x1b[2Kb\n');
  // A shorter block clears the old block's extra line and leaves the cursor below the new one.
  expect(redrawFrame(['a'], 2)).toBe('\x1b[2F\x1b[2Ka\n\x1b[2K\n\x1b[1F');
});

function capture(isTTY: boolean): { out: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  let written = '';
  stream.on('data', (chunk: Buffer) => (written += chunk.toString()));
  Object.assign(stream, { isTTY });
  return { out: stream as unknown as NodeJS.WriteStream, text: () => written };
}

test('not a terminal: plain lines, no escape sequences, a new line on every state change and none for nothing new', async () => {
  const { out, text } = capture(false);
  const printer = new ProgressPrinter(out, 60_000);
  printer.show('backup: backing-up', [{ component: 'apps', state: 'running', done: 1 }]);
  printer.show('backup: backing-up', [{ component: 'apps', state: 'running', done: 2 }]); // same states, within the interval
  printer.show('backup: backing-up', [{ component: 'apps', state: 'completed', done: 3 }]);
  await new Promise((resolve) => setImmediate(resolve));
  expect(text()).toBe('backup: backing-up\napps running 1 B\nbackup: backing-up\napps completed 3 B\n');
});

test('a terminal: the second frame rewrites the first', async () => {
  const { out, text } = capture(true);
  const printer = new ProgressPrinter(out);
  printer.show('h', [{ component: 'apps', state: 'running', done: 1 }]);
  printer.show('h', [{ component: 'apps', state: 'running', done: 2 }]);
  await new Promise((resolve) => setImmediate(resolve));
  expect(text()).toBe('\x1b[2Kh\n\x1b[2K  apps running 1 B\n\x1b[2F\x1b[2Kh\n\x1b[2K  apps running 2 B\n');
});

test('a terminal: after something else was printed, the next block starts below it instead of overwriting it', async () => {
  const { out, text } = capture(true);
  const printer = new ProgressPrinter(out);
  printer.show('h', [{ component: 'apps', state: 'restoring', done: 1 }]);
  out.write('status changed\n');
  printer.detach();
  printer.show('h', [{ component: 'apps', state: 'restoring', done: 2 }]);
  await new Promise((resolve) => setImmediate(resolve));
  expect(text()).toBe('\x1b[2Kh\n\x1b[2K  apps restoring 1 B\nstatus changed\n\x1b[2Kh\n\x1b[2K  apps restoring 2 B\n');
});
