/** Build step: bundles the workflow code once, so workers need not run webpack at start-up. */
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { bundleWebpackConfig, WORKFLOW_BUNDLE } from './worker';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: new DefaultLogger('WARN'), webpackConfigHook: bundleWebpackConfig });
  await writeFile(WORKFLOW_BUNDLE, code);
}

main().catch((error: Error) => {
  console.error(`bundling workflows failed: ${error.message}`);
  process.exit(1);
});
