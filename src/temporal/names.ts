/**
 * Names shared by workflows, the worker and clients (CLI, `temporal` CLI users): task queue, workflow types,
 * workflow ids. Pure: workflows import it; and free of the Temporal SDK, which the CLI's fast start leaves unloaded.
 */

export const DEFAULT_TASK_QUEUE = 'lifeboat';

export const WORKFLOW_TYPES = {
  backupPlan: 'backupPlan',
  prune: 'prune',
  disasterRecovery: 'disasterRecovery',
  restoreDrill: 'restoreDrill',
} as const;

/** Workflow ids: readable, and unique per run. */
export function backupWorkflowId(plan: string, unique: string): string {
  return `lifeboat-backup-${plan}-${unique}`;
}

export function pruneWorkflowId(plan: string, unique: string): string {
  return `lifeboat-prune-${plan}-${unique}`;
}
