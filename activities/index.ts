/** Every activity the worker registers; workflows see their types through proxyActivities<typeof activities>. */
export { backupComponent, recordBackupFailure, writeManifest } from './backup';
export type { BackupComponentInput, BackupProgress, WriteManifestInput } from './backup';
export * from './prune';
export { listRecoveryCandidates, restoreComponent, runRecoveryChecks, scaleDownTarget, scaleUpTarget } from './recovery';
export type { CheckResult, RestoreComponentResult } from './recovery';
export { recordRecoveryMetrics } from './recoveryMetrics';
export { dropSandboxes, prepareDrill, recordDrill, restoreSandbox, runDrillChecks } from './drill';
export type { PreparedDrill } from './drill';
