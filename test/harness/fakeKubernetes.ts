/**
 * A fake Kubernetes API server: no real cluster can run here, so this speaks just enough of the API for the
 * kubernetes scaler, over plain HTTP with a bearer token, and @kubernetes/client-node is exercised for real.
 *
 * It serves the scale subresource of deployments and statefulsets (GET, PATCH as JSON Patch, merge patch or
 * strategic merge patch, PUT with resourceVersion conflicts), the workloads themselves (GET, for readiness)
 * and pods (list by label selector). Like a real controller, it lets status lag behind spec: status.replicas,
 * readyReplicas and observedGeneration converge after `convergeDelayMs`, and removed pods stay "terminating"
 * for `terminatingMs` more, so that waiting is exercised. Errors are Kubernetes Status objects.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { freePort } from '../../src/embedded/ports';

export type WorkloadKind = 'deployment' | 'statefulset';

export interface FakeKubernetesOptions {
  /** How long status takes to follow a spec change. Default 300 ms. */
  convergeDelayMs?: number;
  /** How long removed pods stay terminating after status has converged. Default 300 ms. */
  terminatingMs?: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: unknown;
}

/** An authorization question, as RBAC would ask it. */
export interface AccessRequest {
  verb: 'get' | 'list' | 'patch' | 'update';
  /** e.g. "deployments/scale", "statefulsets", "pods". */
  resource: string;
  namespace: string;
}

export interface WorkloadView {
  specReplicas: number;
  statusReplicas: number;
  readyReplicas: number;
  generation: number;
  observedGeneration: number;
  /** Pods that exist, terminating ones included. */
  pods: { name: string; terminating: boolean }[];
}

export interface FakeKubernetes {
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** The bearer token it accepts; anything else is answered 401. */
  readonly token: string;
  readonly requests: RecordedRequest[];
  addWorkload(kind: WorkloadKind, namespace: string, name: string, replicas: number): void;
  workload(kind: WorkloadKind, namespace: string, name: string): WorkloadView;
  /** Answers 403 to the requests a rule matches (true: all, false: none), as missing RBAC would. */
  forbid(rule: boolean | ((request: AccessRequest) => boolean)): void;
  /** The next `count` requests are answered with `status` (e.g. 503) before anything else happens. */
  failNext(count: number, status: number): void;
  /** At most `max` replicas ever become ready (pods failing their readiness probe); undefined lifts it. */
  capReady(kind: WorkloadKind, namespace: string, name: string, max: number | undefined): void;
  close(): Promise<void>;
}

interface Workload {
  kind: WorkloadKind;
  namespace: string;
  name: string;
  uid: string;
  createdAt: string;
  spec: number;
  generation: number;
  resourceVersion: number;
  /** When spec last changed, and the status it changed from. */
  changedAt: number;
  before: { replicas: number; ready: number; observedGeneration: number };
  readyCap: number | undefined;
}

interface Status {
  replicas: number;
  ready: number;
  observedGeneration: number;
  terminating: number;
}

class ApiFailure extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: { name?: string; group?: string; kind?: string },
  ) {
    super(message);
  }
}

const KINDS: Record<string, WorkloadKind> = { deployments: 'deployment', statefulsets: 'statefulset' };
const SERVICE_ACCOUNT = 'system:serviceaccount:lifeboat:worker';

function omitZero(fields: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== 0));
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}

function isReplicaCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** The replica count after a patch of the given content type (the current one when it leaves replicas alone). */
function patchedReplicas(contentType: string, body: unknown, current: number): number {
  const invalid = (message: string) => new ApiFailure(422, 'Invalid', message);
  if (contentType === 'application/json-patch+json') {
    if (!Array.isArray(body)) throw invalid('a JSON Patch must be an array of operations');
    let replicas = current;
    for (const operation of body as { op?: unknown; path?: unknown; value?: unknown }[]) {
      if ((operation.op !== 'replace' && operation.op !== 'add') || operation.path !== '/spec/replicas') {
        throw invalid(`this fake only patches /spec/replicas (got ${JSON.stringify(operation)})`);
      }
      if (!isReplicaCount(operation.value)) throw invalid(`spec.replicas: Invalid value: ${JSON.stringify(operation.value)}`);
      replicas = operation.value;
    }
    return replicas;
  }
  if (contentType === 'application/merge-patch+json' || contentType === 'application/strategic-merge-patch+json') {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalid('a merge patch must be a JSON object');
    const spec = (body as { spec?: unknown }).spec;
    if (spec === undefined) return current;
    if (typeof spec !== 'object' || spec === null || !('replicas' in spec)) return current;
    if (spec.replicas === null) return 0;
    if (!isReplicaCount(spec.replicas)) throw invalid(`spec.replicas: Invalid value: ${JSON.stringify(spec.replicas)}`);
    return spec.replicas;
  }
  throw new ApiFailure(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got ${contentType})`);
}

export async function startFakeKubernetes(options: FakeKubernetesOptions = {}): Promise<FakeKubernetes> {
  const convergeDelayMs = options.convergeDelayMs ?? 300;
  const terminatingMs = options.terminatingMs ?? 300;
  const token = `fake-${randomBytes(16).toString('hex')}`;
  const workloads = new Map<string, Workload>();
  const requests: RecordedRequest[] = [];
  let forbidRule: (request: AccessRequest) => boolean = () => false;
  const failures: number[] = [];

  const key = (kind: WorkloadKind, namespace: string, name: string) => `${kind}/${namespace}/${name}`;
  const selectorOf = (workload: Workload) => ({ app: workload.name, 'lifeboat.test/kind': workload.kind });
  const selectorText = (workload: Workload) =>
    Object.entries(selectorOf(workload))
      .map(([label, value]) => `${label}=${value}`)
      .join(',');

  function statusOf(workload: Workload, now = Date.now()): Status {
    const since = now - workload.changedAt;
    if (since < convergeDelayMs) return { ...workload.before, terminating: 0 };
    const removed = Math.max(0, workload.before.replicas - workload.spec);
    return {
      replicas: workload.spec,
      ready: Math.min(workload.spec, workload.readyCap ?? workload.spec),
      observedGeneration: workload.generation,
      terminating: since < convergeDelayMs + terminatingMs ? removed : 0,
    };
  }

  function podsOf(workload: Workload): { name: string; terminating: boolean; ready: boolean }[] {
    const status = statusOf(workload);
    return Array.from({ length: status.replicas + status.terminating }, (_, index) => ({
      name: `${workload.name}-${index}`,
      terminating: index >= status.replicas,
      ready: index < status.ready,
    }));
  }

  function find(kind: WorkloadKind, namespace: string, name: string): Workload {
    const workload = workloads.get(key(kind, namespace, name));
    if (!workload) throw new ApiFailure(404, 'NotFound', `${kind}s.apps "${name}" not found`, { name, group: 'apps', kind: `${kind}s` });
    return workload;
  }

  function setSpec(workload: Workload, replicas: number): void {
    if (replicas === workload.spec) return; // a no-op patch changes neither generation nor status
    const now = Date.now();
    const current = statusOf(workload, now);
    workload.before = { replicas: current.replicas, ready: current.ready, observedGeneration: current.observedGeneration };
    workload.spec = replicas;
    workload.generation += 1;
    workload.resourceVersion += 1;
    workload.changedAt = now;
  }

  function metadata(workload: Workload, extra: Record<string, unknown> = {}) {
    return {
      name: workload.name,
      namespace: workload.namespace,
      uid: workload.uid,
      resourceVersion: String(workload.resourceVersion),
      creationTimestamp: workload.createdAt,
      ...extra,
    };
  }

  function scaleObject(workload: Workload) {
    return {
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: metadata(workload),
      spec: omitZero({ replicas: workload.spec }), // omitempty, as the real API server writes it
      status: { replicas: statusOf(workload).replicas, selector: selectorText(workload) },
    };
  }

  function workloadObject(workload: Workload) {
    const status = statusOf(workload);
    const labels = selectorOf(workload);
    const spec = {
      replicas: workload.spec,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'example/app:1' }] } },
    };
    if (workload.kind === 'deployment') {
      return {
        kind: 'Deployment',
        apiVersion: 'apps/v1',
        metadata: metadata(workload, { generation: workload.generation }),
        spec,
        status: omitZero({
          observedGeneration: status.observedGeneration,
          replicas: status.replicas,
          updatedReplicas: status.replicas,
          readyReplicas: status.ready,
          availableReplicas: status.ready,
        }),
      };
    }
    return {
      kind: 'StatefulSet',
      apiVersion: 'apps/v1',
      metadata: metadata(workload, { generation: workload.generation }),
      spec: { ...spec, serviceName: workload.name },
      status: {
        replicas: status.replicas, // required in StatefulSetStatus, so written even when 0
        ...omitZero({
          observedGeneration: status.observedGeneration,
          currentReplicas: status.replicas,
          updatedReplicas: status.replicas,
          readyReplicas: status.ready,
          availableReplicas: status.ready,
        }),
      },
    };
  }

  function podList(namespace: string, labelSelector: string) {
    const wanted = labelSelector
      .split(',')
      .filter((term) => term !== '')
      .map((term) => {
        const match = /^([^=!]+)==?(.*)$/.exec(term);
        if (!match) throw new ApiFailure(400, 'BadRequest', `this fake understands equality selectors only, not "${term}"`);
        return [match[1], match[2]] as const;
      });
    const items = [...workloads.values()]
      .filter((workload) => workload.namespace === namespace)
      .filter((workload) => {
        const labels: Record<string, string> = selectorOf(workload);
        return wanted.every(([label, value]) => labels[label] === value);
      })
      .flatMap((workload) =>
        podsOf(workload).map((pod) => ({
          kind: 'Pod',
          apiVersion: 'v1',
          metadata: {
            name: pod.name,
            namespace,
            labels: selectorOf(workload),
            ...(pod.terminating ? { deletionTimestamp: new Date().toISOString(), deletionGracePeriodSeconds: 30 } : {}),
          },
          status: { phase: 'Running', conditions: [{ type: 'Ready', status: pod.ready ? 'True' : 'False' }] },
        })),
      );
    return { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '1' }, items };
  }

  /** The route a request takes, as RBAC sees it, and the handler that answers it. */
  function route(method: string, pathname: string): { access: AccessRequest; name?: string; answer: (body: unknown, contentType: string, query: URLSearchParams) => unknown } {
    const workloadPath = /^\/apis\/apps\/v1\/namespaces\/([^/]+)\/(deployments|statefulsets)\/([^/]+)(\/scale)?$/.exec(pathname);
    if (workloadPath) {
      const [, namespace, plural, name, scale] = workloadPath;
      const kind = KINDS[plural];
      const resource = scale ? `${plural}/scale` : plural;
      if (method === 'GET') {
        return { access: { verb: 'get', resource, namespace }, name, answer: () => (scale ? scaleObject(find(kind, namespace, name)) : workloadObject(find(kind, namespace, name))) };
      }
      if (scale && method === 'PATCH') {
        return {
          access: { verb: 'patch', resource, namespace },
          name,
          answer: (body, contentType) => {
            const workload = find(kind, namespace, name);
            setSpec(workload, patchedReplicas(contentType, body, workload.spec));
            return scaleObject(workload);
          },
        };
      }
      if (scale && method === 'PUT') {
        return {
          access: { verb: 'update', resource, namespace },
          name,
          answer: (body) => {
            const workload = find(kind, namespace, name);
            const scaleBody = body as { metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } } | null;
            const version = scaleBody?.metadata?.resourceVersion;
            if (version !== undefined && version !== String(workload.resourceVersion)) {
              throw new ApiFailure(409, 'Conflict', `Operation cannot be fulfilled on ${plural}.apps "${name}": the object has been modified; please apply your changes to the latest version and try again`, { name, group: 'apps', kind: plural });
            }
            const replicas = scaleBody?.spec?.replicas ?? 0;
            if (!isReplicaCount(replicas)) throw new ApiFailure(422, 'Invalid', `spec.replicas: Invalid value: ${JSON.stringify(replicas)}`);
            setSpec(workload, replicas);
            return scaleObject(workload);
          },
        };
      }
    }
    const podsPath = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(pathname);
    if (podsPath && method === 'GET') {
      const namespace = podsPath[1];
      return { access: { verb: 'list', resource: 'pods', namespace }, answer: (_body, _type, query) => podList(namespace, query.get('labelSelector') ?? '') };
    }
    throw new ApiFailure(404, 'NotFound', 'the server could not find the requested resource');
  }

  function send(response: ServerResponse, code: number, body: unknown): void {
    response.writeHead(code, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }

  function sendFailure(response: ServerResponse, failure: ApiFailure): void {
    send(response, failure.code, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: failure.message,
      reason: failure.reason,
      ...(failure.details ? { details: failure.details } : {}),
      code: failure.code,
    });
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://fake');
    const method = request.method ?? 'GET';
    const contentType = request.headers['content-type']?.split(';')[0].trim();
    const text = await readBody(request);
    let body: unknown;
    try {
      body = text === '' ? undefined : JSON.parse(text);
    } catch {
      throw new ApiFailure(400, 'BadRequest', `the request body is not JSON: ${text.slice(0, 100)}`);
    }
    requests.push({ method, path: url.pathname, query: url.search, contentType, authorization: request.headers.authorization, body });

    const failure = failures.shift();
    if (failure !== undefined) throw new ApiFailure(failure, failure >= 500 ? 'InternalError' : 'BadRequest', `injected failure ${failure}`);
    if (request.headers.authorization !== `Bearer ${token}`) throw new ApiFailure(401, 'Unauthorized', 'Unauthorized');

    const { access, name, answer } = route(method, url.pathname);
    if (forbidRule(access)) {
      const [plural] = access.resource.split('/');
      const group = plural === 'pods' ? '' : 'apps';
      const subject = name ? `${plural}${group ? `.${group}` : ''} "${name}"` : plural;
      throw new ApiFailure(
        403,
        'Forbidden',
        `${subject} is forbidden: User "${SERVICE_ACCOUNT}" cannot ${access.verb} resource "${access.resource}" in API group "${group}" in the namespace "${access.namespace}"`,
        { ...(name ? { name } : {}), group, kind: plural },
      );
    }
    send(response, 200, answer(body, contentType ?? '', url.searchParams));
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      sendFailure(response, error instanceof ApiFailure ? error : new ApiFailure(500, 'InternalError', String(error)));
    });
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    requests,
    addWorkload(kind, namespace, name, replicas) {
      // Created long ago: status has converged and every replica is ready.
      workloads.set(key(kind, namespace, name), {
        kind,
        namespace,
        name,
        uid: randomUUID(),
        createdAt: new Date().toISOString(),
        spec: replicas,
        generation: 1,
        resourceVersion: 1,
        changedAt: 0,
        before: { replicas, ready: replicas, observedGeneration: 1 },
        readyCap: undefined,
      });
    },
    workload(kind, namespace, name) {
      const workload = find(kind, namespace, name);
      const status = statusOf(workload);
      return {
        specReplicas: workload.spec,
        statusReplicas: status.replicas,
        readyReplicas: status.ready,
        generation: workload.generation,
        observedGeneration: status.observedGeneration,
        pods: podsOf(workload).map(({ name: podName, terminating }) => ({ name: podName, terminating })),
      };
    },
    forbid(rule) {
      forbidRule = typeof rule === 'function' ? rule : () => rule;
    },
    failNext(count, status) {
      for (let index = 0; index < count; index += 1) failures.push(status);
    },
    capReady(kind, namespace, name, max) {
      find(kind, namespace, name).readyCap = max;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // the client keeps connections alive
      }),
  };
}

export interface KubeconfigOptions {
  /** The context made current. Default "fake"; "unreachable" points at a closed port. */
  currentContext?: 'fake' | 'unreachable';
  /** The token the "fake" user presents. Default: the one the fake accepts. */
  token?: string;
}

/**
 * Writes a kubeconfig with two contexts: "fake" (the fake API over plain, insecure HTTP, with its bearer token) and
 * "unreachable" (a closed port), so tests can select a context. Returns the file's path.
 */
export function writeKubeconfig(file: string, fake: { url: string; token: string }, options: KubeconfigOptions = {}): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      // client-node refuses plain http unless TLS verification is declared off (there is no TLS to verify).
      { name: 'fake', cluster: { server: fake.url, 'insecure-skip-tls-verify': true } },
      { name: 'unreachable', cluster: { server: 'http://127.0.0.1:1', 'insecure-skip-tls-verify': true } },
    ],
    users: [{ name: 'lifeboat', user: { token: options.token ?? fake.token } }],
    contexts: [
      { name: 'fake', context: { cluster: 'fake', user: 'lifeboat', namespace: 'default' } },
      { name: 'unreachable', context: { cluster: 'unreachable', user: 'lifeboat' } },
    ],
    'current-context': options.currentContext ?? 'fake',
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}
