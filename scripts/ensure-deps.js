#!/usr/bin/env node
// Runs before `npm start` and `npm test`: installs the dependencies when node_modules is missing or older than
// the lock file, so that a fresh clone needs nothing but those two commands.
const { spawnSync } = require('node:child_process');
const { readFileSync, statSync, writeFileSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const mtime = (file) => {
  try {
    return statSync(path.join(root, file)).mtimeMs;
  } catch {
    return undefined;
  }
};

const installed = mtime('node_modules/.package-lock.json');
if (installed !== undefined && installed >= mtime('package-lock.json')) process.exit(0);

console.error('[lifeboat] installing dependencies (node_modules is missing or older than package-lock.json)');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// `npm ci` first; registries that omit other platforms' optional binaries make it refuse the lock file,
// and `npm install` with the same lock file then installs the same versions.
const lockFile = path.join(root, 'package-lock.json');
const committedLock = readFileSync(lockFile);
for (const args of [['ci'], ['install']]) {
  const result = spawnSync(npm, [...args, '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) continue;
  // `npm install` must install the locked versions, not quietly pick new ones.
  if (!readFileSync(lockFile).equals(committedLock)) {
    writeFileSync(lockFile, committedLock);
    console.error('[lifeboat] package-lock.json is out of date with package.json: run `npm install` and commit the lock file');
    process.exit(1);
  }
  process.exit(0);
}
console.error('[lifeboat] could not install the dependencies: see npm\'s messages above');
process.exit(1);
