/**
 * Scaling targets in a plan (`restore.scaling`) and the state a scale-down remembers. Pure (zod only):
 * src/plan/schema.ts imports it and workflows import that, so nothing here may touch I/O, and nothing here
 * imports src/plan/schema.ts (that would be an import cycle).
 */
import { z } from 'zod';

// The same durations as src/plan/schema.ts's durationSchema, repeated here to keep the import one-way.
const duration = z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as "30s", "5m" or "6h"');

/** How long scale-down may wait until the target has stopped, and scale-up until it is ready. */
const readyTimeout = duration.default('5m');

// Kubernetes object names: a namespace is a DNS label, a workload name a DNS subdomain.
const kubernetesNamespace = z
  .string()
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a Kubernetes namespace: lower-case letters, digits and "-"');
const kubernetesName = z
  .string()
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes object name: lower-case letters, digits, "-" and "."');

export const kubernetesScalingTargetSchema = z.strictObject({
  type: z.literal('kubernetes'),
  namespace: kubernetesNamespace,
  kind: z.enum(['deployment', 'statefulset']),
  name: kubernetesName,
  /** A kubeconfig file on the worker. Without it: the pod's service account when the worker runs in a cluster, else KUBECONFIG or ~/.kube/config. */
  kubeconfig: z.string().min(1).optional(),
  /** A context of that kubeconfig; default: its current context. */
  context: z.string().min(1).optional(),
  readyTimeout,
});

// Compose's own rules for project and service names.
const composeProject = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be a Compose project name: lower-case letters, digits, "-" and "_"');
const composeService = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, 'must be a Compose service name: letters, digits, "_", "." and "-"');

export const composeScalingTargetSchema = z.strictObject({
  type: z.literal('compose'),
  /** `docker compose -p`; default: Compose's own (the directory name, or COMPOSE_PROJECT_NAME). */
  project: composeProject.optional(),
  /** `docker compose -f`, on the worker; relative paths are resolved against the worker's working directory. */
  file: z.string().min(1).optional(),
  services: z
    .array(composeService)
    .min(1, 'name at least one service')
    .refine((services) => new Set(services).size === services.length, 'services must not repeat'),
  readyTimeout,
});

export const commandScalingTargetSchema = z.strictObject({
  type: z.literal('command'),
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'use 1-63 lower-case letters, digits, "-" or "_", starting with a letter or digit'),
  /** Shell commands (`/bin/sh -c`) on the worker. `down` returns once the service has stopped. */
  down: z.string().min(1),
  up: z.string().min(1),
  /** Exits 0 when the service is up: polled after `up` until it does, and after `down` until it no longer does. */
  ready: z.string().min(1).optional(),
  readyTimeout,
});

export const scalingTargetSchema = z.discriminatedUnion('type', [
  kubernetesScalingTargetSchema,
  composeScalingTargetSchema,
  commandScalingTargetSchema,
]);

export type ScalingTarget = z.infer<typeof scalingTargetSchema>;
export type ScalingTargetInput = z.input<typeof scalingTargetSchema>;
export type KubernetesScalingTarget = z.infer<typeof kubernetesScalingTargetSchema>;
export type ComposeScalingTarget = z.infer<typeof composeScalingTargetSchema>;
export type CommandScalingTarget = z.infer<typeof commandScalingTargetSchema>;

/**
 * How a target is named in messages, status text and remembered state, e.g. `deployment shop/web`,
 * `compose services app, worker of project shop`, `command "app"`. Unique within a plan.
 */
export function describeScalingTarget(target: ScalingTarget): string {
  switch (target.type) {
    case 'kubernetes':
      return `${target.kind} ${target.namespace}/${target.name}${target.context ? ` (context ${target.context})` : ''}`;
    case 'compose': {
      const where = target.project ? ` of project ${target.project}` : target.file ? ` of ${target.file}` : '';
      return `compose services ${target.services.join(', ')}${where}`;
    }
    case 'command':
      return `command "${target.name}"`;
  }
}

/** `restore.scaling` in a plan: each target once (two entries scaling the same thing would fight). */
export const scalingSchema = z.array(scalingTargetSchema).superRefine((targets, context) => {
  const seen = new Map<string, number>();
  targets.forEach((target, index) => {
    const description = describeScalingTarget(target);
    const first = seen.get(description);
    if (first === undefined) seen.set(description, index);
    else context.addIssue({ code: 'custom', path: [index], message: `${description} is already scaling target ${first}` });
  });
});

/**
 * What a scale-down remembers so that scale-up can restore it. Plain JSON: it travels through Temporal
 * between activities and is shown in workflow history, so it holds counts and names, never credentials.
 */
export const scaledStateSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('kubernetes'),
    target: z.string(),
    /** spec.replicas before the scale-down. */
    replicas: z.number().int().nonnegative(),
  }),
  z.strictObject({
    type: z.literal('compose'),
    target: z.string(),
    /** The target's services that were running before the scale-down: the ones scale-up starts. */
    running: z.array(z.string()),
  }),
  z.strictObject({
    type: z.literal('command'),
    target: z.string(),
    // Always true: a shell target cannot tell "stopped on purpose" from "crashed", and a recovery brings it up.
    wasUp: z.literal(true),
  }),
]);

export type ScaledState = z.infer<typeof scaledStateSchema>;
