/**
 * Restore drills as the plan describes them: which components are drilled into which sandbox, which checks
 * run there, and the plan-level problems with a `drill` section. Pure: workflows import it.
 */
import { isValidTimeZone } from '../catalog/retention';
import type { Component, Plan, PostgresComponent, SqlCheck } from './schema';

/** Problems with `drill` and `rtoTarget`, each named by its path, for validatePlan. */
export function drillProblems(plan: Plan): { path: string; message: string }[] {
  const drill = plan.drill;
  if (!drill) return [];
  const problems: { path: string; message: string }[] = [];
  const names = plan.components.map((component) => component.name);
  const targets = Object.entries(drill.targets);
  if (targets.length === 0) {
    problems.push({ path: 'drill.targets', message: 'name at least one postgres component and its sandbox, e.g. `apps: { databaseSuffix: _drill }`' });
  }
  for (const [name, target] of targets) {
    const path = `drill.targets.${name}`;
    const component = plan.components.find((candidate) => candidate.name === name);
    if (!component) {
      problems.push({ path, message: `"${name}" is not a component of this plan (known: ${names.join(', ')})` });
    } else if (component.type !== 'postgres') {
      problems.push({ path, message: `drills restore PostgreSQL components only; "${name}" is ${component.type}: remove it from drill.targets (it is reported as not drilled)` });
    } else if (target.urlFromEnv === component.connection.urlFromEnv) {
      problems.push({
        path: `${path}.urlFromEnv`,
        message: `${target.urlFromEnv} is the production connection of "${name}": a drill would restore over production; name a variable that holds a sandbox URL, or use databaseSuffix`,
      });
    }
  }
  (drill.checks ?? []).forEach((check, index) => {
    if (!drill.targets[check.component]) {
      problems.push({ path: `drill.checks.${index}.component`, message: `"${check.component}" has no sandbox in drill.targets, so the check cannot run in a drill: add a target or remove the check` });
    }
  });
  if (drill.schedule?.timezone && !isValidTimeZone(drill.schedule.timezone)) {
    problems.push({ path: 'drill.schedule.timezone', message: `unknown time zone "${drill.schedule.timezone}": use an IANA name such as "UTC" or "Europe/Zurich"` });
  }
  return problems;
}

/** A component the drill restores into its sandbox. */
export function drilledComponents(plan: Plan): PostgresComponent[] {
  const targets = plan.drill?.targets ?? {};
  return plan.components.filter((component): component is PostgresComponent => component.type === 'postgres' && targets[component.name] !== undefined);
}

/** Why a component is not drilled (never silently passed). */
export function notDrilledReason(plan: Plan, component: Component): string | undefined {
  if (component.type === 'postgres') return plan.drill?.targets[component.name] ? undefined : 'no sandbox in drill.targets';
  return component.type === 'http' ? 'HTTP exports are not restored (no drill possible)' : `drills do not restore ${component.type} components yet`;
}

/** The SQL checks a drill runs: drill.checks, else the plan's restore checks on drilled components; and those it cannot run. */
export function drillChecks(plan: Plan): { run: SqlCheck[]; notRun: string[] } {
  if (plan.drill?.checks) return { run: plan.drill.checks, notRun: [] };
  const run: SqlCheck[] = [];
  const notRun: string[] = [];
  for (const check of plan.restore?.checks ?? []) {
    if (!('sql' in check)) notRun.push(`GET ${check.url}: the service is not pointed at the sandbox`);
    else if (plan.drill?.targets[check.component]) run.push(check);
    else notRun.push(`${check.component}: ${check.sql}: "${check.component}" has no sandbox`);
  }
  return { run, notRun };
}

/** Default drill window (no successful drill for this long raises LifeboatDrillOverdue) for drills without a schedule. */
export const DEFAULT_DRILL_WINDOW_MS = 8 * 86_400_000;
