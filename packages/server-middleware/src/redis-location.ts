/**
 * Where a Redis store is, read the same way by the server's `redis` option
 * and the CLI's `--store`: `redis://[user:password@]host:port[/db][?prefix=name]`.
 * Both point at the same keys with the same string, or both refuse it with
 * the same words — a staging server must never read production's registry
 * because it skipped a part of the URL that the CLI honoured.
 *
 * And the one thing about the database that only Redis knows: whether it has
 * it. ioredis selects the URL's database while it connects, and when Redis
 * refuses (`ERR DB index is out of range`) it emits an error and carries on in
 * database 0. {@link guardDatabase} ends such a connection instead.
 */
import type { Redis } from 'ioredis';

/** The default key prefix. */
export const DEFAULT_REDIS_PREFIX = 'daylight';
/**
 * The key prefixes Daylight accepts: 1 to 64 letters, digits, `_`, `:`, `.`
 * or `-` (the server's `redis.prefix`, the CLI's `redis://…?prefix=`).
 * Also reachable as `RedisRegistry.PREFIX_PATTERN`.
 */
export const REDIS_PREFIX_PATTERN = /^[\w:.-]{1,64}$/;

/** A Redis store location, checked. */
export interface RedisLocation {
  /** The URL to connect to: the one given, without `prefix` (`family` is ioredis's, and stays). */
  readonly url: string;
  /** The key prefix: `?prefix=` or the one given beside the URL, else `daylight`. */
  readonly prefix: string;
  /** The database, from the URL's path (`/3`); 0 without one. */
  readonly database: number;
}

/**
 * A Redis location that cannot be used as given. Its message starts with the
 * URL (its password hidden), so that the caller puts its own name before it:
 * `--store redis://…: …`, `createDaylight: redis redis://…: …`.
 */
export class RedisLocationError extends TypeError {
  override readonly name = 'RedisLocationError';
}

/**
 * The query parameters a Redis store URL takes: Daylight's `prefix`, and ioredis's `family` (0, 4 or 6: the IP
 * family to connect with; `?family=0` is what some hosts' private IPv6 networks ask for), passed on to ioredis.
 */
const PARAMETERS: ReadonlySet<string> = new Set(['prefix', 'family']);
const FAMILIES: ReadonlySet<string> = new Set(['0', '4', '6']);
const EXAMPLE = 'redis://host:6379/0';

/** The location as messages show it: never with its password. */
export function redactRedisUrl(location: string): string {
  try {
    const url = new URL(location);
    if (url.password !== '') url.password = '***';
    return url.href;
  } catch {
    // Not a URL: everything before the last `@` may be credentials (a password can hold `/`, `:` or `@`).
    const at = location.lastIndexOf('@');
    if (at === -1) return location;
    const scheme = /^[a-z][a-z\d+.-]*:\/\//i.exec(location)?.[0] ?? '';
    return `${scheme}***${location.slice(at)}`;
  }
}

/**
 * Reads a `redis://` (or `rediss://`) store location.
 *
 * Nothing in it is dropped: a parameter other than `prefix` (a typo such as
 * `?prefx=staging` would otherwise leave the default prefix, perhaps
 * production's), a prefix the server would refuse, or a database that is not
 * a non-negative integer (ioredis would take `/abc` for database 0) is refused.
 *
 * @param prefix a prefix given beside the URL (the server's `{ url, prefix }`):
 *   the same as the URL's `?prefix=`, or the URL has none.
 * @throws {RedisLocationError} naming what is wrong and the fix.
 */
export function parseRedisLocation(location: string, prefix?: string): RedisLocation {
  const shown = redactRedisUrl(location);
  // The text, not the parsed URL's protocol: `redis:/0` parses with no host, and `REDIS://` as `redis:`.
  if (!/^rediss?:\/\//.test(location)) {
    throw new RedisLocationError(`${shown} is not a redis:// or rediss:// URL; write a Redis store as ${EXAMPLE}`);
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new RedisLocationError(
      `${shown} is not a valid URL; write a Redis store as ${EXAMPLE} (add ?prefix=name for keys other than ${DEFAULT_REDIS_PREFIX}:*)`,
    );
  }
  checkParameters(url, shown);
  const database = databaseOf(url, shown);
  const resolved = prefixOf(url, shown, prefix);
  url.searchParams.delete('prefix');
  return { url: url.href, prefix: resolved, database };
}

function checkParameters(url: URL, shown: string): void {
  const unknown = [...new Set(url.searchParams.keys())].filter((name) => !PARAMETERS.has(name));
  if (unknown.length > 0) {
    const listed = unknown.map((name) => JSON.stringify(name)).join(', ');
    throw new RedisLocationError(
      `${shown}: unknown parameter ${listed}; a redis:// store takes prefix (and ioredis's family), such as ${EXAMPLE}?prefix=staging`,
    );
  }
  const families = url.searchParams.getAll('family');
  if (families.length > 1 || (families.length === 1 && !FAMILIES.has(families[0]!))) {
    throw new RedisLocationError(`${shown}: family is the IP family to connect with, once: 0, 4 or 6`);
  }
}

/** `/3` → 3; no path → 0. Anything else ioredis would read as database 0 (or 1 for `/1.5`), so it is refused. */
function databaseOf(url: URL, shown: string): number {
  const path = url.pathname;
  if (path === '' || path === '/') return 0;
  const text = path.slice(1);
  // Nine digits at most: any real index, and never a number JavaScript would round.
  if (!/^\d{1,9}$/.test(text)) {
    throw new RedisLocationError(
      `${shown}: the database ${JSON.stringify(text)} is not an index such as 0 or 3; write it after the port, such as ${EXAMPLE} (a Redis has databases 0 to 15 unless its "databases" setting says otherwise)`,
    );
  }
  const database = Number(text);
  return database;
}

function prefixOf(url: URL, shown: string, given: string | undefined): string {
  const prefixes = url.searchParams.getAll('prefix');
  if (prefixes.length > 1) {
    throw new RedisLocationError(`${shown}: prefix is given ${prefixes.length} times; give it once`);
  }
  const inUrl = prefixes[0];
  // Two prefixes that disagree have no right answer; one of them would be somebody else's keys.
  if (inUrl !== undefined && given !== undefined && inUrl !== given) {
    throw new RedisLocationError(
      `${shown}: the URL says prefix ${JSON.stringify(inUrl)} and the prefix option ${JSON.stringify(given)}; give the prefix in one place`,
    );
  }
  const prefix = inUrl ?? given ?? DEFAULT_REDIS_PREFIX;
  if (!REDIS_PREFIX_PATTERN.test(prefix)) {
    throw new RedisLocationError(
      `${shown}: prefix ${JSON.stringify(prefix)} is not a key prefix the server accepts; use 1 to 64 letters, digits, "_", ":", "." or "-", such as ?prefix=staging, or leave it out for ${DEFAULT_REDIS_PREFIX}`,
    );
  }
  return prefix;
}

/**
 * Redis does not have the URL's database (`ERR DB index is out of range`:
 * its `databases` setting is lower). Nothing was read or written; the
 * connection is closed for good. Recognise it by its `name` across copies of the package.
 */
export class RedisDatabaseError extends Error {
  override readonly name = 'RedisDatabaseError';
}

/**
 * Closes `redis` for good when Redis refuses its database, and tells `onRefused` why.
 *
 * ioredis sends `SELECT <db>` while it connects and, when Redis refuses it,
 * only emits the error and goes on to `ready` in database 0, where reads
 * would serve another database's registry and writes overwrite it. The
 * refusal arrives before ioredis sends any command of ours (nothing else is
 * written during its handshake), so closing the connection here means
 * nothing reaches database 0. It stays closed — reconnecting would only be
 * refused again — and its commands fail; the caller throws `onRefused`'s
 * error in their place.
 * @param location the URL, for the message
 */
export function guardDatabase(redis: Redis, location: string, onRefused: (error: RedisDatabaseError) => void): void {
  redis.on('error', (error: Error & { command?: { name?: string; args?: readonly (string | number)[] } }) => {
    if (error.command?.name !== 'select') return;
    redis.disconnect();
    const database = String(error.command.args?.[0] ?? '?');
    onRefused(
      new RedisDatabaseError(
        `Redis at ${redactRedisUrl(location)} refused database ${database} (${error.message}); nothing was read or written there, and database 0 is not used in its place: ` +
          `give the URL a database Redis has (0 to 15 unless its "databases" setting says otherwise), or raise that setting`,
        { cause: error },
      ),
    );
  });
}

/** ioredis's message for a connection that ended before it was ready. */
const CONNECTION_CLOSED = 'Connection is closed.';

/**
 * Connects `redis` (made with `lazyConnect`) behind {@link guardDatabase}, for a caller that gives up when the
 * first connection fails. The client is closed then (ioredis would otherwise keep reconnecting in the background,
 * one more client for every failed attempt), and the failure is Redis's refusal of the database when that is what
 * ended it, else the connection's own error (`connect ECONNREFUSED …`): ioredis only says that the connection closed.
 * @param options.onRefused told of a refusal as well, this one or one at a later reconnect
 * @param options.attempt wraps the connection attempt (a time limit)
 */
export async function connectGuarded(
  redis: Redis,
  location: string,
  options: {
    readonly onRefused?: (error: RedisDatabaseError) => void;
    readonly attempt?: (connecting: Promise<void>) => Promise<unknown>;
  } = {},
): Promise<void> {
  let refused: RedisDatabaseError | undefined;
  guardDatabase(redis, location, (error) => {
    refused = error;
    options.onRefused?.(error);
  });
  // The socket's error (`connect ECONNREFUSED 127.0.0.1:6379`, `getaddrinfo ENOTFOUND redis`) comes as an 'error'
  // event; the promise of connect() then rejects with ioredis's "Connection is closed.", which says no cause.
  let failure: Error | undefined;
  const onError = (error: Error): void => {
    failure = error;
  };
  redis.on('error', onError);
  try {
    await (options.attempt?.(redis.connect()) ?? redis.connect());
  } catch (error) {
    redis.disconnect();
    const closed = error instanceof Error && error.message === CONNECTION_CLOSED;
    throw refused ?? (closed && failure !== undefined ? failure : error);
  } finally {
    redis.off('error', onError);
  }
}
