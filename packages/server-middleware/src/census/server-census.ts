/**
 * The census as the server runs it: one {@link Census}, fed from `attach()`,
 * and with `redis` a {@link RedisCensus} that merges it with the fleet's.
 * Recording is fail-open: nothing here may break a response.
 */
import type { ClientStamp } from '@daylight/protocol';
import type { DaylightLogger } from '../types.js';
import { createCensus, DEFAULT_COHORT, type Census, type CensusSnapshot } from './census.js';
import type { ResolvedCensus } from './options.js';
import { sessionHash } from './murmur.js';
import { RedisCensus } from './redis-census.js';

/** Sessions whose hash is kept (then the cache starts over): a server's live sessions, typically. */
const HASH_CACHE_SIZE = 10_000;

export interface ServerCensusOptions {
  readonly census: ResolvedCensus;
  readonly redis: { readonly url: string; readonly prefix: string } | undefined;
  readonly logger: DaylightLogger;
  readonly now?: () => number;
}

export class ServerCensus {
  readonly census: Census;
  readonly #redis: RedisCensus | undefined;
  /** Recording failures (counted, never thrown). */
  failures = 0;
  /** Session id → its hash: a tab sends the same id with every request, and hashing it is most of a count's cost. */
  readonly #hashes = new Map<string, number>();

  constructor(options: ServerCensusOptions) {
    this.census = createCensus({ maxSeries: options.census.maxSeries, ...(options.now ? { now: options.now } : {}) });
    if (options.redis !== undefined) {
      this.#redis = new RedisCensus(this.census, {
        redis: options.redis.url,
        prefix: options.redis.prefix,
        flushIntervalMs: options.census.flushIntervalMs,
        logger: options.logger,
        ...(options.now ? { now: options.now } : {}),
      });
      this.#redis.start();
    }
  }

  /**
   * Counts a request from `client` in `cohort` (`default` when none). The
   * server calls it once the cohort is known: at once without a `cohort`
   * callback, else when the response's release resolves — after the app's
   * middleware has put the signed-in user on the request (per-request.ts).
   */
  count(client: ClientStamp, cohort: string | undefined): void {
    this.#record(client, cohort ?? DEFAULT_COHORT);
  }

  setReleases(versions: Iterable<string>): void {
    this.census.setReleases(versions);
  }

  /** The fleet's census with Redis, else this server's. */
  async snapshot(): Promise<CensusSnapshot> {
    return this.#redis === undefined ? this.census.snapshot() : this.#redis.read();
  }

  async close(): Promise<void> {
    await this.#redis?.close();
  }

  #record(client: ClientStamp, cohort: string): void {
    try {
      let hash = this.#hashes.get(client.session);
      if (hash === undefined) {
        if (this.#hashes.size >= HASH_CACHE_SIZE) this.#hashes.clear();
        hash = sessionHash(client.session);
        this.#hashes.set(client.session, hash);
      }
      this.census.recordHash(client.version, cohort, hash);
    } catch {
      this.failures++;
    }
  }
}
