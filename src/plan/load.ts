/** Reading a plan file (YAML or JSON) from disk. Not for workflows: it does I/O. */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { Plan } from './schema';
import { validatePlan, type PlanProblem } from './validate';

/** A plan as loaded: the validated plan and the revision (content hash) that identifies this version of the file. */
export interface LoadedPlan {
  plan: Plan;
  /** First 12 hex digits of the file's sha256: recorded in every set it produces. */
  revision: string;
  file: string;
}

/** Bad input: the plan file is missing, unparsable or invalid. The CLI prints every problem and exits 2. */
export class PlanError extends Error {
  constructor(
    readonly file: string,
    readonly problems: PlanProblem[],
  ) {
    super(`${file}: invalid plan\n${problems.map((problem) => `  ${problem.path || '(document)'}: ${problem.message}`).join('\n')}`);
    this.name = 'PlanError';
  }
}

export function parsePlanText(text: string, file: string): LoadedPlan {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new PlanError(
      file,
      document.errors.map((error) => ({ path: '', message: `not valid YAML or JSON: ${error.message.split('\n')[0]}` })),
    );
  }
  const validation = validatePlan(document.toJS());
  if (!validation.ok) throw new PlanError(file, validation.problems);
  return { plan: validation.plan, revision: createHash('sha256').update(text).digest('hex').slice(0, 12), file };
}

export async function loadPlanFile(file: string): Promise<LoadedPlan> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
    throw new PlanError(file, [{ path: '', message: `cannot read the plan file: ${reason}` }]);
  }
  return parsePlanText(text, file);
}
