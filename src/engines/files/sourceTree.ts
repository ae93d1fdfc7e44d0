/** The directory being backed up: its root checked, walked in one fixed order, excludes applied. */
import type { Stats } from 'node:fs';
import { access, constants, lstat, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ComponentError } from '../errors';
import type { PathMatcher } from './globs';

/** One entry of the tree, as the index sidecar records it. Sizes of directories are 0 (their on-disk size means nothing). */
export interface TreeEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  /** Permission bits (st_mode & 0o7777). */
  mode: number;
}

/**
 * The tree's order: depth first, names sorted by UTF-16 code unit, a directory before its contents. As one
 * comparison: lexicographic, with '/' below every other character (so "a/x" < "a.txt", "a" < "a/x").
 * The walk and every index follow it, which lets an incremental merge the tree with the base index.
 */
export function comparePaths(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return (x === 47 ? -1 : x) - (y === 47 ? -1 : y);
  }
  return a.length - b.length;
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** Fails unless root is a directory the worker can list and enter. */
export async function checkRoot(component: string, root: string): Promise<void> {
  let stats: Stats;
  try {
    stats = await stat(root);
    // tar runs inside the root and the walk lists it: both need read and search permission.
    if (stats.isDirectory()) await access(root, constants.R_OK | constants.X_OK);
  } catch (error) {
    const code = errnoCode(error);
    if (code === 'ENOENT') {
      throw new ComponentError(component, `path ${root} does not exist on the worker: create or mount it, or fix the plan's path`, false, 'PathMissing');
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ComponentError(component, `permission denied reaching ${root}: give the worker's user access to it`, false, 'PermissionDenied');
    }
    throw new ComponentError(component, `cannot read ${root}: ${(error as Error).message}`, true, 'TreeUnreadable');
  }
  if (!stats.isDirectory()) throw new ComponentError(component, `path ${root} is not a directory`, false, 'NotADirectory');
}

function entryType(stats: Stats): TreeEntry['type'] | undefined {
  if (stats.isFile()) return 'file';
  if (stats.isDirectory()) return 'dir';
  if (stats.isSymbolicLink()) return 'symlink';
  return undefined; // sockets, FIFOs, devices: not restorable as data
}

function walkError(component: string, root: string, relative: string, error: unknown): ComponentError {
  const where = relative ? `"${relative}" in ${root}` : root;
  const code = errnoCode(error);
  if (code === 'EACCES' || code === 'EPERM') {
    return new ComponentError(component, `permission denied reading ${where}: give the worker's user access to it, or exclude it`, false, 'PermissionDenied');
  }
  return new ComponentError(component, `cannot read ${where}: ${(error as Error).message}`, true, 'TreeUnreadable');
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Depth-first, names sorted, a directory before its contents (comparePaths order). Excluded directories are
 * not entered. Memory: the names of the directories on the current path.
 */
export async function* walkTree(component: string, root: string, excluded: PathMatcher, relativeDir = ''): AsyncGenerator<TreeEntry> {
  let rawNames: Buffer[];
  try {
    rawNames = await readdir(path.join(root, relativeDir), { encoding: 'buffer' });
  } catch (error) {
    if (relativeDir && errnoCode(error) === 'ENOENT') return; // removed during the walk: it is gone
    throw walkError(component, root, relativeDir, error);
  }
  const names = rawNames.map((raw) => {
    try {
      return strictUtf8.decode(raw);
    } catch {
      throw new ComponentError(component, `a file name in ${path.join(root, relativeDir)} is not valid UTF-8 (${raw.toString('latin1')}); rename it or exclude its directory`, false, 'UnsupportedFileName');
    }
  });
  names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const name of names) {
    const relative = relativeDir ? `${relativeDir}/${name}` : name;
    let stats: Stats;
    try {
      stats = await lstat(path.join(root, relative));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') continue;
      throw walkError(component, root, relative, error);
    }
    const type = entryType(stats);
    if (!type || excluded(relative, type === 'dir')) continue;
    yield { path: relative, type, size: type === 'dir' ? 0 : stats.size, mtimeMs: stats.mtimeMs, ctimeMs: stats.ctimeMs, mode: stats.mode & 0o7777 };
    if (type === 'dir') yield* walkTree(component, root, excluded, relative);
  }
}
