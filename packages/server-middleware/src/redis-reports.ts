/**
 * The boots and boot failures that count toward an automatic halt, counted
 * for the whole fleet in Redis (reports.ts decides; this file only counts).
 *
 * | key                                       | type | what                                                         |
 * | ----------------------------------------- | ---- | ------------------------------------------------------------ |
 * | `<prefix>:reports:<release>:<cohort>`     | hash | `boots`, `failures`; `cleared`, `since`, `sinceAt` (below)   |
 * | `<prefix>:reports:<release>:<cohort>:who` | set  | a hash of each person or session that counted (once each)    |
 *
 * `cleared` is the halt (its `at`) whose wave was last cleared; `since` the
 * revision of the registry that clear was made on, `sinceAt` when (Redis's
 * clock, in seconds).
 *
 * `<cohort>` is `*` for everyone (a cohort name cannot be `*` nor hold `:`).
 * Both keys expire {@link REPORT_COUNTS_TTL_S} after the last count. One
 * Lua script adds the person to the set and, only when they were not in it,
 * increments the hash: two servers cannot both count the same person, and
 * a count is never half done. The same script clears a wave's counts once
 * per halt: the `cleared` field remembers which halt, so a server that sees
 * the halt late (after the release was promoted again) does not wipe the
 * new wave's counts. Each count carries the revision of the registry its
 * server serves: one below the revision the last clear was made on came
 * from a server that had not seen that halt yet (a late report of the wave
 * it ended), and is left out of the wave after it, person included, for
 * {@link LATE_WINDOW_S} after the clear (past that, a lower revision means
 * a rebuilt store, not a late report).
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';

/** How long the fleet keeps a release's counts in a cohort after its last count: 3 days. */
export const REPORT_COUNTS_TTL_S = 3 * 24 * 60 * 60;

/** How long after a clear a count from a registry older than the clear's is taken for a late report: 10 minutes. */
export const LATE_WINDOW_S = 10 * 60;

// ARGV: 1 the halt to clear for ('' none), 2 who ('' only clear), 3 the field, 4 the TTL, 5 the counting server's
// registry revision ('' unknown), 6 the revision the clear is made on ('' unknown), 7 LATE_WINDOW_S.
const SCRIPT = `
local now = tonumber(redis.call('TIME')[1])
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'cleared') ~= ARGV[1] then
  redis.call('DEL', KEYS[1], KEYS[2])
  redis.call('HSET', KEYS[1], 'cleared', ARGV[1])
  if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'since', ARGV[6], 'sinceAt', now) end
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
if ARGV[2] == '' then return {0, 0, 0, 0} end
local marks = redis.call('HMGET', KEYS[1], 'since', 'sinceAt')
local since, sinceAt = tonumber(marks[1]), tonumber(marks[2])
if ARGV[5] ~= '' and since and sinceAt and tonumber(ARGV[5]) < since and now - sinceAt < tonumber(ARGV[7]) then
  local counts = redis.call('HMGET', KEYS[1], 'boots', 'failures')
  return {0, tonumber(counts[1]) or 0, tonumber(counts[2]) or 0, 1}
end
local added = redis.call('SADD', KEYS[2], ARGV[2])
if added == 1 then redis.call('HINCRBY', KEYS[1], ARGV[3], 1) end
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local counts = redis.call('HMGET', KEYS[1], 'boots', 'failures')
return {added, tonumber(counts[1]) or 0, tonumber(counts[2]) or 0, 0}
`;

/** The fleet's figures for one release in one cohort, after a count. */
export interface FleetCount {
  /** False when this person or session had counted already (on any server), or when the count was `late`. */
  readonly added: boolean;
  /**
   * The count was made on a registry from before the wave's last halt (its server had not seen it): it is left out
   * of the wave after the halt, and the person may count there.
   */
  readonly late: boolean;
  readonly boots: number;
  readonly failures: number;
}

/** A halt whose wave's counts are to be cleared: its `at`, and the registry revision it was seen in. */
export interface WaveClear {
  readonly at: string;
  readonly revision: number | undefined;
}

type Scripted = Redis & {
  daylightReportCount(
    hash: string,
    who: string,
    clear: string,
    member: string,
    field: string,
    ttl: number,
    revision: string,
    since: string,
    window: number,
  ): Promise<[number, number, number, number]>;
};

const defined = new WeakSet<Redis>();

function scripted(redis: Redis): Scripted {
  if (!defined.has(redis)) {
    redis.defineCommand('daylightReportCount', { numberOfKeys: 2, lua: SCRIPT });
    defined.add(redis);
  }
  return redis as Scripted;
}

export class RedisReportCounts {
  readonly prefix: string;
  readonly #client: () => Promise<Redis>;

  constructor(options: { readonly client: () => Promise<Redis>; readonly prefix: string }) {
    this.#client = options.client;
    this.prefix = options.prefix;
  }

  keyOf(release: string, cohort: string | undefined): string {
    return `${this.prefix}:reports:${release}:${cohort ?? '*'}`;
  }

  /**
   * Counts `who` (once) as a boot or a failure of `release` in `cohort`, and returns the fleet's figures.
   * `revision`: of the registry the counting server serves (`undefined`: unknown, never late).
   * `clear`: a halt whose wave must be cleared first (once per halt, whichever server asks).
   */
  async count(
    release: string,
    cohort: string | undefined,
    who: string,
    kind: 'boot' | 'boot-failure',
    revision: number | undefined,
    clear?: WaveClear,
  ): Promise<FleetCount> {
    const [added, boots, failures, late] = await this.#run(release, cohort, clear, member(who), kind, revision);
    return { added: added === 1, late: late === 1, boots, failures };
  }

  /** Clears the counts of `release` in `cohort` for this halt, unless that halt's were cleared already. */
  async clear(release: string, cohort: string | undefined, clear: WaveClear): Promise<void> {
    await this.#run(release, cohort, clear, '', 'boot', undefined);
  }

  /** The fleet's figures for these pairs (zero for those without counts). */
  async read(
    pairs: readonly { readonly release: string; readonly cohort: string | undefined }[],
  ): Promise<{ boots: number; failures: number }[]> {
    if (pairs.length === 0) return [];
    const redis = await this.#client();
    const pipeline = redis.pipeline();
    for (const { release, cohort } of pairs) pipeline.hmget(this.keyOf(release, cohort), 'boots', 'failures');
    const results = (await pipeline.exec()) ?? [];
    return results.map(([error, value]) => {
      if (error) throw error;
      const [boots, failures] = value as (string | null)[];
      return { boots: Number(boots ?? 0), failures: Number(failures ?? 0) };
    });
  }

  async #run(
    release: string,
    cohort: string | undefined,
    clear: WaveClear | undefined,
    who: string,
    kind: 'boot' | 'boot-failure',
    revision: number | undefined,
  ): Promise<[number, number, number, number]> {
    const redis = scripted(await this.#client());
    const key = this.keyOf(release, cohort);
    const field = kind === 'boot' ? 'boots' : 'failures';
    const [added, boots, failures, late] = await redis.daylightReportCount(
      key,
      `${key}:who`,
      clear?.at ?? '',
      who,
      field,
      REPORT_COUNTS_TTL_S,
      revision === undefined ? '' : String(revision),
      clear?.revision === undefined ? '' : String(clear.revision),
      LATE_WINDOW_S,
    );
    return [Number(added), Number(boots), Number(failures), Number(late)];
  }
}

/**
 * What the set holds for a person or a session: a hash, so no user id or session id is written to Redis as it is
 * (not salted: someone who reads Redis and guesses an id can confirm it).
 */
function member(who: string): string {
  return who === '' ? '' : createHash('sha256').update(who).digest('base64url').slice(0, 22);
}
