/**
 * Exclude and audit-log globs, with gitignore's conventions (what operators already write): a pattern without
 * '/' matches a name at any depth (`*.tmp`, `cache`); one with '/' is anchored at the root (`cache/**`,
 * `logs/*.gz`); `dir/**` also matches `dir` itself; a trailing '/' matches directories only; `*` also matches
 * names that begin with a dot.
 */
import picomatch from 'picomatch';

/** Whether a path (relative to the component's root, '/'-separated) matches; directories may match differently. */
export type PathMatcher = (relativePath: string, isDirectory: boolean) => boolean;

// posix: `[!a]` negates a class. nonegate and noextglob: a leading '!' and `@(…)` are plain characters, as in
// gitignore (an exclude list that picomatch read as "everything but x" would drop the whole tree).
const OPTIONS: picomatch.PicomatchOptions = { dot: true, posix: true, nonegate: true, noextglob: true };

/** picomatch reads `(…)` as a regular-expression group and a `{` never closed as matching nothing: both are literal here. */
function escapeGroupsAndUnclosedBraces(glob: string): string {
  return glob.replace(/\\.|[()]|\{(?![^]*\})/g, (match) => (match.length === 2 ? match : `\\${match}`));
}

function compileGlob(glob: string): { matches: (relativePath: string) => boolean; directoriesOnly: boolean } | undefined {
  const directoriesOnly = glob.endsWith('/');
  const pattern = glob.replace(/\/+$/, '').replace(/^(\.\/)+/, '');
  if (pattern === '') return undefined; // "/": no relative path is empty
  const fromRoot = pattern.includes('/') ? pattern.replace(/^\/+/, '') : `**/${pattern}`;
  return { matches: picomatch(escapeGroupsAndUnclosedBraces(fromRoot), OPTIONS), directoriesOnly };
}

/** True when any of the globs matches. */
export function pathMatcher(globs: readonly string[]): PathMatcher {
  const rules = globs.map(compileGlob).filter((rule) => rule !== undefined);
  return (relativePath, isDirectory) => rules.some(({ matches, directoriesOnly }) => (isDirectory || !directoriesOnly) && matches(relativePath));
}
