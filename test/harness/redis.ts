/** A throwaway redis-server for tests, and ways to fill it and read it back canonically. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { freePort } from '../../src/embedded/ports';

const execFileAsync = promisify(execFile);

export interface RedisServer {
  port: number;
  password: string;
  dir: string;
  url: string;
  stop(): Promise<void>;
}

/** Starts Debian's redis-server as an unprivileged child on a free port; resolves once it accepts connections. */
export async function startRedisServer(dir: string, extraArgs: string[] = []): Promise<RedisServer> {
  const port = await freePort();
  const password = randomBytes(12).toString('hex');
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--requirepass', password, '--daemonize', 'no', ...extraArgs];
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start within 30 s:\n${output}`)), 30_000);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(error.code === 'ENOENT' ? new Error('redis-server is not installed: apt-get install redis-server redis-tools (`.ci/run` does)') : error);
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('close', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    port,
    password,
    dir,
    url: `redis://:${password}@127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** redis-cli against a test server; the password travels in REDISCLI_AUTH, as the engine does it. */
export async function redisCli(server: RedisServer, args: string[]): Promise<string> {
  const { stdout } = await execFileAsync('redis-cli', ['-p', String(server.port), '--no-auth-warning', ...args], {
    env: { ...process.env, REDISCLI_AUTH: server.password },
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

export function resp(...args: (string | number)[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(String(arg))}\r\n${arg}\r\n`).join('')}`;
}

/**
 * Fills db0 and db1 with every common type and encoding: strings (short, integer, a large one LZF
 * compresses), hashes, lists, sets (intset and hashtable) and sorted sets, some with TTLs. Returns the
 * number of keys per db.
 */
export async function fill(server: RedisServer): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let commands = '';
  for (const [db, keys] of [
    [0, 3000],
    [1, 1000],
  ] as const) {
    commands += resp('SELECT', db);
    for (let i = 0; i < keys; i += 1) {
      const key = `db${db}:k${i}`;
      switch (i % 5) {
        case 0:
          commands += i % 10 === 0 ? resp('SET', key, i) : resp('SET', key, `value-${i}-${randomBytes(8).toString('hex')}`);
          break;
        case 1:
          commands += resp('HSET', key, ...Array.from({ length: i % 7 === 1 ? 200 : 3 }, (_, f) => [`f${f}`, `${i}.${f}`]).flat());
          break;
        case 2:
          commands += resp('RPUSH', key, ...Array.from({ length: (i % 9) + 1 }, (_, n) => `item-${n}-${i}`));
          break;
        case 3:
          commands += i % 2 ? resp('SADD', key, ...Array.from({ length: 6 }, (_, n) => n * i)) : resp('SADD', key, ...Array.from({ length: 6 }, (_, n) => `m${n}-${i}`));
          break;
        default:
          commands += resp('ZADD', key, ...Array.from({ length: 4 }, (_, n) => [n * 1.5 + i, `z${n}-${i}`]).flat());
      }
      // TTLs far enough ahead not to expire while the test runs; the RDB keeps them as absolute times.
      if (i % 7 === 0) commands += resp('PEXPIRE', key, 3_600_000 + i);
    }
    counts[`db${db}`] = keys;
  }
  commands += resp('SELECT', 0) + resp('SET', 'db0:big', randomBytes(150_000).toString('hex').replace(/[0-7]/g, 'a'));
  counts.db0 += 1;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('redis-cli', ['-p', String(server.port), '--no-auth-warning', '--pipe'], { env: { ...process.env, REDISCLI_AUTH: server.password }, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 && /errors: 0,/.test(output) ? resolve() : reject(new Error(`redis-cli --pipe failed (${code}): ${output}`))));
    child.stdin.end(commands);
  });
  return counts;
}

/**
 * Every key of a db with its type, value and absolute expiry, in a canonical order (sorted keys, set and
 * hash members sorted): equal for two servers exactly when they hold the same data.
 */
const CANONICAL_DB_SCRIPT = `
local keys = redis.call('KEYS', '*')
table.sort(keys)
local out = {}
for _, key in ipairs(keys) do
  local kind = redis.call('TYPE', key)['ok']
  local value
  if kind == 'string' then value = redis.call('GET', key)
  elseif kind == 'list' then value = redis.call('LRANGE', key, 0, -1)
  elseif kind == 'set' then value = redis.call('SMEMBERS', key); table.sort(value)
  elseif kind == 'zset' then value = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  elseif kind == 'hash' then
    local flat = redis.call('HGETALL', key)
    value = {}
    for i = 1, #flat, 2 do value[#value + 1] = flat[i] .. '=' .. flat[i + 1] end
    table.sort(value)
  else value = 'unexpected type' end
  out[#out + 1] = { key, kind, value, redis.call('PEXPIRETIME', key) }
end
return cjson.encode(out)`;

export async function canonicalDb(server: RedisServer, db: number): Promise<{ keys: number; text: string }> {
  const text = (await redisCli(server, ['-n', String(db), 'EVAL', CANONICAL_DB_SCRIPT, '0'])).trim();
  const parsed = JSON.parse(text) as unknown;
  return { keys: Array.isArray(parsed) ? parsed.length : 0, text }; // cjson encodes an empty table as {}
}

