/**
 * The scalers against what they drive: the kubernetes scaler through @kubernetes/client-node against a fake
 * API server (test/harness/fakeKubernetes.ts: no cluster runs here), the command scaler against a real
 * process it stops and starts, and the compose scaler against a fake `docker` (no engine runs here either)
 * that records its arguments and keeps the services' state like Compose would.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createScaler, ScalerError, scalingTargetSchema, type ScaledState, type Scaler, type ScalingTargetInput } from '../../src/scalers';
import { tempDir } from '../harness/env';
import { startFakeKubernetes, writeKubeconfig, type FakeKubernetes } from '../harness/fakeKubernetes';

const POLL = { pollIntervalMs: 50 };

async function failure(promise: Promise<unknown>): Promise<ScalerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScalerError);
    return error as ScalerError;
  }
  throw new Error('expected a ScalerError, but the call succeeded');
}

/** State as it comes back from Temporal: through JSON. */
const throughJson = (state: ScaledState): ScaledState => JSON.parse(JSON.stringify(state)) as ScaledState;

describe('kubernetes scaler against a fake API server', () => {
  const CONVERGE_MS = 400;
  const TERMINATING_MS = 300;
  let fake: FakeKubernetes;
  let dir: string;
  let kubeconfig: string;

  const scalerFor = (target: Partial<Extract<ScalingTargetInput, { type: 'kubernetes' }>> = {}): Scaler =>
    createScaler(scalingTargetSchema.parse({ type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web', kubeconfig, readyTimeout: '20s', ...target }), POLL);

  beforeAll(async () => {
    fake = await startFakeKubernetes({ convergeDelayMs: CONVERGE_MS, terminatingMs: TERMINATING_MS });
    dir = tempDir('kubernetes-scaler');
    kubeconfig = writeKubeconfig(path.join(dir, 'kubeconfig'), fake);
  });
  afterAll(async () => {
    await fake?.close();
  });
  beforeEach(() => {
    fake.forbid(false);
    fake.requests.length = 0;
  });

  test('scales a deployment of 3 to 0, waiting until no pod is left, and back to 3, waiting until ready', async () => {
    fake.addWorkload('deployment', 'shop', 'web', 3);
    const scaler = scalerFor();
    expect(scaler.describe()).toBe('deployment shop/web');

    let recorded: ScaledState | undefined;
    let patchesWhenRecorded = -1;
    const started = Date.now();
    const state = await scaler.scaleDown({
      onRecorded: (value) => {
        recorded = value;
        patchesWhenRecorded = fake.requests.filter((request) => request.method === 'PATCH').length;
      },
    });
    const tookMs = Date.now() - started;

    expect(state).toEqual({ type: 'kubernetes', target: 'deployment shop/web', replicas: 3 });
    expect(throughJson(state)).toEqual(state);
    expect(recorded).toEqual(state);
    expect(patchesWhenRecorded).toBe(0); // remembered before anything changed
    // Returned only once status showed 0 and the terminating pods were gone.
    expect(fake.workload('deployment', 'shop', 'web')).toMatchObject({ specReplicas: 0, statusReplicas: 0, pods: [] });
    expect(tookMs).toBeGreaterThanOrEqual(CONVERGE_MS + TERMINATING_MS - 50);

    const patch = fake.requests.find((request) => request.method === 'PATCH');
    expect(patch).toMatchObject({
      path: '/apis/apps/v1/namespaces/shop/deployments/web/scale',
      contentType: 'application/merge-patch+json',
      authorization: `Bearer ${fake.token}`,
      body: { spec: { replicas: 0 } },
    });
    const podLists = fake.requests.filter((request) => request.path === '/api/v1/namespaces/shop/pods');
    expect(podLists.length).toBeGreaterThan(0);
    expect(new URLSearchParams(podLists[0].query).get('labelSelector')).toBe('app=web,lifeboat.test/kind=deployment');

    await scaler.scaleUp(throughJson(state));
    expect(fake.workload('deployment', 'shop', 'web')).toMatchObject({ specReplicas: 3, readyReplicas: 0 });
    const waiting: string[] = [];
    await scaler.waitReady(throughJson(state), { onWaiting: (detail) => waiting.push(detail) });
    expect(fake.workload('deployment', 'shop', 'web')).toMatchObject({ specReplicas: 3, readyReplicas: 3, observedGeneration: 3 });
    expect(waiting.length).toBeGreaterThan(0);
    expect(waiting[0]).toMatch(/generation|ready/);
  });

  test('a retried scale-down keeps the replica count the first attempt remembered', async () => {
    fake.addWorkload('deployment', 'shop', 'api', 4);
    const scaler = scalerFor({ name: 'api' });
    const first = await scaler.scaleDown();
    expect(first).toMatchObject({ replicas: 4 });
    // Re-reading a target that is already down would remember 0...
    expect(await scaler.scaleDown()).toMatchObject({ replicas: 0 });
    // ...so the activity hands back what the first attempt heartbeated.
    expect(await scaler.scaleDown({ remembered: throughJson(first) })).toEqual(first);
    await scaler.scaleUp(first);
    await scaler.waitReady(first);
    expect(fake.workload('deployment', 'shop', 'api')).toMatchObject({ specReplicas: 4, readyReplicas: 4 });
  });

  test('scales a statefulset down and back up', async () => {
    fake.addWorkload('statefulset', 'shop', 'db', 2);
    const scaler = scalerFor({ kind: 'statefulset', name: 'db' });
    const state = await scaler.scaleDown();
    expect(state).toEqual({ type: 'kubernetes', target: 'statefulset shop/db', replicas: 2 });
    expect(fake.workload('statefulset', 'shop', 'db')).toMatchObject({ specReplicas: 0, statusReplicas: 0, pods: [] });
    expect(fake.requests.filter((request) => request.method === 'PATCH').map((request) => request.path)).toEqual(['/apis/apps/v1/namespaces/shop/statefulsets/db/scale']);

    await scaler.scaleUp(throughJson(state));
    await scaler.waitReady(throughJson(state));
    expect(fake.workload('statefulset', 'shop', 'db')).toMatchObject({ specReplicas: 2, readyReplicas: 2 });
    expect(fake.requests.some((request) => request.path === '/apis/apps/v1/namespaces/shop/statefulsets/db')).toBe(true);
  });

  test('a 403 is a non-retryable error naming the namespace, the workload and the RBAC it needs', async () => {
    fake.addWorkload('deployment', 'shop', 'forbidden-patch', 3);
    fake.forbid((request) => request.verb === 'patch');
    const error = await failure(scalerFor({ name: 'forbidden-patch' }).scaleDown());
    expect(error).toMatchObject({ retryable: false, kind: 'Forbidden', target: 'deployment shop/forbidden-patch' });
    expect(error.message).toContain('scaling deployment shop/forbidden-patch: forbidden (403) to patch deployments/scale in namespace "shop"');
    expect(error.message).toContain('cannot patch resource "deployments/scale" in API group "apps"'); // the API server's own words
    expect(error.message).toContain('Grant the worker\'s identity, in namespace "shop": get and patch on deployments/scale, get on deployments, list on pods');
    expect(fake.workload('deployment', 'shop', 'forbidden-patch').specReplicas).toBe(3); // nothing changed

    fake.forbid(true);
    const readError = await failure(scalerFor({ kind: 'statefulset', name: 'db' }).scaleDown());
    expect(readError).toMatchObject({ retryable: false, kind: 'Forbidden' });
    expect(readError.message).toContain('to get statefulsets/scale in namespace "shop"');
    expect(readError.message).toContain('get and patch on statefulsets/scale, get on statefulsets, list on pods');

    fake.forbid((request) => request.resource === 'pods');
    fake.addWorkload('deployment', 'shop', 'no-pods-rbac', 1);
    const podsError = await failure(scalerFor({ name: 'no-pods-rbac' }).scaleDown());
    expect(podsError).toMatchObject({ retryable: false, kind: 'Forbidden' });
    expect(podsError.message).toContain('to list pods in namespace "shop"');
  });

  test('a missing workload is a non-retryable 404 naming it', async () => {
    const error = await failure(scalerFor({ name: 'ghost' }).scaleDown());
    expect(error).toMatchObject({ retryable: false, kind: 'NotFound' });
    expect(error.message).toContain('deployment "ghost" not found in namespace "shop" (404)');
    expect(error.message).toContain('check the target\'s kind, namespace and name');
  });

  test('server errors and an unreachable API server are retryable; wrong credentials are not', async () => {
    fake.addWorkload('deployment', 'shop', 'flaky', 1);
    fake.failNext(1, 503);
    const serverError = await failure(scalerFor({ name: 'flaky' }).scaleDown());
    expect(serverError).toMatchObject({ retryable: true, kind: 'Http503' });
    expect(serverError.message).toContain('injected failure 503');
    expect(await scalerFor({ name: 'flaky' }).scaleDown()).toMatchObject({ replicas: 1 }); // the retry

    const unreachable = await failure(scalerFor({ name: 'flaky', context: 'unreachable' }).scaleDown());
    expect(unreachable).toMatchObject({ retryable: true, kind: 'Unreachable' });
    expect(unreachable.message).toContain('cannot reach the Kubernetes API at http://127.0.0.1:1');

    const wrongToken = writeKubeconfig(path.join(dir, 'wrong-token'), fake, { token: 'not-the-token' });
    const unauthorized = await failure(scalerFor({ name: 'flaky', kubeconfig: wrongToken }).scaleDown());
    expect(unauthorized).toMatchObject({ retryable: false, kind: 'Unauthorized' });
    expect(unauthorized.message).toContain('rejected the credentials (401)');
  });

  test('the target picks a context of its kubeconfig; a missing context or file is a clear error', async () => {
    fake.addWorkload('deployment', 'shop', 'contexts', 2);
    const otherCurrent = writeKubeconfig(path.join(dir, 'current-unreachable'), fake, { currentContext: 'unreachable' });
    const scaler = scalerFor({ name: 'contexts', kubeconfig: otherCurrent, context: 'fake' });
    expect(scaler.describe()).toBe('deployment shop/contexts (context fake)');
    expect(await scaler.scaleDown()).toMatchObject({ replicas: 2 });

    const noContext = await failure(scalerFor({ name: 'contexts', context: 'production' }).scaleDown());
    expect(noContext).toMatchObject({ retryable: false, kind: 'KubeconfigInvalid' });
    expect(noContext.message).toContain('the kubeconfig has no context "production" (it has: fake, unreachable)');

    const noFile = await failure(scalerFor({ name: 'contexts', kubeconfig: path.join(dir, 'missing') }).scaleDown());
    expect(noFile).toMatchObject({ retryable: false, kind: 'KubeconfigInvalid' });
    expect(noFile.message).toContain('does not exist on the worker');
  });

  test('replicas that never become ready end the wait with a retryable error saying how many are', async () => {
    fake.addWorkload('deployment', 'shop', 'crashloop', 3);
    const scaler = scalerFor({ name: 'crashloop' });
    const state = await scaler.scaleDown();
    fake.capReady('deployment', 'shop', 'crashloop', 1);
    await scaler.scaleUp(state);
    const error = await failure(scaler.waitReady(state, { timeoutMs: 1500 }));
    expect(error).toMatchObject({ retryable: true, kind: 'NotReady' });
    expect(error.message).toContain('1/3 replicas ready');
    expect(error.message).toContain('kubectl -n shop describe deployment crashloop');

    // The activity's cancellation ends the wait at once.
    const cancellation = new AbortController();
    setTimeout(() => cancellation.abort(), 200);
    const started = Date.now();
    await expect(scaler.waitReady(state, { signal: cancellation.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  test('the fake answers client-node the way an API server does: JSON Patch, strategic merge, PUT and conflicts', async () => {
    const k8s = await import('@kubernetes/client-node');
    const config = new k8s.KubeConfig();
    config.loadFromFile(kubeconfig);
    const apps = config.makeApiClient(k8s.AppsV1Api);
    fake.addWorkload('deployment', 'shop', 'raw', 2);
    const name = 'raw';
    const namespace = 'shop';

    // client-node's default patch type is JSON Patch.
    await apps.patchNamespacedDeploymentScale({ name, namespace, body: [{ op: 'replace', path: '/spec/replicas', value: 5 }] });
    expect(fake.requests.at(-1)).toMatchObject({ method: 'PATCH', contentType: 'application/json-patch+json' });
    const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);
    const patched = await apps.patchNamespacedDeploymentScale({ name, namespace, body: { spec: { replicas: 1 } } }, strategic);
    expect(fake.requests.at(-1)).toMatchObject({ contentType: 'application/strategic-merge-patch+json' });
    expect(patched).toMatchObject({ kind: 'Scale', apiVersion: 'autoscaling/v1', spec: { replicas: 1 }, status: { replicas: 2, selector: 'app=raw,lifeboat.test/kind=deployment' } });

    const scale = await apps.readNamespacedDeploymentScale({ name, namespace });
    const replaced = await apps.replaceNamespacedDeploymentScale({ name, namespace, body: { ...scale, spec: { replicas: 0 } } });
    expect(replaced.spec?.replicas).toBeUndefined(); // 0 is omitted, as the real API server does
    const stale = await apps.replaceNamespacedDeploymentScale({ name, namespace, body: { ...scale, spec: { replicas: 3 } } }).catch((error: unknown) => error);
    expect(stale).toMatchObject({ code: 409 });
    expect(fake.workload('deployment', 'shop', 'raw').specReplicas).toBe(0);
  });

  test('state remembered for another target is refused, not applied', async () => {
    const state: ScaledState = { type: 'kubernetes', target: 'deployment shop/other', replicas: 9 };
    const error = await failure(scalerFor().scaleUp(state));
    expect(error).toMatchObject({ retryable: false, kind: 'StateMismatch' });
    expect(fake.requests.filter((request) => request.method === 'PATCH')).toEqual([]);
  });
});

describe('command scaler against a real process', () => {
  let dir: string;
  let pidFile: string;
  const env = () => ({ ...process.env, APP_PID_FILE: pidFile });
  // Not `kill -0`: a killed daemon whose parent has exited stays a zombie where nothing reaps orphans.
  const alive = (pid: number) => {
    try {
      return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
    } catch {
      return false;
    }
  };
  const startedPids: number[] = [];

  beforeAll(() => {
    dir = tempDir('command-scaler');
    pidFile = path.join(dir, 'app.pid');
  });
  afterAll(() => {
    for (const pid of startedPids) if (alive(pid)) process.kill(pid, 'SIGKILL');
  });

  const appTarget = (overrides: Partial<Extract<ScalingTargetInput, { type: 'command' }>> = {}) =>
    scalingTargetSchema.parse({
      type: 'command',
      name: 'app',
      // The app: a shell loop that writes its pid; `up` starts it in the background and returns at once.
      up: `sh -c 'echo $$ > "$APP_PID_FILE"; while :; do echo working; sleep 0.1; done' &`,
      down: 'kill "$(cat "$APP_PID_FILE")" && rm -f "$APP_PID_FILE"',
      ready: 'test -f "$APP_PID_FILE" && kill -0 "$(cat "$APP_PID_FILE")"',
      readyTimeout: '10s',
      ...overrides,
    });

  test('up starts the app, down stops it (checked by ready), up brings it back', async () => {
    const scaler = createScaler(appTarget(), { ...POLL, env: env() });
    const state: ScaledState = { type: 'command', target: 'command "app"', wasUp: true };

    const upStarted = Date.now();
    await scaler.scaleUp(state);
    expect(Date.now() - upStarted).toBeLessThan(5000); // the background app holding our output does not block `up`
    await scaler.waitReady(state);
    const firstPid = Number(readFileSync(pidFile, 'utf8'));
    startedPids.push(firstPid);
    expect(alive(firstPid)).toBe(true);

    const down = await scaler.scaleDown();
    expect(down).toEqual(state);
    expect(throughJson(down)).toEqual(down);
    expect(alive(firstPid)).toBe(false);
    expect(existsSync(pidFile)).toBe(false);

    await scaler.scaleUp(throughJson(down));
    await scaler.waitReady(throughJson(down));
    const secondPid = Number(readFileSync(pidFile, 'utf8'));
    startedPids.push(secondPid);
    expect(secondPid).not.toBe(firstPid);
    expect(alive(secondPid)).toBe(true);

    await scaler.scaleDown();
    expect(alive(secondPid)).toBe(false);
  });

  test('a failing command is an error with its exit code and the tail of its output', async () => {
    const failing = createScaler(appTarget({ down: 'echo "stopping app" && echo "cannot stop: lock held by pid 42" >&2 && exit 3' }), { ...POLL, env: env() });
    const error = await failure(failing.scaleDown());
    expect(error).toMatchObject({ retryable: true, kind: 'CommandFailed' });
    expect(error.message).toContain('scaling command "app": "down"');
    expect(error.message).toContain('exited with code 3: stopping app\ncannot stop: lock held by pid 42');

    const missing = createScaler(appTarget({ up: 'no-such-program-lifeboat --start' }), { ...POLL, env: env() });
    const missingError = await failure(missing.scaleUp({ type: 'command', target: 'command "app"', wasUp: true }));
    expect(missingError).toMatchObject({ retryable: false, kind: 'CommandNotRunnable' });
    expect(missingError.message).toContain('exited with code 127');
    expect(missingError.message).toContain('not found');
  });

  test('a ready check that never passes, and a down that leaves the service up, end in clear errors', async () => {
    const state: ScaledState = { type: 'command', target: 'command "app"', wasUp: true };
    const never = createScaler(appTarget({ up: 'true', ready: 'echo "port 8080 closed" >&2; exit 1', readyTimeout: '1s' }), POLL);
    const notReady = await failure(never.waitReady(state));
    expect(notReady).toMatchObject({ retryable: true, kind: 'NotReady' });
    expect(notReady.message).toContain('not ready after 1s: the last ready check exited with code 1; its output: port 8080 closed');

    const stubborn = createScaler(appTarget({ down: 'true', ready: 'true', readyTimeout: '1s' }), POLL);
    const stillUp = await failure(stubborn.scaleDown());
    expect(stillUp).toMatchObject({ retryable: true, kind: 'StillRunning' });
    expect(stillUp.message).toContain('the ready check still passes');
  });

  test('a command that outlives readyTimeout is killed, with the processes it started', async () => {
    const hanging = createScaler(appTarget({ down: `sleep 30 & echo $! > "${path.join(dir, 'hang.pid')}"; wait`, readyTimeout: '1s' }), { ...POLL, env: env() });
    const started = Date.now();
    const error = await failure(hanging.scaleDown());
    expect(Date.now() - started).toBeLessThan(5000);
    expect(error.message).toContain('"down"');
    expect(error.message).toContain('did not finish within 1s');
    const sleeper = Number(readFileSync(path.join(dir, 'hang.pid'), 'utf8'));
    startedPids.push(sleeper);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(alive(sleeper)).toBe(false);
  });
});

/**
 * A fake `docker`: no Docker engine runs here. It records each call (arguments separated by tabs), keeps
 * the running services in a file ("<service> <health>" lines), answers `compose ps --format json` with one
 * JSON object per line like Compose 2.21+, lets a health check pass on the second look, refuses services it
 * does not know like Compose, and fails with the text of $FAKE_DOCKER_DIR/fail when that file exists.
 */
const FAKE_DOCKER = `#!/bin/sh
dir="$FAKE_DOCKER_DIR"
state="$dir/running"
(IFS='\t'; printf '%s\\n' "$*") >> "$dir/calls"
if [ -f "$dir/fail" ]; then cat "$dir/fail" >&2; exit 1; fi
[ "$1" = compose ] || { echo "fake docker: only compose is faked" >&2; exit 1; }
shift
while [ $# -gt 0 ]; do
  case "$1" in -p|-f) shift 2 ;; *) break ;; esac
done
command=$1; shift
touch "$state"
case "$command" in
  ps)
    [ "$1" = --format ] && [ "$2" = json ] || { echo "fake docker: expected ps --format json" >&2; exit 1; }
    shift 2
    while read -r service health; do
      wanted=no; [ $# -eq 0 ] && wanted=yes
      for name in "$@"; do [ "$name" = "$service" ] && wanted=yes; done
      [ "$health" = none ] && health=
      if [ $wanted = yes ]; then
        printf '{"Name":"shop-%s-1","Service":"%s","State":"running","Health":"%s","Publishers":null}\\n' "$service" "$service" "$health"
      fi
    done < "$state"
    sed -i 's/ starting$/ healthy/' "$state"
    ;;
  stop|start)
    for name in "$@"; do
      grep -qx "$name" "$dir/services" || { echo "no such service: $name" >&2; exit 1; }
    done
    for name in "$@"; do
      grep -v "^$name " "$state" > "$state.tmp"; mv "$state.tmp" "$state"
      [ "$command" = start ] && echo "$name starting" >> "$state"
    done
    exit 0
    ;;
  *) echo "fake docker: unexpected command $command" >&2; exit 1 ;;
esac
`;

describe('compose scaler against a fake docker', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  const calls = () =>
    readFileSync(path.join(dir, 'calls'), 'utf8')
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.split('\t'));
  const running = () => readFileSync(path.join(dir, 'running'), 'utf8').trim().split('\n').filter(Boolean).sort();

  beforeEach(() => {
    dir = tempDir('compose-scaler');
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'docker'), FAKE_DOCKER);
    chmodSync(path.join(bin, 'docker'), 0o755);
    writeFileSync(path.join(dir, 'services'), 'db\napp\nworker\nmailer\n');
    // db and app run (app with a health check); worker was stopped on purpose; mailer is not in the target.
    writeFileSync(path.join(dir, 'running'), 'db none\napp healthy\nmailer none\n');
    writeFileSync(path.join(dir, 'calls'), '');
    env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, FAKE_DOCKER_DIR: dir };
  });

  const composeScaler = (overrides: Partial<Extract<ScalingTargetInput, { type: 'compose' }>> = {}) =>
    createScaler(scalingTargetSchema.parse({ type: 'compose', project: 'shop', file: 'deploy/compose.yaml', services: ['app', 'worker', 'db'], readyTimeout: '10s', ...overrides }), { ...POLL, env });

  test('stops the services, remembers which ran, and starts only those again', async () => {
    const scaler = composeScaler();
    expect(scaler.describe()).toBe('compose services app, worker, db of project shop');
    const state = await scaler.scaleDown();
    expect(state).toEqual({ type: 'compose', target: 'compose services app, worker, db of project shop', running: ['app', 'db'] });
    expect(throughJson(state)).toEqual(state);
    expect(running()).toEqual(['mailer none']);

    const base = ['compose', '-p', 'shop', '-f', 'deploy/compose.yaml'];
    expect(calls()).toEqual([
      [...base, 'ps', '--format', 'json', 'app', 'worker', 'db'],
      [...base, 'stop', 'app', 'worker', 'db'],
      [...base, 'ps', '--format', 'json', 'app', 'worker', 'db'],
    ]);

    writeFileSync(path.join(dir, 'calls'), '');
    await scaler.scaleUp(throughJson(state));
    expect(calls()).toEqual([[...base, 'start', 'app', 'db']]);
    const waiting: string[] = [];
    await scaler.waitReady(throughJson(state), { onWaiting: (detail) => waiting.push(detail) });
    expect(waiting).toEqual(['app is running (starting), db is running (starting)']); // healthy on the second look
    expect(running()).toEqual(['app healthy', 'db healthy', 'mailer none']);
  });

  test('without project and file, compose finds its own; a remembered state wins over what runs now', async () => {
    const scaler = composeScaler({ project: undefined, file: undefined, services: ['app'] });
    const first = await scaler.scaleDown();
    expect(first).toMatchObject({ running: ['app'] });
    expect(calls()[0]).toEqual(['compose', 'ps', '--format', 'json', 'app']);
    expect(await scaler.scaleDown({ remembered: first })).toEqual(first);
  });

  test('a failing docker is an error with its stderr; unknown services and a missing docker are not retried', async () => {
    writeFileSync(path.join(dir, 'fail'), 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n');
    const daemonDown = await failure(composeScaler().scaleDown());
    expect(daemonDown).toMatchObject({ retryable: true, kind: 'DockerFailed' });
    expect(daemonDown.message).toContain('docker compose -p shop -f deploy/compose.yaml ps --format json app worker db exited with code 1: Cannot connect to the Docker daemon');
    rmSync(path.join(dir, 'fail'));

    const unknown = await failure(composeScaler({ services: ['app', 'nope'] }).scaleDown());
    expect(unknown).toMatchObject({ retryable: false, kind: 'DockerFailed' });
    expect(unknown.message).toContain('stop app nope exited with code 1: no such service: nope');

    const noDocker = createScaler(scalingTargetSchema.parse({ type: 'compose', services: ['app'] }), { env: { ...env, PATH: path.join(dir, 'empty') } });
    const missing = await failure(noDocker.scaleDown());
    expect(missing).toMatchObject({ retryable: false, kind: 'DockerMissing' });
    expect(missing.message).toContain("`docker` is not on the worker's PATH");
  });
});
