/**
 * `lifeboat up` (what `npm start` runs): the embedded stack in one process. A Temporal dev server with its
 * Web UI, a worker, the example plan's databases, and a backup of the example plan into a local directory.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createLifeboatWorker } from '../../../worker/worker';
import type { BackupPlanResult } from '../../../workflows';
import { prepareExampleDatabases } from '../../embedded/exampleDatabases';
import { freePort } from '../../embedded/ports';
import { ensureTemporalCli } from '../../embedded/temporalCli';
import { startDownloadedDevServer, startTemporalDevServer, type TemporalDevServerHandle } from '../../embedded/temporalDevServer';
import { findGo } from '../../embedded/binaries';
import { loadPlanFile } from '../../plan/load';
import { connectClient } from '../../temporal/connection';
import { temporalSettingsFromEnv, uniqueRunSuffix } from '../../temporal/settings';
import { backupWorkflowId, WORKFLOW_TYPES } from '../../temporal/names';
import { humanBytes } from '../output';
import { installSdkMetrics, startMetricsServer } from '../../../worker/metrics';
import { portOption } from '../errors';
import { applySchedules, describeScheduleOf } from './schedule';

const EXAMPLE_PLAN = path.resolve(__dirname, '..', '..', '..', '..', 'examples', 'plan.yaml');
/** The example plan's environment variables and the databases `up` creates for them. */
const EXAMPLE_DATABASES = { APPS_DATABASE_URL: 'lifeboat_example_apps', PARTICIPANT_DATABASE_URL: 'lifeboat_example_participant' };

const say = (line: string) => console.log(`[lifeboat up] ${line}`);

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer().once('error', () => resolve(false));
    server.listen(preferred, '127.0.0.1', () => server.close(() => resolve(true)));
  });
  return free ? preferred : freePort();
}

async function startTemporal(stateDir: string): Promise<TemporalDevServerHandle> {
  const port = await portOr(7233);
  const httpPort = await portOr(7243); // Temporal's HTTP API port, for TEMPORAL_HTTP_ADDRESS
  const uiPort = await portOr(8233);
  const dbFilename = path.join(stateDir, 'temporal.db');
  let binary: string;
  try {
    const found = await ensureTemporalCli({ allowGoInstall: true, log: say });
    say(found.how === 'go install' ? `built the temporal CLI with go install: ${found.path}` : `using the temporal CLI from ${found.how}: ${found.path}`);
    binary = found.path;
  } catch (error) {
    if (findGo()) throw error;
    say('no temporal CLI and no Go: letting the Temporal SDK download the dev server (needs internet)');
    return startDownloadedDevServer({ port, uiPort, ui: true, dbFilename });
  }
  return startTemporalDevServer({ binary, port, httpPort, uiPort, ui: true, dbFilename, log: say });
}

export function registerUpCommand(program: Command): void {
  program
    .command('up')
    .description('run the embedded stack: Temporal dev server + Web UI, a worker, and a backup of the example plan')
    .option('--plan <file>', 'plan to back up', EXAMPLE_PLAN)
    .option('--state-dir <dir>', "where the dev server's database lives", '.lifeboat')
    .option('--once', 'stop everything after the first backup instead of running until Ctrl-C')
    .option('--metrics-port <port>', "the worker's Prometheus metrics (default 9464, or a free port when it is taken)", portOption('--metrics-port'))
    .action(async (options: { plan: string; stateDir: string; once?: boolean; metricsPort?: number }) => {
      const { plan, revision } = await loadPlanFile(options.plan);
      // The SDK's metrics exporter is part of the runtime, which must exist before any connection is made.
      await installSdkMetrics();
      mkdirSync(options.stateDir, { recursive: true });
      const cleanups: (() => Promise<void>)[] = [];
      const cleanUp = async () => {
        for (const cleanup of cleanups.reverse()) await cleanup().catch((error: Error) => say(`cleanup: ${error.message}`));
      };
      try {
        const temporal = await startTemporal(options.stateDir);
        cleanups.push(() => temporal.stop());
        say(`Temporal dev server at ${temporal.address}${temporal.uiUrl ? `, Web UI at ${temporal.uiUrl}` : ''}`);
        if (temporal.httpAddress) say(`its HTTP API at ${temporal.httpAddress}: \`export TEMPORAL_HTTP_ADDRESS=${temporal.httpAddress}\` makes \`lifeboat backup run\` start faster`);

        const needed = Object.fromEntries(Object.entries(EXAMPLE_DATABASES).filter(([variable]) => !process.env[variable]));
        if (Object.keys(needed).length > 0) {
          const databases = await prepareExampleDatabases({ log: say, names: needed });
          if (databases.cluster) cleanups.push(() => databases.cluster!.stop());
          Object.assign(process.env, databases.urls); // the in-process worker reads them, as a real worker would
          say(`example databases on ${databases.description}`);
        }

        // The task queue is the one every other command reads (LIFEBOAT_TASK_QUEUE), so that `backup run` from
        // another shell reaches this worker; the dev server's address and namespace are up's own.
        const settings = { address: temporal.address, namespace: temporal.namespace, taskQueue: temporalSettingsFromEnv().taskQueue };
        const { worker, connection: workerConnection } = await createLifeboatWorker({ settings });
        const running = worker.run();
        running.catch(() => undefined); // reported where it is awaited, in cleanup; never an unhandled rejection
        cleanups.push(async () => {
          if (worker.getState() === 'RUNNING') worker.shutdown();
          await running;
          await workerConnection.close();
        });
        say(`worker polling task queue "${settings.taskQueue}"`);
        const metrics = await startMetricsServer(options.metricsPort ?? (await portOr(9464)), '127.0.0.1');
        cleanups.push(() => metrics.close());
        say(`metrics at ${metrics.url}`);

        const { client, connection } = await connectClient(settings);
        cleanups.push(() => connection.close());
        const workflowId = backupWorkflowId(plan.name, uniqueRunSuffix());
        const where = plan.store.type === 'local' ? path.resolve(plan.store.path) : `s3://${plan.store.bucket}/${plan.store.prefix}`;
        say(`backups go to ${where}`);
        say(`backing up plan "${plan.name}" (${plan.components.map((component) => component.name).join(', ')}): workflow ${workflowId}`);
        const result = (await client.workflow.execute(WORKFLOW_TYPES.backupPlan, {
          taskQueue: settings.taskQueue,
          workflowId,
          args: [{ plan, planRevision: revision }],
        })) as BackupPlanResult;
        say(`backup set ${result.setId} complete in ${where}:`);
        for (const component of result.components) say(`  ${component.name}: ${humanBytes(component.bytes)} sha256 ${component.sha256.slice(0, 16)}…`);
        if (temporal.uiUrl) say(`see the workflow at ${temporal.uiUrl}/namespaces/${temporal.namespace}/workflows/${workflowId}`);
        if (plan.schedule) {
          // As `plan apply` does: the backup schedule, and the drill schedule when the plan has one.
          await applySchedules(client, plan, revision, settings.taskQueue, say);
          const schedule = await describeScheduleOf(client, plan.name);
          const next = schedule.info.nextActionTimes[0];
          say(`next scheduled run: ${next ? next.toISOString() : 'none'} (schedule ${schedule.scheduleId}${options.once ? ', runs while `lifeboat up` does' : ''})`);
        } else {
          say(`plan "${plan.name}" has no schedule: add one (see the README) to back it up unattended`);
        }
        if (options.once) return;
        say('running; Ctrl-C stops everything started here');
        await running;
      } finally {
        await cleanUp();
        if (existsSync(options.stateDir)) say(`stopped (dev server state kept in ${options.stateDir})`);
      }
    });
}
