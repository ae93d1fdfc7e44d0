/** Plan rules for s3-versioned components' consistency checks. Pure. */
import { allPredecessors } from './dag';
import type { Plan } from './schema';
import type { PlanProblem } from './validate';

/**
 * The consistency component must be a postgres component backed up before the bucket's map ("no time
 * travel": the map, taken later, then holds every object the database references) and restored before it.
 */
export function consistencyProblems(plan: Plan): PlanProblem[] {
  const problems: PlanProblem[] = [];
  plan.components.forEach((component, index) => {
    if (component.type !== 's3-versioned' || !component.consistency) return;
    const path = `components.${index}.consistency.component`;
    const target = plan.components.find((candidate) => candidate.name === component.consistency?.component);
    if (!target) problems.push({ path, message: `"${component.consistency.component}" is not a component of this plan` });
    else if (target.type !== 'postgres') problems.push({ path, message: `"${target.name}" is a ${target.type} component; the consistency query runs on a postgres component` });
    else if (!allPredecessors(plan.components, component.name).has(target.name)) {
      problems.push({
        path,
        message: `"${target.name}" must come before "${component.name}": add it to components.${index}.after, so the database is backed up (and restored) before the bucket's version map`,
      });
    }
  });
  return problems;
}
