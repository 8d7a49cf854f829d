/**
 * The registry in Redis, for several servers (docs/rollouts.md, "Stores").
 *
 * | key                  | what                                                   |
 * | -------------------- | ------------------------------------------------------ |
 * | `<prefix>:registry`  | the registry JSON, the same document as releases.json  |
 * | `<prefix>:audit`     | a list of audit entries (JSON), newest first, capped   |
 * | `<prefix>:changes`   | pub/sub channel: the new revision after every change   |
 *
 * A change is `WATCH registry` → `GET` → check the revision the writer based
 * its decision on → `MULTI SET + LPUSH audit + PUBLISH` → `EXEC`. When another
 * writer got in between, `EXEC` answers null and the change is refused as a
 * conflict: one of two simultaneous promotes wins, the other is told, nothing
 * is lost. Release files stay on disk, in a folder every server can read.
 *
 * ioredis is loaded on first use, so a server on the file store never loads it.
 */
import type { Redis, Redis as RedisClient } from 'ioredis';
import type { AuditEntry, ChangeOutcome } from './registry-changes.js';
import { validateRegistry, type Registry, type RegistryRead } from './registry.js';

/** The default key prefix. */
export const DEFAULT_REDIS_PREFIX = 'daylight';
/** Audit entries kept in Redis. */
export const AUDIT_KEPT = 10_000;

/** Thrown by {@link RedisRegistry.update} when the registry changed since the writer read it. */
export class RegistryConflictError extends Error {
  override readonly name = 'RegistryConflictError';
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
export type RedisRead = RegistryRead | { readonly ok: false; readonly error: string; readonly missing: true };

async function loadRedis(): Promise<typeof RedisClient> {
  const module = await import('ioredis');
  return module.Redis;
}

export class RedisRegistry {
  readonly url: string;
  readonly prefix: string;
  readonly #mode: 'client' | 'server';
  readonly #connectTimeoutMs: number;
  #client: Promise<Redis> | undefined;
  #subscriber: Redis | undefined;
  #closed = false;
  /** The changes of this process, one after the other. */
  #updates: Promise<unknown> = Promise.resolve();

  constructor(options: RedisRegistryOptions) {
    this.url = options.url;
    this.prefix = options.prefix ?? DEFAULT_REDIS_PREFIX;
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
    try {
      const url = new URL(this.url);
      if (url.password !== '') url.password = '***';
      return url.href;
    } catch {
      return this.url;
    }
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
    this.#client ??= (async () => {
      const RedisClass = await loadRedis();
      const redis = new RedisClass(this.url, this.#options());
      redis.on('error', () => undefined); // failures reach the callers of each command
      if (this.#mode === 'server') {
        // Wait for the first connection (at most connectTimeoutMs), so the server's first read finds Redis;
        // after that, commands fail fast while ioredis reconnects in the background.
        redis.connect().catch(() => undefined);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.#connectTimeoutMs);
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        return redis;
      }
      try {
        await redis.connect();
      } catch (error) {
        redis.disconnect();
        this.#client = undefined;
        throw error;
      }
      return redis;
    })();
    return this.#client;
  }

  /** Reads and validates the registry. Rejects when Redis cannot be reached. */
  async read(): Promise<RedisRead> {
    const redis = await this.client();
    const text = await redis.get(this.registryKey);
    if (text === null) return { ok: false, error: `${this.registryKey} does not exist`, missing: true };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return { ok: false, error: `${this.registryKey} is not valid JSON: ${(error as Error).message}` };
    }
    return validateRegistry(parsed);
  }

  /**
   * Applies a change atomically.
   * @param basedOn the revision the caller decided on (`null`: the registry did not exist); omit to apply to whatever is there
   * @param apply computes the change from the registry read inside the transaction (`undefined` when none exists yet)
   * @throws {RegistryConflictError} when another writer changed the registry in between
   */
  update(
    apply: (registry: Registry | undefined) => ChangeOutcome | Promise<ChangeOutcome>,
    audit: { readonly actor: string; readonly action: string },
    basedOn?: number | null,
  ): Promise<{ outcome: ChangeOutcome; revision: number }> {
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
  ): Promise<{ outcome: ChangeOutcome; revision: number }> {
    const redis = await this.client();
    await redis.watch(this.registryKey);
    try {
      const text = await redis.get(this.registryKey);
      let current: Registry | undefined;
      if (text !== null) {
        const check = validateRegistry(JSON.parse(text));
        if (!check.ok)
          throw new Error(`the registry in ${this.location} (${this.registryKey}) is invalid: ${check.error}`);
        current = check.registry;
      }
      const revision = current === undefined ? null : (current.revision ?? 0);
      if (basedOn !== undefined && basedOn !== revision) {
        throw new RegistryConflictError(
          `the registry in ${this.location} changed while this command ran (revision ${String(revision)}, expected ${String(basedOn)})`,
        );
      }
      const outcome = await apply(current);
      if (!outcome.changed) {
        await redis.unwatch();
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
      const result = await redis
        .multi()
        .set(this.registryKey, JSON.stringify(next))
        .lpush(this.auditKey, JSON.stringify(entry))
        .ltrim(this.auditKey, 0, AUDIT_KEPT - 1)
        .publish(this.channel, String(nextRevision))
        .exec();
      if (result === null) {
        throw new RegistryConflictError(
          `the registry in ${this.location} was changed by another command at the same moment`,
        );
      }
      const failed = result.find(([error]) => error !== null);
      if (failed !== undefined) throw failed[0]!;
      return { outcome: { ...outcome, registry: next }, revision: nextRevision };
    } catch (error) {
      await redis.unwatch().catch(() => undefined);
      throw error;
    }
  }

  /** The last `limit` audit entries, oldest first. */
  async history(limit = 50): Promise<AuditEntry[]> {
    const redis = await this.client();
    const lines = await redis.lrange(this.auditKey, 0, Math.max(0, limit - 1));
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
