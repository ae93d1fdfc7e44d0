import { parsePlanText } from '../../src/plan/load';
import { findCycle, topologicalOrder } from '../../src/plan/dag';
import { durationMs } from '../../src/plan/schema';
import { planProblems as problems } from '../harness/plans';

const valid = `
name: validator
store: { type: s3, bucket: backups, prefix: prod, endpoint: "http://127.0.0.1:9000", forcePathStyle: true }
components:
  - { name: participant, type: postgres, connection: { urlFromEnv: PARTICIPANT_DATABASE_URL }, after: [apps] }
  - { name: apps, type: postgres, connection: { urlFromEnv: APPS_DATABASE_URL }, rowCounts: estimated }
`;

describe('plan validation', () => {
  test('a valid plan parses with defaults, and its revision follows its content', () => {
    const { plan, revision } = parsePlanText(valid, 'plan.yaml');
    expect(plan.components.map((component) => component.name)).toEqual(['participant', 'apps']);
    expect(plan.components[1].after).toEqual([]);
    expect(plan.components[0]).toMatchObject({ type: 'postgres', rowCounts: 'exact' });
    expect(plan.timeouts).toEqual({ heartbeat: '30s', component: '12h', stall: '10m' });
    expect(revision).toMatch(/^[0-9a-f]{12}$/);
    expect(parsePlanText(`${valid}\n# edited\n`, 'plan.yaml').revision).not.toBe(revision);
  });

  test('JSON is accepted too', () => {
    const json = JSON.stringify({ name: 'p', store: { type: 'local', path: '/b' }, components: [{ name: 'db', type: 'postgres', connection: { urlFromEnv: 'DB_URL' } }] });
    expect(parsePlanText(json, 'plan.json').plan.store).toEqual({ type: 'local', path: '/b' });
  });

  test.each([
    ['an unknown key', valid.replace('forcePathStyle: true', 'forcePathStyle: true, bucketz: x'), 'store', /unknown key "bucketz"/],
    ['an unknown component key', valid.replace('rowCounts: estimated', 'rowcount: 3'), 'components.1', /unknown key "rowcount"/],
    ['an after naming no component', valid.replace('after: [apps]', 'after: [apps, ledger]'), 'components.0.after.1', /"ledger" is not a component/],
    ['a duplicate name', valid.replace('name: apps', 'name: participant'), 'components.1.name', /duplicate component name "participant"/],
    ['a literal password', valid.replace('{ urlFromEnv: APPS_DATABASE_URL }', '{ urlFromEnv: APPS_DATABASE_URL, password: hunter2 }'), 'components.1.connection.password', /secret is written literally/],
    ['a URL with a password', valid.replace('{ urlFromEnv: APPS_DATABASE_URL }', '{ url: "postgres://app:hunter2@db/apps" }'), 'components.1.connection.url', /URL with a password/],
    ['a bad env var name', valid.replace('APPS_DATABASE_URL', 'apps-url'), 'components.1.connection.urlFromEnv', /environment variable name/],
    ['an unknown store type', valid.replace('type: s3', 'type: ftp'), 'store.type', /./],
    ['an unknown component type', valid.replace('type: postgres, connection: { urlFromEnv: APPS', 'type: mysql, connection: { urlFromEnv: APPS'), 'components.1.type', /./],
    ['no components', 'name: p\nstore: { type: local, path: /b }\ncomponents: []\n', 'components', /at least one component/],
    ['a bad name', valid.replace('name: validator', 'name: Validator Prod'), 'name', /lower-case/],
    ['a bad duration', `${valid}timeouts: { heartbeat: soon }\n`, 'timeouts.heartbeat', /duration/],
    ['a schedule with both cron and every', `${valid}schedule: { cron: "0 2 * * *", every: 4h }\n`, 'schedule', /exactly one of cron or every/],
    ['a schedule with neither', `${valid}schedule: { timezone: UTC }\n`, 'schedule', /exactly one of cron or every/],
    ['an unknown overlap policy', `${valid}schedule: { every: 4h, overlap: queue }\n`, 'schedule.overlap', /./],
    ['an empty retention policy', `${valid}retention: { timezone: UTC }\n`, 'retention', /at least one keep rule/],
    ['a bad keepWithin', `${valid}retention: { keepWithin: 7 days }\n`, 'retention.keepWithin', /look like/],
    ['a gzip level above 9', valid.replace('rowCounts: estimated', 'compression: { algorithm: gzip, level: 12 }'), 'components.1.compression.level', /gzip levels/],
    ['an http component with two token sources', `${valid}  - { name: ids, type: http, url: "http://v/ids", tokenFromEnv: T, tokenFile: /run/t }\n`, 'components.2.tokenFile', /not both/],
    ['an http component with a literal token', `${valid}  - { name: ids, type: http, url: "http://v/ids", token: abc }\n`, 'components.2.token', /secret is written literally/],
  ])('%s is named by its path', (_what, text, path, message) => {
    const found = problems(text);
    expect(found).toContainEqual({ path, message: expect.stringMatching(message) });
  });

  test('a cycle is printed', () => {
    const text = valid.replace('rowCounts: estimated', 'after: [ledger]') + '  - { name: ledger, type: postgres, connection: { urlFromEnv: L }, after: [participant] }\n';
    const [problem] = problems(text);
    expect(problem.message).toMatch(/dependency cycle: (participant -> ledger -> apps -> participant|ledger -> apps -> participant -> ledger|apps -> participant -> ledger -> apps)/);
  });

  test('every problem is reported at once', () => {
    const text = valid.replace('after: [apps]', 'after: [nope]').replace('forcePathStyle: true', 'forcePathStyle: true, extra: 1');
    expect(problems(text).map((problem) => problem.path).sort()).toEqual(['store']);
    // Ordering checks run on a plan whose shape is valid; the shape problem comes first.
    expect(problems(valid.replace('after: [apps]', 'after: [nope]')).map((problem) => problem.path)).toEqual(['components.0.after.0']);
  });

  test('unparsable YAML is a plan error', () => {
    expect(problems('name: [unclosed')[0].message).toMatch(/not valid YAML or JSON/);
  });
});

describe('ordering DAG', () => {
  const nodes = [
    { name: 'c', after: ['a', 'b'] },
    { name: 'a', after: [] },
    { name: 'b', after: ['a'] },
  ];
  test('topological order puts predecessors first', () => {
    expect(topologicalOrder(nodes)).toEqual(['a', 'b', 'c']);
  });
  test('no cycle in a DAG; a self-loop and a long cycle are found', () => {
    expect(findCycle(nodes)).toBeUndefined();
    expect(findCycle([{ name: 'x', after: ['x'] }])).toEqual(['x', 'x']);
    expect(findCycle([{ name: 'a', after: ['c'] }, { name: 'b', after: ['a'] }, { name: 'c', after: ['b'] }])).toEqual(['a', 'b', 'c', 'a']);
  });
});

test('a plan with every kind of component, a schedule and retention parses with defaults', () => {
  const { plan } = parsePlanText(
    `${valid}  - { name: cache, type: redis, connection: { urlFromEnv: REDIS_URL } }
  - { name: ledger, type: files, path: /var/ledger, exclude: ["*.tmp"], incremental: true }
  - { name: ids, type: http, url: "http://validator/admin/identities", tokenFile: /run/secrets/token }
schedule: { cron: "0 */4 * * *", timezone: Europe/Zurich }
retention: { keepLast: 3, keepDaily: 7, keepWithin: 2d }
`,
    'plan.yaml',
  );
  expect(plan.schedule).toMatchObject({ overlap: 'skip', catchupWindow: '1h', pauseOnFailure: false });
  expect(plan.retention).toMatchObject({ keepLast: 3, keepDaily: 7, keepWithin: '2d', timezone: 'UTC' });
  expect(plan.retries).toEqual({ maximumAttempts: 8, initialInterval: '2s', maximumInterval: '2m' });
  expect(plan.components.map((component) => component.type)).toEqual(['postgres', 'postgres', 'redis', 'files', 'http']);
});

test('durations', () => {
  expect(durationMs('30s')).toBe(30_000);
  expect(durationMs('5m')).toBe(300_000);
  expect(durationMs('2h')).toBe(7_200_000);
  expect(() => durationMs('soon')).toThrow();
});
