import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { HLL_REGISTERS, HLL_STANDARD_ERROR } from './hll.js';
import { createCensus, OTHER, UNKNOWN_RELEASE, type CensusSnapshot } from './census.js';
import { sessionIds } from './test-ids.js';

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);

/** The heap in use after a full collection, so garbage does not count (gc exposed for this measurement only). */
function retainedHeap(): number {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
  return process.memoryUsage().heapUsed;
}
const MINUTE = 60_000;

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

  it('sends series past the cap to (other, other)', () => {
    const census = createCensus({ now: clock().now, maxSeries: 4 });
    census.setReleases(['1.0.0']);
    for (let i = 0; i < 10; i++) census.record('1.0.0', `cohort-${i}`, `session-${i}-abcdef`);
    const snapshot = census.snapshot();
    expect(snapshot.series).toHaveLength(4);
    expect(find(snapshot, OTHER, OTHER)!.sessions['5m']).toBe(7);
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
