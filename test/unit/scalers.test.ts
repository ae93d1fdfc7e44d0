/** Scaling targets in a plan, remembered state, and the parts of the scalers that need no process or server. */
import { parseComposePs } from '../../src/scalers/compose';
import { composeScalingTargetSchema } from '../../src/scalers/schema';
import {
  CommandScaler,
  ComposeScaler,
  createScaler,
  describeScalingTarget,
  KubernetesScaler,
  ScalerError,
  scaledStateSchema,
  scalingSchema,
  scalingTargetSchema,
  type ScalingTargetInput,
} from '../../src/scalers';

function issues(input: unknown, schema: { safeParse(value: unknown): { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } } } = scalingSchema): string[] {
  const result = schema.safeParse(input);
  return result.success ? [] : (result.error?.issues ?? []).map((issue) => `${issue.path.join('.')}: ${issue.message}`);
}

describe('scaling target schema', () => {
  const targets: ScalingTargetInput[] = [
    { type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web' },
    { type: 'kubernetes', namespace: 'shop', kind: 'statefulset', name: 'db-0.primary', kubeconfig: '/etc/lifeboat/kubeconfig', context: 'prod', readyTimeout: '10m' },
    { type: 'compose', services: ['app'] },
    { type: 'compose', project: 'shop', file: 'deploy/compose.yaml', services: ['app', 'worker'] },
    { type: 'command', name: 'app', down: 'systemctl stop app', up: 'systemctl start app', ready: 'curl -fsS localhost:8080/health', readyTimeout: '90s' },
  ];

  test('accepts every target type and fills readyTimeout', () => {
    const parsed = scalingSchema.parse(targets);
    expect(parsed.map((target) => target.readyTimeout)).toEqual(['5m', '10m', '5m', '5m', '90s']);
    expect(parsed[0]).toEqual({ type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web', readyTimeout: '5m' });
  });

  test('names each target for messages and status', () => {
    expect(scalingSchema.parse(targets).map(describeScalingTarget)).toEqual([
      'deployment shop/web',
      'statefulset shop/db-0.primary (context prod)',
      'compose services app',
      'compose services app, worker of project shop',
      'command "app"',
    ]);
    expect(describeScalingTarget(scalingTargetSchema.parse({ type: 'compose', file: 'x/compose.yml', services: ['a'] }))).toBe('compose services a of x/compose.yml');
  });

  test('names every problem by its path', () => {
    expect(
      issues([
        { type: 'kubernetes', namespace: 'Shop', kind: 'daemonset', name: 'web' },
        { type: 'compose', services: [] },
        { type: 'compose', services: ['a', 'a'], project: 'My Project' },
        { type: 'command', name: 'app', up: 'start' },
        { type: 'command', name: 'app', down: 'stop', up: 'start', readyTimeout: '5 minutes', extra: true },
        { type: 'helm', release: 'x' },
      ]),
    ).toEqual([
      '0.namespace: must be a Kubernetes namespace: lower-case letters, digits and "-"',
      '0.kind: Invalid option: expected one of "deployment"|"statefulset"',
      '1.services: name at least one service',
      '2.project: must be a Compose project name: lower-case letters, digits, "-" and "_"',
      '2.services: services must not repeat',
      '3.down: Invalid input: expected string, received undefined',
      '4.readyTimeout: must be a duration such as "30s", "5m" or "6h"',
      '4: Unrecognized key: "extra"',
      "5.type: Invalid discriminator value. Expected 'kubernetes' | 'compose' | 'command'",
    ]);
  });

  test('refuses a target listed twice', () => {
    expect(
      issues([
        { type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web' },
        { type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web', context: 'other' },
        { type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web', readyTimeout: '1m' },
      ]),
    ).toEqual(['2: deployment shop/web is already scaling target 0']);
  });
});

describe('remembered state', () => {
  test('is plain JSON that the schema checks', () => {
    const states = [
      { type: 'kubernetes', target: 'deployment shop/web', replicas: 3 },
      { type: 'compose', target: 'compose services app', running: ['app'] },
      { type: 'command', target: 'command "app"', wasUp: true },
    ];
    for (const state of states) expect(scaledStateSchema.parse(JSON.parse(JSON.stringify(state)))).toEqual(state);
    expect(issues({ type: 'kubernetes', target: 'x', replicas: -1 }, scaledStateSchema)).toEqual(['replicas: Too small: expected number to be >=0']);
    expect(issues({ type: 'command', target: 'x', wasUp: true, token: 'secret' }, scaledStateSchema)).toEqual([': Unrecognized key: "token"']);
  });

  test('for another target, or not valid, is refused before anything runs', async () => {
    const scaler = createScaler(scalingTargetSchema.parse({ type: 'command', name: 'app', down: 'exit 99', up: 'exit 99' }));
    await expect(scaler.scaleUp({ type: 'command', target: 'command "other"', wasUp: true })).rejects.toMatchObject({
      name: 'ScalerError',
      retryable: false,
      kind: 'StateMismatch',
      message: expect.stringContaining('the remembered state belongs to command "other" (command)'),
    });
    await expect(scaler.waitReady({ type: 'kubernetes', target: 'command "app"', replicas: 1 })).rejects.toMatchObject({ kind: 'StateMismatch' });
    await expect(scaler.scaleUp(JSON.parse('{"type":"command","target":"command \\"app\\""}'))).rejects.toMatchObject({ retryable: false, kind: 'InvalidState' });
  });
});

describe('registry', () => {
  test('creates the scaler of each type', () => {
    const scalers = scalingSchema
      .parse([
        { type: 'kubernetes', namespace: 'shop', kind: 'deployment', name: 'web' },
        { type: 'compose', services: ['app'] },
        { type: 'command', name: 'app', down: 'true', up: 'true' },
      ])
      .map((target) => createScaler(target));
    expect(scalers[0]).toBeInstanceOf(KubernetesScaler);
    expect(scalers[1]).toBeInstanceOf(ComposeScaler);
    expect(scalers[2]).toBeInstanceOf(CommandScaler);
    expect(scalers.map((scaler) => scaler.type)).toEqual(['kubernetes', 'compose', 'command']);
  });

  test('ScalerError names the target and says whether a retry can help', () => {
    const error = new ScalerError('deployment shop/web', 'forbidden', false, 'Forbidden');
    expect(error.message).toBe('scaling deployment shop/web: forbidden');
    expect(error).toMatchObject({ name: 'ScalerError', target: 'deployment shop/web', retryable: false, kind: 'Forbidden' });
  });
});

describe('compose', () => {
  test('builds docker compose arguments from project and file', () => {
    const scaler = new ComposeScaler(composeScalingTargetSchema.parse({ type: 'compose', project: 'shop', file: 'compose.yaml', services: ['app'] }));
    expect(scaler.composeArgs('stop', 'app')).toEqual(['compose', '-p', 'shop', '-f', 'compose.yaml', 'stop', 'app']);
  });

  test('reads ps output as JSON lines (Compose 2.21+) and as one array (before)', () => {
    const lines = '{"Name":"shop-app-1","Service":"app","State":"running","Health":"healthy","Publishers":null}\n{"Name":"shop-db-1","Service":"db","State":"restarting","Health":""}\n';
    const array = '[{"Name":"shop-app-1","Service":"app","State":"running","Health":"healthy"},{"Name":"shop-db-1","Service":"db","State":"restarting"}]';
    expect(parseComposePs(lines)).toEqual([
      { Service: 'app', State: 'running', Health: 'healthy' },
      { Service: 'db', State: 'restarting', Health: '' },
    ]);
    expect(parseComposePs(array)).toEqual([
      { Service: 'app', State: 'running', Health: 'healthy' },
      { Service: 'db', State: 'restarting' },
    ]);
    expect(parseComposePs('\n')).toEqual([]);
    expect(() => parseComposePs('{"Service":"app"}')).toThrow();
  });
});
