/**
 * The worker's Prometheus metrics. Names follow Prometheus conventions; alert rules in
 * deploy/prometheus/alerts.yml use them, and so does the Grafana dashboard.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { ComponentBackup, Manifest } from '../catalog/manifest';
import type { PlanStatus } from '../repository/planStatus';

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
