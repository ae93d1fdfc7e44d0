/** Build step: bundles the workflow code once, so workers need not run webpack at start-up. */
import { writeFile } from 'node:fs/promises';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import { WORKFLOW_BUNDLE, WORKFLOW_BUNDLE_OPTIONS } from './worker';

async function main(): Promise<void> {
  const { code } = await bundleWorkflowCode({ ...WORKFLOW_BUNDLE_OPTIONS, logger: new DefaultLogger('WARN') });
  await writeFile(WORKFLOW_BUNDLE, code);
}

main().catch((error: Error) => {
  console.error(`bundling workflows failed: ${error.message}`);
  process.exit(1);
});
