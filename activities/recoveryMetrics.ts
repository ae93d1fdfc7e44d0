/** Publishes a completed recovery's RTO in the worker's metrics (workflows cannot touch the registry themselves). */
import { recordRecovery } from '../src/metrics';

export async function recordRecoveryMetrics(input: { plan: string; rtoMs: number; completedAt: string }): Promise<void> {
  recordRecovery(input.plan, input.rtoMs, new Date(input.completedAt));
}
