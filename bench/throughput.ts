/**
 * Throughput and memory of Lifeboat's PostgreSQL backups and restores, side by side with what an operator
 * would run by hand, on a throwaway stack the script starts itself (PostgreSQL, MinIO, Temporal, a worker).
 *
 *   npm run bench -- --sizes 0.2,1,3 [--store s3|local] [--rounds 5] [--warmup 1] [--components 10]
 *                    [--cpu-prof] [--results bench/RESULTS.md] [--rows id,id]
 *
 * At each size (GB of plain dump, deterministic data) every row runs once per round, the order rotating from
 * round to round so that no row always runs first or after the same one, after warm-up rounds that are not
 * counted. Reported: medians with
 * min/max, per-round ratios for each pair, the peak RSS of each row's whole process tree (sampled from /proc)
 * and a least-squares fit wall = a + b·size. The tables replace the "Throughput" section of the results file (up to the next "## " heading).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import { formatSetId } from '../src/catalog/manifest';
import type { PlanInput, StoreConfig } from '../src/plan/schema';
import { pollUntil } from '../src/scalers/waiting';
import { createStore } from '../src/stores';
import { runCli, startWorker, writePlan, type WorkerProcess } from '../test/harness/lifeboat';
import { tableRowCounts } from '../test/harness/env';
import { createDataset, type Dataset } from './dataset';
import type { EngineRunInput, EngineRunOutput } from './engineRun';
import { cpuSecondsWithReapedChildren, machineCpuSeconds, parseBashTimes, sampleTreePeak, treeCpuSeconds, treeResidentBytes } from './processTree';
import { startStack, type Stack } from './stack';
import { fitLine, spread, summarizeProfile, type Spread } from './stats';
import { NODE_ENVIRONMENT, NODE_FLAGS } from '../worker/nodeFlags';

const MiB = 1024 * 1024;
const ENGINE_RUN = path.join(__dirname, 'engineRun.js');
/** The generated section's heading, before its date; the hand-written section after it starts alike, so all of it is matched. */
const RESULTS_HEADING = '## Throughput and memory: Lifeboat vs shell pipelines vs pgBackRest';

interface Options {
  sizes: number[];
  store: 's3' | 'local';
  rounds: number;
  warmup: number;
  components: number;
  cpuProf: boolean;
  results: string;
  /** Row ids to run (default all): for a quick check of one change. */
  rows?: string[];
}

function parseOptions(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const index = argv.indexOf(`--${name}`);
    return index >= 0 ? argv[index + 1] : undefined;
  };
  const fail = (message: string): never => {
    process.stderr.write(`${message}\nusage: npm run bench -- --sizes 0.2,1,3 [--store s3|local] [--rounds 5] [--warmup 1] [--components 10] [--cpu-prof] [--results FILE] [--rows id,id]\n`);
    process.exit(2);
  };
  const sizes = (value('sizes') ?? '0.2,1,3').split(',').map(Number);
  if (sizes.some((size) => !(size > 0))) fail('--sizes takes positive numbers of GB, e.g. 0.2,1,3');
  const store = value('store') ?? 's3';
  if (store !== 's3' && store !== 'local') fail('--store is s3 or local');
  const integer = (name: string, fallback: number, min: number) => {
    const parsed = Number(value(name) ?? fallback);
    if (!Number.isInteger(parsed) || parsed < min) fail(`--${name} takes a whole number >= ${min}`);
    return parsed;
  };
  const rows = value('rows')?.split(',');
  // The restores restore the set that the Temporal backup row made.
  if (rows && rows.some((row) => row === 'restore' || row.endsWith('-restore')) && !rows.includes('lifeboat-temporal')) {
    fail('--rows with a restore row needs lifeboat-temporal too: the restores restore the set it makes');
  }
  return {
    sizes,
    store: store as 's3' | 'local',
    rounds: integer('rounds', 5, 1),
    warmup: integer('warmup', 1, 0),
    components: integer('components', 10, 1),
    cpuProf: argv.includes('--cpu-prof'),
    results: path.resolve(value('results') ?? path.join(__dirname, '..', '..', 'bench', 'RESULTS.md')),
    rows,
  };
}

const log = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

interface Sample {
  seconds: number;
  peakRss: number;
  /** CPU seconds (user + system) of the whole tree. */
  cpu: number;
  /** For the engine rows: the process's wall before and after the activity, which `seconds` leaves out. */
  startupSeconds?: number;
}

let timesFiles = 0;

/**
 * Runs a command to completion while sampling its process tree's memory; rejects when it fails. It runs under
 * a bash that reports its children's CPU time (`times`) when they are done.
 */
function measured(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<Sample & { stdout: string }> {
  const timesFile = path.join(tmpdir(), `lifeboat-bench-times-${process.pid}-${(timesFiles += 1)}`);
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('bash', ['-c', `"$@"; rc=$?; times > '${timesFile}'; exit $rc`, 'measured', command, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    const sampler = sampleTreePeak(() => child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
    child.once('error', (error) => {
      sampler.stop();
      reject(error);
    });
    child.once('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const peakRss = sampler.stop();
      const times = existsSync(timesFile) ? readFileSync(timesFile, 'utf8') : undefined;
      rmSync(timesFile, { force: true });
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ').slice(0, 300)} exited with ${code}: ${stderr}`));
      // A reading of nothing is a broken measurement, never a result.
      if (times === undefined || peakRss === 0) return reject(new Error(`${command}: no ${times === undefined ? 'CPU times' : 'memory samples'} were taken`));
      resolve({ seconds, peakRss, cpu: parseBashTimes(times), stdout });
    });
  });
}

/** `bash -o pipefail -c script`, with the values the script needs passed as environment variables. */
function shell(script: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  return measured('bash', ['-o', 'pipefail', '-c', script], env);
}

interface RowDefinition {
  id: string;
  label: string;
  kind: 'backup' | 'restore';
  run(round: number, profile: boolean): Promise<Sample>;
  /** Why the row cannot run here (then it is listed with the reason instead of numbers). */
  unavailable?: string;
}

interface RowResult {
  id: string;
  label: string;
  kind: 'backup' | 'restore';
  sizeGb: number;
  plainBytes: number;
  seconds: number[];
  rss: number[];
  cpu: number[];
  /** Busy CPU seconds of the whole machine during the row: the tree's, and the servers' it works them for. */
  machineCpu: number[];
  /** Of the machine's: PostgreSQL's (postmaster and its backends) and MinIO's. */
  postgresCpu: number[];
  minioCpu: number[];
  unavailable?: string;
}

/** CPU seconds used so far: by the whole machine, by the bench's PostgreSQL, by its MinIO. */
interface CpuReading {
  machine: number;
  /** The hypervisor's steal over the same time (see machineCpuSeconds): not in `machine`. */
  stolen: number;
  postgres: number;
  minio: number;
}

class Bench {
  private worker?: WorkerProcess;
  /** Every worker this bench started and has not stopped yet: stop() ends them all, on Ctrl-C too. */
  private readonly running = new Set<WorkerProcess>();
  private readonly dir: string;
  private readonly storeConfig: StoreConfig;
  private readonly baseEnv: NodeJS.ProcessEnv;
  private readonly profiles: string[] = [];
  /** The worker tree's RSS at rest: after start (no workflow run yet), then after each size's rounds. */
  readonly workerAtRest: { when: string; rss: number }[] = [];

  constructor(
    private readonly stack: Stack,
    private readonly options: Options,
  ) {
    this.dir = path.join(stack.root, 'work');
    mkdirSync(path.join(this.dir, 'shell'), { recursive: true });
    this.storeConfig =
      options.store === 's3'
        ? { type: 's3', bucket: stack.s3.bucket, prefix: 'lifeboat', endpoint: stack.s3.endpoint, forcePathStyle: true }
        : { type: 'local', path: path.join(this.dir, 'store') };
    const base: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['DATABASE_URL', 'PGHOST', 'PGPORT', 'PGUSER', 'PGPASSWORD', 'PGDATABASE']) delete base[name];
    this.baseEnv = {
      ...base,
      TEMPORAL_ADDRESS: stack.temporal.address,
      // The CLI starts and awaits over the HTTP API, as `npm start` and the compose file set it up; the
      // lifeboat-temporal-grpc row leaves it unset.
      TEMPORAL_HTTP_ADDRESS: stack.temporal.httpAddress,
      TEMPORAL_NAMESPACE: 'default',
      LIFEBOAT_TASK_QUEUE: `bench-${randomBytes(3).toString('hex')}`,
      AWS_ACCESS_KEY_ID: stack.s3.accessKey,
      AWS_SECRET_ACCESS_KEY: stack.s3.secretKey,
      AWS_REGION: 'us-east-1',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      PG_BIN_DIR: stack.postgres.binDir,
      BENCH_DB_URL: stack.postgres.superuserUrl('bench_data'),
    };
  }

  /**
   * Where the machine's CPU has gone so far. A pipeline's own tree is only part of its cost: the backend that
   * runs pg_dump's COPY and the MinIO that takes the upload work for it on the same two cores.
   */
  private cpuReading(): CpuReading {
    const postmaster = Number(readFileSync(path.join(this.stack.postgres.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    const minio = this.stack.minio.pid;
    const { busy, stolen } = machineCpuSeconds();
    return { machine: busy, stolen, postgres: treeCpuSeconds(postmaster), minio: minio === undefined ? 0 : treeCpuSeconds(minio) };
  }

  /**
   * Readies the cluster for the next row, so that no row pays for another's or for pgBackRest's archiving.
   *
   * WAL is archived (pushed to pgBackRest, which compresses each 16 MB segment and uploads it over TLS) only
   * for the pgBackRest row, which needs it; for every other row the archive command is `true`. With archiving on
   * throughout, a pgbackrest process per segment took about as much CPU as the restore's own backend, during
   * either restore and into whichever row came next. Then a checkpoint writes the dirty buffers the last row
   * left, the archiver catches up, and the machine must be idle (under a tenth of a core for a second).
   */
  private async settle(nextRow: string): Promise<void> {
    const started = Date.now();
    const pgBackRest = this.stack.pgBackRest;
    await this.adminQueries((client) => [
      ...('archiveCommand' in pgBackRest
        ? [`alter system set archive_command = ${client.escapeLiteral(nextRow === 'pgbackrest' ? pgBackRest.archiveCommand : 'true')}`, 'select pg_reload_conf()']
        : []),
      'checkpoint',
    ]);
    const archiveStatus = path.join(this.stack.postgres.dataDir, 'pg_wal', 'archive_status');
    const archived = async () => (existsSync(archiveStatus) && readdirSync(archiveStatus).some((file) => file.endsWith('.ready')) ? 'WAL segments waiting for the archiver' : undefined);
    const idle = async () => {
      const before = machineCpuSeconds().busy;
      await sleep(1000);
      return machineCpuSeconds().busy - before < 0.1 ? undefined : 'a busy machine';
    };
    // A wait that gives up is said: that row then starts unsettled, and its numbers should be read so.
    for (const [probe, timeoutMs, intervalMs] of [[archived, 300_000, 250], [idle, 60_000, 0]] as const) {
      const still = await pollUntil(probe, { timeoutMs, intervalMs });
      if (still) log(`before ${nextRow}: still ${still} after ${timeoutMs / 1000} s; the row starts anyway`);
    }
    const seconds = (Date.now() - started) / 1000;
    if (seconds > 5) log(`settled in ${seconds.toFixed(1)} s (checkpoint, WAL archived, machine idle)`);
  }

  /** Runs statements, in order, as the superuser of the bench's cluster (connected to `postgres`). */
  private async adminQueries(statements: (client: Client) => string[]): Promise<void> {
    const client = new Client({ connectionString: this.url('postgres') });
    await client.connect();
    try {
      for (const statement of statements(client)) await client.query(statement);
    } finally {
      await client.end();
    }
  }

  private url(database: string, withPassword = true): string {
    const url = new URL(this.stack.postgres.superuserUrl(database));
    if (!withPassword) url.password = '';
    return url.toString();
  }

  private get shellEnv(): NodeJS.ProcessEnv {
    const password = decodeURIComponent(new URL(this.stack.postgres.superuserUrl()).password);
    return {
      ...this.baseEnv,
      PATH: `${this.stack.postgres.binDir}:${process.env.PATH}`,
      PGPASSWORD: password,
      AWS: this.stack.awsCli ?? 'aws',
      ENDPOINT: this.stack.s3.endpoint,
      BUCKET: this.stack.s3.bucket,
      SOURCE: this.url('bench_data', false),
      ADMIN: this.url('postgres', false),
      SHELL_DIR: path.join(this.dir, 'shell'),
    };
  }

  private plan(name: string, components: PlanInput['components']): PlanInput {
    return { name, store: this.storeConfig, components };
  }

  async startWorker(): Promise<void> {
    this.worker = await this.launchWorker(this.baseEnv, ['--max-concurrent', '4']);
    log(`worker (pid ${this.worker.child.pid}) on task queue ${this.baseEnv.LIFEBOAT_TASK_QUEUE}`);
    await this.recordWorkerAtRest('after start, before any workflow');
  }

  /** What the worker holds between backups (sampled after 2 s of quiet): the floor under its peaks. */
  private async recordWorkerAtRest(when: string): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const pid = this.worker?.child.pid;
    if (pid !== undefined) this.workerAtRest.push({ when, rss: treeResidentBytes(pid) });
  }

  private async launchWorker(env: NodeJS.ProcessEnv, args: string[] = []): Promise<WorkerProcess> {
    const worker = await startWorker(env, args);
    this.running.add(worker);
    return worker;
  }

  private async stopWorker(worker: WorkerProcess): Promise<void> {
    await worker.stop();
    this.running.delete(worker);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.running].map((worker) => this.stopWorker(worker)));
  }

  /** Runs `lifeboat backup run --wait --json`, sampling the worker's process tree. */
  private async backupThroughTemporal(planFile: string, env: NodeJS.ProcessEnv = this.baseEnv): Promise<Sample & { result: { setId: string; startedAt: string; completedAt: string; components: { startedAt: string; completedAt: string; key: string }[] } }> {
    const worker = this.worker!;
    const sampler = sampleTreePeak(() => worker.child.pid);
    const cpuBefore = cpuSecondsWithReapedChildren(worker.child.pid!);
    const started = process.hrtime.bigint();
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env, timeoutMs: 3 * 3600_000 });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const peakRss = sampler.stop();
    // The worker's own CPU and that of the pg_dump and zstd it has reaped (the CLI's is not counted).
    const cpu = cpuSecondsWithReapedChildren(worker.child.pid!) - cpuBefore;
    if (run.code !== 0) throw new Error(`backup run failed (${run.code}): ${run.stderr}\nworker: ${worker.output().slice(-3000)}`);
    return { seconds, peakRss, cpu, result: JSON.parse(run.stdout) as never };
  }

  private async engineRun(input: EngineRunInput, env: NodeJS.ProcessEnv, profile: string | undefined): Promise<Sample> {
    const profileDir = path.join(this.dir, 'profiles', profile ?? 'none');
    const flags = profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
    const result = await measured(process.execPath, [...NODE_FLAGS, ...flags, ENGINE_RUN, JSON.stringify(input)], { ...NODE_ENVIRONMENT, ...env });
    if (profile) this.profiles.push(...readdirSync(profileDir).map((file) => path.join(profileDir, file)));
    const output = JSON.parse(result.stdout) as EngineRunOutput;
    if (!(output.bytes > 0)) throw new Error(`the ${input.mode} activity moved no bytes`);
    // The activity's own wall: a running worker has already started Node and loaded its modules (about half a
    // second here, most of it @temporalio/worker, which the harness loads only for its mock activity
    // environment). Memory and CPU stay the whole process tree's.
    return { ...result, seconds: output.seconds, startupSeconds: result.seconds - output.seconds };
  }

  /** The backup activity in a process of its own, into a set of its own that is removed afterwards. */
  private async engineBackup(plan: PlanInput, profile: string | undefined): Promise<Sample> {
    const setId = formatSetId(new Date(), randomBytes(3).toString('hex'));
    const sample = await this.engineRun({ mode: 'backup', plan, setId, component: 'db' }, this.baseEnv, profile);
    await this.removeSet(plan.name, setId);
    return sample;
  }

  private async removeSet(plan: string, setId: string): Promise<void> {
    const store = createStore(this.storeConfig);
    for await (const object of store.list(`${plan}/${setId}/`)) await store.delete(object.key);
  }

  private async dropDatabase(name: string): Promise<void> {
    await this.adminQueries((client) => [`drop database if exists ${client.escapeIdentifier(name)} with (force)`]);
  }

  private async expectRows(database: string, expected: Record<string, number>, who: string): Promise<void> {
    const actual = await tableRowCounts(this.url(database));
    const canonical = (counts: Record<string, number>) => JSON.stringify(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
    if (canonical(actual) !== canonical(expected)) {
      throw new Error(`${who}: restored row counts ${JSON.stringify(actual)} differ from the source's ${JSON.stringify(expected)}`);
    }
    await this.dropDatabase(database);
  }

  /** Every row of one size: backups, then restores of the newest Lifeboat set. */
  async runSize(sizeGb: number): Promise<RowResult[]> {
    log(`generating ${sizeGb} GB of plain dump`);
    const dataset: Dataset = await createDataset(this.url('postgres'), 'bench_data', sizeGb);
    log(`generated: ${(dataset.plainBytes / 1e9).toFixed(3)} GB of rows, ${JSON.stringify(dataset.rowCounts)}`);
    const tag = String(sizeGb).replace('.', '_');
    const planName = `bench-${tag}`;
    const planInput = this.plan(planName, [{ name: 'db', type: 'postgres', connection: { urlFromEnv: 'BENCH_DB_URL' } }]);
    const planFile = writePlan(this.dir, planInput);
    const s3 = this.options.store === 's3';
    const shellKey = (round: number, name: string) => `shell/${tag}/${round}/${name}`;
    const sink = (round: number, name: string) =>
      s3 ? `"$AWS" --endpoint-url "$ENDPOINT" s3 cp --only-show-errors - "s3://$BUCKET/${shellKey(round, name)}"` : `cat > "$SHELL_DIR/${round}-${name}"`;
    const cleanShell = async (round: number, name: string) => {
      if (s3) await createStore({ type: 's3', bucket: this.stack.s3.bucket, prefix: '', endpoint: this.stack.s3.endpoint, forcePathStyle: true }).delete(shellKey(round, name));
      else rmSync(path.join(this.dir, 'shell', `${round}-${name}`), { force: true });
    };
    let newestSet: { setId: string; key: string } | undefined;
    const env = this.shellEnv;
    const pgBackRest = this.stack.pgBackRest;
    const awsMissing = s3 && !this.stack.awsCli ? 'aws (Debian: apt-get install awscli) is not installed' : undefined;

    const rows: RowDefinition[] = [
      {
        id: 'lifeboat-temporal',
        label: 'Lifeboat: `backup run --wait` through Temporal, the CLI over its HTTP API (pg_dump -Fc -Z0 → zstd -3 → store)',
        kind: 'backup',
        run: async () => {
          const sample = await this.backupThroughTemporal(planFile);
          if (newestSet) await this.removeSet(planName, newestSet.setId);
          newestSet = { setId: sample.result.setId, key: sample.result.components[0].key };
          return sample;
        },
      },
      {
        id: 'lifeboat-temporal-grpc',
        label: 'Lifeboat: `backup run --wait` through Temporal, the CLI over gRPC (no TEMPORAL_HTTP_ADDRESS)',
        kind: 'backup',
        run: async () => {
          const sample = await this.backupThroughTemporal(planFile, { ...this.baseEnv, TEMPORAL_HTTP_ADDRESS: '' });
          await this.removeSet(planName, sample.result.setId);
          return sample;
        },
      },
      {
        id: 'lifeboat-engine',
        label: 'Lifeboat: the backup activity called directly, no Temporal (wall of the activity; its process started beforehand, as a worker is)',
        kind: 'backup',
        run: (_round, profile) => this.engineBackup(planInput, profile ? `backup at ${sizeGb} GB` : undefined),
      },
      {
        id: 'lifeboat-engine-estimated',
        label: 'Lifeboat: the backup activity called directly, `rowCounts: estimated` (no exact `count(*)` beside the dump; wall of the activity)',
        kind: 'backup',
        run: () => this.engineBackup(this.plan(planName, [{ name: 'db', type: 'postgres', connection: { urlFromEnv: 'BENCH_DB_URL' }, rowCounts: 'estimated' }]), undefined),
      },
      {
        id: 'shell-zstd',
        label: `shell: \`pg_dump -Fc -Z0 | zstd -3 | ${s3 ? 'aws s3 cp -' : 'cat > file'}\``,
        kind: 'backup',
        unavailable: awsMissing,
        run: async (round) => {
          const sample = await shell(`pg_dump -Fc -Z0 -d "$SOURCE" | zstd -q -3 | ${sink(round, 'dump.pgdump.zst')}`, env);
          await cleanShell(round, 'dump.pgdump.zst');
          return sample;
        },
      },
      {
        id: 'shell-runbook',
        label: `runbook: \`pg_dump | gzip | ${s3 ? 'aws s3 cp -' : 'cat > file'}\``,
        kind: 'backup',
        unavailable: awsMissing,
        run: async (round) => {
          const sample = await shell(`pg_dump -d "$SOURCE" | gzip | ${sink(round, 'dump.sql.gz')}`, env);
          await cleanShell(round, 'dump.sql.gz');
          return sample;
        },
      },
      {
        id: 'pgbackrest',
        label: `${'missing' in pgBackRest ? 'pgBackRest' : pgBackRest.version} full backup, zst level 3, process-max 1 (physical: the whole cluster, WAL included; to MinIO over HTTPS)`,
        kind: 'backup',
        unavailable: 'missing' in pgBackRest ? pgBackRest.missing : undefined,
        run: async () => {
          if ('missing' in pgBackRest) throw new Error(pgBackRest.missing);
          const [command, args] = pgBackRest.command(['backup', '--type=full']);
          return measured(command, args, process.env);
        },
      },
      {
        id: 'limit',
        label: 'limit: `pg_dump -Fc -Z0 > /dev/null`',
        kind: 'backup',
        run: () => shell('pg_dump -Fc -Z0 -d "$SOURCE" > /dev/null', env),
      },
      {
        id: 'lifeboat-restore',
        label: 'Lifeboat: the restore activity (drop, create, zstd -d → pg_restore --single-transaction), rows checked (wall of the activity; its process started beforehand, as a worker is)',
        kind: 'restore',
        run: async (_round, profile) => {
          const restorePlan = this.plan(planName, [{ name: 'db', type: 'postgres', connection: { urlFromEnv: 'BENCH_DB_URL' } }]);
          const sample = await this.engineRun(
            { mode: 'restore', plan: restorePlan, setId: newestSet!.setId, component: 'db' },
            { ...this.baseEnv, BENCH_DB_URL: this.url('restore_lifeboat') },
            profile ? `restore at ${sizeGb} GB` : undefined,
          );
          await this.expectRows('restore_lifeboat', dataset.rowCounts, 'Lifeboat restore');
          return sample;
        },
      },
      {
        id: 'shell-restore',
        label: `shell: \`${s3 ? 'aws s3 cp s3://… -' : 'cat file'} | zstd -d | pg_restore --single-transaction\` into a fresh database, rows checked`,
        kind: 'restore',
        unavailable: awsMissing,
        run: async () => {
          const source = s3 ? `"$AWS" --endpoint-url "$ENDPOINT" s3 cp --only-show-errors "s3://$BUCKET/lifeboat/$KEY" -` : `cat "$STORE_DIR/$KEY"`;
          const sample = await shell(
            `psql -q -d "$ADMIN" -c 'drop database if exists restore_shell with (force)' -c 'create database restore_shell' && ` +
              `${source} | zstd -q -d | pg_restore --single-transaction --exit-on-error -d "$TARGET"`,
            { ...env, KEY: newestSet!.key, TARGET: this.url('restore_shell', false), STORE_DIR: path.join(this.dir, 'store') },
          );
          await this.expectRows('restore_shell', dataset.rowCounts, 'shell restore');
          return sample;
        },
      },
    ];

    const results = new Map<string, RowResult>(
      rows.map((row) => [row.id, { id: row.id, label: row.label, kind: row.kind, sizeGb, plainBytes: dataset.plainBytes, seconds: [], rss: [], cpu: [], machineCpu: [], postgresCpu: [], minioCpu: [], unavailable: row.unavailable }]),
    );
    const selected = (row: RowDefinition) => !this.options.rows || this.options.rows.includes(row.id) || (row.kind === 'restore' && this.options.rows.includes('restore'));
    const runnable = (kind: 'backup' | 'restore') => rows.filter((row) => row.kind === kind && !row.unavailable && selected(row));
    const total = this.options.warmup + this.options.rounds;
    for (let round = 0; round < total; round += 1) {
      const counted = round >= this.options.warmup;
      const last = round === total - 1;
      // Backups first (the restores need a set), each kind in an order that rotates every round.
      for (const kind of ['backup', 'restore'] as const) {
        const candidates = runnable(kind);
        const order = candidates.map((_, i) => candidates[(i + round) % candidates.length]);
        for (const row of order) {
          await this.settle(row.id);
          const before = this.cpuReading();
          const sample = await row.run(round, this.options.cpuProf && last);
          const after = this.cpuReading();
          const used = { machine: after.machine - before.machine, stolen: after.stolen - before.stolen, postgres: after.postgres - before.postgres, minio: after.minio - before.minio };
          log(
            `${sizeGb} GB ${counted ? `round ${round - this.options.warmup + 1}` : 'warm-up'} ${row.id}: ${sample.seconds.toFixed(2)} s, ${(sample.peakRss / MiB).toFixed(0)} MiB, ` +
              `${sample.startupSeconds === undefined ? '' : `(+${sample.startupSeconds.toFixed(2)} s process start and exit) `}${sample.cpu.toFixed(2)} s CPU (machine ${used.machine.toFixed(2)}, PostgreSQL ${used.postgres.toFixed(2)}, MinIO ${used.minio.toFixed(2)}; stolen by the hypervisor ${used.stolen.toFixed(2)})`,
          );
          if (counted) {
            const result = results.get(row.id)!;
            result.seconds.push(sample.seconds);
            result.rss.push(sample.peakRss);
            result.cpu.push(sample.cpu);
            result.machineCpu.push(used.machine);
            result.postgresCpu.push(used.postgres);
            result.minioCpu.push(used.minio);
          }
        }
      }
    }
    if (newestSet) await this.removeSet(planName, newestSet.setId);
    await this.dropDatabase('bench_data');
    if (runnable('backup').some((row) => row.id === 'lifeboat-temporal')) await this.recordWorkerAtRest(`after the ${sizeGb} GB rounds`);
    return [...results.values()];
  }

  /** A chain of tiny databases: whatever the wall time has beyond the dumps is orchestration. */
  async orchestration(): Promise<{ cliWall: number[]; workflowWall: number[]; dumps: number[] }> {
    const count = this.options.components;
    const admin = new Client({ connectionString: this.url('postgres') });
    await admin.connect();
    const env: NodeJS.ProcessEnv = {};
    try {
      for (let i = 0; i < count; i += 1) {
        await admin.query(`drop database if exists tiny_${i} with (force)`);
        await admin.query(`create database tiny_${i}`);
        const client = new Client({ connectionString: this.url(`tiny_${i}`) });
        await client.connect();
        await client.query(`create table items (id int primary key, name text); insert into items select n, 'item ' || n from generate_series(1, 1000) n`);
        await client.end();
        env[`TINY_${i}_URL`] = this.url(`tiny_${i}`);
      }
    } finally {
      await admin.end();
    }
    // The worker needs the URLs: a second worker with them, on its own task queue.
    const queueEnv = { ...this.baseEnv, ...env, LIFEBOAT_TASK_QUEUE: `${this.baseEnv.LIFEBOAT_TASK_QUEUE}-tiny` };
    const worker = await this.launchWorker(queueEnv);
    log(`orchestration: a second worker (pid ${worker.child.pid}) on task queue ${queueEnv.LIFEBOAT_TASK_QUEUE}`);
    const plan = this.plan('bench-tiny', Array.from({ length: count }, (_, i) => ({
      name: `c${i}`,
      type: 'postgres' as const,
      connection: { urlFromEnv: `TINY_${i}_URL` },
      after: i === 0 ? [] : [`c${i - 1}`],
    })));
    const planFile = writePlan(this.dir, plan);
    const cliWall: number[] = [];
    const workflowWall: number[] = [];
    const dumps: number[] = [];
    try {
      for (let round = 0; round < this.options.warmup + this.options.rounds; round += 1) {
        const started = process.hrtime.bigint();
        const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env: queueEnv, timeoutMs: 600_000 });
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        if (run.code !== 0) throw new Error(`tiny plan backup failed: ${run.stderr}`);
        const result = JSON.parse(run.stdout) as { setId: string; startedAt: string; completedAt: string; components: { startedAt: string; completedAt: string }[] };
        const dumpSeconds = result.components.reduce((sum, c) => sum + (Date.parse(c.completedAt) - Date.parse(c.startedAt)) / 1000, 0);
        log(`tiny plan round ${round}: ${seconds.toFixed(2)} s wall, ${dumpSeconds.toFixed(2)} s of dumps`);
        await this.removeSet('bench-tiny', result.setId);
        if (round < this.options.warmup) continue;
        cliWall.push(seconds);
        workflowWall.push((Date.parse(result.completedAt) - Date.parse(result.startedAt)) / 1000);
        dumps.push(dumpSeconds);
      }
    } finally {
      await this.stopWorker(worker);
    }
    return { cliWall, workflowWall, dumps };
  }

  profileFiles(): string[] {
    return this.profiles;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Report

const TARGETS: { a: string; b: string; what: string; target: number; kind: 'time' | 'rss' | 'cpu' | 'machine-cpu' }[] = [
  { a: 'lifeboat-temporal', b: 'shell-zstd', what: 'backup speed: Lifeboat (Temporal) vs same-compressor shell', target: 1.0, kind: 'time' },
  { a: 'lifeboat-temporal-grpc', b: 'shell-zstd', what: 'backup speed: Lifeboat (Temporal, the CLI over gRPC) vs same-compressor shell', target: 0, kind: 'time' },
  { a: 'lifeboat-engine', b: 'shell-zstd', what: 'backup speed: Lifeboat (engine) vs same-compressor shell', target: 1.0, kind: 'time' },
  { a: 'lifeboat-engine-estimated', b: 'shell-zstd', what: 'backup speed: Lifeboat (engine, estimated row counts) vs same-compressor shell', target: 0, kind: 'time' },
  { a: 'lifeboat-engine', b: 'lifeboat-engine-estimated', what: 'backup speed: Lifeboat engine, exact row counts vs estimated (the cost of counting)', target: 0, kind: 'time' },
  { a: 'lifeboat-temporal', b: 'shell-runbook', what: 'backup speed: Lifeboat (Temporal) vs runbook pipeline', target: 2.5, kind: 'time' },
  { a: 'lifeboat-temporal', b: 'pgbackrest', what: 'backup speed: Lifeboat (Temporal) vs pgBackRest (peer, physical)', target: 0, kind: 'time' },
  { a: 'lifeboat-temporal', b: 'limit', what: 'backup speed: Lifeboat (Temporal) vs pg_dump -Z0 to /dev/null (limit)', target: 0, kind: 'time' },
  { a: 'lifeboat-restore', b: 'shell-restore', what: 'restore speed: Lifeboat vs shell pipeline', target: 1.0, kind: 'time' },
  { a: 'lifeboat-temporal', b: 'shell-zstd', what: 'peak RSS: shell tree / Lifeboat worker tree (target: Lifeboat ≤ 1.5× shell)', target: 1 / 1.5, kind: 'rss' },
  { a: 'lifeboat-engine', b: 'shell-zstd', what: 'peak RSS: shell tree / Lifeboat engine tree', target: 0, kind: 'rss' },
  { a: 'lifeboat-temporal', b: 'shell-zstd', what: 'CPU: shell tree / Lifeboat worker tree', target: 0, kind: 'cpu' },
  { a: 'lifeboat-restore', b: 'shell-restore', what: 'CPU: shell restore tree / Lifeboat restore tree', target: 0, kind: 'cpu' },
  { a: 'lifeboat-temporal', b: 'shell-zstd', what: 'CPU of the whole machine: shell backup / Lifeboat (Temporal) backup', target: 0, kind: 'machine-cpu' },
  { a: 'lifeboat-engine', b: 'shell-zstd', what: 'CPU of the whole machine: shell backup / Lifeboat engine backup', target: 0, kind: 'machine-cpu' },
  { a: 'lifeboat-restore', b: 'shell-restore', what: 'CPU of the whole machine: shell restore / Lifeboat restore', target: 0, kind: 'machine-cpu' },
];

const f = (value: number, digits = 2) => value.toFixed(digits);
const range = (s: Spread, digits = 2, scale = 1) => `${f(s.median / scale, digits)} (${f(s.min / scale, digits)}–${f(s.max / scale, digits)})`;

function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 1024 ** 3)} GiB, Node ${process.version}`;
}

export function report(
  options: Options,
  results: RowResult[],
  orchestration: Awaited<ReturnType<Bench['orchestration']>>,
  profiles: string[],
  stack: { awsCli?: string },
  requestedSizes = options.sizes,
  workerAtRest: { when: string; rss: number }[] = [],
  stolenShare?: number,
): string {
  const lines: string[] = [];
  const command = `npm run bench -- --sizes ${requestedSizes.join(',')} --store ${options.store} --rounds ${options.rounds} --warmup ${options.warmup} --components ${options.components}${options.cpuProf ? ' --cpu-prof' : ''}`;
  lines.push(`${RESULTS_HEADING}, ${new Date().toISOString().slice(0, 10)}`, '');
  lines.push(`Machine: ${machine()}. Command: \`${command}\`. Store: ${options.store === 's3' ? 'MinIO (same bucket for Lifeboat and the shell; pgBackRest to a second MinIO over HTTPS)' : 'local directory'}; awscli: ${stack.awsCli ?? 'none'}.`);
  if (stolenShare !== undefined) {
    lines.push(
      `The hypervisor took ${f(stolenShare * 100, 0)} % of the machine's CPU time during the run (steal: time its virtual CPUs were ready but another guest ran; 0 on dedicated hardware). ` +
        'The walls include it; the CPU columns do not.',
    );
  }
  if (requestedSizes.length > options.sizes.length) lines.push(`Partial: measured so far ${options.sizes.join(', ')} GB of ${requestedSizes.join(', ')}.`);
  lines.push(`Each size: ${options.warmup} warm-up round(s), then ${options.rounds} counted round(s), every row once per round in an order that rotates each round. Sizes are GB of plain-dump row data (pgbench tables + a wide text/jsonb table, fixed seed).`, '');

  for (const kind of ['backup', 'restore'] as const) {
    lines.push(`### ${kind === 'backup' ? 'Backup' : 'Restore'}`, '');
    lines.push(
      '| size (GB) | row | wall s, median (min–max) | MB/s of plain dump | CPU s of the tree (user+sys) | CPU s of the machine (of which PostgreSQL / MinIO), medians | peak RSS of the tree, MiB, median (min–max) |',
      '|---|---|---|---|---|---|---|',
    );
    for (const result of results.filter((r) => r.kind === kind)) {
      if (result.unavailable || result.seconds.length === 0) {
        lines.push(`| ${result.sizeGb} | ${result.label} | not run: ${result.unavailable ?? 'no samples'} | | | | |`);
        continue;
      }
      const seconds = spread(result.seconds);
      lines.push(`| ${result.sizeGb} | ${result.label} | ${range(seconds)} | ${f(result.plainBytes / 1e6 / seconds.median, 1)} | ${range(spread(result.cpu))} | ${f(spread(result.machineCpu).median)} (${f(spread(result.postgresCpu).median)} / ${f(spread(result.minioCpu).median)}) | ${range(spread(result.rss), 0, MiB)} |`);
    }
    lines.push('');
  }

  lines.push('### Pairs: B / A per round (A = Lifeboat; above 1 means Lifeboat is faster, or leaner for RSS)', '');
  lines.push('| size (GB) | pair | B/A, median (min–max) | target | met |', '|---|---|---|---|---|');
  for (const size of options.sizes) {
    for (const pair of TARGETS) {
      const a = results.find((r) => r.id === pair.a && r.sizeGb === size);
      const b = results.find((r) => r.id === pair.b && r.sizeGb === size);
      if (!a || !b || a.seconds.length === 0 || b.seconds.length === 0) {
        lines.push(`| ${size} | ${pair.what} | not run | ${pair.target ? `≥ ${f(pair.target)}` : '—'} | — |`);
        continue;
      }
      const measure = (r: RowResult) => ({ time: r.seconds, rss: r.rss, cpu: r.cpu, 'machine-cpu': r.machineCpu })[pair.kind];
      const [as, bs] = [measure(a), measure(b)];
      const ratios = as.slice(0, bs.length).map((value, i) => bs[i] / value);
      const s = spread(ratios);
      lines.push(`| ${size} | ${pair.what} | ${range(s)} | ${pair.target ? `≥ ${f(pair.target)}` : '—'} | ${pair.target ? (s.median >= pair.target ? 'yes' : `**no** (${f((s.median / pair.target - 1) * 100, 0)} %)`) : '—'} |`);
    }
  }
  lines.push('');

  lines.push('### Fit over sizes: wall = a + b·size, peak RSS = c + d·size', '');
  lines.push('| row | a (s) | b (s per GB) | ⇒ MB/s at scale | c (MiB) | d (MiB per GB) |', '|---|---|---|---|---|---|');
  const ids = [...new Set(results.map((r) => r.id))];
  for (const id of ids) {
    const rows = results.filter((r) => r.id === id && r.seconds.length > 0);
    if (rows.length === 0) continue;
    const time = fitLine(rows.map((r) => ({ x: r.plainBytes / 1e9, y: spread(r.seconds).median })));
    const rss = fitLine(rows.map((r) => ({ x: r.plainBytes / 1e9, y: spread(r.rss).median / MiB })));
    lines.push(`| ${id} | ${f(time.a)} | ${f(time.b)} | ${time.b > 0 ? f(1000 / time.b, 0) : '—'} | ${f(rss.a, 0)} | ${f(rss.b, 1)} |`);
  }
  lines.push('', 'With a single size the fit is the line through the origin. Targets: Lifeboat\'s d < 5 MiB per GB.', '');

  if (workerAtRest.length > 0) {
    lines.push('### The Lifeboat worker at rest (tree RSS 2 s after start or after a size\'s rounds)', '');
    lines.push('| when | RSS, MiB |', '|---|---|');
    for (const rest of workerAtRest) lines.push(`| ${rest.when} | ${f(rest.rss / MiB, 0)} |`);
    lines.push('');
  }

  lines.push(`### Orchestration: a plan of ${options.components} tiny databases, each after the previous one`, '');
  lines.push('| measure | median (min–max) |', '|---|---|');
  const overheadCli = orchestration.cliWall.map((wall, i) => wall - orchestration.dumps[i]);
  const overheadWorkflow = orchestration.workflowWall.map((wall, i) => wall - orchestration.dumps[i]);
  lines.push(`| wall of \`backup run --wait\` (CLI start to exit), s | ${range(spread(orchestration.cliWall))} |`);
  lines.push(`| wall inside the workflow (start to manifest), s | ${range(spread(orchestration.workflowWall))} |`);
  lines.push(`| sum of the ${options.components} dump times, s | ${range(spread(orchestration.dumps))} |`);
  lines.push(`| overhead = CLI wall − dumps, s (target < 2) | ${range(spread(overheadCli))} |`);
  lines.push(`| overhead = workflow wall − dumps, s | ${range(spread(overheadWorkflow))} |`);
  lines.push('');

  if (profiles.length > 0) {
    lines.push('### CPU profile of the Lifeboat process (engine rows, last round of each size; `--cpu-prof`)', '');
    for (const file of profiles) {
      const summary = summarizeProfile(file);
      lines.push(`${path.basename(path.dirname(file))}: ${f(summary.seconds, 1)} s profiled`, '', '| self time | function |', '|---|---|');
      for (const line of summary.lines) lines.push(`| ${f(line.share * 100, 1)} % | \`${line.what}\` |`);
      lines.push('');
    }
  }
  return lines.join('\n');
}

/**
 * Replaces the throughput section of the results file (from its heading to the next "## " heading), keeping
 * the sections before and after it; without one, the section is added at the end.
 */
export function writeResults(file: string, section: string): void {
  const existing = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n';
  const at = existing.indexOf(`\n${RESULTS_HEADING}`);
  const next = at >= 0 ? existing.indexOf('\n## ', at + 1) : -1;
  const before = (at >= 0 ? existing.slice(0, at) : existing).trimEnd();
  const after = next >= 0 ? `\n${existing.slice(next + 1).trimEnd()}\n` : '';
  writeFileSync(file, `${before}\n\n${section.trimEnd()}\n${after}`);
}

/** Set by Ctrl-C (or SIGTERM): the handler then stops everything and exits 130, whatever fails meanwhile. */
let interrupted = false;

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const stack = await startStack(log);
  let bench: Bench | undefined;
  const stop = async () => {
    await bench?.stop().catch(() => undefined);
    await stack.stop();
  };
  const onSignal = () => {
    interrupted = true;
    void stop().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    // The S3 store reads credentials from the standard chain, in this process too.
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: stack.s3.accessKey, AWS_SECRET_ACCESS_KEY: stack.s3.secretKey, AWS_REGION: 'us-east-1' });
    bench = new Bench(stack, options);
    await bench.startWorker();
    // The orchestration plan first (it is short), then the sizes, the tables rewritten after each one so a
    // long run interrupted late still leaves what it measured.
    const cpuAtStart = machineCpuSeconds();
    const orchestration = await bench.orchestration();
    const results: RowResult[] = [];
    let section = '';
    for (const [i, size] of options.sizes.entries()) {
      results.push(...(await bench.runSize(size)));
      const done = { ...options, sizes: options.sizes.slice(0, i + 1) };
      const cpuNow = machineCpuSeconds();
      const stolenShare = (cpuNow.stolen - cpuAtStart.stolen) / (cpuNow.total - cpuAtStart.total);
      section = report(done, results, orchestration, bench.profileFiles(), stack, options.sizes, bench.workerAtRest, stolenShare);
      writeResults(options.results, section);
      log(`written to ${options.results}`);
    }
    process.stdout.write(`${section}\n`);
  } finally {
    await stop();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    // A command that fails because the stack is going down after Ctrl-C is no error of its own.
    if (interrupted) return;
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
