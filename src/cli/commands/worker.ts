import type { Command } from 'commander';
import { createLifeboatWorker } from '../../../worker/worker';
import { temporalSettingsFromEnv } from '../../temporal/connection';

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: executes backups and restores (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, LIFEBOAT_TASK_QUEUE)')
    .option('--task-queue <name>', 'task queue to poll (default LIFEBOAT_TASK_QUEUE or "lifeboat")')
    .option('--max-concurrent <n>', 'component dumps/restores run at once by this worker', (value) => Number.parseInt(value, 10))
    .action(async (options: { taskQueue?: string; maxConcurrent?: number }) => {
      const settings = temporalSettingsFromEnv();
      if (options.taskQueue) settings.taskQueue = options.taskQueue;
      const { worker, connection } = await createLifeboatWorker({ settings, maxConcurrentActivities: options.maxConcurrent });
      console.log(`lifeboat worker polling task queue "${settings.taskQueue}" on ${settings.address} (namespace ${settings.namespace}); Ctrl-C stops it`);
      try {
        await worker.run(); // returns after SIGINT/SIGTERM, once in-flight work has been handed back
      } finally {
        await connection.close();
      }
    });
}
