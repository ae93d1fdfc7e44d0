/** GNU tar as the dump's archiver: its arguments, its diagnostics, and what its exit means. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { ComponentError } from '../errors';
import { ProcessFailedError } from '../childProcess';

const TAR_CREATE_ARGS = [
  '--create',
  '--file=-',
  // pax: any name length, any size, sub-second mtimes; atime/ctime left out (they change on every read).
  '--format=posix',
  '--pax-option=delete=atime,delete=ctime',
  // Lifeboat chooses every entry (excludes, incrementals); names arrive NUL-separated and are taken literally.
  '--no-recursion',
  '--null',
  '--verbatim-files-from',
  '--no-unquote',
  '--files-from=-',
];

/** What GNU tar said on stderr, sorted into what decides the outcome. Bounded: a chatty tar costs no memory. */
export class TarDiagnostics {
  permissionDenied: string | undefined;
  vanished: string | undefined;
  shrank: string | undefined;
  /** Files that changed while tar read them: a warning, not a failure. */
  changedCount = 0;
  readonly other: string[] = [];
  private partial = '';

  append(text: string): void {
    const lines = (this.partial + text).split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > 8192) this.partial = this.partial.slice(0, 8192);
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.partial) this.line(this.partial);
    this.partial = '';
  }

  /** A failure that makes the rest of the archive pointless: stop tar at once. */
  get fatal(): boolean {
    return this.permissionDenied !== undefined || this.vanished !== undefined || this.shrank !== undefined;
  }

  private line(raw: string): void {
    const message = raw.replace(/^tar: /, '').trim();
    if (message === '' || /^Exiting with failure status due to previous errors$/.test(message)) return;
    let match: RegExpExecArray | null;
    if (/: file changed as we read it$/.test(message)) {
      this.changedCount++;
    } else if ((match = /^(.*): Cannot \w+: Permission denied$/.exec(message))) {
      this.permissionDenied ??= match[1];
    } else if ((match = /^(.*): Cannot \w+: No such file or directory$/.exec(message)) || (match = /^(.*): File removed before we read it$/.exec(message))) {
      this.vanished ??= match[1];
    } else if ((match = /^(.*): File shrank by \d+ bytes?; padding with zeros$/.exec(message))) {
      this.shrank ??= match[1];
    } else if (this.other.length < 20) {
      this.other.push(message);
    }
  }
}

export interface TarExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The process could not be started (tar missing). */
  spawnError?: NodeJS.ErrnoException;
}

/**
 * Turns tar's exit into the dump's verdict: undefined for success. GNU tar exits 1 when a file changed while
 * it was read; that alone is a success (a live file such as the current audit.log is captured as it was read,
 * which is the best a copy of a live file can be); any other message fails the dump.
 */
export function classifyTarExit(component: string, root: string, exit: TarExit, diagnostics: TarDiagnostics): ComponentError | undefined {
  if (exit.spawnError) {
    return exit.spawnError.code === 'ENOENT'
      ? new ComponentError(component, `cannot start tar in ${root}: GNU tar is not on the worker's PATH (apt-get install tar), or ${root} just vanished`, false, 'TarMissing')
      : new ComponentError(component, `cannot start tar in ${root}: ${exit.spawnError.message}`, true, 'TarFailed');
  }
  if (diagnostics.permissionDenied !== undefined) {
    return new ComponentError(
      component,
      `permission denied reading "${diagnostics.permissionDenied}" in ${root}: give the worker's user read access to it, or exclude it`,
      false,
      'PermissionDenied',
    );
  }
  if (diagnostics.vanished !== undefined) {
    return new ComponentError(component, `"${diagnostics.vanished}" in ${root} disappeared while the tree was being archived; will retry`, true, 'FileVanished');
  }
  if (diagnostics.shrank !== undefined) {
    return new ComponentError(component, `"${diagnostics.shrank}" in ${root} shrank while it was being read (truncated by a log rotation?); will retry`, true, 'FileShrank');
  }
  if (exit.signal) return new ComponentError(component, `tar was killed by ${exit.signal}; will retry`, true, 'TarFailed');
  if (exit.code === 0) return undefined;
  if (exit.code === 1 && diagnostics.other.length === 0 && diagnostics.changedCount > 0) return undefined;
  const said = diagnostics.other.join('; ') || 'no message';
  return new ComponentError(component, `tar exited with code ${exit.code} archiving ${root}: ${said}`, true, 'TarFailed');
}

/**
 * Starts `tar --create` in root, archiving the names written to its stdin (NUL-terminated) to its stdout.
 * `verdict` resolves once tar exited successfully and rejects with the ComponentError that says why not.
 */
export function startTarCreate(component: string, root: string): { tar: ChildProcessWithoutNullStreams; verdict: Promise<void> } {
  const tar = spawn('tar', TAR_CREATE_ARGS, { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  const diagnostics = new TarDiagnostics();
  tar.stderr.setEncoding('utf8');
  tar.stderr.on('data', (text: string) => {
    diagnostics.append(text);
    if (diagnostics.fatal) tar.kill('SIGKILL'); // the dump has failed: stop reading the rest of the tree
  });
  tar.stdin.on('error', () => undefined); // a tar that died is reported through its exit
  const verdict = new Promise<TarExit>((resolve) => {
    tar.once('error', (error) => resolve({ code: null, signal: null, spawnError: error }));
    tar.once('close', (code, signal) => resolve({ code, signal }));
  }).then((exit) => {
    diagnostics.end();
    const error = classifyTarExit(component, root, exit, diagnostics);
    if (error) throw error;
  });
  return { tar, verdict };
}

/** What a failed `tar --list` or `tar --extract` said. */
export function tarFailureDetail(error: unknown): string {
  return error instanceof ProcessFailedError ? error.stderr || error.message : (error as Error).message;
}
