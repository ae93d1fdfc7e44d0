/**
 * The worker's Prometheus metrics. Names follow Prometheus conventions; alert rules in
 * deploy/prometheus/alerts.yml use them, and so does the Grafana dashboard.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ComponentBackup, Manifest } from '../catalog/manifest';
import type { PlanStatus } from '../repository/planStatus';
import type { DrillRecord } from '../catalog/drills';
import type { DrillStatus } from '../repository/drillStatus';

export const registry = new Registry();

const planLabels = ['plan'] as const;
const componentLabels = ['plan', 'component'] as const;

export const metrics = {
  lastSuccess: new Gauge({ name: 'lifeboat_backup_last_success_timestamp_seconds', help: 'When the newest complete backup set of the plan completed (Unix time).', labelNames: planLabels, registers: [registry] }),
  duration: new Gauge({ name: 'lifeboat_backup_duration_seconds', help: 'Wall time of the last successful backup of the plan.', labelNames: planLabels, registers: [registry] }),
  bytes: new Gauge({ name: 'lifeboat_backup_bytes', help: 'Stored bytes of the last successful backup set of the plan.', labelNames: planLabels, registers: [registry] }),
  failures: new Counter({ name: 'lifeboat_backup_failures_total', help: 'Backup runs of the plan that failed.', labelNames: planLabels, registers: [registry] }),
  staleAfter: new Gauge({ name: 'lifeboat_backup_stale_after_seconds', help: 'Age of the newest complete set after which the plan is stale (cadence plus margin).', labelNames: planLabels, registers: [registry] }),
  stale: new Gauge({ name: 'lifeboat_backup_stale', help: '1 when the plan\'s newest complete set is older than its stale threshold.', labelNames: planLabels, registers: [registry] }),
  componentLastSuccess: new Gauge({ name: 'lifeboat_component_backup_last_success_timestamp_seconds', help: 'When the component was last backed up successfully (Unix time).', labelNames: componentLabels, registers: [registry] }),
  componentDuration: new Gauge({ name: 'lifeboat_component_backup_duration_seconds', help: 'Wall time of the component\'s last successful backup.', labelNames: componentLabels, registers: [registry] }),
  componentBytes: new Gauge({ name: 'lifeboat_component_backup_bytes', help: 'Stored bytes of the component\'s last successful backup.', labelNames: componentLabels, registers: [registry] }),
  componentFailures: new Counter({ name: 'lifeboat_component_backup_failures_total', help: 'Failed backup attempts of the component (each retry counts).', labelNames: componentLabels, registers: [registry] }),
};

const seconds = (iso: string) => Date.parse(iso) / 1000;

export function recordComponentSuccess(plan: string, backup: ComponentBackup): void {
  const labels = { plan, component: backup.name };
  metrics.componentLastSuccess.set(labels, seconds(backup.completedAt));
  metrics.componentDuration.set(labels, seconds(backup.completedAt) - seconds(backup.startedAt));
  metrics.componentBytes.set(labels, backup.bytes);
}

export function recordComponentFailure(plan: string, component: string): void {
  metrics.componentFailures.inc({ plan, component });
}

export function recordSetSuccess(manifest: Manifest): void {
  const labels = { plan: manifest.plan };
  metrics.lastSuccess.set(labels, seconds(manifest.completedAt));
  metrics.duration.set(labels, seconds(manifest.completedAt) - seconds(manifest.startedAt));
  metrics.bytes.set(labels, manifest.components.reduce((sum, component) => sum + component.bytes, 0));
  metrics.stale.set(labels, 0);
}

export function recordPlanFailure(plan: string): void {
  metrics.failures.inc({ plan });
}

/** Refreshes the plan-level gauges from the stores, so they survive worker restarts and show staleness between runs. */
export function recordPlanStatuses(statuses: PlanStatus[]): void {
  for (const status of statuses) {
    const labels = { plan: status.plan };
    metrics.failures.inc(labels, 0); // the series exists (at 0) before the first failure, so alerts can use increase()
    if (status.lastCompletedAt) metrics.lastSuccess.set(labels, seconds(status.lastCompletedAt));
    if (status.staleAfterMs !== undefined) metrics.staleAfter.set(labels, status.staleAfterMs / 1000);
    metrics.stale.set(labels, status.stale ? 1 : 0);
  }
}

/** Restore drills (see README "Restore drills"); the Grafana dashboard and the drill alerts use them. */
export const drillMetrics = {
  lastSuccess: new Gauge({ name: 'lifeboat_drill_last_success_timestamp_seconds', help: 'When the newest passed restore drill of the plan completed (Unix time).', labelNames: planLabels, registers: [registry] }),
  rto: new Gauge({ name: 'lifeboat_drill_rto_seconds', help: 'RTO measured by the last restore drill of the plan that got as far as passing its checks (drill start to checks passed).', labelNames: planLabels, registers: [registry] }),
  rtoTarget: new Gauge({ name: 'lifeboat_drill_rto_target_seconds', help: "The plan's rtoTarget.", labelNames: planLabels, registers: [registry] }),
  failures: new Counter({ name: 'lifeboat_drill_failures_total', help: 'Restore drills of the plan that failed or were refused.', labelNames: planLabels, registers: [registry] }),
  window: new Gauge({ name: 'lifeboat_drill_window_seconds', help: 'A passed drill older than this makes the plan overdue (drill schedule staleAfter, else twice its cadence, else 8 days).', labelNames: planLabels, registers: [registry] }),
  overdue: new Gauge({ name: 'lifeboat_drill_overdue', help: '1 while no drill of the plan has passed within its window.', labelNames: planLabels, registers: [registry] }),
};

/** Set by the drill's last activity, once its record is written. */
export function recordDrillOutcome(record: DrillRecord): void {
  const labels = { plan: record.plan };
  if (record.rtoTargetMs !== undefined) drillMetrics.rtoTarget.set(labels, record.rtoTargetMs / 1000);
  if (record.rtoMs !== undefined) drillMetrics.rto.set(labels, record.rtoMs / 1000);
  if (record.outcome === 'passed') {
    drillMetrics.lastSuccess.set(labels, seconds(record.completedAt));
    drillMetrics.overdue.set(labels, 0);
  } else {
    drillMetrics.failures.inc(labels);
  }
}

/** Refreshes the drill gauges from the stored drill records, so they survive worker restarts and show overdue plans. */
export function recordDrillStatuses(statuses: DrillStatus[]): void {
  for (const status of statuses) {
    const labels = { plan: status.plan };
    drillMetrics.failures.inc(labels, 0);
    if (status.lastPassedAt) drillMetrics.lastSuccess.set(labels, seconds(status.lastPassedAt));
    if (status.lastRtoMs !== undefined) drillMetrics.rto.set(labels, status.lastRtoMs / 1000);
    if (status.rtoTargetMs !== undefined) drillMetrics.rtoTarget.set(labels, status.rtoTargetMs / 1000);
    drillMetrics.window.set(labels, status.windowMs / 1000);
    drillMetrics.overdue.set(labels, status.overdue ? 1 : 0);
  }
}
