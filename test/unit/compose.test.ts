/**
 * docker-compose.yml: Compose itself validates it (`docker-compose config`, Debian's docker-compose package,
 * which needs no Docker engine), every service the README names exists with a health check (or, for a one-shot
 * setup container, something that waits on it finishing), the worker's environment sets every variable the
 * example plans reference, and Prometheus and Grafana get the files deploy/ holds.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { findOnPath } from '../../src/embedded/binaries';
import { validatePlan } from '../../src/plan/validate';

const root = path.resolve(__dirname, '..', '..');
const composeFile = path.join(root, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: string | { context: string };
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] | string };
  volumes?: string[];
  ports?: string[];
}

const compose = parse(readFileSync(composeFile, 'utf8'), { merge: true }) as { services: Record<string, Service> };
const services = compose.services;
const readme = readFileSync(path.join(root, 'README.md'), 'utf8');

/** The README's compose section: its service table, one `| `name` | ... |` row per service. */
function readmeServices(): string[] {
  const section = readme.slice(readme.indexOf('## With Docker Compose'));
  const table = section.slice(0, section.indexOf('\n## ', 1));
  return [...table.matchAll(/^\| `([a-z0-9-]+)` \|/gm)].map((match) => match[1]);
}

/** Every environment variable a plan names (urlFromEnv, tokenFromEnv, keyFromEnv...), wherever it sits. */
function planVariables(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(planVariables);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, child]) => (key.endsWith('FromEnv') && typeof child === 'string' ? [child] : planVariables(child)));
}

/** The host side of each `./host:/container` bind mount. */
function bindSources(service: Service): string[] {
  return (service.volumes ?? []).filter((volume) => volume.startsWith('./')).map((volume) => volume.split(':')[0]);
}

test('`docker-compose config` accepts the file (Compose v1 validates without a Docker engine)', () => {
  const binary = findOnPath('docker-compose');
  if (!binary) throw new Error('docker-compose is missing: `apt-get install docker-compose` (Debian; .ci/run does)');
  const result = spawnSync(binary, ['-f', composeFile, 'config', '--quiet'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect({ code: result.status, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
  const services = spawnSync(binary, ['-f', composeFile, 'config', '--services'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  expect(services.stdout.trim().split('\n').sort()).toEqual(Object.keys(compose.services).sort());
});

test('every service the README lists exists, and the README lists every service', () => {
  const listed = readmeServices();
  expect(listed.length).toBeGreaterThanOrEqual(10);
  expect(listed.sort()).toEqual(Object.keys(services).sort());
});

test('long-running services have a health check; one-shot setup services are waited on until they completed', () => {
  const oneShot = Object.entries(services).filter(([, service]) => service.healthcheck === undefined).map(([name]) => name);
  for (const name of oneShot) {
    const waited = Object.values(services).some((service) => service.depends_on?.[name]?.condition === 'service_completed_successfully');
    // lifeboat-apply is the last step: nothing waits on it, but it runs once and exits.
    expect({ name, waitedOn: waited || name === 'lifeboat-apply' }).toEqual({ name, waitedOn: true });
  }
  expect(oneShot.sort()).toEqual(['lifeboat-apply', 'minio-bucket', 'temporal-namespace', 'temporal-schema']);
  for (const [name, service] of Object.entries(services)) {
    for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
      expect({ name, dependency, exists: dependency in services }).toEqual({ name, dependency, exists: true });
      // service_healthy on a container without a health check would never start the dependent one.
      if (condition === 'service_healthy') expect({ name, dependency, healthcheck: services[dependency].healthcheck !== undefined }).toEqual({ name, dependency, healthcheck: true });
    }
  }
});

test("the stack is the issue's: Temporal on PostgreSQL with its schema set up, the Web UI, MinIO with a locked bucket, the example databases, Redis", () => {
  expect(services.temporal.image).toMatch(/^temporalio\/server:\d/);
  expect(services.temporal.environment).toMatchObject({ DB: 'postgres12', POSTGRES_SEEDS: 'temporal-db' });
  expect(services.temporal.depends_on?.['temporal-schema']?.condition).toBe('service_completed_successfully');
  expect(services['temporal-schema'].image).toMatch(/^temporalio\/admin-tools:/);
  const schemaScript = readFileSync(path.join(root, 'deploy', 'compose', 'temporal-schema.sh'), 'utf8');
  for (const db of ['temporal', 'temporal_visibility']) expect(schemaScript).toContain(`--db ${db} update-schema`);
  expect(services['temporal-ui'].image).toMatch(/^temporalio\/ui:/);
  expect(services['temporal-ui'].environment?.TEMPORAL_ADDRESS).toBe('temporal:7233');

  const bucketScript = readFileSync(path.join(root, 'deploy', 'compose', 'minio-bucket.sh'), 'utf8');
  expect(bucketScript).toMatch(/mc mb .*--with-lock/);
  expect(bucketScript).toMatch(/mc version enable/);
  expect(services['apps-db'].environment?.POSTGRES_DB).toBe('apps');
  expect(services['participant-db'].environment?.POSTGRES_DB).toBe('participant');
  expect(services.redis.image).toMatch(/^redis:/);
  for (const service of Object.values(services)) for (const source of bindSources(service)) expect({ source, exists: existsSync(path.join(root, source)) }).toEqual({ source, exists: true });
});

test('the worker is built from the Dockerfile, runs non-root, serves metrics, and has every variable the example plans name', () => {
  const worker = services.worker;
  expect(worker.build).toBe('.');
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  expect(dockerfile.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2); // multi-stage
  expect(dockerfile).toMatch(/^USER node\s*$/m);
  expect(worker.command).toEqual(['worker', '--metrics-port', '9464']);

  const environment = worker.environment ?? {};
  const plans = ['plan.yaml', 'compose-plan.yaml'].map((file) => ({ file, plan: parse(readFileSync(path.join(root, 'examples', file), 'utf8')) as unknown }));
  for (const { file, plan } of plans) {
    const validation = validatePlan(plan);
    expect({ file, problems: validation.ok ? [] : validation.problems }).toEqual({ file, problems: [] });
    const needed = planVariables(plan);
    expect(needed.length).toBeGreaterThan(0);
    for (const variable of needed) expect({ file, variable, set: typeof environment[variable] === 'string' && environment[variable] !== '' }).toEqual({ file, variable, set: true });
  }
  // The compose plan's store is the stack's MinIO, reached with the MinIO root credentials.
  const composePlan = plans[1].plan as { store: { type: string; endpoint: string; bucket: string } };
  expect(composePlan.store).toMatchObject({ type: 's3', endpoint: 'http://minio:9000', bucket: services['minio-bucket'].environment?.BUCKET });
  expect(environment.AWS_ACCESS_KEY_ID).toBe(services.minio.environment?.MINIO_ROOT_USER);
  expect(environment.AWS_SECRET_ACCESS_KEY).toBe(services.minio.environment?.MINIO_ROOT_PASSWORD);
  // Each URL points at a service of the stack.
  for (const variable of ['APPS_DATABASE_URL', 'PARTICIPANT_DATABASE_URL', 'REDIS_URL']) expect(new URL(environment[variable]).hostname in services).toBe(true);
  expect(services['lifeboat-apply'].environment).toEqual(environment);
  expect(services['lifeboat-apply'].command).toEqual(['plan', 'apply', 'examples/compose-plan.yaml']);
});

test('Prometheus scrapes the worker and loads the alert rules; Grafana provisions the data source and the dashboard', () => {
  const prometheus = parse(readFileSync(path.join(root, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8')) as {
    rule_files: string[];
    scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
  };
  const mounts = services.prometheus.volumes ?? [];
  expect(mounts).toContain('./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro');
  expect(prometheus.rule_files).toEqual(['/etc/prometheus/alerts.yml']);
  const job = prometheus.scrape_configs.find((config) => config.job_name === 'lifeboat-worker');
  expect(job?.static_configs.flatMap((config) => config.targets)).toEqual(['worker:9464']);
  // The alert rules watch this job.
  expect(readFileSync(path.join(root, 'deploy', 'prometheus', 'alerts.yml'), 'utf8')).toContain('job="lifeboat-worker"');

  const grafana = services.grafana.volumes ?? [];
  expect(grafana).toContain('./deploy/grafana/provisioning:/etc/grafana/provisioning:ro');
  const dashboardMount = grafana.find((volume) => volume.startsWith('./deploy/grafana/lifeboat-dashboard.json:'));
  const provider = parse(readFileSync(path.join(root, 'deploy', 'grafana', 'provisioning', 'dashboards', 'lifeboat.yml'), 'utf8')) as { providers: { options: { path: string } }[] };
  expect(dashboardMount?.split(':')[1]).toBe(`${provider.providers[0].options.path}/lifeboat-dashboard.json`);
  const datasources = parse(readFileSync(path.join(root, 'deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')) as { datasources: { type: string; url: string; isDefault: boolean }[] };
  expect(datasources.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
});
