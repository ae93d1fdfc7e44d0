/** Drill plan keys (validation errors name the path and the fix) and the sandbox guard's idea of "the same database". */
import { ComponentError } from '../../src/engines/errors';
import { databaseIdentity, resolveSandboxes, sandboxUrl } from '../../src/engines/postgresSandbox';
import { drillChecks, drilledComponents, notDrilledReason } from '../../src/plan/drill';
import { parsePlanText } from '../../src/plan/load';
import type { Plan } from '../../src/plan/schema';
import { planProblems as problems } from '../harness/plans';

const base = `
name: drilled
store: { type: local, path: /backups }
rtoTarget: 30m
components:
  - { name: apps, type: postgres, connection: { urlFromEnv: APPS_DATABASE_URL } }
  - { name: ledger, type: postgres, connection: { urlFromEnv: LEDGER_DATABASE_URL }, after: [apps] }
  - { name: cache, type: redis, connection: { urlFromEnv: CACHE_URL } }
restore:
  checks:
    - { component: apps, sql: "select 1", expect: 1 }
    - { component: ledger, sql: "select 2", expect: 2 }
    - { url: "http://app/health" }
`;

function parse(drill: string): Plan {
  return parsePlanText(`${base}drill:\n${drill}`, 'plan.yaml').plan;
}

describe('drill plan keys', () => {
  test('a drill section parses; only its postgres targets are drilled, everything else says why not', () => {
    const plan = parse('  targets: { apps: { databaseSuffix: _drill } }\n  schedule: { cron: "0 3 * * 0" }\n');
    expect(plan.rtoTarget).toBe('30m');
    expect(drilledComponents(plan).map((component) => component.name)).toEqual(['apps']);
    expect(plan.components.map((component) => notDrilledReason(plan, component))).toEqual([undefined, 'no sandbox in drill.targets', 'drills do not restore redis components yet']);
    // Without drill.checks, the plan's restore checks run where they can, and the rest are reported.
    expect(drillChecks(plan)).toEqual({
      run: [{ component: 'apps', sql: 'select 1', expect: 1 }],
      notRun: ['ledger: select 2: "ledger" has no sandbox', 'GET http://app/health: the service is not pointed at the sandbox'],
    });
    expect(drillChecks(parse('  targets: { apps: { databaseSuffix: _drill } }\n  checks: [{ component: apps, sql: "select 3", expect: 3 }]\n')).run).toEqual([{ component: 'apps', sql: 'select 3', expect: 3 }]);
  });

  test.each([
    ['both sandbox kinds', '  targets: { apps: { databaseSuffix: _drill, urlFromEnv: SANDBOX_URL } }\n', 'drill.targets.apps', /exactly one of urlFromEnv .* or databaseSuffix/],
    ['no sandbox kind', '  targets: { apps: {} }\n', 'drill.targets.apps', /exactly one of urlFromEnv/],
    ['a bad suffix', '  targets: { apps: { databaseSuffix: "-Drill!" } }\n', 'drill.targets.apps.databaseSuffix', /lower-case letters, digits or "_"/],
    ['no targets', '  targets: {}\n', 'drill.targets', /at least one postgres component/],
    ['an unknown component', '  targets: { billing: { databaseSuffix: _drill } }\n', 'drill.targets.billing', /"billing" is not a component of this plan \(known: apps, ledger, cache\)/],
    ['a redis target', '  targets: { cache: { databaseSuffix: _drill } }\n', 'drill.targets.cache', /PostgreSQL components only; "cache" is redis/],
    ['production\'s own variable', '  targets: { apps: { urlFromEnv: APPS_DATABASE_URL } }\n', 'drill.targets.apps.urlFromEnv', /production connection of "apps": a drill would restore over production/],
    ['a check without a sandbox', '  targets: { apps: { databaseSuffix: _drill } }\n  checks: [{ component: ledger, sql: "select 1", expect: 1 }]\n', 'drill.checks.0.component', /"ledger" has no sandbox in drill.targets/],
    ['an unknown key', '  targets: { apps: { databaseSuffix: _drill } }\n  sandbox: x\n', 'drill', /unknown key "sandbox"/],
    ['a bad drill time zone', '  targets: { apps: { databaseSuffix: _drill } }\n  schedule: { every: 7d, timezone: Mars/Olympus }\n', 'drill.schedule.timezone', /unknown time zone/],
  ])('%s is named by its path', (_what, drill, path, message) => {
    const found = problems(`${base}drill:\n${drill}`);
    expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.stringMatching(message) })]));
  });

  test('a bad rtoTarget is named', () => {
    expect(problems(base.replace('rtoTarget: 30m', 'rtoTarget: half an hour'))).toEqual([expect.objectContaining({ path: 'rtoTarget', message: expect.stringMatching(/duration/) })]);
  });
});

describe('drill sandboxes', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  test('a URL names its server and database as libpq reads it', () => {
    expect(databaseIdentity('apps', 'postgres://u:p@DB.example:6432/apps')).toEqual({ host: 'db.example', port: 6432, database: 'apps' });
    expect(databaseIdentity('apps', 'postgresql://u@db/')).toEqual({ host: 'db', port: 5432, database: 'u' });
    expect(databaseIdentity('apps', 'postgres://u@ignored/x?host=/var/run/postgresql&port=5433&dbname=apps')).toEqual({ host: '/var/run/postgresql', port: 5433, database: 'apps' });
  });

  test('a suffix sandbox is production\'s server with the database renamed, password kept', () => {
    process.env.APPS_DATABASE_URL = 'postgres://app:s%40cret@127.0.0.1:5432/apps?sslmode=disable';
    const plan = parse('  targets: { apps: { databaseSuffix: _drill } }\n');
    const url = sandboxUrl(plan, drilledComponents(plan)[0]);
    expect(databaseIdentity('apps', url)).toEqual({ host: '127.0.0.1', port: 5432, database: 'apps_drill' });
    expect(new URL(url).password).toBe('s%40cret');
    expect(new URL(url).searchParams.get('sslmode')).toBe('disable');
  });

  test.each([
    ['localhost for 127.0.0.1', 'postgres://other:pw@localhost:5432/apps'],
    ['a Unix socket on the same port', 'postgres://other@x/apps?host=/var/run/postgresql'],
    ['another component\'s production database', 'postgres://u:pw@127.0.0.1:5432/ledger'],
    ['an upper-case host name', 'postgres://u:pw@LOCALHOST/apps'],
  ])('a sandbox that is production (%s) is refused, not retryably', async (_what, sandbox) => {
    process.env.APPS_DATABASE_URL = 'postgres://app:pw@127.0.0.1:5432/apps';
    process.env.LEDGER_DATABASE_URL = 'postgres://app:pw@127.0.0.1:5432/ledger';
    process.env.SANDBOX_URL = sandbox;
    const plan = parse('  targets: { apps: { urlFromEnv: SANDBOX_URL } }\n');
    const refusal = resolveSandboxes(plan, drilledComponents(plan));
    await expect(refusal).rejects.toThrow(/refusing to drill: its sandbox resolves to database "(apps|ledger)" .* a drill would overwrite production/);
    await expect(refusal).rejects.toMatchObject({ retryable: false, kind: 'SandboxIsProduction' });
    await expect(refusal).rejects.toBeInstanceOf(ComponentError);
  });

  test('sandboxes on another port, another database, or another server are accepted; two components may not share one', async () => {
    process.env.APPS_DATABASE_URL = 'postgres://app:pw@127.0.0.1:5432/apps';
    process.env.LEDGER_DATABASE_URL = 'postgres://app:pw@127.0.0.1:5432/ledger';
    for (const sandbox of ['postgres://u:pw@127.0.0.1:5433/apps', 'postgres://u:pw@127.0.0.1:5432/apps_copy', 'postgres://u:pw@192.0.2.10:5432/apps']) {
      process.env.SANDBOX_URL = sandbox;
      const plan = parse('  targets: { apps: { urlFromEnv: SANDBOX_URL } }\n');
      await expect(resolveSandboxes(plan, drilledComponents(plan))).resolves.toEqual([expect.objectContaining({ component: 'apps', url: sandbox })]);
    }
    process.env.SANDBOX_URL = 'postgres://u:pw@127.0.0.1:5433/shared';
    const shared = parse('  targets: { apps: { urlFromEnv: SANDBOX_URL }, ledger: { urlFromEnv: SANDBOX_URL } }\n');
    await expect(resolveSandboxes(shared, drilledComponents(shared))).rejects.toMatchObject({ kind: 'SandboxConflict' });
  });
});
