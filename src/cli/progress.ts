/**
 * Progress of long operations (`backup run --wait`, `restore status --watch`) from activity heartbeats: bytes,
 * rate and ETA per component. On a terminal the block of lines is redrawn in place; elsewhere (a log, a pipe)
 * a plain line is printed when something changes state, and at most every `plainIntervalMs` in between.
 */
import type { Client, WorkflowExecutionDescription, WorkflowHandle } from '@temporalio/client';
import { decodeFromPayloadsAtIndex } from '@temporalio/common/lib/internal-non-workflow';
import { humanBytes, humanDuration } from './output';

/** One component's progress as heartbeats report it: bytes done and, when known, bytes expected in total. */
export interface ProgressSample {
  component: string;
  /** What it is doing: running, restoring, completed... */
  state: string;
  done?: number;
  expected?: number;
}

/** The rate is measured over this window, so a stall shows as a falling rate rather than the run's average. */
const RATE_WINDOW_MS = 15_000;

export interface ComponentProgress extends ProgressSample {
  /** Bytes per second over the last RATE_WINDOW_MS. */
  rate?: number;
  /** Milliseconds left at that rate, when the total is known. */
  etaMs?: number;
}

/** Remembers each component's recent samples to derive its rate and ETA. */
export class ProgressTracker {
  private readonly history = new Map<string, { at: number; done: number }[]>();

  update(samples: ProgressSample[], now = Date.now()): ComponentProgress[] {
    return samples.map((sample) => {
      if (sample.done === undefined) return sample;
      const history = this.history.get(sample.component) ?? [];
      history.push({ at: now, done: sample.done });
      while (history.length > 2 && now - history[1].at >= RATE_WINDOW_MS) history.shift();
      this.history.set(sample.component, history);
      const first = history[0];
      const elapsed = (now - first.at) / 1000;
      if (elapsed <= 0) return sample;
      const rate = Math.max(0, (sample.done - first.done) / elapsed);
      const left = sample.expected !== undefined ? sample.expected - sample.done : undefined;
      const etaMs = rate > 0 && left !== undefined && left > 0 ? (left / rate) * 1000 : undefined;
      return { ...sample, rate, etaMs };
    });
  }
}

/** "apps running 12.0 MiB of ~160.0 MiB (7%), 4.0 MiB/s, ETA 37s". The total is an estimate, hence the "~". */
export function formatProgress(progress: ComponentProgress): string {
  const parts: string[] = [];
  if (progress.done !== undefined) {
    let bytes = humanBytes(progress.done);
    if (progress.expected !== undefined && progress.expected > 0) {
      // An estimate can be exceeded; never claim 100% before the component is done.
      const percent = Math.min(99, Math.floor((progress.done / progress.expected) * 100));
      bytes += ` of ~${humanBytes(progress.expected)} (${percent}%)`;
    }
    parts.push(bytes);
  }
  if (progress.rate !== undefined) parts.push(`${humanBytes(Math.round(progress.rate))}/s`);
  if (progress.etaMs !== undefined) parts.push(`ETA ${humanDuration(progress.etaMs)}`);
  const head = `${progress.component} ${progress.state}`;
  return parts.length > 0 ? `${head} ${parts.join(', ')}` : head;
}

/**
 * The escape sequence that replaces the previously drawn block of `previousLines` lines with `lines`: cursor
 * up to the block's first line, then each line cleared and rewritten, then whatever is left of a longer old
 * block cleared.
 */
export function redrawFrame(lines: string[], previousLines: number): string {
  let frame = previousLines > 0 ? `\x1b[${previousLines}F` : '';
  for (const line of lines) frame += `\x1b[2K${line}\n`;
  for (let extra = lines.length; extra < previousLines; extra += 1) frame += '\x1b[2K\n';
  if (previousLines > lines.length) frame += `\x1b[${previousLines - lines.length}F`;
  return frame;
}

/** Writes progress to a stream: redrawn in place on a terminal, plain lines otherwise. */
export class ProgressPrinter {
  private drawn = 0;
  private lastStates = '';
  private lastPrinted = 0;

  constructor(
    private readonly out: NodeJS.WriteStream = process.stderr,
    private readonly plainIntervalMs = 5_000,
  ) {}

  get interactive(): boolean {
    return this.out.isTTY === true;
  }

  /** Something else was printed below the block: the next block starts afresh under it instead of redrawing over it. */
  detach(): void {
    this.drawn = 0;
  }

  show(header: string, components: ComponentProgress[]): void {
    const lines = [header, ...components.map((component) => `  ${formatProgress(component)}`)];
    if (this.interactive) {
      this.out.write(redrawFrame(lines, this.drawn));
      this.drawn = lines.length;
      return;
    }
    // A new line when a component changes state, and as soon as its rate is known; otherwise once per interval.
    const states = `${header}|${components.map((component) => `${component.component}=${component.state}${component.rate === undefined ? '' : '+rate'}`).join()}`;
    if (states === this.lastStates && Date.now() - this.lastPrinted < this.plainIntervalMs) return;
    this.out.write(`${lines.map((line) => line.trim()).join('\n')}\n`);
    this.lastStates = states;
    this.lastPrinted = Date.now();
  }
}

/** What an activity's last heartbeat said, decoded; undefined when it has none or it cannot be read. */
export interface PendingActivityDetails {
  activityType: string;
  attempt: number;
  details?: Record<string, unknown>;
}

/**
 * The pending activities of a running workflow with their last heartbeat's details (from describe()). A caller that
 * has just described the workflow passes that description, so a poll describes it once.
 */
export async function pendingActivities(
  client: Client,
  handle: WorkflowHandle,
  described?: WorkflowExecutionDescription,
): Promise<{ running: boolean; activities: PendingActivityDetails[] }> {
  const description = described ?? (await handle.describe());
  const activities = await Promise.all(
    (description.raw.pendingActivities ?? []).map(async (activity) => {
      const payload = activity.heartbeatDetails?.payloads?.[0];
      let details: Record<string, unknown> | undefined;
      try {
        // Raw from describe(): decoded through the client's codec first (payload encryption may be on).
        details = payload ? await decodeFromPayloadsAtIndex<Record<string, unknown>>(client.options.loadedDataConverter, 0, [payload]) : undefined;
      } catch {
        details = undefined; // a payload this client cannot decode, or an older worker's shape: no progress, not an error
      }
      return { activityType: activity.activityType?.name ?? '', attempt: activity.attempt ?? 1, details };
    }),
  );
  return { running: description.status.name === 'RUNNING', activities };
}
