/**
 * The census: how many distinct sessions (the client's random `s`) ran each
 * release in each cohort, over the last 5 minutes, hour and day, and when
 * each was last seen (docs/census.md).
 *
 * Every (release, cohort) series keeps three tiers of time buckets, each a
 * HyperLogLog (hll.ts): 1-minute buckets for the 5-minute window, 5-minute
 * buckets for the hour, 1-hour buckets for the day. A window's count is the
 * union (register-wise max) of the buckets that overlap it, so it covers the
 * window and at most one bucket more — never less, which is the safe side for
 * the migration gate. Buckets are created on first use and dropped once they
 * end before the window starts.
 *
 * Input is bounded: a version that is not a published release is counted as
 * `unknown`, and past `maxSeries` series new ones go to (`other`, `other`),
 * so fake versions or session ids cannot grow memory. A series is forgotten
 * once it has gone {@link CENSUS_RETENTION_MS} (8 days) without a session —
 * longer than any reader looks back, `daylight gate --quiet-for` included —
 * so series of old releases make room for new ones instead of filling the cap
 * for good.
 */
import { compareVersions, isVersion } from '@daylight/protocol';
import { HLL_STANDARD_ERROR, HyperLogLog, estimate } from './hll.js';
import { HLL_PRECISION, HLL_REGISTERS, sessionHash } from './murmur.js';

/** The windows the census counts over, and their lengths. */
export const CENSUS_WINDOWS = Object.freeze({ '5m': 5 * 60_000, '1h': 60 * 60_000, '24h': 24 * 60 * 60_000 });
export type CensusWindow = keyof typeof CENSUS_WINDOWS;
export const CENSUS_WINDOW_NAMES = Object.freeze(Object.keys(CENSUS_WINDOWS) as CensusWindow[]);

/** Bucket length of each window's tier. */
export const CENSUS_BUCKETS: Readonly<Record<CensusWindow, number>> = Object.freeze({
  '5m': 60_000,
  '1h': 5 * 60_000,
  '24h': 60 * 60_000,
});

/**
 * How long a series is remembered after its last session: the longest
 * `daylight gate --quiet-for` (7 days, which reads `lastSeen`) plus the day
 * window. The fleet's `series` set in Redis keeps last sightings as long.
 */
export const CENSUS_RETENTION_MS = 8 * 24 * 60 * 60_000;

/** The release label of sessions whose version is not a published release. */
export const UNKNOWN_RELEASE = 'unknown';
/** The release and cohort label of sessions past the series cap. */
export const OTHER = 'other';
/** The cohort of requests whose cohort the server does not know. */
export const DEFAULT_COHORT = 'default';
/** @default for {@link CensusOptions.maxSeries} */
export const DEFAULT_MAX_SERIES = 256;
/** What a cohort label may look like; anything else is counted as `other`. */
const COHORT_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface CensusOptions {
  /**
   * The clock, in milliseconds since the epoch.
   * @default Date.now
   */
  readonly now?: () => number;
  /**
   * The most (release, cohort) series counted separately; sessions of any
   * further pair are counted as (`other`, `other`).
   * @default 256
   */
  readonly maxSeries?: number;
}

/** One (release, cohort) series in a {@link CensusSnapshot}. */
export interface CensusSeries {
  /** A published version, `unknown` or `other`. */
  readonly release: string;
  readonly cohort: string;
  /** Estimated distinct sessions per window. */
  readonly sessions: Readonly<Record<CensusWindow, number>>;
  /** When a request of this series was last seen (ms since the epoch). */
  readonly lastSeen: number;
}

/** Sessions per release in one bucket of time, for the chart. */
export interface CensusPoint {
  /** Start of the bucket (ms since the epoch). */
  readonly at: number;
  /** Estimated distinct sessions per release seen in it. */
  readonly sessions: Readonly<Record<string, number>>;
}

export interface CensusSnapshot {
  /** `server`: this process only; `fleet`: every server, merged through Redis. */
  readonly scope: 'server' | 'fleet';
  /** When the snapshot was taken (ms since the epoch). */
  readonly at: number;
  /** Since when sessions have been counted without a gap (ms since the epoch). */
  readonly observingSince: number;
  /** Relative standard error of every count (1.04/√16384 ≈ 0.0081). */
  readonly standardError: number;
  /** Every series with a session in the last {@link CENSUS_RETENTION_MS} (8 days), newest release first. */
  readonly series: readonly CensusSeries[];
  /** Sessions per release in 5-minute buckets over the last hour, oldest first. */
  readonly timeline: readonly CensusPoint[];
}

interface Bucket {
  readonly start: number;
  readonly end: number;
  readonly hll: HyperLogLog;
}

/** A (release, cohort) series: its buckets per tier, the current bucket of each cached for the hot path. */
interface Series {
  readonly release: string;
  readonly cohort: string;
  lastSeen: number;
  readonly tiers: [Bucket[], Bucket[], Bucket[]];
  readonly current: [Bucket | undefined, Bucket | undefined, Bucket | undefined];
  /** Sessions since the last {@link Census.drain}, when a sink asked for them. */
  pending: HyperLogLog | undefined;
}

/** What a sink (the Redis merge) takes at each flush. */
export interface CensusDelta {
  readonly release: string;
  readonly cohort: string;
  readonly sketch: HyperLogLog;
  readonly lastSeen: number;
}

const TIER_WINDOWS = CENSUS_WINDOW_NAMES.map((name) => CENSUS_WINDOWS[name]);
const TIER_BUCKETS = CENSUS_WINDOW_NAMES.map((name) => CENSUS_BUCKETS[name]);

function seriesKey(release: string, cohort: string): string {
  return `${release}\n${cohort}`;
}

/** Orders series: releases newest first (`unknown` and `other` last), then cohorts by name. */
export function compareSeries(
  a: { readonly release: string; readonly cohort: string },
  b: { readonly release: string; readonly cohort: string },
): number {
  const special = (release: string): number => (release === UNKNOWN_RELEASE ? 1 : release === OTHER ? 2 : 0);
  const byKind = special(a.release) - special(b.release);
  if (byKind !== 0) return byKind;
  if (a.release !== b.release && special(a.release) === 0) return compareVersions(b.release, a.release);
  return a.cohort < b.cohort ? -1 : a.cohort > b.cohort ? 1 : 0;
}

/**
 * Creates a census. Nothing runs in the background: buckets are created and
 * dropped as sessions are recorded and snapshots taken.
 * @example
 * const census = createCensus();
 * census.setReleases(['1.3.0', '1.4.0']);
 * census.record('1.3.0', 'pilot', 'q8Zk1cR2xW0a');
 * census.snapshot().series; // [{ release: '1.3.0', cohort: 'pilot', sessions: { '5m': 1, … } … }]
 */
export function createCensus(options: CensusOptions = {}): Census {
  const maxSeries = options.maxSeries ?? DEFAULT_MAX_SERIES;
  if (!Number.isSafeInteger(maxSeries) || maxSeries < 1) {
    throw new TypeError(`createCensus: maxSeries must be a whole number ≥ 1, such as 256; got ${String(maxSeries)}`);
  }
  const now = options.now ?? Date.now;
  if (typeof now !== 'function') throw new TypeError('createCensus: now must be a function returning milliseconds');
  return new Census(now, maxSeries);
}

/** Entries of a census's lookup cache; set by the class's static block (it reads a private field). */
let lookupEntries: (census: Census) => number;

/** How many (version, cohort) strings a census's lookup cache holds. For tests; not exported by the package. */
export function censusLookupSize(census: Census): number {
  return lookupEntries(census);
}

export class Census {
  static {
    lookupEntries = (census) => {
      let entries = 0;
      for (const byVersion of census.#lookup.values()) entries += byVersion.size;
      return entries;
    };
  }

  readonly #now: () => number;
  readonly #maxSeries: number;
  readonly #series = new Map<string, Series>();
  /**
   * cohort → version → series, for published versions and cohort labels that
   * are the series' own only (so at most one entry per series); emptied when
   * the releases change or a series is forgotten.
   */
  #lookup = new Map<string, Map<string, Series>>();
  /** `undefined` until the server has read its registry: every well-formed version counts as itself until then. */
  #published: ReadonlySet<string> | undefined;
  #tracking = false;
  /** No series can be forgotten before this (the oldest `lastSeen` + retention): spares the scan at the cap. */
  #nextForget = Number.NEGATIVE_INFINITY;
  readonly observingSince: number;

  constructor(now: () => number, maxSeries: number) {
    this.#now = now;
    this.#maxSeries = maxSeries;
    this.observingSince = now();
  }

  /**
   * The published releases: other versions count as `unknown` (until this is first called, none do). Series not
   * seen for {@link CENSUS_RETENTION_MS} are forgotten here. A release no
   * longer published gets no new sessions (they count as `unknown`), but its
   * series stays, with its `lastSeen`, until it is that old: the gate still
   * sees that it ran.
   */
  setReleases(versions: Iterable<string>): void {
    this.#published = new Set(versions);
    this.#lookup = new Map();
    this.#forgetStale(this.#now());
  }

  /** Number of series counted separately (`unknown` and `other` included). */
  get seriesCount(): number {
    return this.#series.size;
  }

  /** Bytes held by every sketch's registers. */
  get bytes(): number {
    let total = 0;
    for (const series of this.#series.values()) {
      for (const tier of series.tiers) for (const bucket of tier) total += bucket.hll.bytes;
      total += series.pending?.bytes ?? 0;
    }
    return total;
  }

  /**
   * Counts one request of session `session` running `version` in `cohort`.
   * A hash and three or four register updates; allocates only when a new
   * bucket starts.
   */
  record(version: string, cohort: string, session: string): void {
    this.recordHash(version, cohort, sessionHash(session));
  }

  /**
   * {@link record} for a session hashed already (`sessionHash`, which the
   * server keeps per session): three or four register updates, no hash.
   */
  recordHash(version: string, cohort: string, hash: number): void {
    const now = this.#now();
    const series = this.#seriesFor(version, cohort, now);
    if (now > series.lastSeen) series.lastSeen = now;
    const index = hash & (HLL_REGISTERS - 1);
    const rank = hash >>> HLL_PRECISION;
    for (let tier = 0; tier < 3; tier++) {
      let bucket = series.current[tier as 0 | 1 | 2];
      if (bucket === undefined || now >= bucket.end || now < bucket.start) bucket = this.#bucketAt(series, tier, now);
      bucket.hll.add(index, rank);
    }
    if (this.#tracking) (series.pending ??= new HyperLogLog()).add(index, rank);
  }

  /**
   * From now on, keep the sessions seen since the last {@link drain} per series
   * (for the Redis merge).
   */
  trackDeltas(): void {
    this.#tracking = true;
  }

  /** The sessions seen since the last call, per series; empties them. */
  drain(): CensusDelta[] {
    const out: CensusDelta[] = [];
    for (const series of this.#series.values()) {
      if (series.pending === undefined) continue;
      out.push({ release: series.release, cohort: series.cohort, sketch: series.pending, lastSeen: series.lastSeen });
      series.pending = undefined;
    }
    return out;
  }

  /** Puts deltas back after a failed flush, so the next one sends them. */
  restore(deltas: readonly CensusDelta[]): void {
    for (const delta of deltas) {
      const series = this.#series.get(seriesKey(delta.release, delta.cohort));
      if (series === undefined) continue;
      if (series.pending === undefined) series.pending = delta.sketch;
      else series.pending.merge(delta.sketch);
    }
  }

  /** Counts per series and window, and the chart's timeline. */
  snapshot(): CensusSnapshot {
    const at = this.#now();
    this.#forgetStale(at);
    const scratch = new Uint8Array(HLL_REGISTERS);
    const series: CensusSeries[] = [];
    for (const entry of this.#series.values()) {
      this.#prune(entry, at);
      const sessions = {} as Record<CensusWindow, number>;
      CENSUS_WINDOW_NAMES.forEach((name, tier) => {
        scratch.fill(0);
        for (const bucket of entry.tiers[tier as 0 | 1 | 2]) {
          if (bucket.end > at - TIER_WINDOWS[tier]!) bucket.hll.maxInto(scratch);
        }
        sessions[name] = estimate(scratch);
      });
      series.push({ release: entry.release, cohort: entry.cohort, sessions, lastSeen: entry.lastSeen });
    }
    series.sort(compareSeries);
    return {
      scope: 'server',
      at,
      observingSince: this.observingSince,
      standardError: HLL_STANDARD_ERROR,
      series,
      timeline: this.#timeline(at),
    };
  }

  /** Sessions per release per 5-minute bucket over the last hour. */
  #timeline(at: number): CensusPoint[] {
    const size = CENSUS_BUCKETS['1h'];
    const first = Math.floor((at - CENSUS_WINDOWS['1h']) / size) * size + size;
    const points: CensusPoint[] = [];
    for (let start = first; start <= at; start += size) {
      const byRelease = new Map<string, Uint8Array>();
      for (const entry of this.#series.values()) {
        const bucket = entry.tiers[1].find((candidate) => candidate.start === start);
        if (bucket === undefined || bucket.hll.empty) continue;
        let registers = byRelease.get(entry.release);
        if (registers === undefined) byRelease.set(entry.release, (registers = new Uint8Array(HLL_REGISTERS)));
        bucket.hll.maxInto(registers);
      }
      const sessions: Record<string, number> = {};
      for (const [release, registers] of byRelease) sessions[release] = estimate(registers);
      points.push({ at: start, sessions });
    }
    return points;
  }

  #seriesFor(version: string, cohort: string, now: number): Series {
    const hit = this.#lookup.get(cohort)?.get(version);
    if (hit !== undefined) return hit;
    // Before the registry is read (a server that started while Redis was down), a session's version is not
    // `unknown`: the gate would ignore sessions that may run the very release it asks about.
    const known = this.#published === undefined ? isVersion(version) : this.#published.has(version);
    const release = known ? version : UNKNOWN_RELEASE;
    const safeCohort = COHORT_LABEL.test(cohort) ? cohort : OTHER;
    let series = this.#series.get(seriesKey(release, safeCohort));
    if (series === undefined) {
      // At the cap, series past retention make room first. One slot stays free for (other, other).
      if (this.#series.size >= this.#maxSeries - 1) this.#forgetStale(now);
      series = this.#series.size < this.#maxSeries - 1 ? this.#create(release, safeCohort) : this.#other();
    }
    // Only strings that are the series' own release and cohort are remembered,
    // so the cache holds at most one entry per series: a flood of made-up
    // versions or cohort labels finds no room here.
    if (known && series.release === version && series.cohort === cohort) {
      const byVersion = this.#lookup.get(cohort);
      if (byVersion === undefined) this.#lookup.set(cohort, new Map([[version, series]]));
      else byVersion.set(version, series);
    }
    return series;
  }

  /**
   * Forgets the series whose last session is {@link CENSUS_RETENTION_MS} old
   * or older: every bucket of theirs has left every window, and their
   * `lastSeen` is before anything a reader asks about (the gate's longest
   * `--quiet-for` is a day shorter). Their pending sessions, if a flush has
   * been failing all that time, go too — Redis would drop their `series`
   * entry in the same flush.
   */
  #forgetStale(now: number): void {
    if (now < this.#nextForget) return;
    const horizon = now - CENSUS_RETENTION_MS;
    let oldest = now; // a series created after this scan is last seen no earlier
    let forgot = false;
    for (const [key, series] of this.#series) {
      if (series.lastSeen <= horizon) {
        this.#series.delete(key);
        forgot = true;
      } else if (series.lastSeen < oldest) oldest = series.lastSeen;
    }
    this.#nextForget = oldest + CENSUS_RETENTION_MS;
    if (forgot) this.#lookup = new Map(); // it may point at a forgotten series
  }

  #other(): Series {
    return this.#series.get(seriesKey(OTHER, OTHER)) ?? this.#create(OTHER, OTHER);
  }

  #create(release: string, cohort: string): Series {
    const series: Series = {
      release,
      cohort,
      lastSeen: Number.NEGATIVE_INFINITY,
      tiers: [[], [], []],
      current: [undefined, undefined, undefined],
      pending: undefined,
    };
    this.#series.set(seriesKey(release, cohort), series);
    return series;
  }

  #bucketAt(series: Series, tier: number, now: number): Bucket {
    const size = TIER_BUCKETS[tier]!;
    const start = Math.floor(now / size) * size;
    const buckets = series.tiers[tier as 0 | 1 | 2];
    let bucket = buckets.find((candidate) => candidate.start === start);
    if (bucket === undefined) {
      bucket = { start, end: start + size, hll: new HyperLogLog() };
      buckets.push(bucket);
      this.#prune(series, now);
    }
    series.current[tier as 0 | 1 | 2] = bucket;
    return bucket;
  }

  /** Drops the buckets that ended before their window started. */
  #prune(series: Series, now: number): void {
    for (let tier = 0; tier < 3; tier++) {
      const buckets = series.tiers[tier as 0 | 1 | 2];
      const horizon = now - TIER_WINDOWS[tier]!;
      if (buckets.every((bucket) => bucket.end > horizon)) continue;
      const kept = buckets.filter((bucket) => bucket.end > horizon);
      buckets.length = 0;
      buckets.push(...kept);
      const current = series.current[tier as 0 | 1 | 2];
      if (current !== undefined && current.end <= horizon) series.current[tier as 0 | 1 | 2] = undefined;
    }
  }
}
