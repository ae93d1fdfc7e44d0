import { join } from 'node:path';
import { findGo, goBinDir, isExecutableFile, locateBinary } from './binaries';
import { runCommand, type LogFn } from './processes';

/** Later tags carry a `replace` directive in go.mod, which `go install pkg@version` refuses. */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = 'github.com/temporalio/cli/cmd/temporal';
export const TEMPORAL_CLI_GO_INSTALL = `go install ${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`;

export type TemporalCliSource = 'TEMPORAL_CLI' | 'PATH' | 'GOPATH' | 'go install';

/** The `temporal` CLI from env TEMPORAL_CLI, then PATH, then Go's bin dir; undefined when absent. */
export function findTemporalCli(): string | undefined {
  return locateBinary('temporal', 'TEMPORAL_CLI')?.path;
}

export function temporalCliMissingMessage(): string {
  return (
    'The Temporal CLI (`temporal`, which runs the dev server) was not found via TEMPORAL_CLI, PATH or $(go env GOPATH)/bin. ' +
    `Build it with \`${TEMPORAL_CLI_GO_INSTALL}\` (needs Go; takes a few minutes the first time), ` +
    'or set TEMPORAL_CLI to the path of an existing binary.'
  );
}

export interface EnsureTemporalCliOptions {
  /** Build the CLI with `go install` when it is missing and Go is available. */
  allowGoInstall: boolean;
  log?: LogFn;
}

/** Finds the CLI, building it from the Go module proxy when allowed; throws with instructions otherwise. */
export async function ensureTemporalCli(options: EnsureTemporalCliOptions): Promise<{ path: string; how: TemporalCliSource }> {
  const found = locateBinary('temporal', 'TEMPORAL_CLI');
  if (found) return { path: found.path, how: found.how === 'env' ? 'TEMPORAL_CLI' : found.how };
  const go = findGo();
  if (!options.allowGoInstall || !go) throw new Error(temporalCliMissingMessage());
  options.log?.(`temporal CLI not found; running ${TEMPORAL_CLI_GO_INSTALL} (a few minutes on a cold build cache)`);
  await runCommand(go, ['install', `${TEMPORAL_CLI_MODULE}@${TEMPORAL_CLI_VERSION}`], { timeoutMs: 45 * 60_000 });
  const built = join(goBinDir(), 'temporal');
  if (!isExecutableFile(built)) throw new Error(`${TEMPORAL_CLI_GO_INSTALL} succeeded but ${built} is not there. ${temporalCliMissingMessage()}`);
  options.log?.(`built ${built}`);
  return { path: built, how: 'go install' };
}
