/**
 * deploy/kubernetes and deploy/grafana: every manifest parses and hangs together (names, references, ports),
 * secrets are referenced and never written, the plan in the ConfigMap is valid, the scaler's RBAC is exactly
 * what src/scalers/kubernetes.ts calls and nothing cluster-wide, and the dashboard queries only metrics the
 * worker exports.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';

import { registry } from '../../src/metrics';
import { validatePlan } from '../../src/plan/validate';
import { kubernetesScalingTargetSchema, type KubernetesScalingTarget } from '../../src/scalers/schema';

const root = path.resolve(__dirname, '..', '..');
const kubernetesDir = path.join(root, 'deploy', 'kubernetes');
const dashboardFile = path.join(root, 'deploy', 'grafana', 'lifeboat-dashboard.json');

/** Manifests kept out of kustomization.yaml on purpose, each with the reason its comment gives. */
const OPTIONAL_MANIFESTS = ['servicemonitor.yaml']; // the ServiceMonitor kind exists only with the Prometheus Operator's CRDs

// ---------------------------------------------------------------------------------------------------------
// The shapes read from the manifests (only the fields the checks use).

type Labels = Record<string, string>;

interface Resource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Labels; annotations?: Labels };
  /** Where it came from, for messages. */
  file: string;
}

interface KeyRef {
  name: string;
  key: string;
}

interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef } }[];
  envFrom?: { secretRef?: { name: string }; configMapRef?: { name: string } }[];
  securityContext?: { allowPrivilegeEscalation?: boolean; readOnlyRootFilesystem?: boolean; capabilities?: { drop?: string[] } };
  resources?: { requests?: Labels; limits?: Labels };
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface Volume {
  name: string;
  emptyDir?: object;
  configMap?: { name: string };
  secret?: { secretName: string };
}

interface Deployment extends Resource {
  spec: {
    selector: { matchLabels: Labels };
    template: {
      metadata: { labels: Labels };
      spec: {
        serviceAccountName?: string;
        automountServiceAccountToken?: boolean;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
        containers: Container[];
        volumes?: Volume[];
      };
    };
  };
}

interface Service extends Resource {
  spec: { selector: Labels; ports: { name?: string; port: number; targetPort?: number | string }[] };
}

interface ServiceMonitor extends Resource {
  jobLabel?: string;
  spec: {
    jobLabel?: string;
    selector: { matchLabels: Labels };
    namespaceSelector?: { matchNames?: string[] };
    endpoints: { port?: string; path?: string }[];
  };
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Role extends Resource {
  rules: PolicyRule[];
}

interface RoleBinding extends Resource {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}

interface ConfigMap extends Resource {
  data?: Labels;
}

interface Kustomization {
  resources?: string[];
  namespace?: string;
}

// ---------------------------------------------------------------------------------------------------------
// Loading.

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return yamlFiles(full);
    return /\.ya?ml$/.test(entry.name) ? [full] : [];
  });
}

const kustomizationFile = path.join(kubernetesDir, 'kustomization.yaml');
const kustomizationText = readFileSync(kustomizationFile, 'utf8');
const manifestFiles = yamlFiles(kubernetesDir).filter((file) => path.basename(file) !== 'kustomization.yaml');

const parseErrors: string[] = [];
const resources: Resource[] = manifestFiles.flatMap((file) => {
  const relative = path.relative(kubernetesDir, file);
  return parseAllDocuments(readFileSync(file, 'utf8')).flatMap((document) => {
    parseErrors.push(...document.errors.map((error) => `${relative}: ${error.message}`));
    const value: unknown = document.toJS();
    if (value === null || value === undefined) return []; // an empty document (a trailing ---, comments only)
    return [{ ...(value as Omit<Resource, 'file'>), file: relative }];
  });
});

function ofKind<T extends Resource>(kind: string): T[] {
  return resources.filter((resource) => resource.kind === kind) as T[];
}

function only<T extends Resource>(kind: string): T {
  const found = ofKind<T>(kind);
  if (found.length !== 1) throw new Error(`expected exactly one ${kind} in deploy/kubernetes, found ${found.length}`);
  return found[0];
}

const deployment = only<Deployment>('Deployment');
const pod = deployment.spec.template.spec;
const worker = pod.containers[0];
const service = only<Service>('Service');
const planConfigMap = only<ConfigMap>('ConfigMap');
const plan: unknown = parse(planConfigMap.data?.['plan.yaml'] ?? '');

function kubernetesTargets(): KubernetesScalingTarget[] {
  const validation = validatePlan(plan);
  if (!validation.ok) return [];
  return (validation.plan.restore?.scaling ?? []).filter((target): target is KubernetesScalingTarget => target.type === 'kubernetes');
}

/** Every environment variable the plan names (urlFromEnv, tokenFromEnv...), wherever it sits in the plan. */
function planVariables(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(planVariables);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => (key.endsWith('FromEnv') && typeof child === 'string' ? [child] : planVariables(child)));
}

/** A named or numbered container port, as probes and Services give it, resolved to its number. */
function containerPort(port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return worker.ports?.find((candidate) => candidate.name === port)?.containerPort;
}

function matches(selector: Labels, labels: Labels | undefined): boolean {
  return Object.entries(selector).every(([key, value]) => labels?.[key] === value);
}

// ---------------------------------------------------------------------------------------------------------

describe('Kubernetes manifests', () => {
  test('every file parses, and every resource has apiVersion, kind and metadata.name', () => {
    expect(parseErrors).toEqual([]);
    expect(resources.length).toBeGreaterThanOrEqual(8);
    for (const resource of resources) {
      const where = `${resource.file}: ${resource.kind ?? '(no kind)'} ${resource.metadata?.name ?? '(no name)'}`;
      expect({ where, apiVersion: typeof resource.apiVersion, kind: typeof resource.kind }).toEqual({ where, apiVersion: 'string', kind: 'string' });
      expect({ where, name: resource.metadata?.name }).toEqual({ where, name: expect.stringMatching(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/) });
    }
    const kinds = new Set(resources.map((resource) => resource.kind));
    for (const kind of ['Namespace', 'ServiceAccount', 'ConfigMap', 'Deployment', 'Service', 'ServiceMonitor', 'Role', 'RoleBinding']) expect(kinds).toContain(kind);
  });

  test('the kustomization lists every manifest (but the optional ServiceMonitor) and sets no namespace', () => {
    const kustomization = parse(kustomizationText) as Kustomization;
    const listed = [...(kustomization.resources ?? [])].sort();
    const files = manifestFiles.map((file) => path.relative(kubernetesDir, file)).filter((file) => !OPTIONAL_MANIFESTS.includes(file));
    expect(listed).toEqual(files.sort());
    // A top-level namespace would move the scaler's Role and RoleBinding out of the target namespaces.
    expect(kustomization.namespace).toBeUndefined();
    for (const optional of OPTIONAL_MANIFESTS) expect(kustomizationText).toContain(`kubectl apply -f deploy/kubernetes/${optional}`);
    // Namespaced resources name their namespace themselves.
    for (const resource of resources.filter((r) => r.kind !== 'Namespace')) expect({ resource: `${resource.kind} ${resource.metadata.name}`, namespace: resource.metadata.namespace }).toEqual({ resource: `${resource.kind} ${resource.metadata.name}`, namespace: expect.any(String) });
  });

  test('no secret is written: no Secret resource, and no literal value looks like one', () => {
    expect(ofKind('Secret')).toEqual([]);
    for (const variable of worker.env ?? []) {
      if (variable.value === undefined) continue;
      expect({ name: variable.name, secretLike: /(PASSWORD|PASSWD|SECRET|TOKEN|KEY|KEY_ID|_URL)$/i.test(variable.name) }).toEqual({ name: variable.name, secretLike: false });
      expect(variable.value).not.toMatch(/^[a-z][a-z0-9+.-]*:\/\/[^/@\s:]*:[^/@\s]+@/i);
    }
  });

  test('the worker references only ConfigMaps in the kustomization and Secrets documented with `kubectl create secret`', () => {
    const namespace = deployment.metadata.namespace;
    // kustomization.yaml's comment: kubectl -n NS create secret generic NAME --from-literal=KEY=... ...
    const documented = new Map<string, Set<string>>();
    for (const [, secretNamespace, name, literals] of kustomizationText.matchAll(/kubectl -n (\S+) create secret generic (\S+)((?: --from-literal=\S+)+)/g)) {
      expect({ secret: name, namespace: secretNamespace }).toEqual({ secret: name, namespace });
      documented.set(name, new Set([...literals.matchAll(/--from-literal=([A-Za-z_][A-Za-z0-9_]*)=/g)].map((match) => match[1])));
    }
    expect(documented.size).toBeGreaterThan(0);
    const configMaps = new Map(ofKind<ConfigMap>('ConfigMap').filter((map) => map.metadata.namespace === namespace).map((map) => [map.metadata.name, map]));

    const secretRefs: KeyRef[] = (worker.env ?? []).flatMap((variable) => (variable.valueFrom?.secretKeyRef ? [variable.valueFrom.secretKeyRef] : []));
    const configMapRefs: KeyRef[] = (worker.env ?? []).flatMap((variable) => (variable.valueFrom?.configMapKeyRef ? [variable.valueFrom.configMapKeyRef] : []));
    expect(secretRefs.length).toBeGreaterThan(0);
    for (const ref of secretRefs) expect({ secret: ref.name, key: ref.key, documented: documented.get(ref.name)?.has(ref.key) ?? false }).toEqual({ secret: ref.name, key: ref.key, documented: true });
    for (const ref of configMapRefs) expect({ configMap: ref.name, key: ref.key, exists: configMaps.get(ref.name)?.data?.[ref.key] !== undefined }).toEqual({ configMap: ref.name, key: ref.key, exists: true });
    for (const from of worker.envFrom ?? []) {
      if (from.secretRef) expect(documented.has(from.secretRef.name)).toBe(true);
      if (from.configMapRef) expect(configMaps.has(from.configMapRef.name)).toBe(true);
    }
    for (const volume of pod.volumes ?? []) {
      if (volume.configMap) expect(configMaps.has(volume.configMap.name)).toBe(true);
      if (volume.secret) expect(documented.has(volume.secret.secretName)).toBe(true);
    }
  });

  test("the ConfigMap's plan passes validatePlan, and the worker gets every variable it names from a Secret", () => {
    const validation = validatePlan(plan);
    expect(validation.ok ? [] : validation.problems).toEqual([]);
    if (!validation.ok) return;
    expect(validation.plan.store.type).toBe('s3');
    expect(kubernetesTargets().length).toBeGreaterThan(0);

    const env = new Map((worker.env ?? []).map((variable) => [variable.name, variable]));
    const needed = planVariables(plan);
    expect(needed.length).toBeGreaterThan(0);
    if (validation.plan.store.type === 's3') needed.push('AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY');
    for (const name of needed) expect({ name, fromSecret: env.get(name)?.valueFrom?.secretKeyRef !== undefined }).toEqual({ name, fromSecret: true });
    for (const name of ['TEMPORAL_ADDRESS', 'LIFEBOAT_TASK_QUEUE']) expect(env.get(name)?.value).toEqual(expect.any(String));

    // The plan is mounted, so `plan apply` can run in the pod.
    const planVolume = (pod.volumes ?? []).find((volume) => volume.configMap?.name === planConfigMap.metadata.name);
    expect(planVolume).toBeDefined();
    expect(worker.volumeMounts?.find((mount) => mount.name === planVolume?.name)).toMatchObject({ readOnly: true });
  });

  test("the worker runs the image's CLI as `worker --metrics-port`, non-root, with a read-only root and /tmp on an emptyDir", () => {
    // args replace the image's CMD only; a `command` would replace its ENTRYPOINT (`node dist/src/cli/main.js`).
    const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
    const entrypoint = dockerfile.match(/^ENTRYPOINT\s+(\[.*\])\s*$/m);
    expect(entrypoint).not.toBeNull();
    expect((JSON.parse(entrypoint?.[1] ?? '[]') as string[]).at(-1)).toMatch(/cli\/main\.js$/);
    expect(worker.command).toBeUndefined();
    expect(worker.args?.slice(0, 2)).toEqual(['worker', '--metrics-port']);
    expect(worker.image).toBe('lifeboat:latest');

    // The image's `node` user is uid 1000; Kubernetes can only verify runAsNonRoot with a numeric user.
    expect(dockerfile).toMatch(/^USER node\s*$/m);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(worker.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    const tmp = worker.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
    expect(pod.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
    expect(worker.resources?.requests).toEqual(expect.objectContaining({ cpu: expect.any(String), memory: expect.any(String) }));
    expect(worker.resources?.limits).toEqual(expect.objectContaining({ memory: expect.any(String) }));
  });

  test('the metrics port agrees: --metrics-port, container port, liveness probe, Service, annotations, ServiceMonitor, alert job', () => {
    const args = worker.args ?? [];
    const port = Number(args[args.indexOf('--metrics-port') + 1]);
    expect(Number.isInteger(port) && port > 0).toBe(true);
    expect(containerPort('metrics')).toBe(port);
    expect(worker.livenessProbe?.httpGet?.path).toBe('/metrics');
    expect(containerPort(worker.livenessProbe?.httpGet?.port)).toBe(port);

    expect(service.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(matches(service.spec.selector, deployment.spec.template.metadata.labels)).toBe(true);
    expect(matches(deployment.spec.selector.matchLabels, deployment.spec.template.metadata.labels)).toBe(true);
    const servicePort = service.spec.ports.find((candidate) => containerPort(candidate.targetPort ?? candidate.port) === port);
    expect(servicePort).toBeDefined();
    // The usual annotation-based scrape job replaces the endpoint's (the pod's) port with prometheus.io/port.
    expect(service.metadata.annotations).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(port), 'prometheus.io/path': '/metrics' });

    const monitor = only<ServiceMonitor>('ServiceMonitor');
    expect(monitor.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(matches(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    expect(monitor.spec.namespaceSelector?.matchNames ?? [monitor.metadata.namespace]).toContain(service.metadata.namespace);
    expect(monitor.spec.endpoints).toEqual([expect.objectContaining({ port: servicePort?.name, path: '/metrics' })]);
    // Without a jobLabel the ServiceMonitor's job is the Service's name: the job deploy/prometheus/alerts.yml watches.
    expect(monitor.spec.jobLabel).toBeUndefined();
    const alerts = readFileSync(path.join(root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8');
    expect(alerts).toContain(`job="${service.metadata.name}"`);
  });
});

// ---------------------------------------------------------------------------------------------------------

/** The calls src/scalers/kubernetes.ts makes for one workload; `<kind>s` is its kind's plural. */
const SCALER_CALLS = [
  { verb: 'get', resource: '<kind>s/scale' }, // readScale: replicas before scale-down, and while waiting
  { verb: 'patch', resource: '<kind>s/scale' }, // patchReplicas
  { verb: 'get', resource: '<kind>s' }, // readWorkload: readyReplicas after scale-up
  { verb: 'list', resource: 'pods' }, // listPods: no pod left, terminating ones included
];
const API_GROUPS: Record<string, string> = { deployments: 'apps', statefulsets: 'apps', pods: '' };
const KINDS = kubernetesScalingTargetSchema.shape.kind.options;

/** "group resource verb" for every permission the scaler needs, for every kind a target may have. */
function expectedPermissions(): string[] {
  const permissions = KINDS.flatMap((kind) =>
    SCALER_CALLS.map(({ verb, resource }) => {
      const concrete = resource.replace('<kind>', kind);
      return `${API_GROUPS[concrete.split('/')[0]]} ${concrete} ${verb}`;
    }),
  );
  return [...new Set(permissions)].sort();
}

function grantedPermissions(role: Role): string[] {
  const granted = role.rules.flatMap((rule) =>
    (rule.apiGroups ?? []).flatMap((group) => (rule.resources ?? []).flatMap((resource) => rule.verbs.map((verb) => `${group} ${resource} ${verb}`))),
  );
  return [...new Set(granted)].sort();
}

describe('scaler RBAC', () => {
  test('the table is what src/scalers/kubernetes.ts calls', () => {
    const source = readFileSync(path.join(root, 'src', 'scalers', 'kubernetes.ts'), 'utf8');
    const expressions: Record<string, string> = { '`${plural}/scale`': '<kind>s/scale', plural: '<kind>s', "'pods'": 'pods' };
    const calls = [...source.matchAll(/call\(\{ verb: '(\w+)', resource: (`[^`]*`|'[^']*'|\w+) \}/g)].map(([, verb, resource]) => ({ verb, resource: expressions[resource] ?? resource }));
    expect(calls).toEqual(SCALER_CALLS);
    expect(KINDS).toEqual(['deployment', 'statefulset']);
    expect(expectedPermissions()).toEqual([
      ' pods list',
      'apps deployments get',
      'apps deployments/scale get',
      'apps deployments/scale patch',
      'apps statefulsets get',
      'apps statefulsets/scale get',
      'apps statefulsets/scale patch',
    ]);
  });

  test('nothing is cluster-wide: no ClusterRole or ClusterRoleBinding, every Role and RoleBinding in a namespace', () => {
    expect(resources.filter((resource) => resource.kind.startsWith('Cluster')).map((resource) => `${resource.file}: ${resource.kind}`)).toEqual([]);
    for (const resource of [...ofKind('Role'), ...ofKind('RoleBinding')]) expect(resource.metadata.namespace).toEqual(expect.any(String));
  });

  test('each Role grants exactly what the scaler calls: no more verbs, resources, groups or wildcards', () => {
    const roles = ofKind<Role>('Role');
    expect(roles.length).toBeGreaterThan(0);
    for (const role of roles) {
      expect(role.rules.filter((rule) => rule.nonResourceURLs !== undefined)).toEqual([]);
      expect({ role: `${role.metadata.namespace}/${role.metadata.name}`, granted: grantedPermissions(role) }).toEqual({
        role: `${role.metadata.namespace}/${role.metadata.name}`,
        granted: expectedPermissions(),
      });
    }
  });

  test("in every namespace the plan scales, and nowhere else, a RoleBinding binds the worker's ServiceAccount to that Role", () => {
    const serviceAccount = only<Resource>('ServiceAccount');
    expect(pod.serviceAccountName).toBe(serviceAccount.metadata.name);
    expect(serviceAccount.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(pod.automountServiceAccountToken).not.toBe(false); // the scaler authenticates with the mounted token
    expect((serviceAccount as Resource & { automountServiceAccountToken?: boolean }).automountServiceAccountToken).not.toBe(false);

    const targetNamespaces = [...new Set(kubernetesTargets().map((target) => target.namespace))].sort();
    expect(targetNamespaces.length).toBeGreaterThan(0);
    const roles = ofKind<Role>('Role');
    const bindings = ofKind<RoleBinding>('RoleBinding');
    expect([...new Set(roles.map((role) => role.metadata.namespace))].sort()).toEqual(targetNamespaces);
    expect([...new Set(bindings.map((binding) => binding.metadata.namespace))].sort()).toEqual(targetNamespaces);
    for (const binding of bindings) {
      const role = roles.find((candidate) => candidate.metadata.namespace === binding.metadata.namespace && candidate.metadata.name === binding.roleRef.name);
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role?.metadata.name });
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: serviceAccount.metadata.name, namespace: serviceAccount.metadata.namespace }]);
    }
  });
});

// ---------------------------------------------------------------------------------------------------------

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos?: { h: number; w: number; x: number; y: number };
  targets?: { expr?: string }[];
  panels?: Panel[];
}

interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; definition?: string; query?: string | { query: string }; includeAll?: boolean }[] };
}

/**
 * The restore-drill metrics agreed with the drills' implementation (issue 6b): the dashboard shows them, and a
 * worker without that code simply has no such series yet. Every other lifeboat_ metric must be exported.
 */
const AGREED_DRILL_METRICS = [
  'lifeboat_drill_last_success_timestamp_seconds',
  'lifeboat_drill_rto_seconds',
  'lifeboat_drill_rto_target_seconds',
  'lifeboat_drill_failures_total',
];

/** Every lifeboat_ metric name an expression uses (a _bucket/_count/_sum suffix is not used by any). */
function metricNames(expressions: string[]): Set<string> {
  return new Set(expressions.flatMap((expr) => expr.match(/lifeboat_[a-z_]+/g) ?? []));
}

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  const queries = panels.flatMap((panel) => (panel.targets ?? []).flatMap((target) => (target.expr ? [{ panel, expr: target.expr }] : [])));

  test('parses, with unique panel ids and a place on the grid for every panel', () => {
    expect(dashboard.uid).toBe('lifeboat');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(new Set(panels.map((panel) => panel.id)).size).toBe(panels.length);
    for (const panel of panels) expect({ panel: panel.title, gridPos: panel.gridPos }).toEqual({ panel: panel.title, gridPos: expect.objectContaining({ w: expect.any(Number), h: expect.any(Number) }) });
    expect(queries.length).toBeGreaterThanOrEqual(10);
  });

  test('has the plan variable, and every lifeboat_ query filters by it', () => {
    const variable = dashboard.templating.list.find((candidate) => candidate.name === 'plan');
    expect(variable).toMatchObject({ type: 'query', includeAll: true, definition: 'label_values(lifeboat_backup_last_success_timestamp_seconds, plan)' });
    const query = typeof variable?.query === 'string' ? variable.query : variable?.query?.query;
    expect(query).toBe('label_values(lifeboat_backup_last_success_timestamp_seconds, plan)');
    for (const { panel, expr } of queries.filter(({ expr }) => expr.includes('lifeboat_'))) expect({ panel: panel.title, expr }).toEqual({ panel: panel.title, expr: expect.stringContaining('plan=~"$plan"') });
  });

  test('every lifeboat_ metric it or the alert rules query is one the worker exports, or an agreed drill metric', async () => {
    const exported = new Set((await registry.getMetricsAsJSON()).map((metric) => metric.name));
    const variableQueries = dashboard.templating.list.map((variable) => variable.definition ?? '');
    const used = metricNames([...queries.map(({ expr }) => expr), ...variableQueries]);
    expect(used.size).toBeGreaterThanOrEqual(10);
    const alerts = parse(readFileSync(path.join(root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')) as { groups: { rules: { expr: string }[] }[] };
    const alerting = metricNames(alerts.groups.flatMap((group) => group.rules.map((rule) => String(rule.expr))));
    expect(alerting.size).toBeGreaterThanOrEqual(3);
    for (const name of [...used, ...alerting]) expect({ name, known: exported.has(name) || AGREED_DRILL_METRICS.includes(name) }).toEqual({ name, known: true });
  });

  test('per plan: last success age, duration, bytes, failures, and the drill RTO against its target', () => {
    const used = metricNames(queries.map(({ expr }) => expr));
    for (const name of ['lifeboat_backup_last_success_timestamp_seconds', 'lifeboat_backup_duration_seconds', 'lifeboat_backup_bytes', 'lifeboat_backup_failures_total', ...AGREED_DRILL_METRICS]) {
      expect({ name, shown: used.has(name) }).toEqual({ name, shown: true });
    }
  });
});
