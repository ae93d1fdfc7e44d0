/**
 * `lifeboat backup verify [SET] --plan FILE [--sample SIZE] [--restore] [--json]`: re-reads artifacts (all, or
 * a random sample), runs the engine checks, optionally restores PostgreSQL artifacts into a scratch database,
 * and marks every set that fails. Exit 0: everything read is good; 1: a set failed (or could not be checked);
 * 2: bad input.
 */
import type { Command } from 'commander';
import type { Manifest } from '../../catalog/manifest';
import { loadPlanFile } from '../../plan/load';
import type { SampleSpec, SetVerificationReport, VerifySetsResult } from '../../repository/deepVerify';
import { OperationFailed, UsageError } from '../errors';
import { humanBytes, printJson } from '../output';

function printSet(report: SetVerificationReport): void {
  for (const artifact of report.artifacts) {
    console.log(`${artifact.ok ? 'ok    ' : 'FAILED'} ${artifact.component} ${artifact.key} ${humanBytes(artifact.bytes)} sha256 ${artifact.sha256.slice(0, 16)}`);
    for (const problem of artifact.problems) console.log(`         ${problem}`);
  }
  for (const restore of report.restores) {
    const where = restore.database ? ` into scratch database ${restore.database} (dropped)` : '';
    console.log(`${restore.ok ? 'ok    ' : 'FAILED'} ${restore.component} restore${where}: ${restore.tablesCompared} table(s) compared with the manifest's row counts`);
    for (const problem of restore.problems) console.log(`         ${problem}`);
  }
  for (const problem of report.problems) console.log(`FAILED order: ${problem}`);
  for (const reason of report.inconclusive) console.log(`UNKNOWN ${reason}`);
  const sampled = report.readAll ? '' : ' (sampled artifacts only)';
  if (report.ok) console.log(`set ${report.setId} verified${sampled}${report.cleared ? '; its verify-failed mark was removed' : ''}`);
  else console.log(`set ${report.setId} FAILED verification${report.marked ? `: marked (${report.marked}), no longer offered for restore` : ': not marked, the failure says nothing about the data'}`);
}

function summary(result: VerifySetsResult, sample: SampleSpec | undefined): string {
  const of = `${result.artifactsRead} of ${result.artifactsTotal} artifact(s) in ${result.sets.length} set(s)`;
  return sample ? `read ${of} (sample ${'percent' in sample ? `${sample.percent}%` : sample.count})` : `read ${of}`;
}

export function registerVerifyCommand(backup: Command): void {
  backup
    .command('verify')
    .description(
      're-read artifacts (sha256, size, the engine check: pg_restore --list, RDB checksum, tar list and audit-log lines, JSON); ' +
        'marks a failed set so it is no longer offered for restore; exits 1 naming any failure',
    )
    .requiredOption('--plan <file>', 'plan file')
    .argument('[set-id]', 'backup set id (see `lifeboat backups list`); default: every set')
    .option('--sample <size>', 'read a random subset: a percentage of the artifacts ("10%") or a number of them ("3"); at least one (default: all)')
    .option('--restore', 'also restore each PostgreSQL artifact into a scratch database on its server (dropped afterwards) and compare row counts')
    .option('--json', 'print the verification as JSON')
    .action(async (setId: string | undefined, options: { plan: string; sample?: string; restore?: boolean; json?: boolean }) => {
      // Loaded here, not at the top: `lifeboat backup run` registers this command too (see main.ts).
      const [{ Keyring }, { listBackupSets }, { parseSample, verifySets }, { createStore }] = await Promise.all([
        import('../../encryption'),
        import('../../repository/backupSets'),
        import('../../repository/deepVerify'),
        import('../../stores'),
      ]);
      const { plan } = await loadPlanFile(options.plan);
      Keyring.forPlan(plan).loadAll(); // an unset or malformed key is bad input (exit 2), before anything is read
      let sample: SampleSpec | undefined;
      try {
        sample = options.sample === undefined ? undefined : parseSample(options.sample);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
      const store = createStore(plan.store);
      const listing = await listBackupSets(store, plan.name);
      const marked = new Set(listing.failedVerification.map(({ manifest }) => manifest.setId));
      // Marked sets are verified again too: a full pass after a repair clears the mark.
      const candidates: Manifest[] = [...listing.complete, ...listing.failedVerification.map(({ manifest }) => manifest)].sort((a, b) => a.setId.localeCompare(b.setId));
      const manifests = setId === undefined ? candidates : candidates.filter((manifest) => manifest.setId === setId);
      if (manifests.length === 0) {
        throw new UsageError(
          setId === undefined
            ? `no complete backup sets for plan "${plan.name}" in ${store.location}: nothing to verify`
            : `no complete backup set "${setId}" for plan "${plan.name}" in ${store.location}: see \`lifeboat backups list --plan ${options.plan}\``,
        );
      }
      const result = await verifySets(store, plan, manifests, { sample, restore: options.restore ?? false, marked });
      if (options.json) printJson(result);
      else {
        for (const report of result.sets) printSet(report);
        console.log(summary(result, sample));
      }
      const failed = result.sets.filter((report) => !report.ok);
      if (failed.length > 0) {
        const named = failed.map((report) => {
          const artifacts = [...report.artifacts.filter((artifact) => !artifact.ok).map((artifact) => artifact.key), ...report.restores.filter((restore) => !restore.ok).map((restore) => `${restore.key} (restore)`)];
          return `set ${report.setId}${artifacts.length > 0 ? `: ${[...new Set(artifacts)].join(', ')}` : ''}${report.marked ? '' : ' (not marked: could not be checked)'}`;
        });
        throw new OperationFailed(`verification failed: ${named.join('; ')}`);
      }
    });
}
