/** The restoreDrill workflow's contract: its input, result, workflow ids. Pure: workflows and clients import it. */
import type { DrillRecord } from '../catalog/drills';
import type { PlanInput } from '../plan/schema';

export interface RestoreDrillInput {
  /** The plan, as in the plan file (JSON): it names env variables, never secrets. */
  plan: PlanInput;
  /** Drill this set instead of the newest complete one. */
  setId?: string;
  /** Content hash of the plan file, recorded in the drill record. */
  planRevision?: string;
}

/** The drill's record, as stored at "<plan>/drills/<drillId>.json". */
export type RestoreDrillResult = DrillRecord;

/** Failure types of a drill that did not pass; the record travels in the failure's details. */
export const DRILL_FAILURE_TYPES = { failed: 'DrillFailed', refused: 'DrillRefused' } as const;

/** Failure types of a sandbox that must not be drilled into (a production database, or a shared sandbox). */
export const SANDBOX_REFUSAL_TYPES: readonly string[] = ['SandboxIsProduction', 'SandboxConflict'];

export function drillWorkflowId(plan: string, unique: string): string {
  return `lifeboat-drill-${plan}-${unique}`;
}
