/** A worker serving Prometheus metrics, and reading one plan's value from its /metrics text. */
import { startWorker, type WorkerProcess } from './lifeboat';

/** A worker that serves metrics on a free port and refreshes plan and drill statuses every second. */
export async function startWorkerWithMetrics(env: NodeJS.ProcessEnv): Promise<WorkerProcess & { metricsUrl: string }> {
  const worker = await startWorker({ ...env, LIFEBOAT_STATUS_REFRESH_MS: '1000' }, ['--metrics-port', '0']);
  const metricsUrl = worker.output().match(/metrics at (\S+)/)?.[1];
  if (!metricsUrl) throw new Error(`the worker did not print its metrics address:\n${worker.output()}`);
  return { ...worker, metricsUrl };
}

export function metricValue(text: string, name: string, plan: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && candidate.includes(`plan="${plan}"`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}
