/**
 * The public types of the server core. The adapters (`./express`, `./koa`)
 * are thin: everything they do goes through {@link DaylightServer}.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ClientStamp, ReleaseStamp } from '@daylight/protocol';
import type { ReportCount, ReportsOptions } from './reports.js';
import type { CensusSnapshot } from './census/census.js';
import type { CensusServerOptions } from './census/options.js';

/** Where Daylight reports problems. `console` fits. */
export interface DaylightLogger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string, error?: unknown): void;
}

export interface DaylightServerOptions {
  /**
   * Path of the registry file written by `daylight publish` and `daylight promote`.
   * Release folders live beside it (`releases/<version>/`).
   * @default 'releases.json' resolved against process.cwd()
   * @example createDaylight({ config: '/srv/office-app/releases.json' })
   */
  config?: string;
  /**
   * Base path of Daylight's endpoints: the release check, manifests and release files.
   * Must start with `/` and must not end with `/`.
   * @default '/_daylight'
   */
  basePath?: string;
  /**
   * Reload the registry when the file changes (`fs.watch` on its directory, and a
   * one-second `stat` poll as a safety net). With `false`, call `reload()` yourself.
   * @default true
   */
  watch?: boolean;
  /**
   * Where problems are reported: a broken registry file, a release that cannot
   * be served, a response that could not be stamped (at most once a minute).
   * @default console
   */
  logger?: DaylightLogger;
  /**
   * `POST {base}/reports`: size limit, rate limit per session, and when to
   * halt a release automatically (reports.ts).
   * @default { maxBytes: 4096, perMinute: 20 }; halting is off unless `trust` or `halt` is given (then `halt` defaults to { minFailures: 5, failureRate: 0.2 })
   */
  reports?: ReportsOptions;
  /**
   * The request's cohort, from the server's own view of it (the signed-in
   * tenant or office), never from anything the client claims. Called when
   * Daylight needs the answer: for the stamp, when the response head is written
   * (after your middleware ran); for `GET {base}/release` and the shell, when
   * Daylight answers them (before the middleware mounted after it), so derive
   * it from what the request carries (a session cookie, a token). Return
   * `undefined` for no cohort (everyone's rules). A throw counts as no cohort.
   * A number counts as its decimal string.
   * @default no cohorts: everyone gets everyone's release
   * @example cohort: (req) => sessions.get(req)?.office
   */
  cohort?: (req: IncomingMessage) => string | number | undefined | null;
  /**
   * The stable keys percentage rollouts hash and pins match, by name
   * (`daylight promote 1.2.0 --percent 10 --key tenant`). Their order is the
   * order pins are looked up in: put the most specific first. A number (a
   * numeric user id) counts as its decimal string: `42` matches the pin `user:42`.
   * @default {} (no rollouts by percentage, no pins)
   * @example keys: { user: (req) => sessions.get(req)?.user, tenant: (req) => sessions.get(req)?.office }
   */
  keys?: Readonly<Record<string, (req: IncomingMessage) => string | number | undefined | null>>;
  /**
   * Read the registry from Redis instead of the file, for several servers:
   * `redis://host:6379/0`, or `{ url, prefix }` (keys `<prefix>:registry`…;
   * default prefix `daylight`). Release folders still live beside `config`,
   * on a folder every server can read. Changes arrive through pub/sub; while
   * Redis is down the server keeps serving the last registry it read.
   * @default undefined (the file store)
   */
  redis?: string | { readonly url: string; readonly prefix?: string };
  /**
   * Count distinct sessions per release and cohort over 5 minutes, an hour
   * and a day (docs/census.md). With `redis`, every server writes its counts
   * there every `flushIntervalMs`, so any server and the CLI see the fleet.
   * `false` turns it off.
   * @default true ({ maxSeries: 256, flushIntervalMs: 5000 })
   */
  census?: boolean | CensusServerOptions;
  /**
   * Opens the status page and the admin JSON below `{base}/admin/` to the
   * requests it returns true for (your own authentication: a session, a
   * token). Without it those paths answer 403; when it returns false, 401.
   * @default undefined (admin off)
   * @example authorize: (req) => req.headers.authorization === `Bearer ${process.env.DAYLIGHT_ADMIN_TOKEN}`
   */
  authorize?: (req: IncomingMessage) => boolean | Promise<boolean>;
  /**
   * The script paths of service workers the app registered before it used
   * Daylight (`['/sw.js']`). A browser that installed one keeps running it
   * — a 404 does not remove it — and a cache-first worker keeps answering
   * with the app's old `index.html`, so the person never reaches Daylight.
   * The shell handler answers these paths with a worker that deletes the
   * origin's caches (except Daylight's own `daylight-*`) and unregisters
   * itself; it reloads no page. Keep the list for as long as a browser may
   * still come back with the old worker. Only for a worker you mean to
   * remove: its push subscription goes with it.
   * @default [] (a worker script the server does not serve gets a 404, logged)
   */
  retireServiceWorkers?: readonly string[];
  /**
   * Whether the shell gets an import map whose `integrity` section names the
   * SRI hash of every JavaScript file of the release, so that the browser
   * checks the chunks a module imports (statically or with `import()`) on a
   * page loaded afresh, not only the entry script and stylesheet. A shell
   * with an import map of its own gets none (its text, and a CSP hash of it,
   * stay as they are). Turn it off for an app that adds its import map from
   * a script (browsers before Chromium 133 take the first map only), or whose
   * Content-Security-Policy blocks inline scripts without a nonce (the map is
   * then blocked anyway, and reported).
   * @default true
   */
  importMapIntegrity?: boolean;
}

/** A plain view of a request, independent of the framework. */
export interface DaylightRequest {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The request target's path without the query string, as received (percent-encoded). */
  readonly path: string;
  /** The request headers, names in lower case (node:http's shape). */
  readonly headers: IncomingHttpHeaders;
  /** The node:http request (Express's `req`, Koa's `ctx.req`): the `cohort` and `keys` callbacks get it. Without it, everyone's release. */
  readonly incoming?: IncomingMessage;
  /**
   * The body a parser of the app read before Daylight (Express's `req.body`, Koa's `ctx.request.body`), used
   * when `incoming` was read already; Daylight reads `incoming` itself otherwise.
   */
  readonly body?: unknown;
}

/** What the adapters put in `res.locals.daylight` (Express) and `ctx.state.daylight` (Koa). */
export interface DaylightState {
  /** The client's `Daylight-Client` header, when it sent a well-formed one. */
  readonly client?: ClientStamp;
  /**
   * The stamp this response carries, when a release is promoted. With a
   * release per request (`cohort`, `keys`) it is a getter that resolves when
   * first read: read it once the app's sign-in ran.
   */
  readonly release?: ReleaseStamp | undefined;
}

/** Counters, since the server was created. */
export interface DaylightStats {
  /** `Daylight-Client` headers that did not parse (or came more than once) and were ignored. */
  readonly malformedClientHeaders: number;
  /** Responses that went out unstamped because stamping failed (fail open). */
  readonly stampFailures: number;
  /** Reads of the registry that failed: missing, unreadable, not JSON, invalid, or naming a release that cannot be served. */
  readonly registryErrors: number;
  /** Successful reads of the registry after the first one. */
  readonly registryReloads: number;
  /** Requests whose `cohort` or `keys` callback threw; they got everyone's release. */
  readonly resolveFailures: number;
  /** Series (release × cohort, `unknown` and `other` included) this server's census counts; 0 with `census: false`. */
  readonly censusSeries: number;
  /** Bytes of this server's census registers (its sketches, and with Redis the ones waiting for the next flush). */
  readonly censusBytes: number;
  /** Requests the census could not count (it never throws into a response). */
  readonly censusFailures: number;
}

/** What `server.halt()` takes. */
export interface HaltOptions {
  /** The release to stop. */
  readonly release: string;
  /** The cohort it is stopped in. @default everyone */
  readonly cohort?: string;
  /** Why, for the audit log and `daylight status`. */
  readonly reason: string;
  /** Who, for the audit log. @default 'server' */
  readonly actor?: string;
}

/** What `server.halt()` did. */
export interface HaltResult {
  /** False when the target did not run the release, or its rollout was already halted. */
  readonly changed: boolean;
  /** One line, as recorded in the audit log. */
  readonly summary: string;
  /** The registry's revision afterwards. */
  readonly revision: number;
}

/**
 * An answer from the core, for an adapter to write. `body` is absent for
 * `HEAD`, `204` and `304`; a `Readable` is a file stream the adapter pipes.
 */
export interface DaylightResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array | Readable;
}

export interface DaylightServer {
  /** The base path of Daylight's endpoints, such as `/_daylight`. */
  readonly basePath: string;
  /** The absolute path of the registry file. */
  readonly configPath: string;
  /** Resolves after the first read of the registry, whether it succeeded or not. Never rejects. */
  readonly ready: Promise<void>;
  /**
   * The stamp for a request — its pin, cohort or rollout (`request.incoming`
   * feeds the callbacks) — or `undefined` when nothing is promoted for it.
   */
  stampFor(request: DaylightRequest): ReleaseStamp | undefined;
  /**
   * Stops a release in a cohort (or for everyone): a rollout of it is halted,
   * a cohort that runs it fully goes back to its previous release. Written to
   * the store (file or Redis) with an audit entry, so every server follows;
   * this server applies it before the promise resolves. Rejects with a
   * `RegistryChangeError` (`not-published`, `unknown-cohort`) or when the
   * store cannot be written; the registry is then unchanged.
   * @example await daylight.halt({ release: '1.1.0', cohort: 'pilot', reason: '12 failed boots in 5 minutes' })
   */
  halt(options: HaltOptions): Promise<HaltResult>;
  /** Boots and boot failures reported to `POST {base}/reports`, per release and cohort, since the server started. */
  reportCounts(): readonly ReportCount[];
  /**
   * The census: this server's, or the whole fleet's when `redis` is set
   * (read from Redis; rejects when Redis cannot be reached). `undefined` when
   * `census: false`.
   */
  census(): Promise<CensusSnapshot | undefined>;
  /** Reads the registry now. Resolves when done; a failed read is logged and the last good registry kept. Never rejects. */
  reload(): Promise<void>;
  /** A snapshot of the counters. */
  readonly stats: Readonly<DaylightStats>;
  /** Stops watching the registry. The last registry read keeps serving. */
  close(): Promise<void>;

  /**
   * For adapters: starts Daylight's part of a request. Reads the client's
   * header and arranges for `res` to carry the stamp however the response is
   * written (the app's handlers, its error handlers, the framework's defaults).
   * Calling it again for the same response arms nothing more and returns the
   * same state (with a release per request, a state over the same resolution). Never throws.
   */
  attach(req: IncomingMessage, res: ServerResponse): DaylightState;
  /**
   * For adapters of frameworks that hand control back after the app ran and
   * before they write the response (Koa's `await next()`): reads the client's
   * header and returns the request's state like `attach`, but leaves the stamp
   * to `stamp(req, res)`, which the adapter calls once the app ran — cheaper
   * than `attach`, which arms the stamp for when the head is written. When an error handler that
   * may remove every header takes over (Koa's `ctx.onerror`), the adapter calls
   * `stampOnWrite(req, res, state)`. When the release depends on the request
   * (`cohort`, `keys`), the state's `release` resolves when first read, and
   * nothing is armed: pass the state to `stamp` (after the app ran) or to
   * `stampOnWrite` (when the app has not run yet). Never throws.
   */
  begin(req: IncomingMessage, res: ServerResponse): DaylightState;
  /**
   * For adapters, after `begin` (and the app, when the framework hands control
   * back; Express's adapter calls it before the app, for requests without an
   * `Origin` header, which have no expose list to merge with): sets `Daylight-Release` on `res`
   * now, resolved for the request, and — for a request with an `Origin` header —
   * adds it to `Access-Control-Expose-Headers` (keeping what the app put there).
   * Does nothing once the head is sent. `state` is what `begin` returned:
   * with a release per request, it is resolved now (so call this only once
   * the app's sign-in ran). Never throws.
   */
  stamp(req: IncomingMessage, res: ServerResponse, state?: DaylightState): void;
  /**
   * For adapters, when an error handler that may remove every header (Koa's
   * `ctx.onerror`) is about to write the response: arranges for `res` to carry
   * the stamp when its head is written, like `attach` does. Also for an error
   * thrown past the adapter, which a handler mounted before it may answer.
   * Does nothing once the head is sent, or when `attach` or an earlier call
   * already saw `res`. `state` is what `begin` returned: with a release per
   * request, it resolves then, as the app's `state.release` does. Never throws.
   */
  stampOnWrite(req: IncomingMessage, res: ServerResponse, state?: DaylightState): void;
  /**
   * For adapters: answers a request below `basePath`, or resolves `undefined`
   * when the path is not below it (call the next handler). Never rejects.
   */
  handle(request: DaylightRequest): Promise<DaylightResponse | undefined>;
  /**
   * For adapters: the SPA fallback. The HTML shell for a navigation, a 404 for
   * a path with a file extension, or `undefined` (call the next handler). Never rejects.
   */
  handleShell(request: DaylightRequest): Promise<DaylightResponse | undefined>;
}
