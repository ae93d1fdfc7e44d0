/**
 * `lifeboat store check --plan FILE [--json]`: what the plan's store guarantees. For S3: whether the bucket has
 * versioning and object lock (GetBucketVersioning, GetObjectLockConfiguration), and whether it can give the
 * lock the plan asks for. Exit 0 when it can (or the plan asks for none), 1 when the plan asks for a lock the
 * bucket cannot give (every locked write would fail), 2 for bad input.
 */
import type { Command } from 'commander';
import { loadPlanFile } from '../../plan/load';
import { createStore, S3Store } from '../../stores';
import { bucketProtection, protectionProblems } from '../../stores/objectLock';
import { OperationFailed } from '../errors';
import { printJson } from '../output';

export function registerStoreCommands(program: Command): void {
  const store = program.command('store').description('inspect the backup store');
  store
    .command('check')
    .description("report the store's versioning and object lock, and whether it can give the lock the plan asks for (exit 1 when it cannot)")
    .requiredOption('--plan <file>', 'plan file')
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      const backupStore = createStore(plan.store);
      if (!(backupStore instanceof S3Store)) {
        const report = { store: backupStore.location, type: plan.store.type, versioning: 'unsupported', objectLock: false, planObjectLock: null, problems: [] as string[] };
        if (options.json) printJson(report);
        else console.log(`${backupStore.location}: a local directory has no versioning or object lock (sets can be deleted by anyone who can write it)`);
        return;
      }
      const lock = backupStore.objectLock;
      const protection = await bucketProtection(backupStore);
      const problems = protectionProblems(protection, lock);
      const notes: string[] = [];
      if (!lock && protection.defaultRetention) {
        notes.push(`the bucket locks every object by default (${protection.defaultRetention.mode}, ${protection.defaultRetention.days ?? `${protection.defaultRetention.years} year(s)`}${protection.defaultRetention.days ? ' day(s)' : ''}): prune cannot delete a set before that`);
      }
      if (options.json) printJson({ store: backupStore.location, type: 's3', ...protection, planObjectLock: lock ?? null, problems, notes });
      else {
        console.log(`${backupStore.location}`);
        console.log(`  versioning:  ${protection.versioning}`);
        const retention = protection.defaultRetention ? ` (default retention ${protection.defaultRetention.mode} ${protection.defaultRetention.days ?? protection.defaultRetention.years}${protection.defaultRetention.days ? 'd' : 'y'})` : '';
        console.log(`  object lock: ${protection.objectLock ? `Enabled${retention}` : 'not enabled'}`);
        console.log(`  plan asks:   ${lock ? `objectLock ${lock.mode}, ${lock.days} day(s) per object` : 'no object lock'}`);
        for (const note of notes) console.log(`  note: ${note}`);
        for (const problem of problems) console.log(`  warning: ${problem}`);
        if (problems.length === 0 && lock) console.log(`  ok: every artifact, sidecar and manifest will be written locked (${lock.mode}) for ${lock.days} day(s)`);
      }
      backupStore.destroy();
      if (problems.length > 0) throw new OperationFailed(`store ${backupStore.location} cannot give the object lock the plan asks for: ${problems.join('; ')}`);
    });
}
