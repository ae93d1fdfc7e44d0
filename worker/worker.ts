/** The worker process: registers Lifeboat's workflows and activities on one task queue. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, type BundleOptions, type WorkerOptions } from '@temporalio/worker';
import * as activities from '../activities';
import type { TemporalSettings } from '../src/temporal/settings';
import { dataConverterFromEnv } from '../src/encryption/payloadCodec';

/** Prebuilt by `npm run build` (worker/bundle.ts) so a worker starts in a second instead of bundling. */
export const WORKFLOW_BUNDLE = path.resolve(__dirname, '..', 'workflow-bundle.js');

/**
 * The bundle's inline source map leaves out the sources' text (3 MB of the 4.7 MB bundle, most of it zod's).
 * The SDK parses that map in the worker's main thread and again in its workflow thread; without the text the
 * worker holds about 20 MiB less (bench/RESULTS.md). Stack traces (`temporal workflow stack`, the Web UI's
 * Stack Trace tab) still name our files and lines.
 */
const bundleWebpackConfig: NonNullable<BundleOptions['webpackConfigHook']> = (config) => ({ ...config, devtool: 'inline-nosources-source-map' });

/** How the workflow code is bundled, by `npm run build` (worker/bundle.ts) or, without a prebuilt bundle, at start. */
export const WORKFLOW_BUNDLE_OPTIONS = {
  workflowsPath: require.resolve('../workflows'),
  webpackConfigHook: bundleWebpackConfig,
  // Evaluated once per workflow thread instead of once per workflow (workflows/sharedModules.ts says why).
  preloadModules: [require.resolve('../workflows/sharedModules')],
} satisfies BundleOptions;

export interface LifeboatWorkerOptions {
  settings: TemporalSettings;
  /** How many component dumps or restores one worker runs at once; each costs a few MiB of buffers. */
  maxConcurrentActivities?: number;
}

export async function createLifeboatWorker({ settings, maxConcurrentActivities }: LifeboatWorkerOptions): Promise<{ worker: Worker; connection: NativeConnection }> {
  // Payload encryption (when configured): codecs run outside the workflow sandbox, the bundle is unaffected.
  const dataConverter = dataConverterFromEnv();
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: settings.address });
  } catch (error) {
    throw new Error(`cannot connect to Temporal at ${settings.address}: ${(error as Error).message}. Start one with \`npm start\` or set TEMPORAL_ADDRESS`, {
      cause: error,
    });
  }
  const { workflowsPath, ...bundlerOptions } = WORKFLOW_BUNDLE_OPTIONS;
  const workflows: Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'bundlerOptions'> = existsSync(WORKFLOW_BUNDLE)
    ? { workflowBundle: { codePath: WORKFLOW_BUNDLE } }
    : { workflowsPath, bundlerOptions };
  const worker = await Worker.create({
    connection,
    namespace: settings.namespace,
    taskQueue: settings.taskQueue,
    activities,
    ...workflows,
    maxConcurrentActivityTaskExecutions: maxConcurrentActivities ?? Number(process.env.LIFEBOAT_MAX_CONCURRENT_ACTIVITIES || 4),
    // Heartbeats carry progress (bytes, expected bytes) that `backup run --wait` and `restore status --watch` show:
    // without this the SDK sends them only every 0.8 x heartbeat timeout (24 s for the default 30 s).
    maxHeartbeatThrottleInterval: '2s',
    dataConverter,
  });
  return { worker, connection };
}
