/**
 * `POST {base}/reports`: what browsers tell the server about switches. The
 * endpoint validates each report (JSON, a known kind, versions that parse),
 * bounds its size, rate-limits each session, counts boots and boot failures
 * per release and cohort, and halts a rollout once its boots fail too often:
 * at least `minFailures` failures AND a failure rate of at least
 * `failureRate` among the switches to it that reported (`boot` + `boot-failure`).
 *
 * The cohort is the server's own view of the request (the `cohort` option),
 * never something the report claims.
 *
 * Where the counts live: without Redis, in this process. With `redis`, the
 * boots and failures that count toward a halt are also counted for the whole
 * fleet in Redis (redis-reports.ts), and the halt is decided on those
 * figures; the answer never waits for Redis, and when Redis cannot be reached
 * the decision falls back to this server's own counts. Either way, once the
 * registry records a halt of a release in a cohort (whichever server or
 * person made it), that release's counts there are cleared — here, and in
 * Redis once per halt — and nothing counts toward a halt while it stands, so
 * a release promoted again starts from zero on every server. A report counted
 * by a server that had not seen the halt yet (its registry's revision is below
 * the one the clear was made on) is left out of the wave after it.
 */
import type { IncomingMessage } from 'node:http';
import { CLIENT_HEADER, SESSION_ID_PATTERN, isVersion, parseClientHeader } from '@daylight/protocol';
import type { Redis } from 'ioredis';
import { foreignOrigin } from './origin.js';
import { RedisReportCounts, type FleetCount, type WaveClear } from './redis-reports.js';
import { isRegistryChangeError } from './registry-changes.js';
import { haltOf, servedReleases, type Registry, type ServedRelease } from './registry.js';
import { BodyTooLargeError, readJsonBody } from './request-body.js';
import type { DaylightLogger, DaylightRequest, DaylightResponse } from './types.js';

/** The kinds of report the endpoint accepts. */
export const REPORT_KINDS = ['boot', 'boot-failure', 'stale-shell', 'stale-asset', 'integrity', 'loop-guard'] as const;
export type ReportKind = (typeof REPORT_KINDS)[number];

export interface ReportsOptions {
  /**
   * The largest report accepted, in bytes; a larger one gets 413.
   * @default 4096
   */
  maxBytes?: number;
  /**
   * Reports accepted per session per minute; more get 429.
   * @default 20
   */
  perMinute?: number;
  /**
   * When to halt a release in a cohort automatically, or `false` to only count.
   * Without `trust`, halting is on only when this is given.
   * @default { minFailures: 5, failureRate: 0.2 } when `trust` is set; otherwise off
   */
  halt?: false | { readonly minFailures?: number; readonly failureRate?: number };
  /**
   * Which reports may count toward an automatic halt, and whose they are.
   * Every valid report is accepted and counted by kind, but `boots` and
   * `failures` — and so halts — only count reports for which this returns
   * the person's identity (a user id: each person then counts once per
   * release, whatever session ids their requests claim) or `true` (counted
   * once per session id, which the browser chooses: one signed-in person
   * could stand for several). Without it, anyone who can reach the endpoint
   * can fabricate failures from made-up session ids; set it (or
   * `halt: false`) on an app open to the internet.
   * @default every report counts, once per session id
   * @example trust: (req) => sessions.user(req.headers.cookie) ?? false
   */
  trust?: (request: IncomingMessage) => boolean | string | Promise<boolean | string>;
}

/** Boots reported for one release in one cohort. */
export interface ReportCount {
  readonly release: string;
  /** `undefined`: requests without a cohort. */
  readonly cohort: string | undefined;
  /** Healthy boots after a switch. */
  readonly boots: number;
  /** Switches that did not boot and went back. */
  readonly failures: number;
  /** Reports by kind, all of them. */
  readonly kinds: Readonly<Partial<Record<ReportKind, number>>>;
  /** True once this server asked for a halt (since the counts last started over). */
  readonly halted: boolean;
  /**
   * Where `boots` and `failures` were counted: `fleet`, every server (through Redis, as this server last read
   * them); `server`, this server only (no Redis, or Redis could not be reached). `kinds` are always this server's.
   */
  readonly scope: 'fleet' | 'server';
}

/** What halting needs from the server: `server.halt()` (issue #3's operation). */
export type HaltRollout = (halt: {
  release: string;
  cohort?: string;
  reason: string;
  actor?: string;
}) => Promise<unknown>;

export interface ReportsDeps {
  readonly halt: HaltRollout;
  readonly logger: DaylightLogger;
  /**
   * The cohort whose own assignment of `version` the request got (its release or its rollout), which a halt
   * must stop; `undefined` when the request got `version` from everyone's rules. Never throws (the server
   * guards the app's callback).
   */
  readonly cohortOf: (req: IncomingMessage | undefined, version: string) => string | undefined;
  /**
   * Whether `version` is a published release. Reports about other versions
   * (a dev build, or made up) are accepted but not counted, so nobody can
   * grow the counts without bound. @default every version
   */
  readonly isRelease?: (version: string) => boolean;
  /**
   * The release the server resolves for the request (its cohort, rollout
   * and pins), or `undefined`. A boot or a failure counts only for that
   * release: the page that reports one was served it. @default any release
   */
  readonly releaseFor?: (req: IncomingMessage | undefined) => string | undefined;
  /**
   * Whether the registry records `release` as halted in `cohort` (`undefined`: everyone). While it does, no
   * report counts toward halting it there; once a halt was recorded (this endpoint's, or any other, as
   * {@link Reports.sync} tells) and then lifted (the release promoted again), its counts start over, so a
   * release that fails again is halted again, on fresh counts. @default never halted (counts never start over)
   */
  readonly isHalted?: (release: string, cohort: string | undefined) => boolean;
  /**
   * With the server's `redis` option: its connection (opened on first use; commands fail fast while Redis is
   * away) and key prefix. Boots and failures are then counted for the whole fleet there. @default per process
   */
  readonly redis?: { readonly client: () => Promise<Redis>; readonly prefix: string } | undefined;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface Reports {
  handle(request: DaylightRequest): Promise<DaylightResponse>;
  counts(): readonly ReportCount[];
  /**
   * Tells the endpoint the registry the server now serves (the server calls it on every load), so that a
   * halt recorded by any server ends the wave of counts everywhere: while it stands, that release's figures
   * in that cohort stay on show and nothing more counts; once it is lifted they start over. With Redis, the
   * fleet's counts are cleared once per halt (retried at the next load or count while Redis is away).
   */
  sync(registry: Registry): void;
}

const SESSIONS_MAX = 10_000;
const COUNTED_MAX = 100_000;
/** Release × cohort pairs counted at most (published releases and the registry's cohorts keep it far below). */
const COUNTS_MAX = 10_000;
const MESSAGE_MAX = 500;
/** A report kind that tells the operator something is logged once per release in this long, by each server. */
const NOTICE_MS = 10 * 60_000;

/**
 * What each kind of report means for whoever runs the servers, for the log (`{v}`: the release reported; the tab
 * runs it for stale-asset, and wants it for the others). `boot` is no news; boot failures are logged when they halt.
 */
const NOTICES: Partial<Record<ReportKind, string>> = {
  'stale-asset':
    'a tab on {v} could not load one of its files, and no newer release was there to switch to: check the files with `daylight verify {v}`; if they are intact, an ad-blocker, a proxy or the network stopped it',
  'stale-shell':
    'a switch to {v} landed on the page of another release: something between the servers and the browser (a CDN, a proxy, a service worker of the app) served an old index.html; pages must be served `Cache-Control: no-cache`',
  integrity:
    "a tab's download of {v} did not match its manifest: a proxy that alters files, or files changed on disk after `daylight publish` (`daylight verify {v}`)",
  'loop-guard':
    'a tab did not switch to {v}: this browser tried it already and it did not boot there, or the switch did not land; the tab stays on its release (see the boot failures and stale-shell reports of {v})',
};
/** Counts sent to Redis and not answered yet, at most; past that, reports count here only. */
const IN_FLIGHT_MAX = 10_000;
/** A Redis that cannot be reached is logged at most this often. */
const REDIS_LOG_INTERVAL_MS = 60_000;
/** The key of a release's counts in a cohort (`undefined`: everyone's). */
const countKey = (release: string, cohort: string | undefined): string => `${release}\n${cohort ?? ''}`;

/** How often `counts()` reads the fleet's figures again, at most. */
const REFRESH_MS = 2_000;

function whole(name: string, value: unknown, fallback: number, min: number, max = Infinity): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    throw new TypeError(
      `createDaylight: reports.${name} must be a number from ${min}${max === Infinity ? ' up' : ` to ${max}`}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

const REPORTS_KEYS = ['maxBytes', 'perMinute', 'halt', 'trust'] as const;
const HALT_KEYS = ['minFailures', 'failureRate'] as const;

/**
 * `value` when it is undefined or a plain object with only `keys`. A typo or a value of the wrong kind (`halt: 'off'`,
 * `halt: null`) would otherwise be read as "given" and turn halting on, or be ignored.
 */
function plainObject<T>(name: string, value: T, keys: readonly string[]): T {
  if (value === undefined) return value;
  const proto = typeof value === 'object' && value !== null ? (Object.getPrototypeOf(value) as unknown) : undefined;
  if (proto !== Object.prototype && proto !== null) {
    const example =
      name === 'reports' ? '{ halt: { minFailures: 5 } }' : '{ minFailures: 5, failureRate: 0.2 } or false';
    throw new TypeError(
      `createDaylight: ${name} must be an object such as ${example}, got ${JSON.stringify(value) ?? typeof value}`,
    );
  }
  const unknown = Object.keys(value as object).find((key) => !keys.includes(key));
  if (unknown !== undefined) {
    throw new TypeError(`createDaylight: unknown option ${name}.${unknown}; the options are ${keys.join(', ')}`);
  }
  return value;
}

/** Validates the options and returns the endpoint. @throws {TypeError} naming the option and the fix. */
export function createReports(options: ReportsOptions | undefined, deps: ReportsDeps): Reports {
  plainObject('reports', options, REPORTS_KEYS);
  const maxBytes = whole('maxBytes', options?.maxBytes, 4096, 256, 65_536);
  const perMinute = whole('perMinute', options?.perMinute, 20, 1);
  const haltOption = options?.halt === false ? false : plainObject('reports.halt', options?.halt, HALT_KEYS);
  // Halting on reports nobody vouches for would let made-up session ids halt
  // a rollout: without `trust`, only an explicit `halt` option turns it on.
  const halting = haltOption !== false && (options?.trust !== undefined || haltOption !== undefined);
  const minFailures = !halting ? Infinity : whole('halt.minFailures', haltOption?.minFailures, 5, 1);
  const failureRate = !halting ? Infinity : whole('halt.failureRate', haltOption?.failureRate, 0.2, 0, 1);
  const now = deps.now ?? Date.now;
  const trust = options?.trust;
  if (trust !== undefined && typeof trust !== 'function') {
    throw new TypeError('createDaylight: reports.trust must be a function (request) => identity string or boolean');
  }
  const sessions = new Map<string, { start: number; count: number }>();
  type Entry = { -readonly [K in keyof Omit<ReportCount, 'scope'>]: ReportCount[K] } & {
    kinds: Partial<Record<ReportKind, number>>;
    /**
     * The registry recorded a halt of the release here (this server's or another's): the wave is over. Its
     * figures stay on show while the halt stands; the counts start over once the release runs here again.
     */
    closed?: boolean;
    /** The fleet's figures as last read from Redis; `undefined` without Redis, or when it could not be reached. */
    fleet?: { boots: number; failures: number } | undefined;
    /** Grows each time the counts start over: an answer from Redis for an earlier wave is dropped. */
    wave: number;
    /** Why the registry's rules refused this wave's halt, as logged once (a rollback below the floor, say). */
    refused?: string | undefined;
  };
  const counts = new Map<string, Entry>();
  const fleet = deps.redis === undefined ? undefined : new RedisReportCounts(deps.redis);

  const answer = (request: DaylightRequest, status: number, message?: string): DaylightResponse => {
    const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
    if (status === 405) headers.Allow = 'POST';
    if (message === undefined || request.method === 'HEAD') return { status, headers };
    return { status, headers: { ...headers, 'Content-Type': 'text/plain; charset=utf-8' }, body: `${message}\n` };
  };

  const limited = (session: string): boolean => {
    const at = now();
    let entry = sessions.get(session);
    if (entry === undefined || at - entry.start >= 60_000) {
      if (sessions.size >= SESSIONS_MAX) sessions.clear();
      entry = { start: at, count: 0 };
      sessions.set(session, entry);
    }
    return ++entry.count > perMinute;
  };

  /**
   * `who\nrelease\ncohort` (a person's identity from `trust`, or a session id) that already counted a boot or a
   * failure of a release in a cohort: one each.
   */
  const counted = new Set<string>();
  let saidHaltingIsOff = false;
  /** The halt (its `at`) last seen in the registry per `release\ncohort`: each halt starts the counts over once. */
  const seenHalts = new Map<string, string>();
  /** Halts whose counts in Redis are still to be cleared (Redis was away), per `release\ncohort`. */
  const pendingClears = new Map<string, WaveClear & { release: string; cohort: string | undefined }>();
  /** The revision of the registry this server serves, which each count in Redis carries (`sync` sets it). */
  let revision: number | undefined;
  let inFlight = 0;
  let redisFailing = false;
  let lastRedisLog = Number.NEGATIVE_INFINITY;
  let unloggedRedisFailures = 0;
  let lastRefresh = Number.NEGATIVE_INFINITY;
  /** The releases and rollouts the registry gives out now, by target (not its pins). */
  let served: readonly ServedRelease[] = [];

  /** Logs that Redis could not be reached, at most once a minute; the counts stay this server's meanwhile. */
  const redisDown = (error: unknown): void => {
    unloggedRedisFailures++;
    const at = Date.now();
    if (at - lastRedisLog < REDIS_LOG_INTERVAL_MS) return;
    lastRedisLog = at;
    redisFailing = true;
    const failures = unloggedRedisFailures;
    unloggedRedisFailures = 0;
    deps.logger.warn(
      `daylight: could not count boot reports in Redis (${error instanceof Error ? error.message : String(error)}); automatic halts are decided on this server's own counts meanwhile (${failures} failed since the last report; reported at most once a minute)`,
    );
  };
  const redisUp = (): void => {
    if (!redisFailing) return;
    redisFailing = false;
    lastRedisLog = Number.NEGATIVE_INFINITY;
    unloggedRedisFailures = 0;
    deps.logger.info('daylight: counting boot reports in Redis again');
  };

  /** The counts of one release in one cohort start over, once its halt was lifted (here; Redis is cleared by `sync`). */
  const startOver = (key: string): void => {
    const entry = counts.get(key);
    if (entry !== undefined) {
      Object.assign(entry, {
        boots: 0,
        failures: 0,
        halted: false,
        closed: false,
        fleet: undefined,
        refused: undefined,
      });
      entry.wave++;
    }
    const suffix = `\n${key}`;
    for (const once of counted) if (once.endsWith(suffix)) counted.delete(once);
  };

  const clearInRedis = (): void => {
    if (fleet === undefined) return;
    for (const [key, clear] of pendingClears) {
      fleet
        .clear(clear.release, clear.cohort, clear)
        .then(() => {
          if (pendingClears.get(key) === clear) pendingClears.delete(key);
          redisUp();
        }, redisDown)
        .catch(() => undefined);
    }
  };

  /** Halts `release` in `cohort` once `failures` of `failures + boots` switches failed: at least `minFailures`, at the rate. */
  const decide = (entry: Entry, boots: number, failures: number, scope: 'fleet' | 'server'): void => {
    const { release, cohort } = entry;
    const rate = failures / (failures + boots);
    if (entry.halted || failures < minFailures || rate < failureRate) return;
    entry.halted = true;
    const where = cohort === undefined ? '' : ` in cohort ${cohort}`;
    const across = scope === 'fleet' ? ', counted on every server' : '';
    const reason = `${failures} of ${failures + boots} switches to ${release}${where} failed to boot (${Math.round(rate * 100)}%${across})`;
    const wave = entry.wave;
    // Once the registry's rules refused this wave's halt, later tries say nothing unless the answer changes.
    const quiet = entry.refused !== undefined;
    if (!quiet) deps.logger.warn(`daylight: halting ${release}${where}: ${reason}`);
    deps
      .halt({ release, reason, actor: 'reports', ...(cohort === undefined ? {} : { cohort }) })
      .then(() => {
        if (entry.wave === wave) entry.closed = true;
        if (quiet) deps.logger.warn(`daylight: halted ${release}${where}: ${reason}`);
      })
      .catch((error: unknown) => {
        const current = entry.wave === wave;
        if (current) entry.halted = false; // the next failure tries again: the floor may have been lowered since
        if (!isRegistryChangeError(error)) {
          deps.logger.error(`daylight: could not halt ${release}${where}`, error);
        } else if (!current || entry.refused !== error.message) {
          if (current) entry.refused = error.message;
          deps.logger.error(
            `daylight: cannot halt ${release}${where}: ${error.message}; ${release} stays served, and later failures try again without a word more (publish a fixed release, or make the rollback possible)`,
          );
        }
      });
  };

  /** When each kind was last logged for each release (bounded: only published releases get here). */
  const noticed = new Map<string, number>();
  const notice = (kind: ReportKind, release: string, message: string | undefined): void => {
    const text = NOTICES[kind];
    const key = `${kind}\n${release}`;
    const at = now();
    if (text === undefined || at - (noticed.get(key) ?? -Infinity) < NOTICE_MS) return;
    if (noticed.size >= COUNTS_MAX) noticed.clear();
    noticed.set(key, at);
    // The tab's words are the browser's, so quoted (one line, however they are written: line and paragraph
    // separators and bidi controls escaped too) and cut short.
    const quoted = (words: string): string =>
      JSON.stringify(words.slice(0, 200)).replace(
        /[\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
      );
    const said = message === undefined ? '' : `; the tab said ${quoted(message)}`;
    const more = ` (logged once per release every ${NOTICE_MS / 60_000} minutes; the status page counts every ${kind} report)`;
    deps.logger.warn(`daylight: ${kind} report: ${text.replaceAll('{v}', release)}${said}${more}`);
  };

  const count = (
    kind: ReportKind,
    release: string,
    cohort: string | undefined,
    who: string,
    trusted: boolean,
  ): void => {
    if (deps.isRelease?.(release) === false) return;
    const key = countKey(release, cohort);
    let entry = counts.get(key);
    if (entry === undefined) {
      if (counts.size >= COUNTS_MAX) return;
      entry = { release, cohort, boots: 0, failures: 0, kinds: {}, halted: false, wave: 0 };
      counts.set(key, entry);
    }
    entry.kinds[kind] = (entry.kinds[kind] ?? 0) + 1;
    if ((kind !== 'boot' && kind !== 'boot-failure') || !trusted) return;
    const halted = deps.isHalted?.(release, cohort);
    // While the registry records the release halted there, nothing counts toward halting it (again).
    if (halted === true) return;
    if (entry.closed && halted === false) {
      // A halt was recorded, and the release was promoted again since: count afresh, everyone included.
      startOver(key);
    }
    const once = `${who}\n${key}`;
    if (counted.has(once)) return;
    if (counted.size >= COUNTED_MAX) counted.clear();
    counted.add(once);
    if (kind === 'boot') entry.boots++;
    else entry.failures++;
    if (kind === 'boot-failure' && !halting && haltOption === undefined && !saidHaltingIsOff) {
      saidHaltingIsOff = true;
      deps.logger.info(
        'daylight: boot failures are counted but halt nothing: set reports.trust (whose reports to believe) or reports.halt to halt automatically',
      );
    }
    if (fleet === undefined || inFlight >= IN_FLIGHT_MAX) {
      if (kind === 'boot-failure') decide(entry, entry.boots, entry.failures, 'server');
      return;
    }
    // The whole fleet's figures decide; the answer does not wait for them.
    inFlight++;
    const counting = entry;
    const wave = entry.wave;
    const clear = pendingClears.get(key);
    fleet
      .count(release, cohort, who, kind, revision, clear)
      .then(
        (result: FleetCount) => {
          if (clear !== undefined && pendingClears.get(key) === clear) pendingClears.delete(key);
          redisUp();
          // A halt ended the wave meanwhile: its figures stay as they were, and it halts nothing more.
          if (counting.wave !== wave || counting.closed) return;
          if (result.late) {
            // Counted on a registry from before a halt this server has not seen: that wave's, not the fleet's now.
            // Not here either, so the person counts in the new wave once this server serves it.
            if (kind === 'boot') counting.boots--;
            else counting.failures--;
            counted.delete(once);
          }
          counting.fleet = { boots: result.boots, failures: result.failures };
          if (kind === 'boot-failure' && result.added) decide(counting, result.boots, result.failures, 'fleet');
        },
        (error: unknown) => {
          redisDown(error);
          if (counting.wave !== wave || counting.closed) return;
          counting.fleet = undefined;
          if (kind === 'boot-failure') decide(counting, counting.boots, counting.failures, 'server');
        },
      )
      .catch(() => undefined) // a logger that throws must not become an unhandled rejection
      .finally(() => inFlight--);
  };

  /**
   * Reads the fleet's figures of the rows this server shows again, in the background, at most every few seconds;
   * and of the releases the registry gives out now that no tab reported here, so that every server's status page
   * shows the rows the fleet counted, not only those its own tabs reported.
   */
  const refresh = (): void => {
    const at = Date.now();
    if (fleet === undefined || at - lastRefresh < REFRESH_MS) return;
    const entries = [...counts.values()].filter((entry) => !entry.closed); // a closed wave keeps its last figures
    const others = served.filter((where) => !counts.has(countKey(where.release, where.cohort)));
    if (entries.length + others.length === 0) return;
    lastRefresh = at;
    const waves = entries.map((entry) => entry.wave);
    fleet
      .read([...entries, ...others])
      .then((figures) => {
        for (const [i, entry] of entries.entries()) if (entry.wave === waves[i]) entry.fleet = figures[i];
        for (const [i, { release, cohort }] of others.entries()) {
          const figure = figures[entries.length + i]!;
          const key = countKey(release, cohort);
          if (figure.boots + figure.failures === 0 || counts.has(key) || counts.size >= COUNTS_MAX) continue;
          counts.set(key, { release, cohort, boots: 0, failures: 0, kinds: {}, halted: false, wave: 0, fleet: figure });
        }
      }, redisDown)
      .catch(() => undefined);
  };

  return {
    counts: () => {
      refresh();
      return [...counts.values()].map(({ closed: _closed, fleet: figures, wave: _wave, ...entry }) =>
        Object.freeze({
          ...entry,
          ...(figures ?? {}),
          kinds: { ...entry.kinds },
          scope: figures === undefined ? ('server' as const) : ('fleet' as const),
        }),
      );
    },
    sync(registry) {
      served = servedReleases(registry).filter((where) => where.kind !== 'pin');
      revision = registry.revision;
      const standing = new Set<string>();
      for (const cohort of [undefined, ...Object.keys(registry.cohorts ?? {})]) {
        const halt = haltOf(registry, cohort);
        if (halt === undefined) continue;
        const key = countKey(halt.release, cohort);
        standing.add(key);
        const entry = counts.get(key);
        if (entry !== undefined) entry.closed = true;
        if (seenHalts.get(key) === halt.at) continue;
        if (seenHalts.size >= COUNTS_MAX) seenHalts.clear();
        seenHalts.set(key, halt.at);
        if (fleet !== undefined) {
          pendingClears.set(key, { release: halt.release, cohort, at: halt.at, revision: registry.revision });
        }
      }
      // A halt lifted (the release promoted again): its wave's counts start over, here and for this server's view.
      for (const [key, entry] of counts) if (entry.closed && !standing.has(key)) startOver(key);
      clearInRedis();
    },
    async handle(request) {
      if (request.method !== 'POST') return answer(request, 405, 'Method not allowed');
      // Tabs report to their own origin. A page on another site cannot send one with this site's cookies.
      // Browsers say where a request comes from in Sec-Fetch-Site; those without it (older Safari) in Origin,
      // which is checked only then: a proxy that rewrites Host must not cost the reports of modern browsers.
      const site = request.headers['sec-fetch-site'];
      const foreign = site === undefined ? foreignOrigin(request) !== undefined : site !== 'same-origin';
      if (foreign) return answer(request, 403, 'Reports come from pages of this origin');
      const type = String(request.headers['content-type'] ?? '').toLowerCase();
      if (!type.includes('application/json') && !type.startsWith('text/plain')) {
        return answer(request, 415, 'Reports are JSON (Content-Type: application/json)');
      }
      if (Number(request.headers['content-length'] ?? 0) > maxBytes) {
        return answer(request, 413, `Reports are at most ${maxBytes} bytes`);
      }
      const stream = request.incoming;
      if (stream === undefined) return answer(request, 400, 'No body');
      let parsed: unknown;
      try {
        // (Also a body an app's parser read before Daylight: request-body.ts.)
        parsed = await readJsonBody(request, maxBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError) return answer(request, 413, `Reports are at most ${maxBytes} bytes`);
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        return answer(request, 400, 'A report is a JSON object');
      }
      const report = parsed as Record<string, unknown>;
      const { kind, version, from, message } = report;
      if (!(REPORT_KINDS as readonly unknown[]).includes(kind)) {
        return answer(request, 400, `"kind" must be one of ${REPORT_KINDS.join(', ')}`);
      }
      if (!isVersion(version)) return answer(request, 400, '"version" must be a semver version');
      if (from !== undefined && !isVersion(from)) return answer(request, 400, '"from" must be a semver version');
      if (message !== undefined && (typeof message !== 'string' || message.length > MESSAGE_MAX)) {
        return answer(request, 400, `"message" must be a string of at most ${MESSAGE_MAX} characters`);
      }
      const header = request.headers[CLIENT_HEADER.toLowerCase()];
      const session = (typeof header === 'string' ? parseClientHeader(header)?.session : undefined) ?? report.session;
      if (typeof session !== 'string' || !SESSION_ID_PATTERN.test(session)) {
        return answer(request, 400, '"session" must be the tab\'s session id');
      }
      if (limited(session)) return answer(request, 429, `At most ${perMinute} reports per minute per session`);
      let vouched: boolean | string = true;
      if (trust !== undefined && request.incoming !== undefined) {
        try {
          vouched = await trust(request.incoming);
        } catch {
          vouched = false;
        }
      }
      const trusted =
        (vouched === true || (typeof vouched === 'string' && vouched !== '')) &&
        (deps.releaseFor === undefined || deps.releaseFor(request.incoming) === version);
      const who = typeof vouched === 'string' ? `person ${vouched}` : `session ${session}`;
      count(kind as ReportKind, version, deps.cohortOf(request.incoming, version), who, trusted);
      // With trust, only a report it vouches for may take the one line of the next ten minutes.
      const vouchedFor = vouched === true || (typeof vouched === 'string' && vouched !== '');
      if (vouchedFor && deps.isRelease?.(version) !== false) notice(kind as ReportKind, version, message);
      return answer(request, 204);
    },
  };
}
