/** Checks of the `census` and `authorize` options of `createDaylight`. */
import type { Authorize } from '../admin/admin.js';
import { DEFAULT_MAX_SERIES } from './census.js';
import { DEFAULT_FLUSH_INTERVAL_MS } from './redis-census.js';

/** The `census` option: `false` turns counting off. */
export interface CensusServerOptions {
  /**
   * The most (release, cohort) series counted separately; further ones are (`other`, `other`).
   * @default 256
   */
  readonly maxSeries?: number;
  /**
   * With `redis`, how often this server writes what it saw to Redis.
   * @default 5000
   */
  readonly flushIntervalMs?: number;
}

export interface ResolvedCensus {
  readonly maxSeries: number;
  readonly flushIntervalMs: number;
}

/** @throws {TypeError} naming the option and the fix. */
export function checkCensusOption(value: unknown): ResolvedCensus | false {
  if (value === false) return false;
  if (value === undefined || value === true) {
    return Object.freeze({ maxSeries: DEFAULT_MAX_SERIES, flushIntervalMs: DEFAULT_FLUSH_INTERVAL_MS });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      `createDaylight: census must be true, false or { maxSeries, flushIntervalMs }, got ${JSON.stringify(value) ?? typeof value}`,
    );
  }
  const {
    maxSeries = DEFAULT_MAX_SERIES,
    flushIntervalMs = DEFAULT_FLUSH_INTERVAL_MS,
    ...rest
  } = value as CensusServerOptions & Record<string, unknown>;
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) {
    throw new TypeError(`createDaylight: unknown option census.${unknown}; the options are maxSeries, flushIntervalMs`);
  }
  if (!Number.isSafeInteger(maxSeries) || maxSeries < 2 || maxSeries > 100_000) {
    throw new TypeError(
      `createDaylight: census.maxSeries must be a whole number from 2 to 100000, such as 256; got ${String(maxSeries)}`,
    );
  }
  if (!Number.isFinite(flushIntervalMs) || flushIntervalMs < 100 || flushIntervalMs > 60_000) {
    throw new TypeError(
      `createDaylight: census.flushIntervalMs must be from 100 to 60000 milliseconds, such as 5000; got ${String(flushIntervalMs)}`,
    );
  }
  return Object.freeze({ maxSeries, flushIntervalMs });
}

/** @throws {TypeError} when `authorize` is given and is not a function. */
export function checkAuthorize(value: unknown): Authorize | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new TypeError(
      `createDaylight: authorize must be a function of the request that returns true for admins, such as (req) => isAdmin(req); got ${typeof value}`,
    );
  }
  return value as Authorize;
}
