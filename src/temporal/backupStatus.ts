/** The backupPlan workflow's status query: what the CLI's progress display and the Web UI ask it. Pure: workflows import it. */
import { defineQuery } from '@temporalio/workflow';

export type ComponentState = 'waiting' | 'running' | 'completed' | 'failed' | 'skipped';

export interface BackupStatus {
  plan: string;
  setId: string;
  phase: 'backing-up' | 'writing-manifest' | 'pruning' | 'completed' | 'failed';
  components: { name: string; state: ComponentState; after: string[]; error?: string; bytes?: number }[];
}

export const backupStatusQuery = defineQuery<BackupStatus>('status');
