import { execFileSync } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';

export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable called `name` on PATH. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** Go on PATH, or at its default tarball location (often installed there without touching PATH). */
export function findGo(): string | undefined {
  const onPath = findOnPath('go');
  if (onPath) return onPath;
  return isExecutableFile('/usr/local/go/bin/go') ? '/usr/local/go/bin/go' : undefined;
}

/**
 * Where `go install` puts binaries: GOBIN when set, else the first GOPATH entry's bin.
 * Asks `go env` when Go exists (it knows about go.env files), else mirrors Go's defaults.
 */
export function goBinDir(): string {
  const go = findGo();
  if (go) {
    try {
      const [gobin = '', gopath = ''] = execFileSync(go, ['env', 'GOBIN', 'GOPATH'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n');
      if (gobin.trim()) return gobin.trim();
      const first = gopath.trim().split(delimiter)[0];
      if (first) return join(first, 'bin');
    } catch {
      // fall through to the defaults below
    }
  }
  if (process.env.GOBIN) return process.env.GOBIN;
  const gopath = process.env.GOPATH?.split(delimiter)[0];
  return join(gopath || join(homedir(), 'go'), 'bin');
}

export type FoundHow = 'env' | 'PATH' | 'GOPATH';

/** Looks for a binary the way every part does: an env override, then PATH, then Go's bin dir. */
export function locateBinary(name: string, envVar: string): { path: string; how: FoundHow } | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) {
    // An override that points nowhere is a mistake worth reporting, not something to silently skip.
    if (!isExecutableFile(fromEnv)) throw new Error(`${envVar}=${fromEnv} is not an executable file`);
    return { path: fromEnv, how: 'env' };
  }
  const onPath = findOnPath(name);
  if (onPath) return { path: onPath, how: 'PATH' };
  const inGoBin = join(goBinDir(), name);
  if (isExecutableFile(inGoBin)) return { path: inGoBin, how: 'GOPATH' };
  return undefined;
}
