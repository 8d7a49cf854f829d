/**
 * Options of `createDaylight`, checked once at construction. A mistake throws
 * a `TypeError` that names the option, the value, and the fix.
 */
import { IncomingMessage } from 'node:http';
import path from 'node:path';
import { DEFAULT_BASE_PATH } from '@daylight/protocol';
import { RedisLocationError, parseRedisLocation } from './redis-location.js';
import { DEFAULT_REGISTRY_FILE, KEY_NAME } from './registry.js';
import type { BeforeStamp } from './stamp.js';
import type { DaylightLogger, DaylightServer, DaylightServerOptions } from './types.js';
import type { ReportsOptions } from './reports.js';
import type { Authorize } from './admin/admin.js';
import { checkAuthorize, checkCensusOption, type ResolvedCensus } from './census/options.js';

export interface ResolvedOptions {
  readonly configPath: string;
  readonly basePath: string;
  readonly watch: boolean;
  readonly logger: DaylightLogger;
  /** Checked by createReports (reports.ts). */
  readonly reports: ReportsOptions | undefined;
  readonly cohort: ((req: IncomingMessage) => string | number | undefined | null) | undefined;
  /** The `keys` option in its order. */
  readonly keys: ReadonlyMap<string, (req: IncomingMessage) => string | number | undefined | null>;
  readonly redis: { readonly url: string; readonly prefix: string } | undefined;
  /** Counting sessions per release and cohort (census/), or `false`. */
  readonly census: ResolvedCensus | false;
  /** Opens `{base}/admin/` to requests it approves (admin/). */
  readonly authorize: Authorize | undefined;
  /** Paths the shell handler answers with the retiring service worker. */
  readonly retireServiceWorkers: ReadonlySet<string>;
  /** Whether the shell gets an import map with the hash of every JavaScript file (render-shell.ts). */
  readonly importMapIntegrity: boolean;
}

/**
 * Test-only knobs, reachable through a symbol that is not exported from the
 * package: fault injection for the fail-open tests, and the watcher's timings.
 */
export const INTERNALS = Symbol('daylight.internals');

export interface DaylightInternals {
  /** Throw from here to simulate a failure while stamping. */
  readonly beforeStamp?: BeforeStamp;
  /** Use `fs.watch` (else only the poll). @default true */
  readonly fsWatch?: boolean;
  /** @default 1000 */
  readonly pollIntervalMs?: number;
  /** @default 50 */
  readonly debounceMs?: number;
  /** How often the copy of an unchanged Redis registry is written again (registry-copy.ts). @default 3_600_000 */
  readonly copyRefreshMs?: number;
}

const KNOWN = [
  'config',
  'basePath',
  'watch',
  'logger',
  'cohort',
  'keys',
  'redis',
  'reports',
  'census',
  'authorize',
  'retireServiceWorkers',
  'importMapIntegrity',
] as const;
const PATH_SEGMENT = /^[A-Za-z0-9._~!$&'()*+,;=:@%-]+$/;

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'function' ? 'a function' : String(value);
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = saved;
    }
  }
  return row[b.length]!;
}

/** `; did you mean "range"?` for a name within two edits of a known one (or the same but for case), else the list. */
export function suggest(name: string, known: readonly string[]): string {
  const close = known.find((k) => k.toLowerCase() === name.toLowerCase() || distance(k, name) <= 2);
  return close === undefined ? `; the options are ${known.join(', ')}` : `; did you mean "${close}"?`;
}

function checkBasePath(value: unknown): string {
  if (value === undefined) return DEFAULT_BASE_PATH;
  const fix = (to: string): string => `; use ${JSON.stringify(to)}`;
  if (typeof value !== 'string' || value === '') {
    throw new TypeError(
      `createDaylight: basePath must be a path such as "${DEFAULT_BASE_PATH}", got ${describe(value)}`,
    );
  }
  if (!value.startsWith('/')) {
    throw new TypeError(`createDaylight: basePath must start with "/", got ${describe(value)}${fix(`/${value}`)}`);
  }
  if (value === '/') {
    throw new TypeError(
      `createDaylight: basePath cannot be "/": Daylight's endpoints need a prefix of their own; leave it out to use "${DEFAULT_BASE_PATH}"`,
    );
  }
  if (value.endsWith('/')) {
    throw new TypeError(
      `createDaylight: basePath must not end with "/", got ${describe(value)}${fix(value.replace(/\/+$/, '') || DEFAULT_BASE_PATH)}`,
    );
  }
  const segments = value.slice(1).split('/');
  if (segments.some((s) => s === '.' || s === '..' || !PATH_SEGMENT.test(s))) {
    throw new TypeError(
      `createDaylight: basePath must be a plain URL path such as "${DEFAULT_BASE_PATH}" (no empty, "." or ".." segments, no spaces, "?" or "#"), got ${describe(value)}`,
    );
  }
  return value;
}

function isLogger(value: unknown): value is DaylightLogger {
  if (typeof value !== 'object' || value === null) return false;
  const { info, warn, error } = value as Record<string, unknown>;
  return typeof info === 'function' && typeof warn === 'function' && typeof error === 'function';
}

function checkLogger(value: unknown): DaylightLogger {
  if (value === undefined) return console;
  if (!isLogger(value)) {
    throw new TypeError(
      'createDaylight: logger must be an object with info(), warn() and error() methods, such as console',
    );
  }
  return value;
}

/** Validates options and fills in defaults. @throws {TypeError} naming the option and the fix. */
export function resolveOptions(options: unknown): ResolvedOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new TypeError(`createDaylight: options must be an object such as { config: 'releases.json' }`);
  }
  const given = options as DaylightServerOptions & Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (!(KNOWN as readonly string[]).includes(name)) {
      throw new TypeError(`createDaylight: unknown option "${name}"${suggest(name, KNOWN)}`);
    }
  }
  const config = given.config ?? DEFAULT_REGISTRY_FILE;
  if (typeof config !== 'string' || config === '' || config.includes('\0')) {
    throw new TypeError(
      `createDaylight: config must be the path of the registry file, such as "${DEFAULT_REGISTRY_FILE}", got ${describe(config)}`,
    );
  }
  const watch = given.watch ?? true;
  if (typeof watch !== 'boolean') {
    throw new TypeError(`createDaylight: watch must be true or false, got ${describe(watch)}`);
  }
  const importMapIntegrity = given.importMapIntegrity ?? true;
  if (typeof importMapIntegrity !== 'boolean') {
    throw new TypeError(
      `createDaylight: importMapIntegrity must be true or false, got ${describe(importMapIntegrity)}`,
    );
  }
  if (given.cohort !== undefined && typeof given.cohort !== 'function') {
    throw new TypeError(
      `createDaylight: cohort must be a function of the request, such as (req) => officeOf(req), got ${describe(given.cohort)}`,
    );
  }
  const basePath = checkBasePath(given.basePath);
  return Object.freeze({
    configPath: path.resolve(process.cwd(), config),
    basePath,
    watch,
    logger: checkLogger(given.logger),
    reports: given.reports,
    cohort: given.cohort,
    keys: checkKeys(given.keys),
    redis: checkRedis(given.redis),
    census: checkCensusOption(given.census),
    authorize: checkAuthorize(given.authorize),
    retireServiceWorkers: checkRetiredWorkers(given.retireServiceWorkers, basePath),
    importMapIntegrity,
  });
}

function checkRetiredWorkers(value: unknown, basePath: string): ReadonlySet<string> {
  if (value === undefined) return new Set();
  const example = `such as ["/sw.js"]`;
  if (!Array.isArray(value)) {
    throw new TypeError(
      `createDaylight: retireServiceWorkers must be a list of script paths, ${example}, got ${describe(value)}`,
    );
  }
  for (const item of value as unknown[]) {
    if (typeof item !== 'string' || !/^\/[^?#\s]*\.[A-Za-z0-9]+$/.test(item) || item.startsWith('//')) {
      throw new TypeError(
        `createDaylight: retireServiceWorkers holds the paths of worker scripts on this origin, ${example}, got ${describe(item)}`,
      );
    }
    if (item.startsWith(`${basePath}/`)) {
      throw new TypeError(
        `createDaylight: retireServiceWorkers: ${item} is below the basePath ${basePath}, where Daylight's own worker lives`,
      );
    }
  }
  return new Set(value as string[]);
}

type KeyFunction = (req: IncomingMessage) => string | number | undefined | null;

function checkKeys(value: unknown): ReadonlyMap<string, KeyFunction> {
  const keys = new Map<string, KeyFunction>();
  if (value === undefined) return keys;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(
      'createDaylight: keys must be an object of functions, such as { user: (req) => userOf(req), tenant: (req) => tenantOf(req) }',
    );
  }
  for (const [name, fn] of Object.entries(value)) {
    if (!KEY_NAME.test(name)) {
      throw new TypeError(
        `createDaylight: keys.${name}: a key name is lower-case letters, digits, "_" or "-", starting with a letter, such as tenant`,
      );
    }
    if (typeof fn !== 'function') {
      throw new TypeError(`createDaylight: keys.${name} must be a function of the request, got ${describe(fn)}`);
    }
    keys.set(name, fn as KeyFunction);
  }
  return keys;
}

/** The members of the `redis` option's object form. */
const REDIS_MEMBERS = ['url', 'prefix'] as const;

/**
 * The `redis` option, read as the CLI reads `--store` (redis-location.ts): the
 * URL's `?prefix=` and database count, and whatever is not understood is
 * refused — a staging server handed the CLI's `redis://…?prefix=staging`
 * must not serve production's `daylight:registry`.
 */
function checkRedis(value: unknown): ResolvedOptions['redis'] {
  if (value === undefined) return undefined;
  const example = 'a URL such as "redis://127.0.0.1:6379/0" or { url, prefix }';
  const given = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  for (const name of Object.keys(given)) {
    if (!(REDIS_MEMBERS as readonly string[]).includes(name)) {
      throw new TypeError(`createDaylight: redis has no option "${name}"${suggest(name, REDIS_MEMBERS)}`);
    }
  }
  const url = typeof value === 'string' ? value : given.url;
  const prefix = given.prefix;
  if (typeof url !== 'string') {
    throw new TypeError(`createDaylight: redis must be ${example}, got ${describe(url ?? value)}`);
  }
  if (prefix !== undefined && typeof prefix !== 'string') {
    throw new TypeError(
      `createDaylight: redis.prefix must be a short key prefix such as "daylight", got ${describe(prefix)}`,
    );
  }
  // The scheme, the prefix's characters and the rest are checked there, in the CLI's words.
  try {
    const location = parseRedisLocation(url, prefix);
    return Object.freeze({ url: location.url, prefix: location.prefix });
  } catch (error) {
    if (error instanceof RedisLocationError) throw new TypeError(`createDaylight: redis ${error.message}`);
    throw error;
  }
}

/** The test-only knobs, when a test passed some. */
export function internalsOf(options: unknown): DaylightInternals {
  if (typeof options !== 'object' || options === null) return {};
  return (options as { [INTERNALS]?: DaylightInternals })[INTERNALS] ?? {};
}

/**
 * What Express (`req`) or Koa (`ctx`) passes a middleware first: a factory
 * mounted without being called (`app.use(daylightExpress)`) receives it.
 */
export function isRequestLike(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof IncomingMessage) return true;
  const given = value as { req?: unknown; method?: unknown; headers?: unknown };
  return (
    given.req instanceof IncomingMessage || (typeof given.method === 'string' && typeof given.headers === 'object')
  );
}

/** A value as an error message names it: `undefined`, `"text"`, `an object with config, watch`. */
export function describeArgument(value: unknown): string {
  if (typeof value === 'function') return value.name === '' ? 'a function' : `the function ${value.name}`;
  if (typeof value !== 'object' || value === null) return describe(value);
  if (Array.isArray(value)) return 'an array';
  if (typeof (value as { then?: unknown }).then === 'function') return 'a promise';
  const keys = Object.keys(value);
  if (keys.length === 0) return 'an empty object';
  return `an object with ${keys.slice(0, 4).join(', ')}${keys.length > 4 ? ', …' : ''}`;
}

const ADAPTER_METHODS = ['attach', 'begin', 'stamp', 'stampOnWrite', 'handle', 'handleShell'] as const;

/** True for what `createDaylight()` returns (checked by shape: the CommonJS and ESM builds each have their own class). */
export function isDaylightServer(value: unknown): value is DaylightServer {
  if (typeof value !== 'object' || value === null) return false;
  const given = value as Record<string, unknown>;
  return typeof given.basePath === 'string' && ADAPTER_METHODS.every((name) => typeof given[name] === 'function');
}

/**
 * Checks the argument of an adapter factory (`daylightExpress`, `daylightKoaShell`, …) once, when it is created.
 * @param fn the factory's name
 * @param mount how it is mounted, such as `app.use(daylightExpress(daylight))`
 * @throws {TypeError} naming the factory and the fix.
 */
export function checkServerArgument(fn: string, value: unknown, mount: string): DaylightServer {
  if (isDaylightServer(value)) return value;
  if (isRequestLike(value)) {
    throw new TypeError(
      `${fn} was mounted without being called: write ${mount}, where daylight = createDaylight({ … })`,
    );
  }
  const options =
    typeof value === 'object' &&
    value !== null &&
    Object.keys(value).length > 0 &&
    Object.keys(value).every((key) => (KNOWN as readonly string[]).includes(key));
  const hint = options
    ? `; those are createDaylight's options: const daylight = createDaylight({ … }), then ${mount}`
    : '';
  throw new TypeError(`${fn}(server): pass the object createDaylight() returns, got ${describeArgument(value)}${hint}`);
}
