import { artifactKey, checkRecordedOrder, formatSetId, groupSets, manifestKey, setIdTime, type ComponentBackup } from '../../src/catalog/manifest';

describe('backup set ids', () => {
  test('encode the time, sort as time does, and decode back', () => {
    const early = formatSetId(new Date('2026-11-21T08:35:00.123Z'), 'abcdef123');
    const late = formatSetId(new Date('2026-11-21T10:00:00.000Z'), '000000');
    expect(early).toBe('20261121T083500.123Z-abcdef');
    expect([late, early].sort()).toEqual([early, late]);
    expect(setIdTime(early).toISOString()).toBe('2026-11-21T08:35:00.123Z');
  });
});

describe('grouping keys into sets', () => {
  const a = '20261121T083500.123Z-aaaaaa';
  const b = '20261121T093500.123Z-bbbbbb';
  test('a set is complete only with its manifest; foreign keys are ignored', () => {
    const sets = groupSets('p', [artifactKey('p', b, 'db', 'pgdump'), artifactKey('p', a, 'db', 'pgdump'), manifestKey('p', a), 'p/notes.txt', 'q/x/y', 'p/not-a-set/manifest.json']);
    expect(sets.map(({ setId, complete }) => ({ setId, complete }))).toEqual([
      { setId: a, complete: true },
      { setId: b, complete: false },
    ]);
  });
});

describe('recorded order', () => {
  const component = (name: string, startedAt: string, completedAt: string, after: string[] = []): ComponentBackup => ({
    name,
    type: 'postgres',
    key: `p/s/${name}.pgdump`,
    format: 'pg_dump-custom',
    bytes: 1,
    sha256: '0'.repeat(64),
    startedAt,
    completedAt,
    after,
    attempt: 1,
    compression: { algorithm: 'none' },
    sidecars: [],
  });
  test('holds when each component started after its predecessors completed', () => {
    const components = [component('apps', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:05.000Z'), component('participant', '2026-01-01T00:00:05.001Z', '2026-01-01T00:00:09.000Z', ['apps'])];
    expect(checkRecordedOrder({ components })).toEqual([]);
  });
  test('is violated by a start at or before a predecessor completed, or a missing predecessor', () => {
    const components = [component('apps', '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:05.000Z'), component('participant', '2026-01-01T00:00:05.000Z', '2026-01-01T00:00:09.000Z', ['apps']), component('x', '2026-01-01T00:00:10.000Z', '2026-01-01T00:00:11.000Z', ['gone'])];
    expect(checkRecordedOrder({ components }).map((violation) => violation.component)).toEqual(['participant', 'x']);
  });
});
