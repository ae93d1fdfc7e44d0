/**
 * File-tree components end to end on real parts: backups through the built CLI and a real worker into a
 * local directory and MinIO, `backup verify`, restores with GNU tar compared byte for byte with the source,
 * differential incrementals, and the audit-log preset's invalid lines in the manifest.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { linkSync, lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip, gzipSync } from 'node:zlib';
import type { ComponentBackup, Manifest } from '../../src/catalog/manifest';
import { ComponentError } from '../../src/engines/errors';
import { filesEngine, openFilesArtifact, restoreFilesArtifacts } from '../../src/engines/files';
import type { FilesComponent, PlanInput } from '../../src/plan/schema';
import { createStore, type BackupStore } from '../../src/stores';
import { tempDir, testEnv, uniqueName } from '../harness/env';
import { lifeboatEnv, runCli, startWorker, writePlan, type WorkerProcess } from '../harness/lifeboat';

type FilesBackup = ComponentBackup & { files: NonNullable<ComponentBackup['files']> };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Every entry under root, as a restore must reproduce it: files by content hash, symlinks by target, directories. */
function treeSnapshot(root: string, skip: (relative: string) => boolean = () => false): Record<string, string> {
  const snapshot: Record<string, string> = {};
  const visit = (relativeDir: string) => {
    for (const name of readdirSync(path.join(root, relativeDir)).sort()) {
      const relative = relativeDir ? `${relativeDir}/${name}` : name;
      if (skip(relative)) continue;
      const absolute = path.join(root, relative);
      const stats = lstatSync(absolute);
      if (stats.isSymbolicLink()) snapshot[relative] = `symlink -> ${readlinkSync(absolute)}`;
      else if (stats.isDirectory()) {
        snapshot[relative] = 'dir';
        visit(relative);
      } else snapshot[relative] = `file ${stats.size} ${sha256(readFileSync(absolute))}`;
    }
  };
  visit('');
  return snapshot;
}

const EXCLUDE = ['cache/**', '*.tmp'];
const isExcluded = (relative: string) => relative === 'cache' || relative.startsWith('cache/') || relative.endsWith('.tmp');
const LONG_PATH = `${'long-directory-name-'.repeat(6)}/${'long-file-name-'.repeat(8)}.txt`;

/** Nested directories, binary and empty files, odd names, a name over tar's 100 bytes, symlinks, and things to exclude. */
function buildTree(root: string, options: { hardLink?: boolean } = {}): void {
  const file = (relative: string, content: string | Buffer) => {
    mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
    writeFileSync(path.join(root, relative), content);
  };
  file('docs/readme.txt', 'Lifeboat backs up this tree.\n');
  file('docs/nested/deep/data.bin', randomBytes(3 * 1024 * 1024));
  file('docs/nested/deep/drafts/notes.tmp', 'excluded at any depth');
  file('bin/all-bytes.bin', Buffer.from(Array.from({ length: 256 * 64 }, (_, i) => i % 256)));
  file('empty.txt', '');
  file('name with spaces & ünïcödé.txt', 'odd names\n');
  file('-leading-dash.txt', 'not an option\n');
  file('back\\slash.txt', 'a literal backslash\n');
  file(LONG_PATH, 'a path longer than ustar allows\n');
  file('cache/big.bin', randomBytes(256 * 1024));
  file('cache/sub/inner.txt', 'excluded with its directory');
  file('scratch.tmp', 'excluded');
  mkdirSync(path.join(root, 'emptydir'));
  // Symlinks are stored as links, never followed: one into the tree, one dangling.
  symlinkSync('docs/readme.txt', path.join(root, 'link-to-readme'));
  symlinkSync('does/not/exist', path.join(root, 'dangling-link'));
  if (options.hardLink) linkSync(path.join(root, 'bin/all-bytes.bin'), path.join(root, 'bin/hard-link.bin'));
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** The member names of a stored artifact, by GNU tar. */
async function listArtifact(store: BackupStore, backup: ComponentBackup): Promise<string[]> {
  const tar = spawn('tar', ['--list', '--file=-'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const content = await openFilesArtifact(store, backup);
  content.pipe(tar.stdin);
  const [listing, code] = await Promise.all([collect(tar.stdout), new Promise<number | null>((resolve) => tar.once('close', resolve))]);
  expect(code).toBe(0);
  return listing
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((name) => name.replace(/\/$/, ''))
    .sort();
}

async function readIndex(store: BackupStore, backup: FilesBackup): Promise<{ path: string; type: string; size: number }[]> {
  const text = (await collect((await store.get(backup.files.index.key)).pipe(createGunzip()))).toString('utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { path: string; type: string; size: number });
}

describe('files engine: file trees through the real CLI and worker', () => {
  const taskQueue = uniqueName('files');
  const dir = tempDir('engine-files');
  const s3 = testEnv();
  let env: NodeJS.ProcessEnv;
  let worker: WorkerProcess;

  beforeAll(async () => {
    env = lifeboatEnv(taskQueue);
    worker = await startWorker(env);
  });

  afterAll(async () => {
    await worker?.stop();
  });

  const storeFor = (config: PlanInput['store']): BackupStore =>
    createStore(config as Parameters<typeof createStore>[0], { s3: { credentials: { accessKeyId: s3.s3AccessKey, secretAccessKey: s3.s3SecretKey } } });

  function filesPlan(store: PlanInput['store'], component: Omit<FilesComponent, 'name' | 'type' | 'after' | 'exclude' | 'incremental' | 'fullEvery'> & Partial<FilesComponent>): string {
    const name = uniqueName('files').replace(/_/g, '-');
    return writePlan(dir, { name, store, components: [{ name: 'tree', type: 'files', ...component }] });
  }

  /** `backup run --wait --json`, then the component's record from `backups list --json`. */
  async function backUp(planFile: string): Promise<{ setId: string; backup: FilesBackup }> {
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const { setId } = JSON.parse(run.stdout) as { setId: string };
    const listed = await runCli(['backups', 'list', '--plan', planFile, '--json'], { env });
    expect(listed.code).toBe(0);
    const manifest = (JSON.parse(listed.stdout) as { sets: Manifest[] }).sets.find((set) => set.setId === setId);
    const backup = manifest?.components.find((component) => component.name === 'tree');
    expect(backup?.files).toBeDefined();
    return { setId, backup: backup as FilesBackup };
  }

  async function verify(planFile: string, setId: string): Promise<void> {
    const verified = await runCli(['backup', 'verify', '--plan', planFile, setId], { env });
    expect(verified.stdout).toContain(`set ${setId} verified`);
    expect(verified.code).toBe(0);
  }

  async function fullBackupRestoresByteForByte(store: PlanInput['store']): Promise<void> {
    const source = path.join(tempDir('files-source'), 'tree');
    buildTree(source, { hardLink: true });
    const planFile = filesPlan(store, { path: source, exclude: EXCLUDE });
    const { setId, backup } = await backUp(planFile);
    const expected = treeSnapshot(source, isExcluded);
    const expectedFiles = Object.entries(expected).filter(([, kind]) => kind !== 'dir');

    expect(backup.format).toBe('tar');
    expect(backup.compression).toEqual({ algorithm: 'zstd', level: 3 });
    expect(backup.key).toBe(`${path.basename(planFile, '.yaml')}/${setId}/tree.tar.zst`);
    expect(backup.dependsOn).toBeUndefined();
    expect(backup.files).toMatchObject({ mode: 'full', fileCount: expectedFiles.length, deleted: [] });
    expect(backup.files.auditLog).toBeUndefined();
    expect(backup.sidecars).toEqual([backup.files.index]);
    await verify(planFile, setId);

    const stored = storeFor(store);
    const index = await readIndex(stored, backup);
    expect(index.map((entry) => entry.path).sort()).toEqual(Object.keys(expected).sort());
    const contentBytes = index.filter((entry) => entry.type === 'file').reduce((sum, entry) => sum + entry.size, 0);
    // A hard link's content is stored once.
    expect(backup.files.sourceBytes).toBe(contentBytes - lstatSync(path.join(source, 'bin/hard-link.bin')).size);

    const target = path.join(tempDir('files-restore'), 'restored');
    await restoreFilesArtifacts({ full: () => openFilesArtifact(stored, backup), targetDir: target });
    expect(treeSnapshot(target)).toEqual(expected);
    expect(lstatSync(path.join(target, 'bin/hard-link.bin')).ino).toBe(lstatSync(path.join(target, 'bin/all-bytes.bin')).ino);
  }

  test('into a local directory: verified, and restored byte for byte without the excluded files', async () => {
    await fullBackupRestoresByteForByte({ type: 'local', path: path.join(dir, 'local-store') });
  });

  test('into MinIO: verified, and restored byte for byte without the excluded files', async () => {
    await fullBackupRestoresByteForByte({ type: 's3', bucket: s3.s3Bucket, prefix: uniqueName('files'), endpoint: s3.s3Endpoint, forcePathStyle: true });
  });

  test('incremental: holds exactly what changed since the full; full + incremental restores the current tree', async () => {
    const source = path.join(tempDir('files-incremental'), 'tree');
    buildTree(source);
    const storeConfig: PlanInput['store'] = { type: 'local', path: path.join(dir, 'incremental-store') };
    const stored = storeFor(storeConfig);
    const planFile = filesPlan(storeConfig, { path: source, exclude: EXCLUDE, incremental: true, fullEvery: 2 });
    const restoreAndCompare = async (full: FilesBackup, incremental: FilesBackup) => {
      const target = path.join(tempDir('files-incremental-restore'), 'restored');
      await restoreFilesArtifacts({
        full: () => openFilesArtifact(stored, full),
        incremental: () => openFilesArtifact(stored, incremental),
        deleted: incremental.files.deleted,
        targetDir: target,
      });
      expect(treeSnapshot(target)).toEqual(treeSnapshot(source, isExcluded));
    };

    const first = await backUp(planFile);
    expect(first.backup.files.mode).toBe('full');
    expect(first.backup.dependsOn).toBeUndefined();

    // Two files change: one grows, one keeps its size with different bytes.
    writeFileSync(path.join(source, 'docs/readme.txt'), 'Lifeboat backs up this tree, again.\n');
    const bytes = readFileSync(path.join(source, 'bin/all-bytes.bin'));
    writeFileSync(path.join(source, 'bin/all-bytes.bin'), Buffer.from(bytes).reverse());
    const second = await backUp(planFile);
    expect(second.backup.files).toMatchObject({ mode: 'incremental', fileCount: 2, deleted: [] });
    expect(second.backup.dependsOn).toBe(first.setId);
    expect(await listArtifact(stored, second.backup)).toEqual(['bin/all-bytes.bin', 'docs/readme.txt']);
    await verify(planFile, second.setId);
    await restoreAndCompare(first.backup, second.backup);

    // Differential: the next incremental is still against the full, so it holds the earlier changes too.
    writeFileSync(path.join(source, 'docs/new.txt'), 'added after the full\n');
    rmSync(path.join(source, 'empty.txt'));
    rmSync(path.join(source, 'docs/nested'), { recursive: true });
    const third = await backUp(planFile);
    expect(third.backup.files.mode).toBe('incremental');
    expect(third.backup.dependsOn).toBe(first.setId);
    // A deleted directory stands for its subtree.
    expect(third.backup.files.deleted).toEqual(['docs/nested', 'empty.txt']);
    // "docs" is there because its entries changed (its mtime is restored).
    expect(await listArtifact(stored, third.backup)).toEqual(['bin/all-bytes.bin', 'docs', 'docs/new.txt', 'docs/readme.txt']);
    await restoreAndCompare(first.backup, third.backup);

    // fullEvery: 2 incrementals were taken against the full, so the next backup is a full.
    const fourth = await backUp(planFile);
    expect(fourth.backup.files.mode).toBe('full');
    expect(fourth.backup.dependsOn).toBeUndefined();
    const fifth = await backUp(planFile);
    expect(fifth.backup.files).toMatchObject({ mode: 'incremental', fileCount: 0, deleted: [] });
    expect(fifth.backup.dependsOn).toBe(fourth.setId);
    expect(await listArtifact(stored, fifth.backup)).toEqual([]);
  });

  test('audit-log preset: invalid lines of *.log and *.log.N.gz recorded by file and line number; the backup succeeds', async () => {
    const source = path.join(tempDir('files-audit'), 'state');
    mkdirSync(path.join(source, 'snapshots'), { recursive: true });
    mkdirSync(path.join(source, 'nested/logs'), { recursive: true });
    const line = (ts: number, extra: Record<string, unknown> = {}) => JSON.stringify({ ts_unix_ms: ts, request_id: `r${ts}`, actor: 'op', action: 'put', ...extra });
    writeFileSync(
      path.join(source, 'audit.log'),
      [line(1), '{"ts_unix_ms": 2, "request_id": ', JSON.stringify({ ts_unix_ms: 3, request_id: 'r3', action: 'put' }), '', '[1,2,3]', line(6), ''].join('\n'),
    );
    writeFileSync(path.join(source, 'audit.log.1.gz'), gzipSync([line(10), line(11), JSON.stringify({ request_id: 'r12', actor: 'op' }), line(13)].join('\n') + '\n'));
    const truncated = gzipSync([line(20), line(21), line(22)].join('\n') + '\n');
    writeFileSync(path.join(source, 'audit.log.2.gz'), truncated.subarray(0, truncated.length - 8));
    writeFileSync(path.join(source, 'nested/logs/app.log'), [line(30), line(31), line(32)].join('\n'));
    writeFileSync(path.join(source, 'notes.txt'), 'not an audit log, not checked\n');
    writeFileSync(path.join(source, 'snapshots/instance-1.tensor-wasm'), randomBytes(64 * 1024));

    const storeConfig: PlanInput['store'] = { type: 'local', path: path.join(dir, 'audit-store') };
    const planFile = filesPlan(storeConfig, {
      path: source,
      auditLog: { format: 'jsonl', requiredFields: ['ts_unix_ms', 'request_id', 'actor', 'action'], files: ['**/*.log', '**/*.log.*.gz'] },
    });
    const { setId, backup } = await backUp(planFile);
    expect(backup.files.auditLog).toEqual({
      filesChecked: 4,
      linesChecked: 5 + 4 + 3 + 3,
      invalidLineCount: 5,
      invalidLines: [
        { file: 'audit.log', line: 2, reason: 'not valid JSON (the line ends early: truncated?)' },
        { file: 'audit.log', line: 3, reason: 'missing required field "actor"' },
        { file: 'audit.log', line: 5, reason: 'not a JSON object (an array)' },
        { file: 'audit.log.1.gz', line: 3, reason: 'missing required fields "ts_unix_ms", "action"' },
        { file: 'audit.log.2.gz', line: 4, reason: expect.stringMatching(/^cannot decompress/) },
      ],
    });
    await verify(planFile, setId);
    const target = path.join(tempDir('files-audit-restore'), 'restored');
    await restoreFilesArtifacts({ full: () => openFilesArtifact(storeFor(storeConfig), backup), targetDir: target });
    expect(treeSnapshot(target)).toEqual(treeSnapshot(source));
  });

  test('a missing path fails at once, naming the component and the path', async () => {
    const missing = path.join(dir, 'no-such-directory');
    const planFile = filesPlan({ type: 'local', path: path.join(dir, 'missing-store') }, { path: missing });
    const started = Date.now();
    const run = await runCli(['backup', 'run', '--plan', planFile, '--wait', '--json'], { env });
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('component "tree"');
    expect(run.stderr).toContain(`path ${missing} does not exist`);
    // Not retryable: no backoff between attempts.
    expect(Date.now() - started).toBeLessThan(20_000);
  });

  test('checkArtifact accepts a tar and names what is wrong with anything else', async () => {
    const component = { name: 'tree', type: 'files', path: dir, exclude: [], incremental: false, fullEvery: 7, after: [] } satisfies FilesComponent;
    const source = path.join(tempDir('files-check'), 'tree');
    mkdirSync(source);
    writeFileSync(path.join(source, 'a.txt'), randomBytes(10_000));
    const archive = await collect(spawn('tar', ['--create', '--file=-', '--directory', source, '.']).stdout);
    await expect(filesEngine.checkArtifact(component, Readable.from([archive]))).resolves.toBeUndefined();
    for (const bad of [Buffer.alloc(0), randomBytes(20_000), archive.subarray(0, 4000)]) {
      const checked = filesEngine.checkArtifact(component, Readable.from([bad]));
      await expect(checked).rejects.toBeInstanceOf(ComponentError);
      await expect(checked).rejects.toThrow(/component "tree": tar --list cannot read the artifact/);
    }
  });
});
