/**
 * Names shared by workflows, the worker and clients (CLI, `temporal` CLI users): task queue, workflow types,
 * queries. Pure: workflows import it.
 */
import { defineQuery } from '@temporalio/workflow';

export const DEFAULT_TASK_QUEUE = 'lifeboat';

export const WORKFLOW_TYPES = {
  backupPlan: 'backupPlan',
  prune: 'prune',
  disasterRecovery: 'disasterRecovery',
  restoreDrill: 'restoreDrill',
} as const;

export type ComponentState = 'waiting' | 'running' | 'completed' | 'failed' | 'skipped';

export interface BackupStatus {
  plan: string;
  setId: string;
  phase: 'backing-up' | 'writing-manifest' | 'pruning' | 'completed' | 'failed';
  components: { name: string; state: ComponentState; after: string[]; error?: string; bytes?: number }[];
}

export const backupStatusQuery = defineQuery<BackupStatus>('status');

/** Workflow ids: readable, and unique per run. */
export function backupWorkflowId(plan: string, unique: string): string {
  return `lifeboat-backup-${plan}-${unique}`;
}

export function pruneWorkflowId(plan: string, unique: string): string {
  return `lifeboat-prune-${plan}-${unique}`;
}
