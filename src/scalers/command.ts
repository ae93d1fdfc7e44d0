/**
 * Shell commands per target, for any host: `down` stops the service, `up` starts it, `ready` (optional)
 * exits 0 while it is up. Commands run with `/bin/sh -c` in the worker's environment.
 */
import { durationMs } from '../plan/schema';
import { describeOutcome, runShell, type ProcessOutcome } from './processes';
import { ScalerBase } from './base';
import { type CommandScalingTarget, type ScaledState } from './schema';
import { ScalerError, type ScaleDownOptions, type Scaler, type WaitOptions } from './types';
import { errorMessage, pollUntil, rememberedState } from './waiting';

// The shell's own codes for "command not found" and "not executable": retrying cannot fix the plan.
const PERMANENT_EXIT_CODES = new Set([126, 127]);

export class CommandScaler extends ScalerBase<CommandScalingTarget> implements Scaler {
  readonly type = 'command';

  async scaleDown(options: ScaleDownOptions = {}): Promise<ScaledState> {
    const state = options.remembered
      ? rememberedState(this, options.remembered)
      : { type: 'command' as const, target: this.describe(), wasUp: true as const };
    options.onRecorded?.(state);
    await this.run('down', this.target.down, options.signal);
    const { ready } = this.target;
    if (ready !== undefined) {
      // `down` returning is the script's word; the ready check is evidence that nothing still writes.
      const stillUp = await pollUntil(
        async () => ((await this.spawn(ready, options.signal)).exitCode === 0 ? 'the ready check still passes' : undefined),
        this.waitOptions(options),
      );
      if (stillUp !== undefined) {
        throw new ScalerError(
          this.describe(),
          `"down" succeeded, but the ready check still passes after ${this.target.readyTimeout}: the service is still up; make "down" wait until it has stopped`,
          true,
          'StillRunning',
        );
      }
    }
    return state;
  }

  async scaleUp(previous: ScaledState): Promise<void> {
    rememberedState(this, previous);
    await this.run('up', this.target.up);
  }

  async waitReady(previous: ScaledState, options: WaitOptions = {}): Promise<void> {
    rememberedState(this, previous);
    const { ready } = this.target;
    if (ready === undefined) return; // without a check, `up` exiting 0 is all there is to know
    let last: ProcessOutcome | undefined;
    const awaited = await pollUntil(
      async () => {
        last = await this.spawn(ready, options.signal); // its exit code is the answer, not an error
        return last.exitCode === 0 ? undefined : `ready check ${describeOutcome(last, this.target.readyTimeout)}`;
      },
      this.waitOptions(options),
    );
    if (awaited !== undefined) {
      const output = last?.outputTail ? `; its output: ${last.outputTail}` : '';
      throw new ScalerError(
        this.describe(),
        `not ready after ${this.target.readyTimeout}: the last ${awaited}${output}; check the service, or raise readyTimeout`,
        true,
        'NotReady',
      );
    }
  }


  private async spawn(command: string, signal?: AbortSignal): Promise<ProcessOutcome> {
    try {
      return await runShell(command, { env: this.options.env, timeoutMs: durationMs(this.target.readyTimeout), signal });
    } catch (error) {
      signal?.throwIfAborted();
      throw new ScalerError(this.describe(), `cannot run /bin/sh: ${errorMessage(error)}`, false, 'ShellUnavailable');
    }
  }

  private async run(step: 'down' | 'up', command: string, signal?: AbortSignal): Promise<void> {
    const outcome = await this.spawn(command, signal);
    if (outcome.exitCode === 0) return;
    signal?.throwIfAborted();
    const permanent = outcome.exitCode !== null && PERMANENT_EXIT_CODES.has(outcome.exitCode);
    const output = outcome.outputTail ? `: ${outcome.outputTail}` : ' (no output)';
    throw new ScalerError(
      this.describe(),
      `"${step}" (${command}) ${describeOutcome(outcome, this.target.readyTimeout)}${output}`,
      !permanent,
      permanent ? 'CommandNotRunnable' : 'CommandFailed',
    );
  }
}
