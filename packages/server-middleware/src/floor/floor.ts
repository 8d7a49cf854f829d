/**
 * The compatibility floor on the API (docs/migrations.md, "The floor"): a
 * request from a client outside the versions the API serves is refused with
 * an RFC 9457 problem document, before the app's handlers run.
 *
 * Status 409 Conflict: the client's version conflicts with the API's
 * current contract. (426 Upgrade Required would be the obvious name, but
 * RFC 9110 ties it to a protocol switch and requires an `Upgrade` header
 * naming one; proxies and HTTP clients may act on it.)
 *
 * Rules, in order:
 * 0. a CORS preflight (`OPTIONS`) passes: it never carries the header;
 * 1. a request without a (well-formed) `Daylight-Client` header passes,
 *    unless `withoutClient: 'refuse'` (other API consumers are unaffected by default);
 * 2. a client below the registry's `min` (the floor `daylight floor` sets) is
 *    refused as `client-too-old`;
 * 3. a client outside the range for the route (the longest `routes` prefix,
 *    else `range`) is refused: `client-too-old` below it, `client-unsupported` above it.
 *
 * A client newer than its cohort's release (after a rollback) is served as
 * long as it satisfies 2 and 3; its stamp names the older release, which it
 * follows like any change.
 */
import { CLIENT_HEADER, type ClientStamp, type ReleaseStamp } from '@daylight/protocol';
import semver from 'semver';
import { describeArgument, isDaylightServer, isRequestLike, suggest } from '../options.js';
import { RequestState } from '../per-request.js';
import type { DaylightResponse } from '../types.js';

/** The status of every refusal. */
export const FLOOR_STATUS = 409;
export const PROBLEM_CLIENT_TOO_OLD = 'https://daylight.dev/problems/client-too-old';
export const PROBLEM_CLIENT_UNSUPPORTED = 'https://daylight.dev/problems/client-unsupported';
export const PROBLEM_CLIENT_REQUIRED = 'https://daylight.dev/problems/client-required';

export interface FloorOptions {
  /**
   * A semver range every client must satisfy, besides the registry's `min`.
   * Pre-releases are included (`>=1.3.0` accepts `1.4.0-rc.1`).
   * @default no range: only `min`
   * @example range: '>=1.3.0 <3'
   */
  readonly range?: string;
  /**
   * Ranges per path prefix, matched whatever the path's case (as routers match paths); the longest matching prefix
   * wins over `range`.
   * @example routes: { '/api/v2/': '>=2.0.0' }
   */
  readonly routes?: Readonly<Record<string, string>>;
  /**
   * Refuse clients below the registry's `min`.
   * @default true
   */
  readonly useMin?: boolean;
  /**
   * Requests without a `Daylight-Client` header: `allow` them (other API
   * consumers, scripts) or `refuse` them (`client-required`).
   * @default 'allow'
   */
  readonly withoutClient?: 'allow' | 'refuse';
}

/** The body of a refusal (`application/problem+json`). */
export interface FloorProblem {
  readonly type: string;
  readonly title: string;
  readonly status: typeof FLOOR_STATUS;
  readonly detail: string;
  /** The path that was refused. */
  readonly instance: string;
  /** The client's version, when it sent one. */
  readonly version?: string;
  /** The versions this route serves, as a semver range. */
  readonly required: string;
  /** The release this client should switch to (its stamp), when one is promoted. */
  readonly release?: string;
}

/** What the check reads from Daylight's request state. */
export interface FloorInput {
  readonly client?: ClientStamp;
  readonly release?: ReleaseStamp | undefined;
}

const CACHE_SIZE = 10_000;

const KNOWN = ['range', 'routes', 'useMin', 'withoutClient'] as const;

/** Who validates: the adapter's name and how it is mounted, for the messages. */
export interface FloorCaller {
  readonly name: string;
  readonly mount: string;
}

const DIRECT: FloorCaller = { name: 'daylight floor', mount: "createFloor({ range: '>=1.3.0' })" };

/** The options as given, checked for their shape (each value is checked where it is read). */
function checkOptions(options: unknown, { name, mount }: FloorCaller): FloorOptions {
  if (options === undefined) return {};
  if (isRequestLike(options)) {
    throw new TypeError(`${name} was mounted without being called: write ${mount}`);
  }
  if (isDaylightServer(options)) {
    throw new TypeError(
      `${name}(options) takes the floor's options, not the Daylight server (mount the main middleware before it): write ${mount}`,
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(
      `${name}(options): options must be an object such as { range: '>=1.3.0' }, got ${describeArgument(options)}`,
    );
  }
  for (const key of Object.keys(options)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      throw new TypeError(`${name}: unknown option "${key}"${suggest(key, KNOWN)}`);
    }
  }
  const { routes, useMin } = options as Record<string, unknown>;
  if (routes !== undefined && (typeof routes !== 'object' || routes === null || Array.isArray(routes))) {
    throw new TypeError(
      `${name}: routes must be an object of path prefixes and ranges, such as { '/api/v2/': '>=2.0.0' }, got ${describeArgument(routes)}`,
    );
  }
  if (useMin !== undefined && typeof useMin !== 'boolean') {
    throw new TypeError(`${name}: useMin must be true or false, got ${describeArgument(useMin)}`);
  }
  return options;
}

function checkRange(range: unknown, where: string, name: string): string {
  if (typeof range !== 'string' || semver.validRange(range) === null) {
    throw new TypeError(`${name}: ${where} must be a semver range such as ">=1.3.0", got ${JSON.stringify(range)}`);
  }
  return range;
}

function problem(body: FloorProblem): DaylightResponse {
  const text = `${JSON.stringify(body)}\n`;
  return {
    status: FLOOR_STATUS,
    headers: {
      'Content-Type': 'application/problem+json; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(text)),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
    body: text,
  };
}

/** What every refusal says: read only for a refusal, since reading `release` resolves a release per request. */
function problemBase(path: string, input: FloorInput) {
  const release = input.release?.version;
  return { status: FLOOR_STATUS, instance: path, ...(release === undefined ? {} : { release }) } as const;
}

/**
 * Creates the floor check: `(path, state) => refusal | undefined`. Validates
 * the options at once (an unknown one too: a typo would turn the floor off).
 * @param caller the adapter that asks, named in the messages
 * @throws {TypeError} naming the option and the fix.
 */
export function createFloor(
  given?: FloorOptions,
  caller: FloorCaller = DIRECT,
): (path: string, input: FloorInput) => DaylightResponse | undefined {
  const { name } = caller;
  const options = checkOptions(given, caller);
  const range = options.range === undefined ? undefined : checkRange(options.range, 'range', name);
  const seen = new Map<string, string>();
  const routes = Object.entries(options.routes ?? {})
    .map(([prefix, value]) => {
      if (!prefix.startsWith('/'))
        throw new TypeError(`${name}: routes keys are path prefixes starting with "/", got ${JSON.stringify(prefix)}`);
      // Express (and most routers) match paths whatever their case: /API/V2/ reaches the handlers of /api/v2/.
      const lower = prefix.toLowerCase();
      const other = seen.get(lower);
      if (other !== undefined) {
        throw new TypeError(
          `${name}: routes ${JSON.stringify(other)} and ${JSON.stringify(prefix)} differ only in case, and prefixes match whatever the case; keep one`,
        );
      }
      seen.set(lower, prefix);
      return [lower, checkRange(value, `routes[${JSON.stringify(prefix)}]`, name)] as const;
    })
    .sort(([a], [b]) => b.length - a.length);
  const useMin = options.useMin ?? true;
  const withoutClient = options.withoutClient ?? 'allow';
  if (withoutClient !== 'allow' && withoutClient !== 'refuse') {
    throw new TypeError(`${name}: withoutClient must be "allow" or "refuse", got ${JSON.stringify(withoutClient)}`);
  }
  /** Versions already checked against a range: `range\nversion` → -1 below, 0 inside, 1 above. */
  const verdicts = new Map<string, -1 | 0 | 1>();
  const against = (version: string, wanted: string): -1 | 0 | 1 => {
    const key = `${wanted}\n${version}`;
    let verdict = verdicts.get(key);
    if (verdict === undefined) {
      verdict = semver.satisfies(version, wanted, { includePrerelease: true })
        ? 0
        : semver.gtr(version, wanted, { includePrerelease: true })
          ? 1
          : -1;
      if (verdicts.size >= CACHE_SIZE) verdicts.clear();
      verdicts.set(key, verdict);
    }
    return verdict;
  };

  return function floor(path, input) {
    const lower = routes.length === 0 ? path : path.toLowerCase();
    const wanted = routes.find(([prefix]) => lower.startsWith(prefix))?.[1] ?? range;
    // A release per request resolves when first read, and must wait for the app's sign-in, which may come after
    // the floor: a request that passes never reads it (PerRequest.min says what min is without resolving).
    const pending = RequestState.pendingOf(input);
    const min = !useMin ? undefined : pending === undefined ? input.release?.min : pending.min;
    const client = input.client;
    if (client === undefined) {
      if (withoutClient === 'allow') return undefined;
      return problem({
        ...problemBase(path, input),
        type: PROBLEM_CLIENT_REQUIRED,
        title: 'This API serves the Daylight client only',
        detail: `send the ${CLIENT_HEADER} header with the version of the app`,
        required: [min === undefined ? '' : `>=${min}`, wanted ?? ''].filter(Boolean).join(' ') || '*',
      });
    }
    if (min !== undefined && semver.lt(client.version, min)) {
      return problem({
        ...problemBase(path, input),
        type: PROBLEM_CLIENT_TOO_OLD,
        title: 'This version of the app is too old for the API',
        detail: `version ${client.version} is below ${min}, the oldest version the API serves; switch to ${input.release?.version ?? 'a newer release'}`,
        version: client.version,
        required: `>=${min}`,
      });
    }
    if (wanted === undefined) return undefined;
    const verdict = against(client.version, wanted);
    if (verdict === 0) return undefined;
    return problem({
      ...problemBase(path, input),
      type: verdict < 0 ? PROBLEM_CLIENT_TOO_OLD : PROBLEM_CLIENT_UNSUPPORTED,
      title:
        verdict < 0
          ? 'This version of the app is too old for the API'
          : 'This version of the app is not served by the API',
      detail: `version ${client.version} is outside ${wanted}, the versions ${path} serves`,
      version: client.version,
      required: wanted,
    });
  };
}
