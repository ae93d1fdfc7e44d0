/**
 * A real browser for tests: Debian's Chromium driven by playwright-core (which never downloads a browser).
 * Screenshots go under `.test-artifacts/` at the repository root, which CI keeps and git ignores.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { isExecutableFile } from '../../src/embedded/binaries';
import { ensureChromium } from './tools';

export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/**
 * The machines have no outside network: without these, Chromium reaches for Google's hosts at every start
 * (component updates, sync, QUIC probes) and logs each refusal. --no-sandbox because tests run as root.
 * Playwright itself adds --headless and a fresh temporary --user-data-dir for each launch.
 */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** CHROMIUM (a path), else Debian's /usr/bin/chromium; undefined when neither is an executable file. */
export function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM, DEBIAN_CHROMIUM];
  return candidates.find((candidate): candidate is string => candidate !== undefined && candidate !== '' && isExecutableFile(candidate));
}

/** Launches headless Chromium, installing Debian's package first when it is missing and apt-get can. */
export async function launchChromium(): Promise<Browser> {
  await ensureChromium();
  const executablePath = findChromium();
  if (!executablePath) {
    throw new Error(
      `Chromium was not found at ${process.env.CHROMIUM ? `CHROMIUM=${process.env.CHROMIUM} or ` : ''}${DEBIAN_CHROMIUM}: ` +
        'install it with `apt-get install chromium` (Debian; `.ci/run` does), or set CHROMIUM to a Chromium binary.',
    );
  }
  return chromium.launch({ executablePath, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
}

/** `.test-artifacts/<name>/` at the repository root, created. */
export function artifactDir(name: string): string {
  const dir = path.resolve(__dirname, '..', '..', '.test-artifacts', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}
