import type { ScaledState, ScalingTarget } from './schema';

export type { ScaledState, ScalingTarget } from './schema';

/**
 * The failure a user must act on when a target cannot be scaled. `retryable` tells the activity whether
 * trying again can help (an API server restarting, a slow start) or not (missing RBAC, a wrong name); `kind`
 * is a short machine-readable cause, e.g. "Forbidden", "NotFound", "Timeout".
 */
export class ScalerError extends Error {
  constructor(
    /** The target as describeScalingTarget names it. */
    readonly target: string,
    message: string,
    readonly retryable: boolean,
    readonly kind: string,
  ) {
    super(`scaling ${target}: ${message}`);
    this.name = 'ScalerError';
  }
}

/** How a wait goes: bounded, cancellable, and reporting, so an activity can heartbeat while it waits. */
export interface WaitOptions {
  /** Default: the target's readyTimeout. */
  timeoutMs?: number;
  /** The activity's cancellation signal. */
  signal?: AbortSignal;
  /** Called at every poll with what is still awaited, e.g. "status.replicas=2". */
  onWaiting?(detail: string): void;
}

export interface ScaleDownOptions extends WaitOptions {
  /**
   * What an earlier attempt of this scale-down remembered (the activity's heartbeat details). It wins over
   * what the target shows now: after a partial scale-down the target already shows 0, and re-reading it
   * would forget what scale-up must restore.
   */
  remembered?: ScaledState;
  /** Called with the remembered state before the target is changed, so the activity can heartbeat it. */
  onRecorded?(state: ScaledState): void;
}

/**
 * One scaler per target type (Velero's plugin idea): stop what uses the data before a restore, remember
 * what ran, bring it back after. A new type is one file implementing this, registered in ./index.ts.
 * Every method is idempotent, because activities retry.
 */
export interface Scaler {
  readonly type: ScalingTarget['type'];
  /** The target as describeScalingTarget names it. */
  describe(): string;
  /** Remembers what runs, stops it, and waits until it has stopped. */
  scaleDown(options?: ScaleDownOptions): Promise<ScaledState>;
  /** Brings back what `previous` remembers; does not wait for readiness. */
  scaleUp(previous: ScaledState): Promise<void>;
  /** Waits until what `previous` remembers is ready again. */
  waitReady(previous: ScaledState, options?: WaitOptions): Promise<void>;
}

/** Settings that are not the plan's: polling cadence, and the environment child processes see (tests use it). */
export interface ScalerOptions {
  /** Default 1000. */
  pollIntervalMs?: number;
  /** Environment for `docker` and shell commands, including the PATH they are found on. Default: the worker's. */
  env?: NodeJS.ProcessEnv;
}
