/** Retention selection (restic's semantics plus Lifeboat's safety rules): table-driven, with time zones and DST days. */
import { formatSetId } from '../../src/catalog/manifest';
import {
  InvalidTimeZoneError,
  isoWeek,
  isStillRemovable,
  NEWEST_COMPLETE_REASON as NEWEST,
  selectRetention,
  withinCutoff,
  YOUNG_INCOMPLETE_REASON as YOUNG,
  type RetentionPolicy,
} from '../../src/catalog/retention';
import { retentionSchema } from '../../src/plan/schema';

const iso = (time: string) => new Date(time).toISOString();
const id = (time: string) => formatSetId(new Date(time), 'abcdef');

interface Case {
  name: string;
  policy: RetentionPolicy;
  /** Complete sets: a time, or a time and the times of the sets it depends on. */
  complete: (string | { at: string; dependsOn: string[] })[];
  incomplete?: (string | { at: string; manifestProblem: string })[];
  now?: string;
  /** Every kept set (by time) with its exact reasons. */
  keep: Record<string, string[]>;
  remove: string[];
}

function run(testCase: Pick<Case, 'policy' | 'complete' | 'incomplete' | 'now'>) {
  const complete = testCase.complete.map((entry) => {
    const { at, dependsOn } = typeof entry === 'string' ? { at: entry, dependsOn: [] } : entry;
    return { setId: id(at), time: new Date(at), dependsOn: dependsOn.map(id) };
  });
  const incomplete = (testCase.incomplete ?? []).map((entry) => {
    const { at, manifestProblem } = typeof entry === 'string' ? { at: entry, manifestProblem: undefined } : entry;
    return { setId: id(at), time: new Date(at), ...(manifestProblem ? { manifestProblem } : {}) };
  });
  return selectRetention({ complete, incomplete }, testCase.policy, new Date(testCase.now ?? '2027-06-01T00:00:00Z'));
}

const cases: Case[] = [
  {
    name: 'keepLast keeps the N newest',
    policy: { keepLast: 2 },
    complete: ['2026-11-20T10:00:00Z', '2026-11-20T09:00:00Z', '2026-11-19T10:00:00Z', '2026-11-18T10:00:00Z'],
    keep: { '2026-11-20T10:00:00Z': ['last 2', NEWEST], '2026-11-20T09:00:00Z': ['last 2'] },
    remove: ['2026-11-19T10:00:00Z', '2026-11-18T10:00:00Z'],
  },
  {
    name: 'keepLast larger than the number of sets keeps them all',
    policy: { keepLast: 10 },
    complete: ['2026-11-20T10:00:00Z', '2026-11-19T10:00:00Z'],
    keep: { '2026-11-20T10:00:00Z': ['last 10', NEWEST], '2026-11-19T10:00:00Z': ['last 10'] },
    remove: [],
  },
  {
    name: 'keepDaily: the newest set of each of the last N days that have a set (gaps do not count)',
    policy: { keepDaily: 3 },
    complete: ['2026-11-20T20:00:00Z', '2026-11-20T08:00:00Z', '2026-11-18T12:00:00Z', '2026-11-15T09:00:00Z', '2026-11-14T09:00:00Z'],
    keep: {
      '2026-11-20T20:00:00Z': ['daily 2026-11-20', NEWEST],
      '2026-11-18T12:00:00Z': ['daily 2026-11-18'],
      '2026-11-15T09:00:00Z': ['daily 2026-11-15'],
    },
    remove: ['2026-11-20T08:00:00Z', '2026-11-14T09:00:00Z'],
  },
  {
    name: 'count left over: the oldest set is kept as well (restic >= 0.17)',
    policy: { keepDaily: 5 },
    complete: ['2026-11-20T10:00:00Z', '2026-11-19T10:00:00Z', '2026-11-18T18:00:00Z', '2026-11-18T06:00:00Z'],
    keep: {
      '2026-11-20T10:00:00Z': ['daily 2026-11-20', NEWEST],
      '2026-11-19T10:00:00Z': ['daily 2026-11-19'],
      '2026-11-18T18:00:00Z': ['daily 2026-11-18'],
      '2026-11-18T06:00:00Z': ['daily 2026-11-18, oldest set (fewer days with sets than keepDaily 5)'],
    },
    remove: [],
  },
  {
    name: 'keepHourly',
    policy: { keepHourly: 2 },
    complete: ['2026-11-20T10:50:00Z', '2026-11-20T10:10:00Z', '2026-11-20T09:30:00Z', '2026-11-20T08:00:00Z'],
    keep: { '2026-11-20T10:50:00Z': ['hourly 2026-11-20 10:00', NEWEST], '2026-11-20T09:30:00Z': ['hourly 2026-11-20 09:00'] },
    remove: ['2026-11-20T10:10:00Z', '2026-11-20T08:00:00Z'],
  },
  {
    name: 'keepWeekly uses ISO weeks: Monday starts a week, and 2027-01-02 is in 2026-W53',
    policy: { keepWeekly: 2 },
    complete: ['2027-01-04T10:00:00Z', '2027-01-02T10:00:00Z', '2026-12-29T10:00:00Z', '2026-12-27T10:00:00Z'],
    keep: { '2027-01-04T10:00:00Z': ['weekly 2027-W01', NEWEST], '2027-01-02T10:00:00Z': ['weekly 2026-W53'] },
    remove: ['2026-12-29T10:00:00Z', '2026-12-27T10:00:00Z'],
  },
  {
    name: 'keepMonthly and keepYearly together: a union, each rule naming its period',
    policy: { keepMonthly: 2, keepYearly: 2 },
    complete: [
      '2026-11-20T10:00:00Z',
      '2026-11-01T10:00:00Z',
      '2026-10-15T10:00:00Z',
      '2026-09-30T10:00:00Z',
      '2025-12-31T10:00:00Z',
      '2025-06-01T10:00:00Z',
      '2024-01-01T10:00:00Z',
    ],
    keep: {
      '2026-11-20T10:00:00Z': ['monthly 2026-11', 'yearly 2026', NEWEST],
      '2026-10-15T10:00:00Z': ['monthly 2026-10'],
      '2025-12-31T10:00:00Z': ['yearly 2025'],
    },
    remove: ['2026-11-01T10:00:00Z', '2026-09-30T10:00:00Z', '2025-06-01T10:00:00Z', '2024-01-01T10:00:00Z'],
  },
  {
    name: 'keepWithin counts back from the newest set, not from now (backups that stopped keep their last week)',
    policy: { keepWithin: '7d' },
    now: '2026-12-31T00:00:00Z',
    complete: ['2026-11-20T12:00:00Z', '2026-11-14T00:00:00Z', '2026-11-13T12:00:00Z', '2026-11-10T00:00:00Z'],
    keep: { '2026-11-20T12:00:00Z': ['within 7d', NEWEST], '2026-11-14T00:00:00Z': ['within 7d'] },
    remove: ['2026-11-13T12:00:00Z', '2026-11-10T00:00:00Z'],
  },
  {
    name: 'keepWithin months are calendar months, normalised as Go does (2026-03-31 minus 1m is 2026-03-03)',
    policy: { keepWithin: '1m' },
    complete: ['2026-03-31T12:00:00Z', '2026-03-03T13:00:00Z', '2026-03-03T11:00:00Z'],
    keep: { '2026-03-31T12:00:00Z': ['within 1m', NEWEST], '2026-03-03T13:00:00Z': ['within 1m'] },
    remove: ['2026-03-03T11:00:00Z'],
  },
  {
    name: 'keepWithin with days and hours; a set dated in the future is not the reference',
    policy: { keepWithin: '1d12h' },
    now: '2026-11-20T13:00:00Z',
    complete: ['2026-11-25T00:00:00Z', '2026-11-20T12:00:00Z', '2026-11-19T00:30:00Z', '2026-11-18T23:30:00Z'],
    keep: {
      '2026-11-25T00:00:00Z': ['within 1d12h', NEWEST],
      '2026-11-20T12:00:00Z': ['within 1d12h'],
      '2026-11-19T00:30:00Z': ['within 1d12h'],
    },
    remove: ['2026-11-18T23:30:00Z'],
  },
  {
    name: 'all rules combined: every matching rule is a reason',
    policy: { keepLast: 1, keepDaily: 2, keepWeekly: 2, keepWithin: '2d' },
    complete: ['2026-11-20T10:00:00Z', '2026-11-19T10:00:00Z', '2026-11-17T10:00:00Z', '2026-11-12T10:00:00Z', '2026-11-05T10:00:00Z'],
    keep: {
      '2026-11-20T10:00:00Z': ['last 1', 'within 2d', 'daily 2026-11-20', 'weekly 2026-W47', NEWEST],
      '2026-11-19T10:00:00Z': ['within 2d', 'daily 2026-11-19'],
      '2026-11-12T10:00:00Z': ['weekly 2026-W46'],
    },
    remove: ['2026-11-17T10:00:00Z', '2026-11-05T10:00:00Z'],
  },

  // Time zones: days, hours and weeks are the policy zone's.
  {
    name: 'UTC: 03:00Z and 22:00Z are the same day',
    policy: { keepDaily: 2, timezone: 'UTC' },
    complete: ['2026-11-20T22:00:00Z', '2026-11-20T03:00:00Z', '2026-11-18T12:00:00Z'],
    keep: { '2026-11-20T22:00:00Z': ['daily 2026-11-20', NEWEST], '2026-11-18T12:00:00Z': ['daily 2026-11-18'] },
    remove: ['2026-11-20T03:00:00Z'],
  },
  {
    name: 'America/New_York: 03:00Z is 22:00 the day before',
    policy: { keepDaily: 2, timezone: 'America/New_York' },
    complete: ['2026-11-20T22:00:00Z', '2026-11-20T03:00:00Z', '2026-11-18T12:00:00Z'],
    keep: { '2026-11-20T22:00:00Z': ['daily 2026-11-20', NEWEST], '2026-11-20T03:00:00Z': ['daily 2026-11-19'] },
    remove: ['2026-11-18T12:00:00Z'],
  },
  {
    name: 'Asia/Tokyo: 16:00Z is 01:00 the next day',
    policy: { keepDaily: 2, timezone: 'Asia/Tokyo' },
    complete: ['2026-11-20T16:00:00Z', '2026-11-20T02:00:00Z', '2026-11-19T20:00:00Z'],
    keep: { '2026-11-20T16:00:00Z': ['daily 2026-11-21', NEWEST], '2026-11-20T02:00:00Z': ['daily 2026-11-20'] },
    remove: ['2026-11-19T20:00:00Z'],
  },
  {
    name: 'weeks in the policy zone: Sunday 23:30 in New York is Monday 04:30Z, still the old week',
    policy: { keepWeekly: 2, timezone: 'America/New_York' },
    complete: ['2026-11-24T12:00:00Z', '2026-11-23T04:30:00Z', '2026-11-22T12:00:00Z', '2026-11-16T12:00:00Z'],
    keep: { '2026-11-24T12:00:00Z': ['weekly 2026-W48', NEWEST], '2026-11-23T04:30:00Z': ['weekly 2026-W47'] },
    remove: ['2026-11-22T12:00:00Z', '2026-11-16T12:00:00Z'],
  },

  // DST days: 2026-03-08 in New York has 23 hours (05:00Z to 04:00Z), 2026-11-01 has 25 (04:00Z to 05:00Z).
  {
    name: 'spring forward, New York: 00:30 EST and 23:30 EDT are both 2026-03-08, a 23-hour day',
    policy: { keepDaily: 2, timezone: 'America/New_York' },
    complete: ['2026-03-09T03:30:00Z', '2026-03-08T05:30:00Z', '2026-03-08T04:30:00Z', '2026-03-06T12:00:00Z'],
    keep: { '2026-03-09T03:30:00Z': ['daily 2026-03-08', NEWEST], '2026-03-08T04:30:00Z': ['daily 2026-03-07'] },
    remove: ['2026-03-08T05:30:00Z', '2026-03-06T12:00:00Z'],
  },
  {
    name: 'spring forward, same sets in UTC',
    policy: { keepDaily: 2 },
    complete: ['2026-03-09T03:30:00Z', '2026-03-08T05:30:00Z', '2026-03-08T04:30:00Z', '2026-03-06T12:00:00Z'],
    keep: { '2026-03-09T03:30:00Z': ['daily 2026-03-09', NEWEST], '2026-03-08T05:30:00Z': ['daily 2026-03-08'] },
    remove: ['2026-03-08T04:30:00Z', '2026-03-06T12:00:00Z'],
  },
  {
    name: 'spring forward, hourly: 01:59 EST is followed by 03:00 EDT (there is no 02:00)',
    policy: { keepHourly: 2, timezone: 'America/New_York' },
    complete: ['2026-03-08T07:30:00Z', '2026-03-08T06:30:00Z', '2026-03-08T05:30:00Z'],
    keep: { '2026-03-08T07:30:00Z': ['hourly 2026-03-08 03:00', NEWEST], '2026-03-08T06:30:00Z': ['hourly 2026-03-08 01:00'] },
    remove: ['2026-03-08T05:30:00Z'],
  },
  {
    name: 'spring forward, keepWithin 1d back from 12:00 EDT is 12:00 EST the day before: 23 hours',
    policy: { keepWithin: '1d', timezone: 'America/New_York' },
    complete: ['2026-03-08T16:00:00Z', '2026-03-07T17:30:00Z', '2026-03-07T16:30:00Z'],
    keep: { '2026-03-08T16:00:00Z': ['within 1d', NEWEST], '2026-03-07T17:30:00Z': ['within 1d'] },
    remove: ['2026-03-07T16:30:00Z'],
  },
  {
    name: 'spring forward, keepWithin 1d in UTC is 24 hours',
    policy: { keepWithin: '1d' },
    complete: ['2026-03-08T16:00:00Z', '2026-03-07T17:30:00Z', '2026-03-07T16:30:00Z'],
    keep: { '2026-03-08T16:00:00Z': ['within 1d', NEWEST], '2026-03-07T17:30:00Z': ['within 1d'], '2026-03-07T16:30:00Z': ['within 1d'] },
    remove: [],
  },
  {
    name: 'fall back, New York: 00:30 EDT and 23:30 EST, 24 hours apart, are both 2026-11-01, a 25-hour day',
    policy: { keepDaily: 2, timezone: 'America/New_York' },
    complete: ['2026-11-02T04:30:00Z', '2026-11-01T04:30:00Z', '2026-10-31T12:00:00Z'],
    keep: { '2026-11-02T04:30:00Z': ['daily 2026-11-01', NEWEST], '2026-10-31T12:00:00Z': ['daily 2026-10-31'] },
    remove: ['2026-11-01T04:30:00Z'],
  },
  {
    name: 'fall back, same sets in UTC',
    policy: { keepDaily: 2 },
    complete: ['2026-11-02T04:30:00Z', '2026-11-01T04:30:00Z', '2026-10-31T12:00:00Z'],
    keep: { '2026-11-02T04:30:00Z': ['daily 2026-11-02', NEWEST], '2026-11-01T04:30:00Z': ['daily 2026-11-01'] },
    remove: ['2026-10-31T12:00:00Z'],
  },
  {
    name: 'fall back, hourly: 01:30 EDT and 01:30 EST are the same wall-clock hour',
    policy: { keepHourly: 2, timezone: 'America/New_York' },
    complete: ['2026-11-01T06:30:00Z', '2026-11-01T05:30:00Z', '2026-11-01T04:30:00Z'],
    keep: { '2026-11-01T06:30:00Z': ['hourly 2026-11-01 01:00', NEWEST], '2026-11-01T04:30:00Z': ['hourly 2026-11-01 00:00'] },
    remove: ['2026-11-01T05:30:00Z'],
  },
  {
    name: 'fall back, keepWithin 1d back from 12:00 EST is 12:00 EDT the day before: 25 hours',
    policy: { keepWithin: '1d', timezone: 'America/New_York' },
    complete: ['2026-11-01T17:00:00Z', '2026-10-31T16:30:00Z', '2026-10-31T15:30:00Z'],
    keep: { '2026-11-01T17:00:00Z': ['within 1d', NEWEST], '2026-10-31T16:30:00Z': ['within 1d'] },
    remove: ['2026-10-31T15:30:00Z'],
  },

  // Safety rules.
  {
    name: 'an incremental chain keeps its fulls, transitively; a removed incremental keeps nothing',
    policy: { keepLast: 1 },
    complete: [
      { at: '2026-11-20T10:00:00Z', dependsOn: ['2026-11-19T10:00:00Z'] },
      { at: '2026-11-19T10:00:00Z', dependsOn: ['2026-11-10T10:00:00Z'] },
      '2026-11-15T10:00:00Z',
      '2026-11-10T10:00:00Z',
      { at: '2026-11-05T10:00:00Z', dependsOn: ['2026-11-01T10:00:00Z'] },
      '2026-11-01T10:00:00Z',
    ],
    keep: {
      '2026-11-20T10:00:00Z': ['last 1', NEWEST],
      '2026-11-19T10:00:00Z': [`needed by incremental ${id('2026-11-20T10:00:00Z')}`],
      '2026-11-10T10:00:00Z': [`needed by incremental ${id('2026-11-19T10:00:00Z')}`],
    },
    remove: ['2026-11-15T10:00:00Z', '2026-11-05T10:00:00Z', '2026-11-01T10:00:00Z'],
  },
  {
    name: 'incomplete sets: younger than a day kept (even dated ahead), a day or older removed, unreadable manifest kept',
    policy: { keepLast: 1 },
    now: '2026-11-20T12:00:00Z',
    complete: ['2026-11-19T10:00:00Z', '2026-11-18T10:00:00Z'],
    incomplete: [
      '2026-11-20T12:05:00Z',
      '2026-11-20T10:00:00Z',
      '2026-11-19T12:00:01Z',
      '2026-11-19T12:00:00Z',
      '2026-11-10T10:00:00Z',
      { at: '2026-11-01T10:00:00Z', manifestProblem: 'not JSON' },
    ],
    keep: {
      '2026-11-20T12:05:00Z': [YOUNG],
      '2026-11-20T10:00:00Z': [YOUNG],
      '2026-11-19T12:00:01Z': [YOUNG],
      '2026-11-19T10:00:00Z': ['last 1', NEWEST],
      '2026-11-01T10:00:00Z': ['manifest unreadable, left for an operator to inspect: not JSON'],
    },
    remove: ['2026-11-19T12:00:00Z', '2026-11-18T10:00:00Z', '2026-11-10T10:00:00Z'],
  },
  {
    name: 'only incomplete sets: nothing complete to keep, the old one goes',
    policy: { keepDaily: 7 },
    now: '2026-11-20T12:00:00Z',
    complete: [],
    incomplete: ['2026-11-20T11:00:00Z', '2026-11-18T11:00:00Z'],
    keep: { '2026-11-20T11:00:00Z': [YOUNG] },
    remove: ['2026-11-18T11:00:00Z'],
  },
  {
    name: 'no sets at all',
    policy: { keepLast: 3 },
    complete: [],
    keep: {},
    remove: [],
  },
];

describe('selectRetention', () => {
  test.each(cases)('$name', (testCase) => {
    const selection = run(testCase);
    const kept = Object.fromEntries(selection.keep.map((set) => [set.time, set.reasons]));
    expect(kept).toEqual(Object.fromEntries(Object.entries(testCase.keep).map(([time, reasons]) => [iso(time), reasons])));
    expect(selection.remove.map((set) => set.time).sort()).toEqual(testCase.remove.map(iso).sort());
    // Both lists are newest first, and every set is in exactly one of them.
    const times = [...selection.keep, ...selection.remove].map((set) => set.time);
    expect(new Set(times).size).toBe(times.length);
    expect(selection.keep.map((set) => set.time)).toEqual(selection.keep.map((set) => set.time).sort().reverse());
    expect(selection.remove.map((set) => set.time)).toEqual(selection.remove.map((set) => set.time).sort().reverse());
    expect(selection.keep.every((set) => set.reasons.length > 0)).toBe(true);
  });

  test('the order of the input does not matter', () => {
    const ordered = cases.find((testCase) => testCase.name.startsWith('all rules combined')) as Case;
    expect(run({ ...ordered, complete: [...ordered.complete].reverse() })).toEqual(run(ordered));
  });

  test('removal reasons say why', () => {
    const selection = run({ policy: { keepLast: 1 }, now: '2026-11-20T12:00:00Z', complete: ['2026-11-19T10:00:00Z', '2026-11-18T10:00:00Z'], incomplete: ['2026-11-10T10:00:00Z'] });
    expect(selection.remove).toEqual([
      { setId: id('2026-11-18T10:00:00Z'), time: iso('2026-11-18T10:00:00Z'), complete: true, reason: 'no keep rule matches' },
      { setId: id('2026-11-10T10:00:00Z'), time: iso('2026-11-10T10:00:00Z'), complete: false, reason: 'incomplete, older than a day (abandoned)' },
    ]);
  });

  test('a dependency that is not in the store is a warning, not a failure', () => {
    const selection = run({ policy: { keepLast: 1 }, complete: [{ at: '2026-11-20T10:00:00Z', dependsOn: ['2026-11-01T10:00:00Z'] }] });
    expect(selection.keep.map((set) => set.setId)).toEqual([id('2026-11-20T10:00:00Z')]);
    expect(selection.warnings).toEqual([`set ${id('2026-11-20T10:00:00Z')} depends on set ${id('2026-11-01T10:00:00Z')}, which is not in the store: it cannot be restored in full`]);
  });

  test('an unknown time zone is refused by name', () => {
    expect(() => run({ policy: { keepLast: 1, timezone: 'Mars/Olympus_Mons' }, complete: ['2026-11-20T10:00:00Z'] })).toThrow(InvalidTimeZoneError);
    expect(() => run({ policy: { keepLast: 1, timezone: 'Mars/Olympus_Mons' }, complete: [] })).toThrow('retention.timezone "Mars/Olympus_Mons" is not an IANA time zone');
  });
});

describe('the policy schema', () => {
  test.each([[{}], [{ timezone: 'UTC' }]])('refuses a policy with no keep rule: %j', (policy) => {
    const parsed = retentionSchema.safeParse(policy);
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0].message).toContain('at least one keep rule');
  });
  test('defaults the time zone to UTC', () => {
    expect(retentionSchema.parse({ keepDaily: 7 })).toEqual({ keepDaily: 7, timezone: 'UTC' });
  });
});

describe('calendar helpers', () => {
  test.each([
    ['2026-01-01', 2026, 1], // a Thursday: week 1
    ['2026-12-31', 2026, 53], // 2026 starts on a Thursday: 53 weeks
    ['2027-01-03', 2026, 53], // Sunday of 2026-W53
    ['2027-01-04', 2027, 1],
    ['2024-12-30', 2025, 1], // Monday of 2025-W01
    ['2021-01-03', 2020, 53],
  ])('ISO week of %s is %i-W%i', (date, year, week) => {
    const [y, m, d] = date.split('-').map(Number);
    expect(isoWeek(y, m, d)).toEqual({ year, week });
  });

  test.each([
    ['2026-03-31T12:00:00Z', { years: 0, months: 1, days: 0, hours: 0 }, 'UTC', '2026-03-03T12:00:00.000Z'],
    ['2024-02-29T12:00:00Z', { years: 1, months: 0, days: 0, hours: 0 }, 'UTC', '2023-03-01T12:00:00.000Z'],
    ['2026-03-08T16:00:00Z', { years: 0, months: 0, days: 1, hours: 0 }, 'America/New_York', '2026-03-07T17:00:00.000Z'],
    ['2026-03-08T16:00:00Z', { years: 0, months: 0, days: 0, hours: 24 }, 'America/New_York', '2026-03-07T16:00:00.000Z'],
    ['2026-11-01T17:00:00Z', { years: 0, months: 0, days: 1, hours: 0 }, 'America/New_York', '2026-10-31T16:00:00.000Z'],
    // 02:30 on 2026-03-08 does not exist in New York: resolved as Go's time.Date does, to 01:30 EST.
    ['2026-03-09T06:30:00Z', { years: 0, months: 0, days: 1, hours: 0 }, 'America/New_York', '2026-03-08T06:30:00.000Z'],
    ['2026-11-21T08:00:00.123Z', { years: 0, months: 0, days: 1, hours: 2 }, 'Asia/Kolkata', '2026-11-20T06:00:00.123Z'],
  ])('withinCutoff(%s, %j, %s) = %s', (reference, within, zone, expected) => {
    expect(withinCutoff(new Date(reference), within, zone).toISOString()).toBe(expected);
  });
});

describe('isStillRemovable (the re-check before deleting)', () => {
  const now = '2026-11-20T12:00:00Z';
  test('a set still selected for removal may go; one an incremental finished since then depends on may not', () => {
    const planned = run({ policy: { keepLast: 1 }, now, complete: ['2026-11-19T10:00:00Z', '2026-11-18T10:00:00Z'] });
    expect(planned.remove.map((set) => set.setId)).toEqual([id('2026-11-18T10:00:00Z')]);
    expect(isStillRemovable(planned, id('2026-11-18T10:00:00Z'))).toBe(true);
    const later = run({
      policy: { keepLast: 1 },
      now,
      complete: [{ at: '2026-11-20T11:00:00Z', dependsOn: ['2026-11-18T10:00:00Z'] }, '2026-11-19T10:00:00Z', '2026-11-18T10:00:00Z'],
    });
    expect(isStillRemovable(later, id('2026-11-18T10:00:00Z'))).toBe(false);
    expect(isStillRemovable(later, id('2026-11-19T10:00:00Z'))).toBe(true);
  });
  test('a set whose manifest an interrupted prune already deleted is finished off, even though it looks young', () => {
    const resumed = run({ policy: { keepLast: 1 }, now, complete: ['2026-11-20T11:00:00Z'], incomplete: ['2026-11-20T10:00:00Z'] });
    expect(resumed.keep.find((set) => set.setId === id('2026-11-20T10:00:00Z'))?.reasons).toEqual([YOUNG]);
    expect(isStillRemovable(resumed, id('2026-11-20T10:00:00Z'))).toBe(true);
  });
  test('the newest complete set and sets that are gone are never removable', () => {
    const selection = run({ policy: { keepLast: 1 }, now, complete: ['2026-11-20T11:00:00Z'] });
    expect(isStillRemovable(selection, id('2026-11-20T11:00:00Z'))).toBe(false);
    expect(isStillRemovable(selection, id('2026-01-01T00:00:00Z'))).toBe(false);
  });
});
