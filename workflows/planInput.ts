/** Plans arriving as workflow input, from Lifeboat's CLI, a Schedule or `temporal workflow start --input`. */
import { ApplicationFailure } from '@temporalio/workflow';
import type { Plan, PlanInput } from '../src/plan/schema';
import { validatePlan } from '../src/plan/validate';

/** Validates (and fills defaults) again: the `temporal` CLI bypasses Lifeboat's own checks. Fails without retries. */
export function validatedPlan(input: Plan | PlanInput | unknown): Plan {
  const validation = validatePlan(input);
  if (!validation.ok) {
    throw ApplicationFailure.nonRetryable(
      `invalid plan: ${validation.problems.map((problem) => `${problem.path || '(plan)'}: ${problem.message}`).join('; ')}`,
      'InvalidPlan',
    );
  }
  return validation.plan;
}
