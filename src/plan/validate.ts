/**
 * Plan validation beyond the shape: literal secrets, ordering references, duplicate names, cycles.
 * Pure: takes the parsed document, returns every problem with its path, so a user fixes them all at once.
 */
import { z } from 'zod';
import { isValidTimeZone } from '../catalog/retention';
import { consistencyProblems } from './consistency';
import { findCycle } from './dag';
import { drillProblems } from './drill';
import { planSchema, type Plan } from './schema';

export interface PlanProblem {
  /** Dotted path into the document, e.g. "components.1.after.0"; "" for the document itself. */
  path: string;
  message: string;
}

export type PlanValidation = { ok: true; plan: Plan } | { ok: false; problems: PlanProblem[] };

/** Keys that name a secret; a literal string under one is refused. */
const SECRET_KEY = /(password|passwd|secret|token|api[_-]?key|access[_-]?key|credentials?)$/i;
/** A URL carrying a password in its userinfo, e.g. postgres://user:pw@host/db. */
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i;

function joinPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Finds secrets written literally into the document, wherever they are. */
function literalSecrets(value: unknown, path: PropertyKey[] = []): PlanProblem[] {
  if (Array.isArray(value)) return value.flatMap((item, index) => literalSecrets(item, [...path, index]));
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, child]) => {
      const childPath = [...path, key];
      if (SECRET_KEY.test(key) && typeof child === 'string' && child !== '') {
        return [
          {
            path: joinPath(childPath),
            message: `a secret is written literally into the plan: keep it out of the file and reference it, e.g. ${key}FromEnv: MY_VARIABLE`,
          },
        ];
      }
      return literalSecrets(child, childPath);
    });
  }
  if (typeof value === 'string' && URL_WITH_PASSWORD.test(value)) {
    return [
      {
        path: joinPath(path),
        message:
          'a URL with a password is written literally into the plan: put the URL in an environment variable and reference it with urlFromEnv',
      },
    ];
  }
  return [];
}

function schemaProblems(error: z.ZodError): PlanProblem[] {
  return error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return {
        path: joinPath(issue.path),
        message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((key) => `"${key}"`).join(', ')}: check the spelling against the plan reference in the README`,
      };
    }
    return { path: joinPath(issue.path), message: issue.message };
  });
}

function orderingProblems(plan: Plan): PlanProblem[] {
  const problems: PlanProblem[] = [];
  const firstIndex = new Map<string, number>();
  plan.components.forEach((component, index) => {
    const earlier = firstIndex.get(component.name);
    if (earlier !== undefined) {
      problems.push({
        path: `components.${index}.name`,
        message: `duplicate component name "${component.name}" (also components.${earlier}.name): names must be unique`,
      });
    } else {
      firstIndex.set(component.name, index);
    }
  });
  plan.components.forEach((component, index) => {
    component.after.forEach((predecessor, afterIndex) => {
      const path = `components.${index}.after.${afterIndex}`;
      if (!firstIndex.has(predecessor)) {
        problems.push({ path, message: `"${predecessor}" is not a component of this plan (known: ${[...firstIndex.keys()].join(', ')})` });
      } else if (predecessor === component.name) {
        problems.push({ path, message: `component "${component.name}" cannot come after itself` });
      }
    });
  });
  if (problems.length === 0) {
    const cycle = findCycle(plan.components);
    if (cycle) {
      const index = plan.components.findIndex((component) => component.name === cycle[0]);
      problems.push({
        path: `components.${index}.after`,
        message: `dependency cycle: ${cycle.join(' -> ')}: remove one of these "after" entries`,
      });
    }
  }
  return problems;
}

function timeZoneProblems(plan: Plan): PlanProblem[] {
  const zones: [string, string | undefined][] = [
    ['schedule.timezone', plan.schedule?.timezone],
    ['retention.timezone', plan.retention?.timezone],
  ];
  return zones
    .filter(([, zone]) => zone !== undefined && !isValidTimeZone(zone))
    .map(([path, zone]) => ({ path, message: `unknown time zone "${zone}": use an IANA name such as "UTC" or "Europe/Zurich"` }));
}

export function validatePlan(document: unknown): PlanValidation {
  const secrets = literalSecrets(document);
  const parsed = planSchema.safeParse(document);
  if (!parsed.success) {
    const secretPaths = new Set(secrets.map((problem) => problem.path));
    // A literal secret usually also shows up as an unknown key; the secret message is the one that helps.
    const rest = schemaProblems(parsed.error).filter(
      (problem) => !secrets.some((secret) => secret.path.startsWith(`${problem.path}.`) || secretPaths.has(problem.path)),
    );
    return { ok: false, problems: [...secrets, ...rest] };
  }
  const ordering = orderingProblems(parsed.data);
  const problems = [...secrets, ...ordering, ...timeZoneProblems(parsed.data), ...drillProblems(parsed.data), ...(ordering.length === 0 ? consistencyProblems(parsed.data) : [])];
  return problems.length > 0 ? { ok: false, problems } : { ok: true, plan: parsed.data };
}
