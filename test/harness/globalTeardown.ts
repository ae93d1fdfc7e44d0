import { rmSync } from 'node:fs';
import { getHarnessParts, setHarnessParts, stopHarnessParts } from './parts';

/** Stops what globalSetup started and removes the run's temp root (kept when LIFEBOAT_TEST_KEEP_TMP=1). */
export default async function globalTeardown(): Promise<void> {
  const parts = getHarnessParts();
  if (!parts) return;
  setHarnessParts(undefined);
  const problems = await stopHarnessParts(parts);
  parts.removeEmergencyStop?.();
  if (process.env.LIFEBOAT_TEST_KEEP_TMP === '1') {
    process.stderr.write(`lifeboat test harness: kept ${parts.root}\n`);
  } else {
    rmSync(parts.root, { recursive: true, force: true });
  }
  if (problems.length > 0) throw new Error(`Integration test harness did not stop cleanly:\n${problems.join('\n')}`);
}
