/** `lifeboat s3-versions report --plan FILE [--json]`: what the noncurrent versions of s3-versioned components cost, and which kept sets lost versions. */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Command } from 'commander';
import { decompressor } from '../../engines/compression';
import { noncurrentVersionsReport, type KeptMap, type NoncurrentVersionsReport } from '../../engines/s3Versioned/report';
import { loadPlanFile } from '../../plan/load';
import { listBackupSets } from '../../repository/backupSets';
import { VerifyingStream } from '../../repository/digest';
import { Keyring, unsealingStream } from '../../encryption';
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
      const keyring = Keyring.forPlan(plan);
      const { complete } = await listBackupSets(store, plan.name);
      const reports: NoncurrentVersionsReport[] = [];
      // The merge reads every kept map at once: they are fetched (checksum verified) to a temp dir first, so
      // fifty maps do not hold fifty store connections open (the S3 client's socket pool would run dry).
      const workDir = await mkdtemp(path.join(tmpdir(), 'lifeboat-s3-versions-'));
      try {
        for (const component of components) {
          const maps: KeptMap[] = [];
          for (const manifest of complete) {
            for (const backup of manifest.components.filter((candidate) => candidate.name === component.name)) {
              const file = path.join(workDir, `${manifest.setId}-${component.name}`);
              // Decrypted on the way to the temp file (an encrypted plan seals maps too): the tag checks happen here.
              await pipeline(await store.get(backup.key), new VerifyingStream(backup.key, backup.sha256, backup.bytes), unsealingStream(backup, keyring), createWriteStream(file));
              maps.push({ setId: manifest.setId, open: async () => createReadStream(file).pipe(decompressor(backup.compression)) });
            }
          }
          reports.push(await noncurrentVersionsReport(component, maps));
        }
      } finally {
        await rm(workDir, { recursive: true, force: true });
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
