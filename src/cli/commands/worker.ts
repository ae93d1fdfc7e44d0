import type { Connection } from '@temporalio/client';
import type { Command } from 'commander';
import { installSdkMetrics, startMetricsServer, type MetricsServer } from '../../../worker/metrics';
import { createLifeboatWorker } from '../../../worker/worker';
import { recordDrillStatuses, recordPlanStatuses } from '../../metrics';
import { drillStatuses } from '../../repository/drillStatus';
import { planStatuses } from '../../repository/planStatus';
import { connectClient } from '../../temporal/connection';
import { temporalSettingsFromEnv } from '../../temporal/settings';
import { listPlanSchedules } from '../../temporal/schedules';
import { portOption, UsageError } from '../errors';

/** How often the worker re-reads every applied plan's newest set for the staleness gauges. */
const STATUS_REFRESH_MS = 60_000;

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: executes backups and restores (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, LIFEBOAT_TASK_QUEUE)')
    .option('--task-queue <name>', 'task queue to poll (default LIFEBOAT_TASK_QUEUE or "lifeboat")')
    .option('--max-concurrent <n>', 'component dumps/restores run at once by this worker', (value) => {
      const count = Number(value);
      if (!Number.isInteger(count) || count < 1) throw new UsageError(`--max-concurrent must be a whole number of at least 1, not "${value}"`);
      return count;
    })
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port (default LIFEBOAT_METRICS_PORT; none when unset)', portOption('--metrics-port'))
    .action(async (options: { taskQueue?: string; maxConcurrent?: number; metricsPort?: number }) => {
      const settings = temporalSettingsFromEnv();
      if (options.taskQueue) settings.taskQueue = options.taskQueue;
      const fromEnv = process.env.LIFEBOAT_METRICS_PORT;
      const metricsPort = options.metricsPort ?? (fromEnv === undefined ? undefined : portOption('LIFEBOAT_METRICS_PORT')(fromEnv));
      let metricsServer: MetricsServer | undefined;
      let refresh: NodeJS.Timeout | undefined;
      let statusConnection: Connection | undefined;
      try {
        if (metricsPort !== undefined) {
          await installSdkMetrics();
          metricsServer = await startMetricsServer(metricsPort);
        }
        const { worker, connection } = await createLifeboatWorker({ settings, maxConcurrentActivities: options.maxConcurrent });
        try {
          if (metricsServer) {
            console.log(`metrics at ${metricsServer.url}`);
            const connected = await connectClient(settings);
            statusConnection = connected.connection;
            let refreshing = false; // a slow store must not stack refreshes on top of each other
            const refreshStatuses = async () => {
              if (refreshing) return;
              refreshing = true;
              try {
                // One listing (list, describe and validate every schedule) feeds both.
                const schedules = await listPlanSchedules(connected.client);
                const now = new Date();
                await Promise.all([
                  planStatuses(connected.client, now, schedules).then(recordPlanStatuses, (error: Error) => console.error(`status refresh failed: ${error.message}`)),
                  drillStatuses(connected.client, now, schedules).then(recordDrillStatuses, (error: Error) => console.error(`drill status refresh failed: ${error.message}`)),
                ]);
              } catch (error) {
                console.error(`status refresh failed: ${(error as Error).message}`);
              } finally {
                refreshing = false;
              }
            };
            void refreshStatuses();
            refresh = setInterval(refreshStatuses, Number(process.env.LIFEBOAT_STATUS_REFRESH_MS || STATUS_REFRESH_MS));
          }
          console.log(`lifeboat worker polling task queue "${settings.taskQueue}" on ${settings.address} (namespace ${settings.namespace}); Ctrl-C stops it`);
          await worker.run(); // returns after SIGINT/SIGTERM, once in-flight work has been handed back
        } finally {
          await connection.close();
        }
      } finally {
        if (refresh) clearInterval(refresh);
        await statusConnection?.close();
        await metricsServer?.close();
      }
    });
}
