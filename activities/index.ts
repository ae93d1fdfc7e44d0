/** Every activity the worker registers; workflows see their types through proxyActivities<typeof activities>. */
export { backupComponent, recordBackupFailure, writeManifest } from './backup';
export type { BackupComponentInput, BackupProgress, WriteManifestInput } from './backup';
export * from './prune';
