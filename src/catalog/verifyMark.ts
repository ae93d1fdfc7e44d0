/**
 * The mark `backup verify` leaves on a set that failed: `<plan>/<setId>/verify-failed.json`, beside the
 * manifest. The set is kept (evidence for an operator) but never offered for restore while it is marked.
 * Pure: the key layout and the document's shape.
 */
import { z } from 'zod';
import { setPrefix } from './manifest';

const VERIFY_FAILED_FILE = 'verify-failed.json';

export const verifyFailedMarkSchema = z.object({
  setId: z.string(),
  /** When verify found the failure, ISO 8601. */
  at: z.iso.datetime(),
  /** The first artifact that failed (its key), when an artifact failed rather than the set's order. */
  artifact: z.string().optional(),
  /** One line an operator reads in `backups list` and the recovery candidates. */
  reason: z.string(),
  /** Every problem found, per artifact key ("" for the set as a whole). */
  problems: z.array(z.object({ key: z.string(), problem: z.string() })).default([]),
});

export type VerifyFailedMark = z.infer<typeof verifyFailedMarkSchema>;

export function verifyFailedKey(plan: string, setId: string): string {
  return `${setPrefix(plan, setId)}${VERIFY_FAILED_FILE}`;
}

/** "set marked by backup verify at <when>: <reason>", as candidates and listings show it. */
export function describeVerifyFailure(mark: VerifyFailedMark): string {
  return `failed verification at ${mark.at}: ${mark.reason}`;
}
