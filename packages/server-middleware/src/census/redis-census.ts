/**
 * The census of the whole fleet, merged through Redis (docs/census.md,
 * "Merging through Redis").
 *
 * Every few seconds each server writes what it saw since its last flush: per
 * (release, cohort) one HyperLogLog of those sessions, as a Redis dense
 * HyperLogLog string (the sketches use Redis's own hash, so they mix with
 * `PFADD` exactly), `PFMERGE`d into the current bucket of each tier. Whatever
 * the traffic, a flush sends at most 12 KiB per active series — no session id
 * leaves the server, no set of ids grows with the traffic.
 *
 * | key                                              | type   | what                                           |
 * | ------------------------------------------------ | ------ | ---------------------------------------------- |
 * | `<prefix>:census:hll:<window>:<start>:<release>:<cohort>` | string (HLL) | sessions in one bucket; expires after its window |
 * | `<prefix>:census:series`                         | zset   | `<release>:<cohort>` scored by when last seen (`ZADD GT`) |
 * | `<prefix>:census:since`                          | string | when the fleet started counting (`SET NX`), refreshed by every flush |
 *
 * Reads are `PFCOUNT` over a window's bucket keys (the union, computed by Redis).
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { connectGuarded, redactRedisUrl } from '../redis-location.js';
import type { DaylightLogger } from '../types.js';
import {
  CENSUS_BUCKETS,
  CENSUS_RETENTION_MS,
  CENSUS_WINDOWS,
  CENSUS_WINDOW_NAMES,
  compareSeries,
  type Census,
  type CensusPoint,
  type CensusSeries,
  type CensusSnapshot,
  type CensusWindow,
} from './census.js';
import { HLL_STANDARD_ERROR } from './hll.js';

/** @default for {@link RedisCensusOptions.flushIntervalMs} */
export const DEFAULT_FLUSH_INTERVAL_MS = 5_000;
/** How long the fleet remembers a series' last sighting, and the start of counting after the last flush (as long as a server's census). */
export { CENSUS_RETENTION_MS };
/** Timeout of one flush or read. */
const COMMAND_TIMEOUT_MS = 5_000;

export interface RedisCensusOptions {
  /** `redis://…`, or an ioredis client to share (it is not closed by {@link RedisCensus.close}). */
  readonly redis: string | Redis;
  /** @default 'daylight' */
  readonly prefix?: string;
  /** @default 5000 */
  readonly flushIntervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** @default console */
  readonly logger?: DaylightLogger;
}

function keyOf(prefix: string, window: CensusWindow, start: number, release: string, cohort: string): string {
  return `${prefix}:census:hll:${window}:${start}:${release}:${cohort}`;
}

/** Bucket starts of a window's tier that overlap `[at − window, at]`, oldest first. */
function bucketStarts(window: CensusWindow, at: number): number[] {
  const size = CENSUS_BUCKETS[window];
  const starts: number[] = [];
  const last = Math.floor(at / size) * size;
  for (let start = Math.floor((at - CENSUS_WINDOWS[window]) / size) * size; start <= last; start += size) {
    if (start + size > at - CENSUS_WINDOWS[window]) starts.push(start);
  }
  return starts;
}

async function withTimeout<T>(work: Promise<T>, what: string, ms = COMMAND_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens an ioredis client that fails fast instead of queueing commands while Redis is away. */
export async function openCensusRedis(url: string): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  client.on('error', () => undefined); // reported by the commands that fail
  // A database Redis refuses would otherwise be database 0: the census of another fleet, counted into. A client
  // that failed to connect is closed, else there would be one more reconnecting in the background per failed flush.
  await connectGuarded(client, url, {
    attempt: (connecting) => withTimeout(connecting, `connecting to ${redactRedisUrl(url)}`),
  });
  return client;
}

/** Writes a server's census into Redis every few seconds. Construct, then {@link start}. */
export class RedisCensus {
  readonly prefix: string;
  readonly #census: Census;
  readonly #options: RedisCensusOptions;
  readonly #now: () => number;
  readonly #logger: DaylightLogger;
  readonly #tmpKey: string;
  #client: Promise<Redis> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #lastProblem: string | undefined;

  constructor(census: Census, options: RedisCensusOptions) {
    this.#census = census;
    this.#options = options;
    this.prefix = options.prefix ?? 'daylight';
    this.#now = options.now ?? Date.now;
    this.#logger = options.logger ?? console;
    this.#tmpKey = `${this.prefix}:census:tmp:${randomBytes(9).toString('base64url')}`;
  }

  /** Starts keeping deltas and flushing them every `flushIntervalMs` (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#census.trackDeltas();
    this.#timer = setInterval(() => void this.flush(), this.#options.flushIntervalMs ?? DEFAULT_FLUSH_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Sends what was seen since the last flush. Never rejects; a failure is logged and retried at the next flush. */
  flush(): Promise<void> {
    this.#flushing ??= this.#flush().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  /** The fleet's census, after sending this server's latest sessions. Rejects when Redis cannot be reached. */
  async read(): Promise<CensusSnapshot> {
    await this.flush();
    try {
      return await readFleetCensus(await this.#redis(), { prefix: this.prefix, now: this.#now });
    } catch (error) {
      // ioredis's own words ("Stream isn't writeable and enableOfflineQueue options is false") name neither.
      const where = typeof this.#options.redis === 'string' ? ` ${redactRedisUrl(this.#options.redis)}` : '';
      throw new Error(`the census could not be read from Redis${where}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Stops the timer, flushes once more, and closes the client it opened. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.flush();
    if (typeof this.#options.redis === 'string' && this.#client !== undefined) {
      const client = await this.#client.catch(() => undefined);
      client?.disconnect();
    }
  }

  async #redis(): Promise<Redis> {
    const given = this.#options.redis;
    if (typeof given !== 'string') return given;
    this.#client ??= openCensusRedis(given).catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  async #flush(): Promise<void> {
    const deltas = this.#census.drain();
    const at = this.#now();
    try {
      const redis = await this.#redis();
      const multi = redis.multi();
      for (const delta of deltas) {
        if (delta.sketch.empty) continue;
        multi.set(this.#tmpKey, delta.sketch.toRedis(), 'PX', 60_000);
        for (const window of CENSUS_WINDOW_NAMES) {
          const size = CENSUS_BUCKETS[window];
          const start = Math.floor(at / size) * size;
          const key = keyOf(this.prefix, window, start, delta.release, delta.cohort);
          multi.pfmerge(key, this.#tmpKey);
          multi.pexpireat(key, start + size + CENSUS_WINDOWS[window] + 60_000);
        }
        multi.zadd(`${this.prefix}:census:series`, 'GT', delta.lastSeen, `${delta.release}:${delta.cohort}`);
      }
      multi.del(this.#tmpKey);
      multi.set(`${this.prefix}:census:since`, String(at), 'NX');
      multi.pexpire(`${this.prefix}:census:since`, CENSUS_RETENTION_MS);
      multi.zremrangebyscore(`${this.prefix}:census:series`, '-inf', at - CENSUS_RETENTION_MS);
      const results = await withTimeout(multi.exec(), 'census flush');
      const failed = results?.find(([error]) => error !== null)?.[0];
      if (results === null || failed) throw failed ?? new Error('the transaction was discarded');
      this.#lastProblem = undefined;
    } catch (error) {
      this.#census.restore(deltas);
      const problem = `daylight: could not write the census to Redis: ${(error as Error).message}; will retry`;
      if (problem !== this.#lastProblem) this.#logger.warn(problem);
      this.#lastProblem = problem;
    }
  }
}

/**
 * The fleet's census, read from Redis: the same shape as a server's
 * {@link Census.snapshot}, with `scope: 'fleet'`.
 */
export async function readFleetCensus(
  redis: Redis,
  options: { readonly prefix?: string; readonly now?: () => number } = {},
): Promise<CensusSnapshot> {
  const prefix = options.prefix ?? 'daylight';
  const at = (options.now ?? Date.now)();
  const [members, since] = await withTimeout(
    Promise.all([
      redis.zrange(`${prefix}:census:series`, '0', '-1', 'WITHSCORES'),
      redis.get(`${prefix}:census:since`),
    ]),
    'census read',
  );
  const pairs: { release: string; cohort: string; lastSeen: number }[] = [];
  for (let i = 0; i + 1 < members.length; i += 2) {
    const member = members[i]!;
    const split = member.lastIndexOf(':');
    pairs.push({ release: member.slice(0, split), cohort: member.slice(split + 1), lastSeen: Number(members[i + 1]) });
  }
  const pipeline = redis.pipeline();
  for (const pair of pairs) {
    for (const window of CENSUS_WINDOW_NAMES) {
      pipeline.pfcount(
        ...bucketStarts(window, at).map((start) => keyOf(prefix, window, start, pair.release, pair.cohort)),
      );
    }
  }
  const releases = [...new Set(pairs.map((pair) => pair.release))];
  const timelineStarts = bucketStarts('1h', at).filter((start) => start > at - CENSUS_WINDOWS['1h']);
  for (const start of timelineStarts) {
    for (const release of releases) {
      const keys = pairs
        .filter((pair) => pair.release === release)
        .map((pair) => keyOf(prefix, '1h', start, release, pair.cohort));
      pipeline.pfcount(...keys);
    }
  }
  const results = (await withTimeout(pipeline.exec(), 'census read')) ?? [];
  const numbers = results.map(([error, value]) => {
    if (error) throw error;
    return Number(value);
  });
  let next = 0;
  const series: CensusSeries[] = pairs.map((pair) => {
    const sessions = {} as Record<CensusWindow, number>;
    for (const window of CENSUS_WINDOW_NAMES) sessions[window] = numbers[next++]!;
    return { release: pair.release, cohort: pair.cohort, sessions, lastSeen: pair.lastSeen };
  });
  series.sort(compareSeries);
  const timeline: CensusPoint[] = timelineStarts.map((start) => {
    const sessions: Record<string, number> = {};
    for (const release of releases) {
      const count = numbers[next++]!;
      if (count > 0) sessions[release] = count;
    }
    return { at: start, sessions };
  });
  return {
    scope: 'fleet',
    at,
    observingSince: since === null ? at : Number(since),
    standardError: HLL_STANDARD_ERROR,
    series,
    timeline,
  };
}
