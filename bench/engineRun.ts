/**
 * One Lifeboat activity run in its own process, without Temporal: the benchmark's "engine called directly"
 * rows. It runs the very activity functions the worker runs (backupComponent, restoreComponent) through
 * Temporal's MockActivityEnvironment, so the only thing missing is the orchestration around them; being a
 * separate process, its whole tree's memory can be measured on its own.
 *
 *   node dist/bench/engineRun.js '{"mode":"backup","plan":{...},"setId":"...","component":"db"}'
 *
 * Prints one JSON line: {"seconds": n, "bytes": n}.
 */
import { DefaultLogger } from '@temporalio/worker';
import { MockActivityEnvironment } from '@temporalio/testing';
import { backupComponent } from '../activities/backup';
import { restoreComponent } from '../activities/recovery';
import { planSchema, type PlanInput } from '../src/plan/schema';

export interface EngineRunInput {
  mode: 'backup' | 'restore';
  plan: PlanInput;
  setId: string;
  component: string;
}

export interface EngineRunOutput {
  seconds: number;
  bytes: number;
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '{}') as EngineRunInput;
  const plan = planSchema.parse(input.plan);
  const environment = new MockActivityEnvironment({}, { logger: new DefaultLogger('WARN') });
  const started = process.hrtime.bigint();
  const activity = { plan, setId: input.setId, component: input.component };
  const result = input.mode === 'backup' ? await environment.run(backupComponent, activity) : await environment.run(restoreComponent, activity);
  const { bytes } = result as { bytes: number };
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(`${JSON.stringify({ seconds, bytes } satisfies EngineRunOutput)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
