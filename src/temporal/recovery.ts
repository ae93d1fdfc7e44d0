/**
 * The disasterRecovery workflow's contract with operators: input, human gates (signals for the Web UI,
 * updates of the same names for the CLI), and the `status` query. Pure: workflows and clients import it.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { PlanInput } from '../plan/schema';

export interface DisasterRecoveryInput {
  /** The plan, as in the plan file (JSON). */
  plan: PlanInput;
  /** Restrict the candidates to one recovery point: a set's timestamp or its id. */
  target?: { timestamp?: string; setId?: string };
  approvals?: {
    /** Distinct approvers who must agree on the same timestamp (default 1). */
    required?: number;
    /** Only these names may approve (default: anyone). */
    approvers?: string[];
    /** End the gate with no restore after this long (e.g. "2h"; default: wait forever). */
    timeout?: string;
  };
  /** Stop after the gate and return what would be restored, from where, with sizes and an estimated duration. */
  dryRun?: boolean;
}

/** A recovery point operators can agree on. */
export interface RecoveryCandidate {
  setId: string;
  /** The set's point in time (when its backup started), ISO 8601: what operators approve. */
  timestamp: string;
  completedAt: string;
  bytes: number;
  components: { name: string; key: string; bytes: number; durationMs: number }[];
}

export interface ApproveRecoveryPointInput {
  timestamp: string;
  approver: string;
  comment?: string;
}

export interface AbortInput {
  by: string;
  reason: string;
}

export interface ResumeInput {
  by: string;
  action: 'retry' | 'skip' | 'abort';
}

export type RecoveryPhase =
  | 'candidates'
  | 'agreement'
  | 'scale-down'
  | 'restore'
  | 'verify'
  | 'scale-up'
  | 'completed'
  | 'aborted'
  | 'timed-out'
  | 'dry-run'
  | 'failed';

export interface Approval extends ApproveRecoveryPointInput {
  at: string;
}

export interface StepResult {
  step: string;
  phase: RecoveryPhase;
  startedAt: string;
  completedAt?: string;
  outcome: 'running' | 'ok' | 'failed' | 'skipped';
  error?: string;
}

export interface RecoveryStatus {
  plan: string;
  phase: RecoveryPhase;
  candidates: RecoveryCandidate[];
  /** Candidates left out, with why (failed checksum, broken order). */
  rejected: { setId: string; reason: string }[];
  approvals: Approval[];
  required: number;
  agreed?: { timestamp: string; setId: string; approvers: string[] };
  steps: StepResult[];
  /** Set while a failed step waits at the resume gate. */
  waitingForResume?: { step: string; error: string };
  errors: string[];
}

export interface RecoveryReport {
  plan: string;
  outcome: 'recovered' | 'aborted' | 'timed-out' | 'dry-run';
  setId?: string;
  recoveryPoint?: string;
  startedAt: string;
  completedAt: string;
  /** Start of the workflow to the service ready again. */
  rtoMs?: number;
  /** Recovery point to the disaster declaration (the workflow's start): the data lost. */
  dataLossWindowMs?: number;
  approvals: Approval[];
  steps: StepResult[];
  /** Targets left scaled down (after an abort past scale-down). */
  leftDown?: string[];
  abortedBy?: AbortInput;
  /** For a dry run: what would be restored from where. */
  plannedRestore?: { component: string; key: string; bytes: number; estimatedMs: number }[];
  estimatedDurationMs?: number;
}

export const approveRecoveryPointSignal = defineSignal<[ApproveRecoveryPointInput]>('approveRecoveryPoint');
export const approveRecoveryPointUpdate = defineUpdate<RecoveryStatus, [ApproveRecoveryPointInput]>('approveRecoveryPoint');
export const abortSignal = defineSignal<[AbortInput]>('abort');
export const abortUpdate = defineUpdate<RecoveryStatus, [AbortInput]>('abort');
export const resumeSignal = defineSignal<[ResumeInput]>('resume');
export const resumeUpdate = defineUpdate<RecoveryStatus, [ResumeInput]>('resume');
export const recoveryStatusQuery = defineQuery<RecoveryStatus>('status');

export function recoveryWorkflowId(plan: string, unique: string): string {
  return `lifeboat-recovery-${plan}-${unique}`;
}
