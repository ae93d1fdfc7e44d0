/**
 * Drill records: what one restore drill did, stored at "<plan>/drills/<drillId>.json" (written last, once the
 * sandboxes are gone). Outside any set id, so backup listings and retention never see them. Pure.
 */
import { z } from 'zod';

export const DRILL_RECORD_FORMAT_VERSION = 1;

const isoTime = z.iso.datetime();

export const drillCheckResultSchema = z.strictObject({
  check: z.string(),
  ok: z.boolean(),
  detail: z.string(),
});

export const drilledComponentSchema = z.strictObject({
  name: z.string(),
  type: z.string(),
  drilled: z.boolean(),
  /** "database on host:port" of the sandbox: never a URL, so never a password. */
  sandbox: z.string().optional(),
  /** Artifact bytes streamed into the sandbox. */
  bytes: z.number().int().nonnegative().optional(),
  /** Why it was not drilled, or how its restore failed. */
  note: z.string().optional(),
});

export const drillRecordSchema = z.strictObject({
  formatVersion: z.literal(DRILL_RECORD_FORMAT_VERSION),
  plan: z.string(),
  drillId: z.string(),
  planRevision: z.string(),
  workflowId: z.string(),
  runId: z.string(),
  /** The set restored (absent when the drill stopped before choosing one). */
  setId: z.string().optional(),
  startedAt: isoTime,
  completedAt: isoTime,
  /** passed: every drilled component restored and every check passed; refused: a sandbox was production. */
  outcome: z.enum(['passed', 'failed', 'refused']),
  reason: z.string().optional(),
  /** Drill start to checks passed (only measured when they passed). */
  rtoMs: z.number().nonnegative().optional(),
  rtoTargetMs: z.number().nonnegative().optional(),
  /** rtoMs within rtoTargetMs; absent without a target or a measured RTO. */
  rtoMet: z.boolean().optional(),
  components: z.array(drilledComponentSchema),
  checks: z.array(drillCheckResultSchema),
  /** Checks the drill could not run (HTTP checks, checks on components without a sandbox). */
  checksNotRun: z.array(z.string()),
  /** Sandbox databases dropped afterwards, and any that could not be. */
  cleanup: z.strictObject({ dropped: z.array(z.string()), problems: z.array(z.string()) }),
});

export type DrillRecord = z.infer<typeof drillRecordSchema>;
export type DrillCheckResult = z.infer<typeof drillCheckResultSchema>;

export function drillsPrefix(plan: string): string {
  return `${plan}/drills/`;
}

export function drillRecordKey(plan: string, drillId: string): string {
  return `${drillsPrefix(plan)}${drillId}.json`;
}

/** The drill id in a record key, or undefined for any other key. */
export function drillIdOfKey(plan: string, key: string): string | undefined {
  const match = new RegExp(`^${drillsPrefix(plan).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([^/]+)\\.json$`).exec(key);
  return match?.[1];
}
