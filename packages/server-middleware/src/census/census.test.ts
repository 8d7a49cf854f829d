import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { HLL_REGISTERS, HLL_STANDARD_ERROR } from './hll.js';
import {
  CENSUS_RETENTION_MS,
  censusLookupSize,
  createCensus,
  OTHER,
  UNKNOWN_RELEASE,
  type CensusSnapshot,
} from './census.js';
import { sessionIds } from './test-ids.js';

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

/** The heap in use after a full collection, so garbage does not count (gc exposed for this measurement only). */
function retainedHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** The longest `daylight gate --quiet-for` (packages/cli/src/commands/gate.ts): retention less the day window. */
const LONGEST_QUIET_FOR = CENSUS_RETENTION_MS - DAY;

function clock(start = T0): { now: () => number; advance(ms: number): void; set(at: number): void } {
  let at = start;
  return { now: () => at, advance: (ms) => void (at += ms), set: (value) => void (at = value) };
}

function find(snapshot: CensusSnapshot, release: string, cohort = 'default') {
  return snapshot.series.find((series) => series.release === release && series.cohort === cohort);
}

describe('census', () => {
  it.each([1_000, 10_000, 100_000])('counts %i distinct sessions in every window within 3 standard errors', (exact) => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0']);
    const ids = sessionIds(exact, exact + 1);
    for (const id of ids) census.record('1.3.0', 'default', id);
    time.advance(30_000);
    for (const id of ids.slice(0, exact / 10)) census.record('1.3.0', 'default', id); // again: no double count
    const sessions = find(census.snapshot(), '1.3.0')!.sessions;
    for (const count of Object.values(sessions)) {
      expect(Math.abs(count - exact) / exact).toBeLessThan(3 * HLL_STANDARD_ERROR);
    }
  });

  it('keeps a session seen 10 minutes ago out of the 5-minute count, but in the hour and the day', () => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0', '1.4.0']);
    census.record('1.3.0', 'default', 'old-tab-aaaaaa');
    time.advance(10 * MINUTE);
    census.record('1.4.0', 'default', 'new-tab-bbbbbb');
    const snapshot = census.snapshot();
    expect(find(snapshot, '1.3.0')!.sessions).toEqual({ '5m': 0, '1h': 1, '24h': 1 });
    expect(find(snapshot, '1.4.0')!.sessions).toEqual({ '5m': 1, '1h': 1, '24h': 1 });
    expect(find(snapshot, '1.3.0')!.lastSeen).toBe(T0);

    time.advance(2 * 60 * MINUTE);
    expect(find(census.snapshot(), '1.3.0')!.sessions).toEqual({ '5m': 0, '1h': 0, '24h': 1 });
    time.advance(25 * 60 * MINUTE);
    expect(find(census.snapshot(), '1.3.0')!.sessions).toEqual({ '5m': 0, '1h': 0, '24h': 0 });
    expect(census.bytes).toBe(0); // every bucket dropped
  });

  it('counts a session once per window however often and in however many buckets it is seen', () => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0']);
    for (let minute = 0; minute < 50; minute++) {
      census.record('1.3.0', 'default', 'busy-tab-cccccc');
      time.advance(MINUTE);
    }
    expect(find(census.snapshot(), '1.3.0')!.sessions).toEqual({ '5m': 1, '1h': 1, '24h': 1 });
  });

  it('keeps cohorts apart and gives sessions of unpublished versions the release "unknown"', () => {
    const census = createCensus({ now: clock().now });
    census.setReleases(['1.3.0']);
    census.record('1.3.0', 'pilot', 'pilot-tab-dddd');
    census.record('1.3.0', 'default', 'other-tab-eeee');
    census.record('9.9.9', 'pilot', 'made-up-ffffff');
    const snapshot = census.snapshot();
    expect(snapshot.series.map((series) => `${series.release}/${series.cohort}`)).toEqual([
      '1.3.0/default',
      '1.3.0/pilot',
      `${UNKNOWN_RELEASE}/pilot`,
    ]);
  });

  it('counts sessions seen before the published releases are known under their own version, not "unknown"', () => {
    // A server that started while Redis (its registry) was down counts what it sees meanwhile.
    const census = createCensus({ now: clock().now });
    census.record('1.0.0', 'default', 'early-tab-aaaa');
    census.record('not a version', 'default', 'odd-tab-bbbbbb');
    census.setReleases(['1.0.0', '1.1.0']);
    census.record('1.1.0', 'default', 'later-tab-cccc');
    census.record('9.9.9', 'default', 'made-up-dddddd');
    expect(census.snapshot().series.map((series) => [series.release, series.sessions['5m']])).toEqual([
      ['1.1.0', 1],
      ['1.0.0', 1],
      [UNKNOWN_RELEASE, 2],
    ]);
  });

  it('sends series past the cap to (other, other)', () => {
    const census = createCensus({ now: clock().now, maxSeries: 4 });
    census.setReleases(['1.0.0']);
    for (let i = 0; i < 10; i++) census.record('1.0.0', `cohort-${i}`, `session-${i}-abcdef`);
    const snapshot = census.snapshot();
    expect(snapshot.series).toHaveLength(4);
    expect(find(snapshot, OTHER, OTHER)!.sessions['5m']).toBe(7);
  });

  it.each([
    ['every release stays published', 20],
    ['only the last three releases stay published', 3],
  ])(
    'gives the newest release its own series after 20 daily releases × 20 cohorts, old ones 8 days quiet (%s)',
    (_, published) => {
      const time = clock();
      const census = createCensus({ now: time.now });
      const cohorts = Array.from({ length: 20 }, (__, i) => `office-${i}`);
      const releases = Array.from({ length: 20 }, (__, i) => `1.${i}.0`);
      for (const [day, release] of releases.entries()) {
        time.set(T0 + day * DAY);
        census.setReleases(releases.slice(Math.max(0, day + 1 - published), day + 1));
        // A day of traffic on the day's release, in every cohort; then its tabs are gone.
        for (let hour = 0; hour < 6; hour++) {
          for (const cohort of cohorts) census.record(release, cohort, `tab-${day}-${cohort}-${hour}`);
          time.advance(HOUR);
        }
      }
      const snapshot = census.snapshot();
      const newest = snapshot.series.filter((series) => series.release === '1.19.0');
      expect(newest.map((series) => series.cohort).sort()).toEqual([...cohorts].sort());
      for (const series of newest) expect(series.sessions['24h']).toBe(6);
      expect(find(snapshot, OTHER, OTHER)).toBeUndefined();
      // Days 12 to 19 were last seen inside the 8 days (published or not); days 0 to 11 were forgotten.
      expect(new Set(snapshot.series.map((series) => series.release))).toEqual(new Set(releases.slice(12)));
      expect(census.seriesCount).toBe(8 * 20);
      for (const series of snapshot.series) {
        expect(series.lastSeen).toBeGreaterThan(snapshot.at - CENSUS_RETENTION_MS);
      }
    },
  );

  it('never forgets a series the gate could still see, published or not', () => {
    const time = clock();
    const census = createCensus({ now: time.now, maxSeries: 4 }); // three series and (other, other)
    census.setReleases(['1.0.0', '1.1.0', '1.2.0']);
    census.record('1.0.0', 'default', 'tab-on-1-0-0-aa');
    census.record('1.1.0', 'default', 'tab-on-1-1-0-bb');
    census.record('1.2.0', 'default', 'tab-on-1-2-0-cc');
    // 1.0.0 is unpublished right away: new sessions of it count as unknown, its sighting stays.
    time.advance(MINUTE);
    census.setReleases(['1.1.0', '1.2.0', '1.3.0']);
    expect(find(census.snapshot(), '1.0.0')!.lastSeen).toBe(T0);

    // What `daylight gate --below 1.3.0 --quiet-for 7d` would block on, at each moment until the
    // 8 days are over: all three series, though the cap is reached and new pairs are waiting.
    const blocking = (): string[] =>
      census
        .snapshot()
        .series.filter((series) => series.lastSeen >= time.now() - LONGEST_QUIET_FOR && series.release < '1.3.0')
        .map((series) => series.release);
    time.set(T0 + 25 * HOUR); // nothing left in any window: still seen inside the gate's
    census.record('1.3.0', 'pilot', 'tab-on-1-3-0-dd');
    time.set(T0 + LONGEST_QUIET_FOR);
    census.record('1.1.0', 'default', 'tab-on-1-1-0-bb'); // 1.1.0 is still running
    census.setReleases(['1.1.0', '1.2.0', '1.3.0', '1.4.0']);
    census.record('1.4.0', 'pilot', 'tab-on-1-4-0-ee');
    expect(blocking()).toEqual(['1.2.0', '1.1.0', '1.0.0']);
    expect(find(census.snapshot(), OTHER, OTHER)!.sessions['24h']).toBe(1); // 1.4.0 found no room
    time.set(T0 + CENSUS_RETENTION_MS - 1);
    census.record('1.4.0', 'pilot', 'tab-on-1-4-0-ff');
    expect(census.snapshot().series.map((series) => series.release)).toEqual(['1.2.0', '1.1.0', '1.0.0', OTHER]);

    // 8 days after their last session, 1.0.0 and 1.2.0 make room; 1.1.0, seen a day ago, stays.
    time.set(T0 + CENSUS_RETENTION_MS);
    census.record('1.4.0', 'pilot', 'tab-on-1-4-0-gg');
    const snapshot = census.snapshot();
    expect(snapshot.series.map((series) => `${series.release}/${series.cohort}`)).toEqual([
      '1.4.0/pilot',
      '1.1.0/default',
      `${OTHER}/${OTHER}`,
    ]);
    expect(find(snapshot, '1.1.0')!.lastSeen).toBe(T0 + LONGEST_QUIET_FOR);
  });

  it('caches no lookup for 50,000 distinct cohort strings that are not cohort labels', () => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0']);
    census.record('1.3.0', 'pilot', 'real-tab-hhhhhh');
    expect(censusLookupSize(census)).toBe(1);
    const heapBefore = retainedHeap();
    for (let i = 0; i < 50_000; i++) {
      // An e-mail address, a label too long, a space: none is a cohort label.
      const cohort = i % 3 === 0 ? `user${i}@example.com` : i % 3 === 1 ? `c${'x'.repeat(64)}${i}` : `office ${i}`;
      census.record('1.3.0', cohort, `tab${i.toString(36)}xyzabc`);
    }
    expect(census.seriesCount).toBe(2); // (1.3.0, pilot) and (1.3.0, other)
    expect(censusLookupSize(census)).toBeLessThanOrEqual(census.seriesCount);
    expect(retainedHeap() - heapBefore).toBeLessThan(1024 * 1024);
    expect(find(census.snapshot(), '1.3.0', OTHER)!.sessions['5m']).toBeGreaterThan(49_000);
  });

  it('holds 100,000 sessions of four series in a few megabytes', () => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0', '1.4.0']);
    const ids = sessionIds(100_000, 42);
    const series = [
      ['1.3.0', 'default'],
      ['1.3.0', 'pilot'],
      ['1.4.0', 'default'],
      ['1.4.0', 'pilot'],
    ] as const;
    // A day of traffic: every session makes a request every 20 minutes.
    for (let step = 0; step < 72; step++) {
      for (let i = step % 4; i < ids.length; i += 4) {
        const [release, cohort] = series[i % 4]!;
        census.record(release, cohort, ids[i]!);
      }
      time.advance(20 * MINUTE);
    }
    // 4 series × (6 + 13 + 25) buckets at most, each at most 16 KiB.
    expect(census.bytes).toBeLessThanOrEqual(4 * 44 * HLL_REGISTERS);
    expect(census.bytes).toBeLessThan(3 * 1024 * 1024);
    const total = census.snapshot().series.reduce((sum, entry) => sum + entry.sessions['24h'], 0);
    expect(Math.abs(total - 100_000) / 100_000).toBeLessThan(3 * HLL_STANDARD_ERROR);
  });

  it('does not grow under a flood of a million made-up session ids and versions', () => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0']);
    census.record('1.3.0', 'default', 'real-tab-gggggg');
    const heapBefore = retainedHeap();
    for (let i = 0; i < 1_000_000; i++) {
      census.record(i % 2 === 0 ? '1.3.0' : `0.0.${i}`, 'default', `flood${i.toString(36)}xyz`);
      if (i % 100_000 === 0) time.advance(1000);
    }
    // Two series (1.3.0 and unknown) × three current buckets, dense: 96 KiB.
    expect(census.seriesCount).toBe(2);
    expect(census.bytes).toBeLessThanOrEqual(2 * 3 * HLL_REGISTERS);
    // What stays reachable: the sketches, and nothing per made-up id or version.
    const grown = retainedHeap() - heapBefore;
    expect(grown).toBeLessThan(1024 * 1024);
    const unknown = find(census.snapshot(), UNKNOWN_RELEASE)!;
    expect(Math.abs(unknown.sessions['5m'] - 500_000) / 500_000).toBeLessThan(3 * HLL_STANDARD_ERROR);
  });

  it('draws the last hour in 5-minute buckets per release', () => {
    const time = clock();
    const census = createCensus({ now: time.now });
    census.setReleases(['1.3.0', '1.4.0']);
    for (const id of sessionIds(30, 1)) census.record('1.3.0', 'default', id);
    time.advance(10 * MINUTE);
    for (const id of sessionIds(20, 2)) census.record('1.4.0', 'pilot', id);
    const timeline = census.snapshot().timeline;
    expect(timeline).toHaveLength(12);
    expect(timeline.at(-1)).toEqual({ at: T0 + 10 * MINUTE, sessions: { '1.4.0': 20 } });
    expect(timeline.at(-3)).toEqual({ at: T0, sessions: { '1.3.0': 30 } });
  });

  it('refuses a cap that is not a whole number', () => {
    expect(() => createCensus({ maxSeries: 0 })).toThrow(/maxSeries must be a whole number/);
  });
});
