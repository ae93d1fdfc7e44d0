import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MinioHandle } from '../../src/embedded/minio';
import type { PostgresClusterHandle } from '../../src/embedded/postgresCluster';
import type { TemporalDevServerHandle } from '../../src/embedded/temporalDevServer';

/** What globalSetup leaves on globalThis for globalTeardown (both run in jest's parent process). */
export interface HarnessParts {
  root: string;
  temporal?: TemporalDevServerHandle;
  postgres?: PostgresClusterHandle;
  minio?: MinioHandle;
  /** Removes the exit and signal handlers installed by installEmergencyStop. */
  removeEmergencyStop?: () => void;
}

const KEY = '__lifeboatHarness';

export function setHarnessParts(parts: HarnessParts | undefined): void {
  (globalThis as Record<string, unknown>)[KEY] = parts;
}

export function getHarnessParts(): HarnessParts | undefined {
  return (globalThis as Record<string, unknown>)[KEY] as HarnessParts | undefined;
}

/** Stops every part that is up; collects failures instead of stopping at the first. */
export async function stopHarnessParts(parts: HarnessParts): Promise<string[]> {
  const problems: string[] = [];
  const { temporal, postgres, minio } = parts;
  const steps: [string, (() => Promise<void>) | undefined][] = [
    ['Temporal dev server', temporal && (() => temporal.stop())],
    ['PostgreSQL', postgres && (() => postgres.stop())],
    ['MinIO', minio && (() => minio.destroy())],
  ];
  await Promise.all(
    steps.map(async ([name, step]) => {
      try {
        await step?.();
      } catch (error) {
        problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
  return problems;
}

/**
 * Last resort when the process exits without globalTeardown (a failed setup, an interrupted run):
 * synchronous, so it can run in an 'exit' handler. PostgreSQL is a daemon, so it is signalled directly
 * (SIGQUIT = immediate shutdown).
 */
export function killHarnessPartsSync(parts: HarnessParts): void {
  try {
    parts.temporal?.kill();
  } catch {
    // best effort
  }
  parts.minio?.kill();
  if (parts.postgres) {
    try {
      const pid = Number(readFileSync(join(parts.postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // not running
    }
  }
}

/**
 * Kills the parts if jest goes away without globalTeardown: a failed setup, Ctrl-C, or CI's time limit.
 * PostgreSQL needs this most: pg_ctl puts the postmaster in its own session, so signals sent to jest's
 * process group never reach it. After cleaning up, the signal is re-raised so the process still dies of it.
 */
export function installEmergencyStop(parts: HarnessParts): void {
  const onExit = (): void => killHarnessPartsSync(parts);
  const onSignal = (signal: NodeJS.Signals): void => {
    remove();
    killHarnessPartsSync(parts);
    process.kill(process.pid, signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  const remove = (): void => {
    process.removeListener('exit', onExit);
    for (const signal of signals) process.removeListener(signal, onSignal);
  };
  process.once('exit', onExit);
  for (const signal of signals) process.once(signal, onSignal);
  parts.removeEmergencyStop = remove;
}
