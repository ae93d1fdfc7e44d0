/** The workflows the worker registers. Orchestration only: see eslint.config.mjs for what they may import. */
export { backupPlan } from './backupPlan';
export type { BackupPlanInput, BackupPlanResult } from './backupPlan';
export { prune } from './prune';
export type { PruneInput, PruneResult } from './prune';
export { disasterRecovery } from './disasterRecovery';
export { restoreDrill } from './restoreDrill';
