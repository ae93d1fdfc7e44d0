/** The verify phase's checks for s3-versioned components: the bucket equals the restored map, and nothing the database references is missing. */
import type { Manifest } from '../src/catalog/manifest';
import { checkRolledBack, type RolledBackCheck } from '../src/engines/s3Versioned';
import type { Plan } from '../src/plan/schema';
import { VerifyingStream } from '../src/repository/digest';
import { createStore } from '../src/stores';
import { restoreFromArtifact, type CheckResult } from './recovery';

export async function s3VersionedChecks(plan: Plan, manifest: Manifest): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const store = createStore(plan.store);
  for (const backup of manifest.components) {
    const component = plan.components.find((candidate) => candidate.name === backup.name);
    if (component?.type !== 's3-versioned') continue;
    // The map is read like any artifact: checksum, then decryption (an encrypted plan seals maps too), then decompression.
    let check!: RolledBackCheck;
    await restoreFromArtifact(store, plan, backup, new VerifyingStream(backup.key, backup.sha256, backup.bytes), async (content) => {
      check = await checkRolledBack(component, plan, content);
    });
    results.push({
      check: `${component.name}: s3://${component.bucket}/${component.prefix} equals the version map`,
      ok: check.differing === 0,
      detail: check.differing === 0 ? `${check.objects} objects as recorded` : `${check.differing} of ${check.objects} objects differ: ${check.differences}`,
    });
    if (check.referenced !== undefined) {
      results.push({
        check: `${component.name}: keys referenced by ${component.consistency?.component} exist`,
        ok: check.missingReferenced === 0,
        detail: check.missingReferenced === 0 ? `all ${check.referenced} exist` : `${check.missingReferenced} of ${check.referenced} missing: ${check.missingKeys}`,
      });
    }
  }
  return results;
}
