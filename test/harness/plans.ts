/** Plan validation in tests: the problems an invalid plan text is refused with. */
import { parsePlanText, PlanError } from '../../src/plan/load';
import type { PlanProblem } from '../../src/plan/validate';

export function planProblems(text: string): PlanProblem[] {
  try {
    parsePlanText(text, 'plan.yaml');
  } catch (error) {
    if (error instanceof PlanError) return error.problems;
    throw error;
  }
  throw new Error('expected the plan to be invalid');
}
