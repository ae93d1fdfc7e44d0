/**
 * File trees (`type: files`): a directory as a GNU tar stream (pax format), for ledgers, snapshot
 * directories and audit logs.
 *
 * GNU tar reads the files (it knows hard links, long names, big files, sub-second mtimes and permissions);
 * Lifeboat decides which entries go in (./sourceTree, ./globs, ./incrementalBase), and watches tar's output
 * as it passes (./tarObserver) to count files and to feed audit logs through the line validator (./auditLog).
 *
 * Entries: regular files, directories and symbolic links. Symlinks are stored as links (never followed),
 * so a link out of the tree backs up the link, not its target. Sockets, FIFOs and device nodes are left out.
 *
 * Incremental backups are differential: each holds what changed since the newest full, so restoring needs
 * the full plus one incremental (./restore).
 */
import type { FilesComponent } from '../../plan/schema';
import type { Engine } from '../types';
import { checkFilesArtifact } from './artifactCheck';
import { dumpFiles } from './dump';

export { openFilesArtifact, restoreFilesArtifacts, type FilesArtifactSource, type RestoreFilesInput } from './restore';

export const filesEngine: Engine<FilesComponent> = {
  type: 'files',
  format: 'tar',
  extension: 'tar',
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: dumpFiles,
  checkArtifact: checkFilesArtifact,
};
