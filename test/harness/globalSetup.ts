import { createBucket } from './buckets';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findMinio, minioMissingMessage, startMinio } from '../../src/embedded/minio';
import { findPostgresBinDir, startPostgresCluster } from '../../src/embedded/postgresCluster';
import { findTemporalCli, temporalCliMissingMessage } from '../../src/embedded/temporalCli';
import { startTemporalDevServer } from '../../src/embedded/temporalDevServer';
import { TEST_ENV_VARIABLES as V } from './env';
import { ensureTestTools } from './tools';
import { installEmergencyStop, setHarnessParts, stopHarnessParts, type HarnessParts } from './parts';

export const TEST_BUCKET = 'lifeboat-test';

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Every missing binary at once, so a fresh machine learns everything it lacks in one run. */
function locateBinaries(): { temporal: string; minio: string } {
  const problems: string[] = [];
  const temporal = findTemporalCli();
  if (!temporal) problems.push(temporalCliMissingMessage());
  const minio = findMinio();
  if (!minio) problems.push(minioMissingMessage());
  try {
    findPostgresBinDir();
  } catch (error) {
    problems.push(message(error));
  }
  if (!temporal || !minio || problems.length > 0) {
    throw new Error(`Integration test parts are missing (\`.ci/run\` installs all of them):\n- ${problems.join('\n- ')}`);
  }
  return { temporal, minio };
}

/** Starts Temporal, PostgreSQL and MinIO in parallel on free loopback ports and publishes them via process.env. */
export default async function globalSetup(): Promise<void> {
  // The SDK warns once per process that future releases need Node 22; on Node 20 that is noise in every test file.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  await ensureTestTools();
  const binaries = locateBinaries();
  const root = mkdtempSync(join(tmpdir(), 'lifeboat-test-'));
  // mkdtemp makes it 0700; the postgres OS user (when running as root) must reach its cluster dir inside.
  chmodSync(root, 0o755);
  const work = join(root, 'work');
  const temporalDir = join(root, 'temporal');
  mkdirSync(work);
  mkdirSync(temporalDir);

  const pgPassword = `lb-${randomBytes(12).toString('hex')}`;
  const s3AccessKey = `lifeboat-${randomBytes(4).toString('hex')}`;
  const s3SecretKey = randomBytes(18).toString('hex');

  const parts: HarnessParts = { root };
  setHarnessParts(parts);
  installEmergencyStop(parts);

  const results = await Promise.allSettled([
    startTemporalDevServer({
      binary: binaries.temporal,
      ui: false,
      dbFilename: join(temporalDir, 'temporal.db'),
      logFile: join(temporalDir, 'temporal.log'),
    }).then((handle) => (parts.temporal = handle)),
    startPostgresCluster({ superuserPassword: pgPassword, baseDir: root }).then((handle) => (parts.postgres = handle)),
    startMinio({ accessKey: s3AccessKey, secretKey: s3SecretKey, baseDir: root })
      .then((handle) => (parts.minio = handle))
      .then((handle) => createBucket(handle.endpoint, s3AccessKey, s3SecretKey, TEST_BUCKET)),
  ]);
  const failures = results.flatMap((result, i) =>
    result.status === 'rejected' ? [`${['Temporal dev server', 'PostgreSQL', 'MinIO'][i]}: ${message(result.reason)}`] : [],
  );
  const { temporal, postgres, minio } = parts;
  if (failures.length > 0 || !temporal || !postgres || !minio) {
    await stopHarnessParts(parts);
    setHarnessParts(undefined);
    parts.removeEmergencyStop?.();
    // The root stays: its logs explain the failure.
    throw new Error(`Integration test harness failed to start (logs under ${root}):\n${failures.join('\n')}`);
  }

  const published: Record<string, string> = {
    [V.temporalAddress]: temporal.address,
    [V.temporalHttpAddress]: temporal.httpAddress ?? '',
    [V.pgUrl]: postgres.superuserUrl('postgres'),
    [V.pgPassword]: pgPassword,
    [V.pgPort]: String(postgres.port),
    [V.pgBinDir]: postgres.binDir,
    [V.s3Endpoint]: minio.endpoint,
    [V.s3AccessKey]: s3AccessKey,
    [V.s3SecretKey]: s3SecretKey,
    [V.s3Bucket]: TEST_BUCKET,
    [V.tmpRoot]: work,
  };
  // Jest workers are forked after global setup and inherit this environment.
  Object.assign(process.env, published);
}
