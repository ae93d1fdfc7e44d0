/**
 * The programs the tests need beyond Node, installed when missing so that `npm test` works on a fresh
 * machine: the temporal CLI and MinIO (built with `go install`, pinned) and promtool (unpacked from Debian's
 * prometheus package, without installing the Prometheus service).
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import path from 'node:path';
import { findGo, findOnPath, isExecutableFile } from '../../src/embedded/binaries';
import { findMinio, MINIO_GO_INSTALL, MINIO_MODULE, MINIO_VERSION } from '../../src/embedded/minio';
import { runCommand } from '../../src/embedded/processes';
import { ensureTemporalCli } from '../../src/embedded/temporalCli';

const log = (line: string) => process.stderr.write(`[test tools] ${line}\n`);

export const PROMTOOL_CACHE = path.join(homedir(), '.cache', 'lifeboat', 'tools', 'promtool');

/** PROMTOOL, PATH, or the cache this module fills. */
export function findPromtool(): string | undefined {
  const candidates = [process.env.PROMTOOL, findOnPath('promtool'), PROMTOOL_CACHE];
  return candidates.find((candidate): candidate is string => candidate !== undefined && isExecutableFile(candidate));
}

async function ensureMinio(): Promise<void> {
  if (findMinio()) return;
  const go = findGo();
  if (!go) return; // globalSetup reports it as missing, with the command to run
  log(`building MinIO: ${MINIO_GO_INSTALL} (several minutes on a cold build cache)`);
  await runCommand(go, ['install', `${MINIO_MODULE}@${MINIO_VERSION}`], { timeoutMs: 45 * 60_000 });
}

async function ensurePromtool(): Promise<void> {
  if (findPromtool() || !findOnPath('apt-get') || !findOnPath('dpkg-deb')) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-promtool-'));
  try {
    log("unpacking promtool from Debian's prometheus package (apt-get download; the service is not installed)");
    const download = () => runCommand('apt-get', ['download', 'prometheus'], { cwd: dir, timeoutMs: 10 * 60_000 });
    // A fresh machine may have no package lists yet.
    await download().catch(async () => {
      await runCommand('apt-get', ['update', '-qq'], { timeoutMs: 10 * 60_000 });
      await download();
    });
    const deb = (await runCommand('sh', ['-c', 'ls prometheus_*.deb'], { cwd: dir })).stdout.trim();
    await runCommand('dpkg-deb', ['-x', deb, 'unpacked'], { cwd: dir });
    mkdirSync(path.dirname(PROMTOOL_CACHE), { recursive: true });
    copyFileSync(path.join(dir, 'unpacked', 'usr', 'bin', 'promtool'), PROMTOOL_CACHE);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Debian's chromium, for the Web UI test in a real browser: installed with apt-get when it is missing and we
 * are root (as in CI). Not in ensureTestTools: only that test needs it, and the install takes a minute or two.
 */
export async function ensureChromium(): Promise<void> {
  if (process.env.CHROMIUM || isExecutableFile('/usr/bin/chromium') || !findOnPath('apt-get') || process.getuid?.() !== 0) return;
  log("installing Debian's chromium (apt-get install chromium) for the Web UI test");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => runCommand('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], { env, timeoutMs: 15 * 60_000 });
  // A fresh machine may have no package lists yet.
  await install().catch(async () => {
    await runCommand('apt-get', ['update', '-qq'], { env, timeoutMs: 10 * 60_000 });
    await install();
  });
}

/** Installs what is missing, in parallel; failures surface later as "missing part" errors that say how to get it. */
export async function ensureTestTools(): Promise<void> {
  const results = await Promise.allSettled([ensureTemporalCli({ allowGoInstall: true, log }), ensureMinio(), ensurePromtool()]);
  for (const result of results) if (result.status === 'rejected') log(String((result.reason as Error).message ?? result.reason));
}
