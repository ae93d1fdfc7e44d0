/** `lifeboat s3-versions report --plan FILE [--json]`: what the noncurrent versions of s3-versioned components cost, and which kept sets lost versions. */
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { decompressor } from '../../engines/compression';
import { noncurrentVersionsReport, type NoncurrentVersionsReport } from '../../engines/s3Versioned/report';
import { loadPlanFile } from '../../plan/load';
import { listBackupSets } from '../../repository/backupSets';
import { VerifyingStream } from '../../repository/digest';
import { createStore } from '../../stores';
import { UsageError } from '../errors';
import { formatTable, humanBytes, printJson } from '../output';

export function registerS3VersionsCommands(program: Command): void {
  program
    .command('s3-versions')
    .description('versioned S3 buckets of s3-versioned components')
    .command('report')
    .description('storage of current and noncurrent versions (those kept restore points need, and the rest), and the versions kept sets have lost')
    .requiredOption('--plan <file>', 'plan file')
    .option('--json', 'print as JSON')
    .action(async (options: { plan: string; json?: boolean }) => {
      const { plan } = await loadPlanFile(options.plan);
      const components = plan.components.filter((component) => component.type === 's3-versioned');
      if (components.length === 0) throw new UsageError(`plan "${plan.name}" has no s3-versioned component`);
      const store = createStore(plan.store);
      const { complete } = await listBackupSets(store, plan.name);
      const reports: NoncurrentVersionsReport[] = [];
      for (const component of components) {
        const maps = complete.flatMap((manifest) =>
          manifest.components
            .filter((backup) => backup.name === component.name)
            .map((backup) => ({
              setId: manifest.setId,
              open: async () => {
                const content = decompressor(backup.compression);
                // A failed read or checksum destroys `content` with the error, which the merge then throws.
                void pipeline(await store.get(backup.key), new VerifyingStream(backup.key, backup.sha256, backup.bytes), content).catch(() => undefined);
                return content;
              },
            })),
        );
        reports.push(await noncurrentVersionsReport(component, maps));
      }
      if (options.json) {
        printJson({ plan: plan.name, components: reports });
        return;
      }
      for (const report of reports) {
        console.log(`${report.component}: s3://${report.bucket}/${report.prefix} (${report.sets.length} kept set(s))`);
        const row = (what: string, cost: { versions: number; bytes: number }) => [`  ${what}`, String(cost.versions), humanBytes(cost.bytes)];
        console.log(
          formatTable(
            ['  VERSIONS', 'COUNT', 'BYTES'],
            [row('current', report.current), row('noncurrent, kept for restore points', report.keptForRestorePoints), row('noncurrent, referenced by no kept set', report.unreferencedNoncurrent)],
          ),
        );
        for (const set of report.sets.filter((entry) => entry.missingVersions > 0)) {
          console.log(`  set ${set.setId} cannot be rolled back fully: ${set.missingVersions} of ${set.objects} recorded version(s) are gone: ${set.missing}`);
        }
      }
    });
}
