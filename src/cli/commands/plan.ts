import type { Command } from 'commander';
import { topologicalOrder } from '../../plan/dag';
import { loadPlanFile } from '../../plan/load';
import { printJson } from '../output';

export function registerPlanCommands(program: Command): void {
  const plan = program.command('plan').description('check and apply plan files');
  plan
    .command('validate')
    .description('check a plan file; exits 2 naming every problem by its path')
    .argument('<file>', 'plan file (YAML or JSON)')
    .option('--json', 'print the validated plan as JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      const { plan: validated, revision } = await loadPlanFile(file);
      if (options.json) {
        printJson({ plan: validated, revision });
        return;
      }
      const order = topologicalOrder(validated.components);
      console.log(`${file}: plan "${validated.name}" is valid (revision ${revision})`);
      console.log(`  store: ${validated.store.type === 'local' ? `local ${validated.store.path}` : `s3://${validated.store.bucket}/${validated.store.prefix}`}`);
      for (const name of order) {
        const component = validated.components.find((candidate) => candidate.name === name);
        if (!component) continue;
        console.log(`  ${component.name} (${component.type})${component.after.length > 0 ? ` after ${component.after.join(', ')}` : ''}`);
      }
    });
  plan
    .command('apply')
    .description("create or update the plan's Temporal Schedule (lifeboat-<plan>); applying the same plan twice changes nothing")
    .argument('<file>', 'plan file')
    // Loaded only here: the schedule module brings the Temporal client, which `plan validate` does without.
    .action(async (file: string) => (await import('./schedule')).applyPlan(file));
}
