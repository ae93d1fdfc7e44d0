import { Readable } from 'node:stream';
import { parsePlanText, PlanError } from '../../src/plan/load';
import type { KeyVersions } from '../../src/engines/s3Versioned/bucket';
import { ReferencedKeysCheck } from '../../src/engines/s3Versioned/consistency';
import { assessLifecycle, retentionDays } from '../../src/engines/s3Versioned/lifecycle';
import { planRollback, type RollbackAction } from '../../src/engines/s3Versioned/rollback';
import { compareKeys, encodeHeader, encodeRecord, readVersionMap, type VersionRecord } from '../../src/engines/s3Versioned/versionMap';

async function* from<T>(items: T[]): AsyncGenerator<T> {
  yield* items;
}

const record = (key: string, versionId: string, etag = `etag-${versionId}`, size = 1): VersionRecord => ({ key, versionId, etag, size, lastModified: '2026-11-21T00:00:00.000Z' });

function listed(key: string, current: string | undefined, versions: string[], etag?: string): KeyVersions {
  return {
    key,
    deleted: current === undefined,
    current: current === undefined ? undefined : { versionId: current, etag: etag ?? `etag-${current}`, size: 1, lastModified: '' },
    versions: new Map(versions.map((version) => [version, { etag: `etag-${version}`, size: 1, lastModified: '' }])),
  };
}

describe('s3-versioned: version map', () => {
  test('keys compare in UTF-8 byte order, as S3 lists them', () => {
    const keys = ['b', 'a/b', 'a', '\u{1F600}', '\uFF61', 'a b', 'A'];
    const byBytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareKeys)).toEqual(byBytes);
    expect(compareKeys('\u{1F600}', '\uFF61')).toBeGreaterThan(0); // JavaScript's own order says the opposite
  });

  test('a map reads back; one out of order, of another bucket or without a header is refused', async () => {
    const records = [record('a', '1'), record('b\ttab', '2'), record('c', '3')];
    const text = encodeHeader({ bucket: 'data', prefix: 'p/' }) + records.map(encodeRecord).join('');
    const read: VersionRecord[] = [];
    for await (const item of readVersionMap(Readable.from([text]), { bucket: 'data', prefix: 'p/' })) read.push(item);
    expect(read).toEqual(records);

    const drain = async (body: string, expect?: { bucket: string; prefix: string }) => {
      for await (const item of readVersionMap(Readable.from([body]), expect)) void item;
    };
    await expect(drain(encodeHeader({ bucket: 'data', prefix: '' }) + encodeRecord(record('b', '1')) + encodeRecord(record('a', '2')))).rejects.toThrow('is not after');
    await expect(drain(text, { bucket: 'other', prefix: 'p/' })).rejects.toThrow('the plan\'s bucket or prefix changed');
    await expect(drain(encodeRecord(record('a', '1')))).rejects.toThrow('not a lifeboat-s3-version-map');
  });
});

describe('s3-versioned: rollback plan', () => {
  test('changed keys get their version back, new keys a delete marker, gone versions are missing, the rest is unchanged', async () => {
    const actions: RollbackAction[] = [];
    const summary = await planRollback({
      map: from([record('a', 'a1'), record('b', 'b1'), record('d', 'd1'), record('e', 'e1'), record('f', 'f1', 'same')]),
      listing: from([
        listed('a', 'a1', ['a1']), // unchanged
        listed('b', 'b2', ['b1', 'b2']), // overwritten
        listed('c', 'c1', ['c1']), // created after
        listed('d', undefined, ['d1']), // deleted after
        listed('e', 'e2', ['e2']), // its version expired
        listed('f', 'f2', ['f1', 'f2'], 'same'), // an earlier restore's copy: same single-part etag
        listed('g', undefined, ['g1']), // created and deleted after: already hidden
      ]),
      onAction: (action) => void actions.push(action),
    });
    expect(actions).toEqual([
      { kind: 'restore', key: 'b', versionId: 'b1', etag: 'etag-b1', size: 1 },
      { kind: 'delete', key: 'c' },
      { kind: 'restore', key: 'd', versionId: 'd1', etag: 'etag-d1', size: 1 },
    ]);
    expect(summary).toMatchObject({ objects: 5, restore: 2, delete: 1, unchanged: 3 });
    expect(summary.missing.items).toEqual([{ key: 'e', versionId: 'e1' }]);
  });

  test('a multipart original counts as restored only when the current copy carries its mark', async () => {
    const multipart = record('m', 'm1', 'abc-3');
    const run = (mark: string | undefined) =>
      planRollback({ map: from([multipart]), listing: from([listed('m', 'm2', ['m1', 'm2'], 'def')]), restoredFrom: async () => mark });
    expect((await run('m1')).unchanged).toBe(1);
    expect((await run(undefined)).restore).toBe(1);
  });

  test('referenced keys: those never seen are missing, repeats and order handled', async () => {
    const check = new ReferencedKeysCheck(from(['a', 'b', 'x', 'z']));
    for (const key of ['a', 'b', 'c', 'y']) await check.see(key);
    const missing = await check.finish();
    expect(missing.items).toEqual(['x', 'z']);
    expect(check.referenced).toBe(4);
  });
});

describe('s3-versioned: lifecycle and plan rules', () => {
  test('retention horizon in days from the policy; a rule shorter than it warns', () => {
    expect(retentionDays({ retention: { keepDaily: 7, keepWeekly: 4, timezone: 'UTC' } })).toBe(28);
    expect(retentionDays({ retention: { keepLast: 10, timezone: 'UTC' }, schedule: { every: '6h', overlap: 'skip', catchupWindow: '1h', pauseOnFailure: false } })).toBe(2.5);
    expect(retentionDays({})).toBeNull();
    const short = assessLifecycle([{ ID: 'expire-old', Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 7 } }], 28);
    expect(short.noncurrentExpirationDays).toBe(7);
    expect(short.warnings[0]).toContain('lifecycle rule "expire-old" expires noncurrent versions after 7 days, but the plan keeps restore points for 28 days');
    expect(assessLifecycle([{ Status: 'Enabled', NoncurrentVersionExpiration: { NoncurrentDays: 30 } }], 28).warnings).toEqual([]);
    expect(assessLifecycle([], 28)).toEqual({ noncurrentExpirationDays: null, warnings: [] });
  });

  const plan = (consistency: string, after: string) => `
name: blobs
store: { type: local, path: /tmp/x }
components:
  - { name: meta, type: postgres, connection: { urlFromEnv: META_URL } }
  - { name: cache, type: redis, connection: { urlFromEnv: REDIS_URL } }
  - { name: blobs, type: s3-versioned, bucket: data, prefix: "b/", after: [${after}], consistency: { component: ${consistency}, query: "select k from t" } }
`;
  const problems = (text: string) => {
    try {
      parsePlanText(text, 'plan.yaml');
      return [];
    } catch (error) {
      return (error as PlanError).problems.map((problem) => `${problem.path}: ${problem.message}`);
    }
  };

  test('the example plan is valid', async () => {
    const { loadPlanFile } = await import('../../src/plan/load');
    const { plan } = await loadPlanFile(`${__dirname}/../../examples/versioned-bucket.yaml`);
    expect(plan.components.map((component) => component.type)).toEqual(['postgres', 's3-versioned']);
  });

  test('the consistency component must be a postgres predecessor; credentials only by reference', () => {
    expect(problems(plan('meta', 'meta'))).toEqual([]);
    expect(problems(plan('meta', 'cache'))).toEqual([expect.stringContaining('"meta" must come before "blobs": add it to components.2.after')]);
    expect(problems(plan('cache', 'cache'))).toEqual([expect.stringContaining('"cache" is a redis component')]);
    expect(problems(plan('nope', 'meta'))).toEqual([expect.stringContaining('"nope" is not a component')]);
    const literal = plan('meta', 'meta').replace('prefix: "b/"', 'prefix: "b/", credentials: { accessKeyIdFromEnv: KEY_ID, secretAccessKey: hunter2 }');
    expect(problems(literal)).toContainEqual(expect.stringContaining('a secret is written literally'));
  });
});
