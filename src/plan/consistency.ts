/** Plan rules for s3-versioned components' consistency checks. Pure. */
import type { Plan } from './schema';
import type { PlanProblem } from './validate';

/** Names of every component that must complete before `name` (its `after` list, transitively). */
function predecessors(plan: Plan, name: string): Set<string> {
  const byName = new Map(plan.components.map((component) => [component.name, component]));
  const seen = new Set<string>();
  const visit = (current: string) => {
    for (const predecessor of byName.get(current)?.after ?? []) {
      if (seen.has(predecessor)) continue;
      seen.add(predecessor);
      visit(predecessor);
    }
  };
  visit(name);
  return seen;
}

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
    else if (!predecessors(plan, component.name).has(target.name)) {
      problems.push({
        path,
        message: `"${target.name}" must come before "${component.name}": add it to components.${index}.after, so the database is backed up (and restored) before the bucket's version map`,
      });
    }
  });
  return problems;
}
