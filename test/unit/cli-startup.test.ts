/**
 * The CLI loads only the module of the command it runs: `--version` loads none of the heavy libraries, and
 * `backup run` neither the AWS SDK nor the Kubernetes client nor pg, nor over the HTTP API the gRPC client.
 * Runs the built CLI (`npm run build`).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const MAIN = path.resolve(__dirname, '..', '..', 'dist', 'src', 'cli', 'main.js');
const HEAVY = ['@aws-sdk/client-s3', '@kubernetes/client-node', 'pg', '@temporalio/client'];

/** Runs the CLI with a preload that records every module it requires. */
function run(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number | null; stdout: string; stderr: string; loaded: string[] } {
  const probe = path.join(mkdtempSync(path.join(tmpdir(), 'cli-startup-')), 'probe.js');
  writeFileSync(
    probe,
    `const Module = require('module'); const load = Module._load; const seen = new Set();
     Module._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
     process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify([...seen]) + '\\n'));`,
  );
  const result = spawnSync(process.execPath, ['-r', probe, MAIN, ...args], { encoding: 'utf8', env });
  const loaded = JSON.parse(/LOADED (.*)/.exec(result.stderr)?.[1] ?? '[]') as string[];
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, loaded };
}

describe('CLI start-up', () => {
  test('--version loads no command module and none of the heavy libraries', () => {
    const { code, stdout, loaded } = run(['--version']);
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    expect(loaded.filter((request) => HEAVY.includes(request) || request.includes('/commands/'))).toEqual([]);
  });

  test('backup run loads none of the heavy libraries until it connects (the Temporal client only over gRPC)', () => {
    const { code, stdout, loaded } = run(['backup', 'run', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('--wait');
    expect(loaded.filter((request) => HEAVY.includes(request))).toEqual([]);
  });

  describe("backup run over Temporal's HTTP API (TEMPORAL_HTTP_ADDRESS)", () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-startup-'));
    const plan = path.join(dir, 'plan.yaml');
    writeFileSync(plan, `name: fast\nstore:\n  type: local\n  path: ${dir}/store\ncomponents:\n  - name: db\n    type: postgres\n    connection:\n      urlFromEnv: DB_URL\n`);
    const GRPC = ['@temporalio/client', '@temporalio/proto', '@grpc/grpc-js'];

    test('neither loads the gRPC client nor protobufjs, and an unreachable API is said in one line naming the variable', () => {
      // Nothing listens on port 9; TEMPORAL_ADDRESS points nowhere either, and must not be tried.
      const { code, stderr, loaded } = run(['backup', 'run', '--plan', plan, '--wait', '--json'], { ...process.env, TEMPORAL_HTTP_ADDRESS: '127.0.0.1:9', TEMPORAL_ADDRESS: '127.0.0.1:1' });
      expect(code).toBe(1);
      expect(stderr.replace(/\nLOADED .*\n$/, '')).toMatch(/^error: cannot connect to Temporal at 127\.0\.0\.1:9: .*ECONNREFUSED.*set TEMPORAL_HTTP_ADDRESS \(or unset it to use gRPC\)\n$/);
      expect(loaded.filter((request) => GRPC.includes(request))).toEqual([]);
    });

    test('an address that is not host:port or an http:// URL is bad input (exit 2), checked before any call', () => {
      for (const address of ['https://temporal.example:7243', 'http://bad host:7243']) {
        const { code, stderr } = run(['backup', 'run', '--plan', plan], { ...process.env, TEMPORAL_HTTP_ADDRESS: address });
        expect(code).toBe(2);
        expect(stderr).toContain(`TEMPORAL_HTTP_ADDRESS "${address}"`);
      }
    });
  });

  test('a command that loads the AWS SDK prints no notice about future SDK versions on Node 20, and an unreachable store in one line', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cli-startup-'));
    const plan = path.join(dir, 'plan.yaml');
    // Nothing listens on port 9: the listing fails, after the S3 client was made (where the SDK warns).
    writeFileSync(plan, 'name: quiet\nstore:\n  type: s3\n  bucket: quiet-bucket\n  endpoint: http://127.0.0.1:9\n  region: us-east-1\ncomponents:\n  - name: db\n    type: postgres\n    connection:\n      urlFromEnv: DB_URL\n');
    const env: NodeJS.ProcessEnv = { ...process.env, AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's', AWS_MAX_ATTEMPTS: '1' };
    delete env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED;
    const { code, stderr, loaded } = run(['backups', 'list', '--plan', plan], env);
    expect(loaded).toContain('@aws-sdk/client-s3');
    expect(code).toBe(1);
    expect(stderr).not.toContain('NodeVersionSupportWarning');
    // An unreachable store is said in one line naming the bucket and endpoint, without a stack trace.
    expect(stderr.replace(/\nLOADED .*\n$/, '')).toBe(
      "error: cannot reach bucket 'quiet-bucket' at http://127.0.0.1:9 (ECONNREFUSED): check store.endpoint (or store.region) and that the store is up and reachable from here\n",
    );
  });

  test('a command two modules build is whole: plan validate (plan module) and plan apply (schedule module)', () => {
    const { code, stdout } = run(['plan', '--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^ {2}validate\b/m);
    expect(stdout).toMatch(/^ {2}apply\b/m);
  });

  test('schedule and status, whose module extends plan\'s, start', () => {
    expect(run(['schedule', 'list', '--help']).code).toBe(0);
    expect(run(['status', '--help']).code).toBe(0);
  });

  test('help without a command still lists every command', () => {
    const { code, stdout } = run(['--help']);
    expect(code).toBe(0);
    for (const command of ['plan', 'schedule', 'status', 'backup', 'backups', 'worker', 'prune', 'restore', 'up', 'store', 'drill', 'drills', 'doctor', 'codec-server', 's3-versions']) {
      expect(stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });
});
