/** The verify phase's checks for s3-versioned components: the bucket equals the restored map, and nothing the database references is missing. */
import type { Manifest } from '../src/catalog/manifest';
import { Keyring } from '../src/encryption';
import { checkRolledBack } from '../src/engines/s3Versioned';
import type { Plan } from '../src/plan/schema';
import { createStore } from '../src/stores';
import { restoreFromArtifact } from '../src/repository/artifactRead';
import { VerifyingStream } from '../src/repository/digest';
import type { CheckResult } from './recovery';

export async function s3VersionedChecks(plan: Plan, manifest: Manifest): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const store = createStore(plan.store);
  for (const backup of manifest.components) {
    const component = plan.components.find((candidate) => candidate.name === backup.name);
    if (component?.type !== 's3-versioned') continue;
    // The map is read like any artifact: checksum, then decryption (an encrypted plan seals maps too), then decompression.
    const check = await restoreFromArtifact(store, Keyring.forPlan(plan), backup, new VerifyingStream(backup.key, backup.sha256, backup.bytes), (content) => checkRolledBack(component, plan, content));
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
