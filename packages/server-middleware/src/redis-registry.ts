/**
 * The registry in Redis, for several servers (docs/rollouts.md, "Stores").
 *
 * | key                  | what                                                   |
 * | -------------------- | ------------------------------------------------------ |
 * | `<prefix>:registry`  | the registry JSON, the same document as releases.json  |
 * | `<prefix>:audit`     | a list of audit entries (JSON), newest first, capped   |
 * | `<prefix>:changes`   | pub/sub channel: the new revision after every change   |
 *
 * A change is `WATCH registry audit` → `GET` → check the revision the writer
 * based its decision on → check that the audit key is a list (or absent) →
 * `MULTI SET + LPUSH audit + PUBLISH` → `EXEC`. When another writer got in
 * between, `EXEC` answers null and the change is refused as a conflict: one of
 * two simultaneous promotes wins, the other is told, nothing is lost. Redis
 * does not undo the rest of a `MULTI` when one of its commands fails, so what
 * could fail is checked before it (the audit key's type), and a failure after
 * the `SET` succeeded is reported as a warning on a change that stands, never
 * as "nothing was changed". Release files stay on disk, in a folder every
 * server can read.
 *
 * ioredis is loaded on first use, so a server on the file store never loads it.
 */
import type { Redis, Redis as RedisClient } from 'ioredis';
import type { AuditEntry, ChangeOutcome } from './registry-changes.js';
import { validateRegistry, type Registry, type RegistryRead } from './registry.js';
import {
  DEFAULT_REDIS_PREFIX,
  REDIS_PREFIX_PATTERN,
  connectGuarded,
  guardDatabase,
  redactRedisUrl,
  type RedisDatabaseError,
} from './redis-location.js';

export { DEFAULT_REDIS_PREFIX, REDIS_PREFIX_PATTERN } from './redis-location.js';

/** Audit entries kept in Redis. */
export const AUDIT_KEPT = 10_000;
/** Thrown by {@link RedisRegistry.update} when the registry changed since the writer read it. */
export class RegistryConflictError extends Error {
  override readonly name = 'RegistryConflictError';
}

/**
 * Thrown by {@link RedisRegistry.update} when it refuses a change because the
 * store is in a state the change cannot be made or recorded in (an invalid
 * registry, an audit key of the wrong type). Nothing was written; the message
 * says what to fix. Recognise it by its `name` across copies of the package.
 */
export class RegistryRefusedError extends Error {
  override readonly name = 'RegistryRefusedError';
}

/**
 * Thrown by {@link RedisRegistry.update} when Redis cannot be reached. The
 * message names the store, why (ioredis's own words, "Stream isn't writeable
 * and enableOfflineQueue options is false", name neither) and whether the
 * change was made: not when Redis was away before the commit (`unchanged`), and
 * unknown when the connection failed after the commit was sent. `reason` is the
 * why alone. Recognise it by its `name` across copies of the package.
 */
export class RedisUnreachableError extends Error {
  override readonly name = 'RedisUnreachableError';
  readonly reason: string;
  readonly unchanged: boolean;

  constructor(location: string, reason: string, unchanged: boolean, options?: { cause?: unknown }) {
    super(
      unchanged
        ? `Redis ${location} cannot be reached (${reason}); nothing was changed: check that Redis runs and the URL is right, then try again`
        : `Redis ${location} stopped answering while the change was committed (${reason}); it may or may not have been made: read the registry again once Redis answers`,
      options,
    );
    this.reason = reason;
    this.unchanged = unchanged;
  }
}

/** Why a command failed while the client reconnects, before any connection attempt failed with a reason of its own. */
export const RECONNECTING = 'not connected; reconnecting';

/** ioredis's answer to a command sent while it is not connected (no offline queue). */
const OFFLINE = "Stream isn't writeable and enableOfflineQueue options is false";

/** What {@link RedisRegistry.update} did. */
export interface RedisUpdateResult {
  /**
   * The change as applied. When `warning` is set, its `summary` ends with the
   * warning too, for callers that pass only the summary on (the server's
   * `halt()` and status-page actions).
   */
  readonly outcome: ChangeOutcome;
  /** The registry's revision afterwards (unchanged when nothing changed). */
  readonly revision: number;
  /**
   * Set when the registry was written but a later part of the transaction
   * failed (the audit entry, the announcement to the servers): the change
   * stands, and this says what is missing: `changed (revision 5); the audit
   * entry could not be written: …`.
   */
  readonly warning?: string;
}

export interface RedisRegistryOptions {
  /** `redis://[user:password@]host:port[/db]` */
  readonly url: string;
  /** @default 'daylight' */
  readonly prefix?: string;
  /**
   * `client`: give up at once when Redis cannot be reached (the CLI).
   * `server`: keep reconnecting in the background, never queue commands.
   * @default 'client'
   */
  readonly mode?: 'client' | 'server';
  /** @default 2000 */
  readonly connectTimeoutMs?: number;
}

/** A registry read from Redis: `missing` when the key does not exist yet. */
/** A registry read from Redis; a valid one with the text it was read from (what the server's poll compares). */
export type RedisRead =
  | Exclude<RegistryRead, { ok: true }>
  | (Extract<RegistryRead, { ok: true }> & { readonly text: string })
  | { readonly ok: false; readonly error: string; readonly missing: true };

async function loadRedis(): Promise<typeof RedisClient> {
  const module = await import('ioredis');
  return module.Redis;
}

export class RedisRegistry {
  /** {@link REDIS_PREFIX_PATTERN}: the key prefixes Daylight accepts. */
  static readonly PREFIX_PATTERN: RegExp = REDIS_PREFIX_PATTERN;

  readonly url: string;
  readonly prefix: string;
  readonly #mode: 'client' | 'server';
  readonly #connectTimeoutMs: number;
  #client: Promise<Redis> | undefined;
  #subscriber: Redis | undefined;
  #closed = false;
  /** Set when Redis refused the URL's database: every command fails with it (see guardDatabase). */
  #refused: RedisDatabaseError | undefined;
  /** Why the last connection attempt failed, for messages while the server's client reconnects. */
  #lastConnectionError: Error | undefined;
  /** The changes of this process, one after the other. */
  #updates: Promise<unknown> = Promise.resolve();

  /** @throws {TypeError} for a prefix that does not match {@link REDIS_PREFIX_PATTERN}. */
  constructor(options: RedisRegistryOptions) {
    const prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
    if (!REDIS_PREFIX_PATTERN.test(prefix)) {
      throw new TypeError(
        `RedisRegistry: prefix must be 1 to 64 letters, digits, "_", ":", "." or "-", such as "${DEFAULT_REDIS_PREFIX}"; got ${JSON.stringify(prefix)}`,
      );
    }
    this.url = options.url;
    this.prefix = prefix;
    this.#mode = options.mode ?? 'client';
    this.#connectTimeoutMs = options.connectTimeoutMs ?? 2000;
  }

  get registryKey(): string {
    return `${this.prefix}:registry`;
  }
  get auditKey(): string {
    return `${this.prefix}:audit`;
  }
  get channel(): string {
    return `${this.prefix}:changes`;
  }

  /** The URL without its password, for messages. */
  get location(): string {
    return redactRedisUrl(this.url);
  }

  // Inferred, not annotated: RedisOptions' optional members do not take exactOptionalPropertyTypes.
  #options() {
    const server = this.#mode === 'server';
    return {
      lazyConnect: true,
      connectTimeout: this.#connectTimeoutMs,
      enableOfflineQueue: false,
      maxRetriesPerRequest: server ? 1 : 0,
      // A connection that hangs (a half-open socket after a failover) fails a command instead of blocking it.
      commandTimeout: this.#connectTimeoutMs,
      // The server keeps trying every half second at most; the CLI fails at once.
      retryStrategy: server ? (times: number) => Math.min(50 * times, 500) : () => null,
    };
  }

  /**
   * The connection, opened on first use. In `client` mode it rejects when
   * Redis cannot be reached; in `server` mode it resolves at once and keeps
   * reconnecting in the background, while commands fail fast (no queue).
   */
  client(): Promise<Redis> {
    if (this.#closed) return Promise.reject(new Error('the Redis registry is closed'));
    if (this.#refused !== undefined) return Promise.reject(this.#refused);
    this.#client ??= (async () => {
      const RedisClass = await loadRedis();
      const redis = new RedisClass(this.url, this.#options());
      // Failures reach the callers of each command; the last one says why while the server's client reconnects.
      redis.on('error', (error: Error) => (this.#lastConnectionError = error));
      redis.on('ready', () => (this.#lastConnectionError = undefined));
      const onRefused = (error: RedisDatabaseError): void => {
        this.#refused = error;
      };
      if (this.#mode === 'server') {
        guardDatabase(redis, this.url, onRefused);
        // Wait for the first connection (at most connectTimeoutMs), so the server's first read finds Redis;
        // after that, commands fail fast while ioredis reconnects in the background.
        redis.connect().catch(() => undefined);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#connectTimeoutMs);
          const done = (): void => {
            clearTimeout(timer);
            resolve();
          };
          redis.once('ready', done);
          redis.once('end', done); // closed for good (a refused database): no use waiting
        });
        if (this.#refused !== undefined) throw this.#refused;
        return redis;
      }
      try {
        await connectGuarded(redis, this.url, { onRefused });
      } catch (error) {
        // Given up on (the CLI fails at once): the next command tries again.
        this.#client = undefined;
        throw error;
      }
      return redis;
    })();
    return this.#client;
  }

  /**
   * Why a command failed, in words: while the server's client reconnects, a command fails unsent with ioredis's
   * "Stream isn't writeable…", which names no cause; the last connection attempt's error does
   * (`connect ECONNREFUSED 127.0.0.1:6379`), the same at every retry, so a message built on it is said once.
   */
  reasonOf(error: unknown): string {
    const message = error instanceof Error ? error.message : String(error);
    return message === OFFLINE ? (this.#lastConnectionError?.message ?? RECONNECTING) : message;
  }

  /** Runs Redis commands; their failure, when the database was refused, is that refusal. */
  async #command<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await work(await this.client());
    } catch (error) {
      throw this.#refused ?? error;
    }
  }

  /**
   * A command of a change that failed: Redis's own answers (a `ReplyError`)
   * as they are, a connection that is down as {@link RedisUnreachableError},
   * so that the status page and `halt()` say what happened, not ioredis.
   */
  #unreachable(error: unknown, committing: boolean): unknown {
    if (this.#refused !== undefined) return this.#refused;
    if (!(error instanceof Error) || error.name === 'ReplyError') return error;
    // While the server's client reconnects, a command fails with ioredis's OFFLINE, unsent; the attempt's error
    // says why. Any other failure of the commit (a timeout, a connection closed) may come after Redis ran it.
    const offline = error.message === OFFLINE;
    const reason = this.reasonOf(error);
    return new RedisUnreachableError(this.location, reason, offline || !committing, { cause: error });
  }

  /** Reads and validates the registry. Rejects when Redis cannot be reached. */
  async read(): Promise<RedisRead> {
    const text = await this.#command((redis) => redis.get(this.registryKey));
    if (text === null) return { ok: false, error: `${this.registryKey} does not exist`, missing: true };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return { ok: false, error: `${this.registryKey} is not valid JSON: ${(error as Error).message}` };
    }
    const check = validateRegistry(parsed);
    return check.ok ? { ...check, text } : check;
  }

  /**
   * Applies a change atomically.
   * @param basedOn the revision the caller decided on (`null`: the registry did not exist); omit to apply to whatever is there
   * @param apply computes the change from the registry read inside the transaction (`undefined` when none exists yet)
   * @returns the change and the new revision; `warning` when the registry was written but its audit entry (or the announcement) was not
   * @throws {RegistryConflictError} when another writer changed the registry (or its audit list) in between
   * @throws {RegistryRefusedError} when the registry is invalid or the audit key is not a list; nothing was written
   */
  update(
    apply: (registry: Registry | undefined) => ChangeOutcome | Promise<ChangeOutcome>,
    audit: { readonly actor: string; readonly action: string },
    basedOn?: number | null,
  ): Promise<RedisUpdateResult> {
    // One at a time: WATCH belongs to the connection, and the first EXEC on it
    // ends every watch, so a second change in flight on the same connection
    // would commit unguarded over the first (a lost halt). Other processes
    // are kept apart by WATCH itself.
    const run = this.#updates.then(() => this.#update(apply, audit, basedOn));
    this.#updates = run.catch(() => undefined);
    return run;
  }

  async #update(
    apply: (registry: Registry | undefined) => ChangeOutcome | Promise<ChangeOutcome>,
    audit: { readonly actor: string; readonly action: string },
    basedOn?: number | null,
  ): Promise<RedisUpdateResult> {
    // Redis's commands are sent through `send`, which names a failed connection for what it is; what `apply`
    // throws (a refused change) passes as it is.
    const send = <T>(command: Promise<T>, committing = false): Promise<T> =>
      command.catch((error: unknown) => {
        throw this.#unreachable(error, committing);
      });
    const redis = await send(this.client());
    // The audit key is watched too: its type is checked below, and must still hold at EXEC.
    await send(redis.watch(this.registryKey, this.auditKey));
    try {
      const text = await send(redis.get(this.registryKey));
      let current: Registry | undefined;
      if (text !== null) {
        const check = validateRegistry(JSON.parse(text));
        if (!check.ok) {
          throw new RegistryRefusedError(
            `the registry in ${this.location} (${this.registryKey}) is invalid: ${check.error}; nothing was changed`,
          );
        }
        current = check.registry;
      }
      const revision = current === undefined ? null : (current.revision ?? 0);
      if (basedOn !== undefined && basedOn !== revision) {
        throw new RegistryConflictError(
          `the registry in ${this.location} changed while this command ran (revision ${String(revision)}, expected ${String(basedOn)})`,
        );
      }
      // Redis would run the SET and refuse only the LPUSH, committing a change
      // it cannot record; so refuse before anything (apply may install files) is done.
      const auditType = await send(redis.type(this.auditKey));
      if (auditType !== 'none' && auditType !== 'list') {
        throw new RegistryRefusedError(
          `${this.auditKey} in ${this.location} holds a ${auditType}, not the list of audit entries Daylight keeps there, so the change could not be recorded; nothing was changed. ` +
            `Move that value away (RENAME ${this.auditKey} <another key>) or delete it (DEL ${this.auditKey}), or give Daylight a prefix of its own, then try again`,
        );
      }
      const outcome = await apply(current);
      if (!outcome.changed) {
        await send(redis.unwatch());
        return { outcome, revision: revision ?? 0 };
      }
      const nextRevision = (revision ?? 0) + 1;
      const next: Registry = { ...outcome.registry, revision: nextRevision };
      const check = validateRegistry(next);
      if (!check.ok) throw new TypeError(`refusing to write an invalid registry: ${check.error}`);
      const entry: AuditEntry = {
        revision: nextRevision,
        at: new Date().toISOString(),
        actor: audit.actor,
        action: audit.action,
        summary: outcome.summary,
      };
      const result = await send(
        redis
          .multi()
          .set(this.registryKey, JSON.stringify(next))
          .lpush(this.auditKey, JSON.stringify(entry))
          .ltrim(this.auditKey, 0, AUDIT_KEPT - 1)
          .publish(this.channel, String(nextRevision))
          .exec(),
        true,
      );
      if (result === null) {
        throw new RegistryConflictError(
          `the registry in ${this.location} was changed by another command at the same moment`,
        );
      }
      // EXEC ran every command; each answers on its own, and one that failed did not undo the others.
      const failure = (index: number): Error | undefined => result[index]?.[0] ?? undefined;
      const [set, push, trim, publish] = [failure(0), failure(1), failure(2), failure(3)];
      if (set !== undefined) {
        const recorded =
          push === undefined ? `; ${this.auditKey} has an entry for revision ${nextRevision} all the same` : '';
        throw new RegistryRefusedError(
          `Redis refused to write the registry ${this.registryKey} in ${this.location} (${set.message}); the registry was not changed${recorded}`,
        );
      }
      const problems: string[] = [];
      if (push !== undefined) {
        problems.push(
          `the audit entry could not be written: LPUSH ${this.auditKey} failed (${push.message}), so the audit log will not list "${outcome.summary}"; make ${this.auditKey} a list Daylight can write so later changes are recorded`,
        );
      } else if (trim !== undefined) {
        problems.push(`the audit list ${this.auditKey} could not be capped at ${AUDIT_KEPT} entries (${trim.message})`);
      }
      if (publish !== undefined) {
        problems.push(
          `the servers were not told at once: PUBLISH ${this.channel} failed (${publish.message}); they pick the change up within a second by polling`,
        );
      }
      if (problems.length === 0) return { outcome: { ...outcome, registry: next }, revision: nextRevision };
      const warning = `changed (revision ${nextRevision}); ${problems.join('; ')}`;
      return {
        outcome: { ...outcome, registry: next, summary: `${outcome.summary} (warning: ${warning})` },
        revision: nextRevision,
        warning,
      };
    } catch (error) {
      await redis.unwatch().catch(() => undefined);
      throw error;
    }
  }

  /** The last `limit` audit entries, oldest first. */
  async history(limit = 50): Promise<AuditEntry[]> {
    const lines = await this.#command((redis) => redis.lrange(this.auditKey, 0, Math.max(0, limit - 1)));
    const entries: AuditEntry[] = [];
    for (const line of lines) {
      try {
        entries.push(JSON.parse(line) as AuditEntry);
      } catch {
        // skip
      }
    }
    return entries.reverse();
  }

  /**
   * Calls `onChange` whenever a change is published, and whenever the
   * subscription (re)connects, since changes may have been missed while it
   * was down. Keeps reconnecting in the background.
   */
  async subscribe(onChange: () => void): Promise<void> {
    const RedisClass = await loadRedis();
    const subscriber = new RedisClass(this.url, {
      ...this.#options(),
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      // The SUBSCRIBE queued before the first connection waits for it, however long.
      commandTimeout: undefined,
      retryStrategy: (times: number) => Math.min(50 * times, 500),
    });
    this.#subscriber = subscriber;
    subscriber.on('error', () => undefined);
    // Pub/sub ignores databases, but a refused one must not look like a subscription that works.
    guardDatabase(subscriber, this.url, (error) => (this.#refused ??= error));
    subscriber.on('message', () => onChange());
    subscriber.on('ready', () => onChange());
    // ioredis re-subscribes by itself after a reconnect.
    subscriber.subscribe(this.channel).catch(() => undefined);
    subscriber.connect().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscriber?.disconnect();
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) {
      const redis = await client.catch(() => undefined);
      redis?.disconnect();
    }
  }
}
