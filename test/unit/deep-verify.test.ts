/**
 * The pure parts of deep verification and immutability: sample sizes, retention of marked and locked sets,
 * which content types verify parses; and the files engine's audit-log re-check on a real tar stream.
 */
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { formatSetId, type ComponentBackup } from '../../src/catalog/manifest';
import { holdLockedSets, selectRetention } from '../../src/catalog/retention';
import { checkFilesArtifact } from '../../src/engines/files/artifactCheck';
import { bodyKindOfContentType } from '../../src/engines/http';
import { scratchDatabaseName } from '../../src/engines/postgresScratch';
import { filesComponentSchema, planSchema } from '../../src/plan/schema';
import { chooseSample, parseSample, sampleSize } from '../../src/repository/deepVerify';
import { objectLockParams, retainUntil } from '../../src/stores/objectLockParams';

const HOUR = 3_600_000;
const now = new Date('2026-11-21T12:00:00Z');
const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * HOUR);
const id = (hoursAgo: number, suffix: string) => formatSetId(at(hoursAgo), suffix);

describe('sampling', () => {
  test('a percentage of the artifacts, rounded up, at least one; a count; everything by default', () => {
    expect(parseSample('10%')).toEqual({ percent: 10 });
    expect(parseSample('2.5%')).toEqual({ percent: 2.5 });
    expect(parseSample('3')).toEqual({ count: 3 });
    for (const bad of ['0%', '101%', '0', 'ten', '', '-3', '5%%']) expect(() => parseSample(bad)).toThrow(/is not a sample size/);
    expect(sampleSize({ percent: 10 }, 25)).toBe(3);
    expect(sampleSize({ percent: 1 }, 4)).toBe(1);
    expect(sampleSize({ count: 9 }, 4)).toBe(4);
    expect(sampleSize(undefined, 7)).toBe(7);
    expect(sampleSize({ percent: 50 }, 0)).toBe(0);
  });

  test('the sample is random, of the asked size, without repeats, in the original order', () => {
    const items = Array.from({ length: 20 }, (_, index) => index);
    const seen = new Set<string>();
    for (let round = 0; round < 30; round++) {
      const sample = chooseSample(items, 5);
      expect(sample).toHaveLength(5);
      expect(new Set(sample).size).toBe(5);
      expect([...sample].sort((a, b) => a - b)).toEqual(sample);
      seen.add(sample.join());
    }
    expect(seen.size).toBeGreaterThan(1);
    // With a fixed random source the choice is predictable.
    expect(chooseSample(['a', 'b', 'c', 'd'], 2, () => 0)).toEqual(['a', 'b']);
    expect(chooseSample(['a', 'b', 'c', 'd'], 2, (max) => max - 1)).toEqual(['a', 'd']);
  });
});

describe('retention of marked and locked sets', () => {
  const complete = (hoursAgo: number, suffix: string) => ({ setId: id(hoursAgo, suffix), time: at(hoursAgo), dependsOn: [] });

  test('a set that failed verification is not counted by the keep rules, kept within the kept history, removed beyond it', () => {
    const selection = selectRetention(
      {
        complete: [complete(1, 'aaaaaa'), complete(30, 'cccccc'), complete(50, 'dddddd')],
        incomplete: [],
        failedVerification: [
          { setId: id(2, 'bbbbbb'), time: at(2), reason: 'x.pgdump: sha256 mismatch' },
          { setId: id(60, 'eeeeee'), time: at(60), reason: 'y.pgdump: sha256 mismatch' },
        ],
      },
      { keepLast: 2 },
      now,
    );
    // keepLast 2 keeps the two newest good sets; the marked one between them neither counts nor displaces one.
    expect(selection.keep.map((set) => set.setId)).toEqual([id(1, 'aaaaaa'), id(2, 'bbbbbb'), id(30, 'cccccc')]);
    expect(selection.keep[1].reasons[0]).toMatch(/^failed verification \(x\.pgdump: sha256 mismatch\), kept for inspection/);
    expect(selection.remove.map((set) => [set.setId, set.reason])).toEqual([
      [id(50, 'dddddd'), 'no keep rule matches'],
      [id(60, 'eeeeee'), 'failed verification (y.pgdump: sha256 mismatch), older than every kept set'],
    ]);
  });

  test('a set chosen for removal whose lock has not expired is kept as "locked until"; after the date it is removed', () => {
    const selection = selectRetention({ complete: [complete(1, 'aaaaaa'), complete(30, 'bbbbbb')], incomplete: [] }, { keepLast: 1 }, now);
    const until = new Date(now.getTime() + 5 * HOUR);
    const held = holdLockedSets(selection, new Map([[id(30, 'bbbbbb'), until]]), now);
    expect(held.remove).toEqual([]);
    expect(held.keep.map((set) => set.setId)).toEqual([id(1, 'aaaaaa'), id(30, 'bbbbbb')]);
    expect(held.keep[1].reasons).toEqual([`locked until ${until.toISOString()}`, 'would be removed: no keep rule matches']);
    const later = holdLockedSets(selection, new Map([[id(30, 'bbbbbb'), until]]), new Date(until.getTime() + 1));
    expect(later.remove.map((set) => set.setId)).toEqual([id(30, 'bbbbbb')]);
  });
});

describe('object lock parameters and plan', () => {
  test('a locked write names mode, retention date and a checksum; an unlocked one nothing', () => {
    expect(objectLockParams(undefined)).toEqual({});
    expect(objectLockParams({ mode: 'compliance', days: 30 }, now)).toEqual({
      ObjectLockMode: 'COMPLIANCE',
      ObjectLockRetainUntilDate: new Date(now.getTime() + 30 * 24 * HOUR),
      ChecksumAlgorithm: 'CRC32',
    });
    expect(retainUntil({ mode: 'governance', days: 1 }, now).toISOString()).toBe('2026-11-22T12:00:00.000Z');
  });

  test('objectLock is accepted on an S3 store, refused on a local one with why', () => {
    const components = [{ name: 'c', type: 'files', path: '/srv' }];
    expect(planSchema.safeParse({ name: 'p', store: { type: 's3', bucket: 'bkt', objectLock: { mode: 'governance', days: 7 } }, components }).success).toBe(true);
    expect(planSchema.safeParse({ name: 'p', store: { type: 's3', bucket: 'bkt', objectLock: { mode: 'forever', days: 7 } }, components }).success).toBe(false);
    const local = planSchema.safeParse({ name: 'p', store: { type: 'local', path: '/b', objectLock: { mode: 'governance', days: 7 } }, components });
    expect(local.success).toBe(false);
    expect(local.error?.issues[0].message).toContain('object lock needs an S3 store');
  });
});

describe('engine checks', () => {
  test('http: verify parses JSON when the recorded content type says so', () => {
    expect(bodyKindOfContentType('application/json; charset=utf-8')).toBe('json');
    expect(bodyKindOfContentType('application/vnd.api+json')).toBe('json');
    expect(bodyKindOfContentType('application/x-ndjson')).toBe('ndjson');
    expect(bodyKindOfContentType('text/csv')).toBeUndefined();
    expect(bodyKindOfContentType(undefined)).toBeUndefined();
  });

  test('postgres: scratch database names are new, marked as verify copies, and within 63 bytes', () => {
    const a = scratchDatabaseName('apps');
    expect(a).toMatch(/^apps_verify_[0-9a-f]{8}$/);
    expect(scratchDatabaseName('apps')).not.toBe(a);
    expect(scratchDatabaseName('x'.repeat(80)).length).toBeLessThanOrEqual(63);
  });

  const component = filesComponentSchema.parse({ name: 'files', type: 'files', path: '/srv', auditLog: { format: 'jsonl', requiredFields: ['at', 'user'] } });
  const tarOf = (log: string): Readable => {
    const archive = pack();
    archive.entry({ name: 'audit/app.log' }, log);
    archive.entry({ name: 'notes.txt' }, 'not an audit log\n');
    archive.finalize();
    return Readable.from(archive as unknown as AsyncIterable<Buffer>);
  };
  const recorded = (linesChecked: number, invalidLineCount: number): ComponentBackup =>
    ({ files: { mode: 'full', fileCount: 2, sourceBytes: 1, deleted: [], index: { key: 'i', bytes: 1, sha256: '0'.repeat(64) }, auditLog: { filesChecked: 1, linesChecked, invalidLineCount, invalidLines: [] } } }) as unknown as ComponentBackup;

  test('files: audit-log lines are checked again against what the backup recorded', async () => {
    const good = '{"at":1,"user":"a"}\n{"at":2,"user":"b"}\n';
    await expect(checkFilesArtifact(component, tarOf(good), recorded(2, 0))).resolves.toBeUndefined();
    const broken = '{"at":1,"user":"a"}\n{"at":2,"usXr":"b"}\n';
    await expect(checkFilesArtifact(component, tarOf(broken), recorded(2, 0))).rejects.toThrow(
      /audit-log lines invalid: 1 invalid line\(s\), the backup recorded 0 \(first: audit\/app\.log line 2: missing required field "user"\)/,
    );
    // A line that was already invalid at backup time is known, not a new failure.
    await expect(checkFilesArtifact(component, tarOf(broken), recorded(2, 1))).resolves.toBeUndefined();
    await expect(checkFilesArtifact(component, tarOf(`${good}{"at":3,"user":"c"}\n`), recorded(2, 0))).rejects.toThrow(/audit logs changed: 3 line\(s\) read, the backup recorded 2/);
  });
});
