/**
 * Kubernetes deployments and statefulsets, through the scale subresource (what `kubectl scale` uses, and
 * what an RBAC role can grant without write access to the workload itself).
 *
 * RBAC the worker's identity needs in the target's namespace: get and patch on <kind>s/scale (reading and
 * setting replicas), get on <kind>s (readiness), list on pods (that no pod is left, terminating ones included).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import type * as k8s from '@kubernetes/client-node';
import { ScalerBase } from './base';
import { type KubernetesScalingTarget, type ScaledState } from './schema';
import { ScalerError, type ScaleDownOptions, type Scaler, type WaitOptions } from './types';
import { errorMessage, pollUntil, rememberedState } from './waiting';

type KubernetesClient = typeof k8s;

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

let clientLoading: Promise<KubernetesClient> | undefined;

/**
 * @kubernetes/client-node 1.x is an ES module only. `import()` compiles to `require()` in our CommonJS build,
 * which Node.js does for ES modules from 20.19 on (2.x needs Node 22). Loaded on first use, so a worker whose
 * plans scale no Kubernetes target never loads it.
 */
async function kubernetesClient(target: string): Promise<KubernetesClient> {
  clientLoading ??= import('@kubernetes/client-node');
  try {
    return await clientLoading;
  } catch (error) {
    clientLoading = undefined;
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'ERR_REQUIRE_ESM' ? `; it needs Node.js 20.19 or later (this is ${process.version})` : '';
    throw new ScalerError(target, `cannot load @kubernetes/client-node: ${errorMessage(error)}${hint}`, false, 'ClientUnavailable');
  }
}

/** The HTTP status of a failed API call, or undefined for network failures (duck-typed: see errorMessage). */
function httpStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined;
  return typeof error.code === 'number' ? error.code : undefined;
}

/** The `message` of the Kubernetes Status object a failed call returned, when there is one. */
function statusMessage(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('body' in error) || typeof error.body !== 'string') return undefined;
  try {
    const status: unknown = JSON.parse(error.body);
    if (typeof status === 'object' && status !== null && 'message' in status && typeof status.message === 'string') return status.message;
  } catch {
    // not JSON: a proxy's page, say
  }
  return error.body.trim().slice(0, 300) || undefined;
}

interface ApiCall {
  verb: 'get' | 'patch' | 'list';
  resource: string;
}

/** The API calls this scaler makes, for one workload. */
interface WorkloadApi {
  readScale(): Promise<k8s.V1Scale>;
  patchReplicas(replicas: number): Promise<k8s.V1Scale>;
  readWorkload(): Promise<k8s.V1Deployment | k8s.V1StatefulSet>;
  listPods(labelSelector: string): Promise<k8s.V1Pod[]>;
}

export class KubernetesScaler extends ScalerBase<KubernetesScalingTarget> implements Scaler {
  readonly type = 'kubernetes';
  private api: Promise<WorkloadApi> | undefined;

  async scaleDown(options: ScaleDownOptions = {}): Promise<ScaledState> {
    const api = await this.workloadApi();
    const state = options.remembered
      ? rememberedState(this, options.remembered)
      : { type: 'kubernetes' as const, target: this.describe(), replicas: (await api.readScale()).spec?.replicas ?? 0 };
    options.onRecorded?.(state);
    await api.patchReplicas(0);
    const awaited = await pollUntil(async () => {
      const scale = await api.readScale();
      const wanted = scale.spec?.replicas ?? 0;
      if (wanted !== 0) {
        throw new ScalerError(
          this.describe(),
          `spec.replicas went back to ${wanted} while waiting for the scale-down: something else scales this ${this.target.kind} (a HorizontalPodAutoscaler, a GitOps controller such as Argo CD or Flux, an operator); pause it for the recovery`,
          false,
          'ScaledBack',
        );
      }
      const replicas = scale.status?.replicas ?? 0;
      if (replicas > 0) return `status.replicas=${replicas}`;
      // status.replicas leaves out terminating pods, which may still be writing: wait until they are gone too.
      const selector = scale.status?.selector;
      if (!selector) return undefined;
      const pods = (await api.listPods(selector)).filter((pod) => pod.status?.phase !== 'Succeeded' && pod.status?.phase !== 'Failed');
      if (pods.length === 0) return undefined;
      const terminating = pods.filter((pod) => pod.metadata?.deletionTimestamp !== undefined).length;
      return `${pods.length} pod(s) left (${terminating} terminating)`;
    }, this.waitOptions(options));
    if (awaited !== undefined) {
      throw new ScalerError(
        this.describe(),
        `not stopped after ${this.target.readyTimeout}: ${awaited}; see \`kubectl -n ${this.target.namespace} get pods\`, or raise readyTimeout`,
        true,
        'StillRunning',
      );
    }
    return state;
  }

  async scaleUp(previous: ScaledState): Promise<void> {
    const state = rememberedState(this, previous);
    await (await this.workloadApi()).patchReplicas(state.replicas);
  }

  async waitReady(previous: ScaledState, options: WaitOptions = {}): Promise<void> {
    const state = rememberedState(this, previous);
    const api = await this.workloadApi();
    const awaited = await pollUntil(async () => {
      const workload = await api.readWorkload();
      const generation = workload.metadata?.generation ?? 0;
      // Until the controller has seen the new spec, readyReplicas describes the old one.
      if ((workload.status?.observedGeneration ?? 0) < generation) return `the controller has not yet observed generation ${generation}`;
      const ready = workload.status?.readyReplicas ?? 0;
      return ready >= state.replicas ? undefined : `${ready}/${state.replicas} replicas ready`;
    }, this.waitOptions(options));
    if (awaited !== undefined) {
      throw new ScalerError(
        this.describe(),
        `not ready after ${this.target.readyTimeout}: ${awaited}; see \`kubectl -n ${this.target.namespace} describe ${this.target.kind} ${this.target.name}\`, or raise readyTimeout`,
        true,
        'NotReady',
      );
    }
  }


  private workloadApi(): Promise<WorkloadApi> {
    this.api ??= this.connect().catch((error: unknown) => {
      this.api = undefined; // a later attempt may find the kubeconfig fixed
      throw error;
    });
    return this.api;
  }

  private async connect(): Promise<WorkloadApi> {
    const client = await kubernetesClient(this.describe());
    const config = this.loadKubeConfig(client);
    const apps = config.makeApiClient(client.AppsV1Api);
    const core = config.makeApiClient(client.CoreV1Api);
    const server = config.getCurrentCluster()?.server ?? 'the API server';
    const { namespace, name, kind } = this.target;
    const plural = `${kind}s`;
    // The generated client would send a JSON Patch by default; a merge patch is what `kubectl scale` sends.
    const mergePatch = client.setHeaderOptions('Content-Type', client.PatchStrategy.MergePatch);
    const call = async <T>(request: ApiCall, send: () => Promise<T>): Promise<T> => {
      try {
        return await send();
      } catch (error) {
        throw this.apiError(error, request, server);
      }
    };
    return {
      readScale: () =>
        call({ verb: 'get', resource: `${plural}/scale` }, () =>
          kind === 'deployment' ? apps.readNamespacedDeploymentScale({ name, namespace }) : apps.readNamespacedStatefulSetScale({ name, namespace }),
        ),
      patchReplicas: (replicas) =>
        call({ verb: 'patch', resource: `${plural}/scale` }, () => {
          const request = { name, namespace, body: { spec: { replicas } } };
          return kind === 'deployment'
            ? apps.patchNamespacedDeploymentScale(request, mergePatch)
            : apps.patchNamespacedStatefulSetScale(request, mergePatch);
        }),
      readWorkload: () =>
        call({ verb: 'get', resource: plural }, () =>
          kind === 'deployment' ? apps.readNamespacedDeployment({ name, namespace }) : apps.readNamespacedStatefulSet({ name, namespace }),
        ),
      listPods: async (labelSelector) =>
        (await call({ verb: 'list', resource: 'pods' }, () => core.listNamespacedPod({ namespace, labelSelector }))).items,
    };
  }

  /** The plan's kubeconfig, else the pod's service account, else KUBECONFIG or ~/.kube/config. */
  private loadKubeConfig(client: KubernetesClient): k8s.KubeConfig {
    const config = new client.KubeConfig();
    const { kubeconfig, context } = this.target;
    const fail = (message: string) => new ScalerError(this.describe(), message, false, 'KubeconfigInvalid');
    try {
      if (kubeconfig !== undefined) {
        if (!existsSync(kubeconfig)) throw fail(`the kubeconfig ${path.resolve(kubeconfig)} does not exist on the worker`);
        config.loadFromFile(kubeconfig);
      } else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
        config.loadFromCluster();
      } else if (process.env.KUBECONFIG || existsSync(path.join(homedir(), '.kube', 'config'))) {
        config.loadFromDefault();
      } else {
        // loadFromDefault would quietly fall back to http://localhost:8080.
        throw fail("no Kubernetes credentials: give the target a kubeconfig, set KUBECONFIG, or run the worker in a pod with a service account");
      }
    } catch (error) {
      if (error instanceof ScalerError) throw error;
      throw fail(`cannot load the kubeconfig: ${errorMessage(error)}`);
    }
    if (context !== undefined) {
      if (!config.getContextObject(context)) {
        const known = config.getContexts().map((c) => c.name);
        throw fail(`the kubeconfig has no context "${context}" (it has: ${known.join(', ') || 'none'})`);
      }
      config.setCurrentContext(context);
    }
    if (!config.getCurrentCluster()) throw fail(`the kubeconfig's current context names no cluster`);
    return config;
  }

  /** Classifies a failed call: what can a retry fix, and what must a person do. */
  private apiError(error: unknown, request: ApiCall, server: string): ScalerError {
    const { namespace, name, kind } = this.target;
    const status = httpStatus(error);
    const said = statusMessage(error);
    const saying = said ? ` (the API server said: ${said})` : '';
    const target = this.describe();
    if (status === undefined) {
      return new ScalerError(target, `cannot reach the Kubernetes API at ${server}: ${errorMessage(error)}`, true, 'Unreachable');
    }
    if (status === 401) {
      return new ScalerError(target, `the Kubernetes API at ${server} rejected the credentials (401)${saying}: check the kubeconfig's user, or the service account token`, false, 'Unauthorized');
    }
    if (status === 403) {
      const plural = `${kind}s`;
      return new ScalerError(
        target,
        `forbidden (403) to ${request.verb} ${request.resource} in namespace "${namespace}"${saying}. ` +
          `Grant the worker's identity, in namespace "${namespace}": get and patch on ${plural}/scale, get on ${plural}, list on pods`,
        false,
        'Forbidden',
      );
    }
    if (status === 404) {
      return new ScalerError(target, `${kind} "${name}" not found in namespace "${namespace}" (404)${saying}: check the target's kind, namespace and name`, false, 'NotFound');
    }
    // Conflicts, throttling and server errors pass; other client errors would repeat.
    const retryable = status === 409 || status === 429 || status >= 500;
    return new ScalerError(target, `${request.verb} ${request.resource} failed with HTTP ${status}${saying}`, retryable, `Http${status}`);
  }
}
