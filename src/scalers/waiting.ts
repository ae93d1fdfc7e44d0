/** What every scaler shares: polling until a target reaches a state, and checking remembered state. */
import { setTimeout as sleep } from 'node:timers/promises';
import { scaledStateSchema, type ScaledState } from './schema';
import { ScalerError } from './types';

export interface PollOptions {
  timeoutMs: number;
  intervalMs: number;
  signal?: AbortSignal;
  onWaiting?(detail: string): void;
}

/**
 * Calls `probe` until it returns undefined (done); otherwise it returns what is still awaited. Resolves
 * undefined once done, or with the last thing awaited when the time is up (the caller names it in its error).
 */
export async function pollUntil(probe: () => Promise<string | undefined>, options: PollOptions): Promise<string | undefined> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    options.signal?.throwIfAborted();
    const awaited = await probe();
    if (awaited === undefined) return undefined;
    options.onWaiting?.(awaited);
    const left = deadline - Date.now();
    if (left <= 0) return awaited;
    await sleep(Math.min(options.intervalMs, left), undefined, { signal: options.signal });
  }
}

/**
 * The remembered state of this scaler's target. It came back through Temporal as JSON, possibly from a run
 * of an older plan, so it is checked: restoring another target's replica count would be worse than failing.
 */
export function rememberedState<T extends ScaledState['type']>(
  scaler: { readonly type: T; describe(): string },
  previous: unknown,
): Extract<ScaledState, { type: T }> {
  const target = scaler.describe();
  const parsed = scaledStateSchema.safeParse(previous);
  if (!parsed.success) {
    throw new ScalerError(target, `the remembered state is not valid (${parsed.error.issues[0]?.message ?? 'unknown problem'}): ${JSON.stringify(previous)}`, false, 'InvalidState');
  }
  const state = parsed.data;
  if (state.type !== scaler.type || state.target !== target) {
    throw new ScalerError(
      target,
      `the remembered state belongs to ${state.target} (${state.type}): the plan's scaling targets changed between scale-down and scale-up; bring that target back by hand`,
      false,
      'StateMismatch',
    );
  }
  return state as Extract<ScaledState, { type: T }>;
}

/** An error's message. Duck-typed: errors from @kubernetes/client-node may come from another realm (jest). */
export function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') return error.message;
  return String(error);
}
