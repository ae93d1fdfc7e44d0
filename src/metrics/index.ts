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

/** A gauge, or a counter, labelled by plan, in the worker's registry. */
const planGauge = (name: string, help: string) => new Gauge({ name, help, labelNames: planLabels, registers: [registry] });
const planCounter = (name: string, help: string) => new Counter({ name, help, labelNames: planLabels, registers: [registry] });

export const metrics = {
  lastSuccess: planGauge('lifeboat_backup_last_success_timestamp_seconds', 'When the newest complete backup set of the plan completed (Unix time).'),
  duration: planGauge('lifeboat_backup_duration_seconds', 'Wall time of the last successful backup of the plan.'),
  bytes: planGauge('lifeboat_backup_bytes', 'Stored bytes of the last successful backup set of the plan.'),
  failures: planCounter('lifeboat_backup_failures_total', 'Backup runs of the plan that failed.'),
  staleAfter: planGauge('lifeboat_backup_stale_after_seconds', 'Age of the newest complete set after which the plan is stale (cadence plus margin).'),
  stale: planGauge('lifeboat_backup_stale', '1 when the plan\'s newest complete set is older than its stale threshold.'),
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
  lastSuccess: planGauge('lifeboat_drill_last_success_timestamp_seconds', 'When the newest passed restore drill of the plan completed (Unix time).'),
  rto: planGauge('lifeboat_drill_rto_seconds', 'RTO measured by the last restore drill of the plan that got as far as passing its checks (drill start to checks passed).'),
  rtoTarget: planGauge('lifeboat_drill_rto_target_seconds', "The plan's rtoTarget."),
  failures: planCounter('lifeboat_drill_failures_total', 'Restore drills of the plan that failed or were refused.'),
  window: planGauge('lifeboat_drill_window_seconds', 'A passed drill older than this makes the plan overdue (drill schedule staleAfter, else twice its cadence, else 8 days).'),
  overdue: planGauge('lifeboat_drill_overdue', '1 while no drill of the plan has passed within its window.'),
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

/** Recoveries (`lifeboat restore`): how long the last one took, and when it completed. */
export const recoveryMetrics = {
  rto: planGauge('lifeboat_recovery_rto_seconds', 'RTO of the last completed recovery of the plan (recovery start to done).'),
  lastCompleted: planGauge('lifeboat_recovery_last_completed_timestamp_seconds', 'When the last recovery of the plan completed (Unix time).'),
};

/** Set once a recovery of `plan` completed: its RTO in milliseconds and when it completed. */
export function recordRecovery(plan: string, rtoMs: number, completedAt: Date): void {
  const labels = { plan };
  recoveryMetrics.rto.set(labels, rtoMs / 1000);
  recoveryMetrics.lastCompleted.set(labels, completedAt.getTime() / 1000);
}
