/**
 * deploy/prometheus/alerts.yml: valid for Prometheus (promtool check rules), behaving as its unit tests say
 * (promtool test rules), and naming only metrics the worker really exports.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

import { registry } from '../../src/metrics';
import { findPromtool } from '../harness/tools';

const dir = path.resolve(__dirname, '..', '..', 'deploy', 'prometheus');

/** Unpacked by the test harness's global setup when missing (see test/harness/tools.ts). */
function promtool(): string {
  const found = findPromtool();
  if (!found) throw new Error("promtool not found and could not be unpacked from Debian's prometheus package: set PROMTOOL, or `apt-get install prometheus`");
  return found;
}

test('promtool accepts the rules', () => {
  expect(execFileSync(promtool(), ['check', 'rules', 'alerts.yml'], { cwd: dir, encoding: 'utf8' })).toContain('SUCCESS: 8 rules found');
});

test("the rules' unit tests pass: stale after cadence plus margin, failures, worker down, never completed, drills overdue, failed and over their RTO target", () => {
  expect(execFileSync(promtool(), ['test', 'rules', 'alerts.test.yml'], { cwd: dir, encoding: 'utf8' })).toContain('SUCCESS');
});

test('every lifeboat_ metric the rules use is one the worker exports', async () => {
  const rules = parse(readFileSync(path.join(dir, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  const used = new Set(rules.groups.flatMap((group) => group.rules.flatMap((rule) => rule.expr.match(/lifeboat_[a-z_]+/g) ?? [])));
  const exported = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
  expect(used.size).toBeGreaterThanOrEqual(4);
  for (const name of ['lifeboat_drill_last_success_timestamp_seconds', 'lifeboat_drill_rto_seconds', 'lifeboat_drill_rto_target_seconds', 'lifeboat_drill_failures_total']) expect(used).toContain(name);
  for (const name of used) expect(exported).toContain(name);
});
