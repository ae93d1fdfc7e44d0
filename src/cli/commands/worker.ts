import type { Command } from 'commander';
import { installSdkMetrics, startMetricsServer, type MetricsServer } from '../../../worker/metrics';
import { createLifeboatWorker } from '../../../worker/worker';
import { recordPlanStatuses } from '../../metrics';
import { planStatuses } from '../../repository/planStatus';
import { connectClient, temporalSettingsFromEnv } from '../../temporal/connection';
import { UsageError } from '../errors';

/** How often the worker re-reads every applied plan's newest set for the staleness gauges. */
const STATUS_REFRESH_MS = 60_000;

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--metrics-port must be a port number (0-65535), not "${value}"`);
  return port;
}

export function registerWorkerCommand(program: Command): void {
  program
    .command('worker')
    .description('run a worker: executes backups and restores (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, LIFEBOAT_TASK_QUEUE)')
    .option('--task-queue <name>', 'task queue to poll (default LIFEBOAT_TASK_QUEUE or "lifeboat")')
    .option('--max-concurrent <n>', 'component dumps/restores run at once by this worker', (value) => Number.parseInt(value, 10))
    .option('--metrics-port <port>', 'serve Prometheus metrics on this port (default LIFEBOAT_METRICS_PORT; none when unset)')
    .action(async (options: { taskQueue?: string; maxConcurrent?: number; metricsPort?: string }) => {
      const settings = temporalSettingsFromEnv();
      if (options.taskQueue) settings.taskQueue = options.taskQueue;
      const metricsPortText = options.metricsPort ?? process.env.LIFEBOAT_METRICS_PORT;
      const metricsPort = metricsPortText === undefined ? undefined : parsePort(metricsPortText);
      let metricsServer: MetricsServer | undefined;
      let refresh: NodeJS.Timeout | undefined;
      if (metricsPort !== undefined) {
        await installSdkMetrics();
        metricsServer = await startMetricsServer(metricsPort);
      }
      const { worker, connection } = await createLifeboatWorker({ settings, maxConcurrentActivities: options.maxConcurrent });
      if (metricsServer) {
        console.log(`metrics at ${metricsServer.url}`);
        const { client } = await connectClient(settings);
        const refreshStatuses = () => planStatuses(client).then(recordPlanStatuses, (error: Error) => console.error(`status refresh failed: ${error.message}`));
        void refreshStatuses();
        refresh = setInterval(refreshStatuses, Number(process.env.LIFEBOAT_STATUS_REFRESH_MS || STATUS_REFRESH_MS));
      }
      console.log(`lifeboat worker polling task queue "${settings.taskQueue}" on ${settings.address} (namespace ${settings.namespace}); Ctrl-C stops it`);
      try {
        await worker.run(); // returns after SIGINT/SIGTERM, once in-flight work has been handed back
      } finally {
        if (refresh) clearInterval(refresh);
        await metricsServer?.close();
        await connection.close();
      }
    });
}
