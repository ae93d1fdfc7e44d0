/** What every scaler shares: its target, its name in messages, and how its waits are bounded. */
import { durationMs } from '../plan/schema';
import { describeScalingTarget, type ScalingTarget } from './schema';
import type { ScalerOptions, WaitOptions } from './types';

export abstract class ScalerBase<T extends ScalingTarget> {
  protected readonly pollIntervalMs: number;

  constructor(
    readonly target: T,
    protected readonly options: ScalerOptions = {},
  ) {
    this.pollIntervalMs = options.pollIntervalMs ?? 1000;
  }

  describe(): string {
    return describeScalingTarget(this.target);
  }

  /** A wait bounded by the caller's timeout, else the target's readyTimeout. */
  protected waitOptions(options: WaitOptions) {
    return {
      timeoutMs: options.timeoutMs ?? durationMs(this.target.readyTimeout),
      intervalMs: this.pollIntervalMs,
      signal: options.signal,
      onWaiting: options.onWaiting,
    };
  }
}
