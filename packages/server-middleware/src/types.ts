/**
 * The public types of the server core. The adapters (`./express`, `./koa`)
 * are thin: everything they do goes through {@link DaylightServer}.
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ClientStamp, ReleaseStamp } from '@daylight/protocol';

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
}

/**
 * A plain view of a request, independent of the framework. The cohorts work
 * resolves a cohort from it; the core release is the same for everyone.
 */
export interface DaylightRequest {
  /** The HTTP method, upper case. */
  readonly method: string;
  /** The request target's path without the query string, as received (percent-encoded). */
  readonly path: string;
  /** The request headers, names in lower case (node:http's shape). */
  readonly headers: IncomingHttpHeaders;
}

/** What the adapters put in `res.locals.daylight` (Express) and `ctx.state.daylight` (Koa). */
export interface DaylightState {
  /** The client's `Daylight-Client` header, when it sent a well-formed one. */
  readonly client?: ClientStamp;
  /** The stamp this response carries, when a release is promoted. */
  readonly release?: ReleaseStamp;
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
   * The stamp for a request, or `undefined` when nothing is promoted. The core
   * release has no cohorts, so it is the same for every request.
   */
  stampFor(request: DaylightRequest): ReleaseStamp | undefined;
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
   * Calling it again for the same response returns the same state. Never throws.
   */
  attach(req: IncomingMessage, res: ServerResponse): DaylightState;
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
