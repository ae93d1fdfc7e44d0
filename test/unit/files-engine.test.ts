/**
 * The files engine's pure parts: glob exclusion, tree order, the audit-log line validator, tar parsing,
 * tar's diagnostics and the choice of an incremental's base. The whole engine runs end to end in
 * test/integration/engine-files.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ComponentBackup, FilesFacts, Manifest } from '../../src/catalog/manifest';
import { AuditFileSink, AuditLogReport, MAX_AUDIT_LINE_BYTES, MAX_RECORDED_INVALID_LINES } from '../../src/engines/files/auditLog';
import { pathMatcher } from '../../src/engines/files/globs';
import { chooseBase } from '../../src/engines/files/incrementalBase';
import { comparePaths } from '../../src/engines/files/sourceTree';
import { TarObserver, type TarMember } from '../../src/engines/files/tarObserver';
import { TarDiagnostics, classifyTarExit } from '../../src/engines/files/tarProcess';

describe('exclude globs (gitignore conventions, relative to the component path)', () => {
  const matches = (globs: string[], relativePath: string, isDirectory = false) => pathMatcher(globs)(relativePath, isDirectory);

  test('a pattern without "/" matches a name at any depth, dot files included', () => {
    for (const hit of ['a.tmp', 'x/y/a.tmp', '.hidden.tmp', 'dir.tmp']) expect(matches(['*.tmp'], hit)).toBe(true);
    for (const miss of ['a.tmpx', 'tmp', 'a.tmp/inside']) expect(matches(['*.tmp'], miss)).toBe(false);
    expect(matches(['cache'], 'cache', true)).toBe(true);
    expect(matches(['cache'], 'deep/er/cache', true)).toBe(true);
    expect(matches(['cache'], 'cached', true)).toBe(false);
  });

  test('a pattern with "/" is anchored at the root; "dir/**" matches the directory itself and its subtree', () => {
    for (const hit of ['cache', 'cache/a', 'cache/a/b.bin']) expect(matches(['cache/**'], hit, hit === 'cache')).toBe(true);
    for (const miss of ['cache2', 'x/cache', 'x/cache/a', 'cachex/a']) expect(matches(['cache/**'], miss)).toBe(false);
    expect(matches(['logs/*.gz'], 'logs/a.gz')).toBe(true);
    expect(matches(['logs/*.gz'], 'logs/x/a.gz')).toBe(false);
    expect(matches(['/top.txt'], 'top.txt')).toBe(true);
    expect(matches(['/top.txt'], 'x/top.txt')).toBe(false);
    expect(matches(['./top.txt'], 'top.txt')).toBe(true);
  });

  test('"**" spans zero or more directories', () => {
    for (const hit of ['a/b', 'a/x/b', 'a/x/y/b']) expect(matches(['a/**/b'], hit)).toBe(true);
    expect(matches(['a/**/b'], 'a/xb')).toBe(false);
    expect(matches(['**'], 'anything/at/all')).toBe(true);
    // The audit-log defaults.
    for (const hit of ['audit.log', 'var/log/audit.log']) expect(matches(['**/*.log'], hit)).toBe(true);
    for (const hit of ['audit.log.1.gz', 'x/audit.log.12.gz']) expect(matches(['**/*.log.*.gz'], hit)).toBe(true);
    for (const miss of ['audit.log.gz', 'audit.log.1', 'audit.logs']) expect(matches(['**/*.log', '**/*.log.*.gz'], miss)).toBe(false);
  });

  test('a trailing "/" matches directories only', () => {
    expect(matches(['build/'], 'build', true)).toBe(true);
    expect(matches(['build/'], 'src/build', true)).toBe(true);
    expect(matches(['build/'], 'build', false)).toBe(false);
  });

  test('classes, alternatives, "?", escapes, and regular-expression characters taken literally', () => {
    expect(matches(['[ab].txt'], 'a.txt')).toBe(true);
    expect(matches(['[ab].txt'], 'c.txt')).toBe(false);
    expect(matches(['[!ab].txt'], 'c.txt')).toBe(true);
    expect(matches(['[!ab].txt'], 'a.txt')).toBe(false);
    expect(matches(['[a-c]x'], 'bx')).toBe(true);
    expect(matches(['{foo,bar}.txt'], 'bar.txt')).toBe(true);
    expect(matches(['{foo,bar}.txt'], 'baz.txt')).toBe(false);
    expect(matches(['?.txt'], 'a.txt')).toBe(true);
    expect(matches(['?.txt'], 'ab.txt')).toBe(false);
    expect(matches(['\\*.txt'], '*.txt')).toBe(true);
    expect(matches(['\\*.txt'], 'a.txt')).toBe(false);
    expect(matches(['a+b(1).txt'], 'a+b(1).txt')).toBe(true);
    expect(matches(['a+b(1).txt'], 'aab1.txt')).toBe(false);
    expect(matches(['[unclosed'], '[unclosed')).toBe(true);
  });
});

describe('tree order', () => {
  test('comparePaths is depth first with names sorted, a directory right before its contents', () => {
    const walkOrder = ['a', 'a/x', 'a/x/deep', 'a/y', 'a-b', 'a.txt', 'b', 'b/c'];
    const shuffled = [...walkOrder].reverse();
    expect(shuffled.sort(comparePaths)).toEqual(walkOrder);
    expect(comparePaths('same', 'same')).toBe(0);
  });
});

describe('audit-log line validator', () => {
  const required = ['ts', 'actor'];

  function validate(chunks: (string | Buffer)[], file = 'audit.log') {
    const report = new AuditLogReport(required);
    const validator = report.file(file);
    for (const chunk of chunks) validator.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    validator.finish();
    return report.facts();
  }

  test('records invalid lines by file and 1-based line number; blank lines count as lines but are not checked', () => {
    const facts = validate([
      '{"ts":1,"actor":"a"}\n',
      '{not json\n',
      '\n',
      '{"ts":2}\n',
      '[1,2]\n',
      '"text"\n',
      '{"actor":"b"}\n',
      '{"ts":3,"actor":"c","extra":true}\r\n',
      '   \n',
      '{"ts":4,"act',
    ]);
    expect(facts.invalidLines).toEqual([
      { file: 'audit.log', line: 2, reason: 'not valid JSON' },
      { file: 'audit.log', line: 4, reason: 'missing required field "actor"' },
      { file: 'audit.log', line: 5, reason: 'not a JSON object (an array)' },
      { file: 'audit.log', line: 6, reason: 'not a JSON object (a string)' },
      { file: 'audit.log', line: 7, reason: 'missing required field "ts"' },
      { file: 'audit.log', line: 10, reason: 'not valid JSON (the line ends early: truncated?)' },
    ]);
    expect(facts).toMatchObject({ filesChecked: 1, linesChecked: 8, invalidLineCount: 6 });
  });

  test('lines cut anywhere by chunk boundaries are reassembled', () => {
    const text = '{"ts":1,"actor":"a"}\n{"ts":2}\n{"ts":3,"actor":"ü"}\n';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 7]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      expect(validate(chunks).invalidLines).toEqual([{ file: 'audit.log', line: 2, reason: 'missing required field "actor"' }]);
    }
  });

  test('names every missing field; rejects invalid UTF-8 and null', () => {
    const facts = validate(['{}\n', Buffer.from([0x7b, 0xff, 0x7d, 0x0a]), 'null\n']);
    expect(facts.invalidLines.map(({ line, reason }) => [line, reason])).toEqual([
      [1, 'missing required fields "ts", "actor"'],
      [2, 'not valid UTF-8'],
      [3, 'not a JSON object (null)'],
    ]);
  });

  test('an overlong line is reported without being buffered, and the next line is checked as usual', () => {
    const big = Buffer.alloc(MAX_AUDIT_LINE_BYTES + 10, 'x');
    const facts = validate([big.subarray(0, 600_000), big.subarray(600_000), '\n{"ts":1,"actor":"a"}\n']);
    expect(facts.invalidLines).toEqual([{ file: 'audit.log', line: 1, reason: `line longer than ${MAX_AUDIT_LINE_BYTES} bytes` }]);
    expect(facts.linesChecked).toBe(2);
  });

  test(`keeps the first ${MAX_RECORDED_INVALID_LINES} invalid lines and counts them all`, () => {
    const facts = validate(['x\n'.repeat(MAX_RECORDED_INVALID_LINES + 500)]);
    expect(facts.invalidLineCount).toBe(MAX_RECORDED_INVALID_LINES + 500);
    expect(facts.invalidLines).toHaveLength(MAX_RECORDED_INVALID_LINES);
    expect(facts.invalidLines.at(-1)?.line).toBe(MAX_RECORDED_INVALID_LINES);
  });

  test('gzip files are validated through gunzip, with line numbers of the decompressed content; corruption is reported', async () => {
    const report = new AuditLogReport(required);
    const good = gzipSync('{"ts":1,"actor":"a"}\n{"ts":2}\n');
    const sink = new AuditFileSink(report.file('audit.log.1.gz'), true);
    for (let i = 0; i < good.length; i += 5) await sink.write(good.subarray(i, i + 5));
    await sink.end();
    const truncated = gzipSync('{"ts":1,"actor":"a"}\n{"ts":2,"actor":"b"}\n');
    const broken = new AuditFileSink(report.file('audit.log.2.gz'), true);
    await broken.write(truncated.subarray(0, truncated.length - 8)); // the gzip trailer is missing
    await broken.end();
    const facts = report.facts();
    expect(facts.invalidLines).toEqual([
      { file: 'audit.log.1.gz', line: 2, reason: 'missing required field "actor"' },
      { file: 'audit.log.2.gz', line: 3, reason: expect.stringMatching(/^cannot decompress \(.+\); the rest of the file was not checked$/) },
    ]);
    expect(facts).toMatchObject({ filesChecked: 2, linesChecked: 4, invalidLineCount: 2 });
  });
});

describe('TarObserver', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'lifeboat-tar-unit-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function observe(archive: Buffer, chunkSize: number): Promise<{ members: (TarMember & { content: string })[]; passed: Buffer }> {
    const members: (TarMember & { content: string })[] = [];
    const observer = new TarObserver({
      onMember: (member) => {
        const record = { ...member, content: '' };
        members.push(record);
        return { write: (chunk) => void (record.content += chunk.toString('latin1')), end: () => undefined };
      },
    });
    const passed: Buffer[] = [];
    observer.on('data', (chunk: Buffer) => passed.push(chunk));
    for (let i = 0; i < archive.length; i += chunkSize) observer.write(archive.subarray(i, i + chunkSize));
    observer.end();
    await observer.completed;
    return { members, passed: Buffer.concat(passed) };
  }

  test('passes the bytes through unchanged and sees every member of a GNU tar pax archive, long names included', async () => {
    const root = path.join(dir, 'tree');
    const longDir = 'd'.repeat(120);
    mkdirSync(path.join(root, longDir), { recursive: true });
    writeFileSync(path.join(root, 'a.txt'), 'alpha');
    writeFileSync(path.join(root, longDir, `${'n'.repeat(130)}.log`), 'x'.repeat(1500));
    writeFileSync(path.join(root, 'empty'), '');
    const archive = execFileSync('tar', ['--create', '--file=-', '--format=posix', '--directory', root, 'a.txt', 'empty', longDir]);
    for (const chunkSize of [1, 7, 512, 100_000]) {
      const { members, passed } = await observe(archive, chunkSize);
      expect(passed.equals(archive)).toBe(true);
      expect(members.map(({ path: name, type, size, content }) => ({ name, type, size, length: content.length }))).toEqual([
        { name: 'a.txt', type: '0', size: 5, length: 5 },
        { name: 'empty', type: '0', size: 0, length: 0 },
        { name: longDir, type: '5', size: 0, length: 0 },
        { name: `${longDir}/${'n'.repeat(130)}.log`, type: '0', size: 1500, length: 1500 },
      ]);
    }
  });

  test('fails on a header whose checksum does not match, and on a truncated archive', async () => {
    writeFileSync(path.join(dir, 'f.txt'), 'content');
    const archive = execFileSync('tar', ['--create', '--file=-', '--format=posix', '--directory', dir, 'f.txt']);
    const corrupt = Buffer.from(archive);
    corrupt[0] ^= 0xff;
    await expect(observe(corrupt, 4096)).rejects.toThrow(/header checksum mismatch/);
    await expect(observe(archive.subarray(0, 1024 + 100), 4096)).rejects.toThrow(/truncated/);
  });
});

describe("tar's exit", () => {
  const classify = (stderr: string, code: number | null, signal: NodeJS.Signals | null = null) => {
    const diagnostics = new TarDiagnostics();
    diagnostics.append(stderr);
    diagnostics.end();
    return classifyTarExit('ledger', '/srv/ledger', { code, signal }, diagnostics);
  };

  test('success, and "file changed as we read it" alone is a success with a warning', () => {
    expect(classify('', 0)).toBeUndefined();
    expect(classify('tar: audit.log: file changed as we read it\n', 1)).toBeUndefined();
  });

  test('permission denied is not retryable and names the component and the file', () => {
    const error = classify('tar: secret/key.pem: Cannot open: Permission denied\ntar: Exiting with failure status due to previous errors\n', 2);
    expect(error).toMatchObject({ retryable: false, kind: 'PermissionDenied', component: 'ledger' });
    expect(error?.message).toContain('component "ledger"');
    expect(error?.message).toContain('"secret/key.pem" in /srv/ledger');
  });

  test('a file that vanished or shrank while read is retried; other failures say what tar said', () => {
    expect(classify('tar: a.bin: Cannot stat: No such file or directory\n', 2)).toMatchObject({ retryable: true, kind: 'FileVanished' });
    expect(classify('tar: audit.log: File shrank by 4096 bytes; padding with zeros\n', 1)).toMatchObject({ retryable: true, kind: 'FileShrank' });
    const mixed = classify('tar: a: file changed as we read it\ntar: b: Read error at byte 0: Input/output error\n', 2);
    expect(mixed).toMatchObject({ retryable: true, kind: 'TarFailed' });
    expect(mixed?.message).toContain('Input/output error');
    expect(classify('', null, 'SIGKILL')).toMatchObject({ retryable: true, kind: 'TarFailed' });
  });

  test('diagnostics split across chunks are put back together', () => {
    const diagnostics = new TarDiagnostics();
    diagnostics.append('tar: x/y: Cannot op');
    diagnostics.append('en: Permission denied\n');
    expect(diagnostics.permissionDenied).toBe('x/y');
    expect(diagnostics.fatal).toBe(true);
  });
});

describe("an incremental's base", () => {
  let sequence = 0;
  const set = (mode: FilesFacts['mode'] | undefined, dependsOn?: string): Manifest => {
    const setId = `20261121T0800${String(10 + sequence++).padStart(2, '0')}.000Z-aaaaaa`;
    const index = { key: `p/${setId}/tree.index.jsonl.gz`, bytes: 10, sha256: 'a'.repeat(64) };
    const component = {
      name: 'tree',
      type: 'files',
      ...(mode ? { files: { mode, fileCount: 1, sourceBytes: 1, deleted: [], index } } : {}),
      ...(dependsOn ? { dependsOn } : {}),
    } as ComponentBackup;
    return { setId, components: [component] } as unknown as Manifest;
  };

  test('is the newest full, until fullEvery incrementals were taken against it', () => {
    expect(chooseBase({ name: 'tree', fullEvery: 2 }, [])).toBeUndefined();
    const oldFull = set('full');
    const full = set('full');
    const sets = [oldFull, full];
    expect(chooseBase({ name: 'tree', fullEvery: 2 }, sets)?.setId).toBe(full.setId);
    sets.push(set('incremental', full.setId));
    expect(chooseBase({ name: 'tree', fullEvery: 2 }, sets)).toEqual({ setId: full.setId, index: full.components[0].files?.index });
    sets.push(set(undefined)); // a backup without files facts is not a full or an incremental
    expect(chooseBase({ name: 'tree', fullEvery: 2 }, sets)?.setId).toBe(full.setId);
    sets.push(set('incremental', full.setId));
    expect(chooseBase({ name: 'tree', fullEvery: 2 }, sets)).toBeUndefined();
    expect(chooseBase({ name: 'other', fullEvery: 2 }, sets)).toBeUndefined();
  });
});
