/**
 * Where the CLI reads the census from (docs/census.md, "Reading it from the
 * CLI"), and how it prints it:
 *
 * - a Redis store (`--store redis://…`): straight from Redis, the whole fleet;
 * - a file store: the census lives in the server's memory, so from the
 *   server's admin endpoint, `--server http://127.0.0.1:3000` with `--token`
 *   (or `$DAYLIGHT_ADMIN_TOKEN`), sent as `Authorization: Bearer <token>`.
 */
import { DEFAULT_BASE_PATH } from '@daylight/protocol';
import {
  formatDuration,
  openCensusRedis,
  readFleetCensus,
  validateRegistry,
  type CensusSeries,
  type CensusSnapshot,
  type Registry,
} from '@daylight/server-middleware';
import { DaylightCliError } from './errors.js';
import { formatTimestamp, table } from './format.js';
import { parseRedisStoreLocation } from './store.js';

/** How long the CLI waits for a server or Redis. */
const TIMEOUT_MS = 5_000;

export interface CensusSourceOptions {
  /** `--store` as given (a file path or `redis://…`), or `undefined`. */
  readonly store: string | undefined;
  /** `--server`: the origin of a server running the middleware. */
  readonly server?: string | undefined;
  /** The admin token, sent as a bearer token. */
  readonly token?: string | undefined;
  /** The middleware's base path. @default '/_daylight' */
  readonly basePath?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

function isRedisUrl(location: string | undefined): location is string {
  return location !== undefined && /^rediss?:\/\//i.test(location);
}

/** True when the options name a place to read the census from. */
export function hasCensusSource(options: CensusSourceOptions): boolean {
  return options.server !== undefined || isRedisUrl(options.store);
}

function checkSnapshot(value: unknown, where: string): CensusSnapshot {
  const snapshot = value as Partial<CensusSnapshot> | null;
  if (
    typeof snapshot !== 'object' ||
    snapshot === null ||
    typeof snapshot.at !== 'number' ||
    typeof snapshot.observingSince !== 'number' ||
    !Array.isArray(snapshot.series)
  ) {
    throw new DaylightCliError('io', `${where} did not answer with a census; is it a Daylight server with census on?`);
  }
  return snapshot as CensusSnapshot;
}

/** GETs `{base}/admin/<name>` from `--server` with the admin token; resolves with the parsed JSON and its URL. */
async function adminJson(
  options: CensusSourceOptions & { server: string },
  name: string,
  what: string,
): Promise<{ body: unknown; where: string }> {
  let origin: URL;
  try {
    origin = new URL(options.server);
  } catch {
    throw new DaylightCliError(
      'invalid-option',
      `--server ${options.server} is not a URL such as http://127.0.0.1:3000`,
    );
  }
  const url = new URL(`${(options.basePath ?? DEFAULT_BASE_PATH).replace(/\/$/, '')}/admin/${name}`, origin);
  const signal = AbortSignal.any([AbortSignal.timeout(TIMEOUT_MS), ...(options.signal ? [options.signal] : [])]);
  let response: Response;
  try {
    response = await fetch(url, {
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      signal,
    });
  } catch (error) {
    throw new DaylightCliError(
      'io',
      `cannot reach ${url.href} (${(error as Error).message}); check --server and that the server runs`,
      { cause: error },
    );
  }
  if (response.status === 401 || response.status === 403) {
    await response.body?.cancel();
    throw new DaylightCliError(
      'io',
      `${url.href} refused ${what} (${response.status}): ${
        response.status === 403
          ? 'the server has no authorize option, so its admin endpoints are off'
          : 'pass the admin token with --token or $DAYLIGHT_ADMIN_TOKEN'
      }`,
    );
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw new DaylightCliError('io', `${url.href} answered ${response.status}; expected ${what} as JSON`);
  }
  try {
    return { body: await response.json(), where: url.href };
  } catch (error) {
    throw new DaylightCliError('io', `${url.href} did not answer JSON`, { cause: error });
  }
}

async function fromServer(options: CensusSourceOptions & { server: string }): Promise<CensusSnapshot> {
  const { body, where } = await adminJson(options, 'census.json', 'the census');
  return checkSnapshot(body, where);
}

/** The registry a server serves (`{base}/admin/registry.json`), validated. */
export async function readServedRegistry(options: CensusSourceOptions & { server: string }): Promise<Registry> {
  const { body, where } = await adminJson(options, 'registry.json', 'the registry');
  const check = validateRegistry(body);
  if (!check.ok) throw new DaylightCliError('io', `${where} is not a valid registry: ${check.error}`);
  return check.registry;
}

async function fromRedis(location: string): Promise<CensusSnapshot> {
  const { url, prefix } = parseRedisStoreLocation(location);
  const parsed = new URL(url);
  const shown = `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  let client;
  try {
    client = await openCensusRedis(parsed.href);
    return await readFleetCensus(client, { prefix });
  } catch (error) {
    throw new DaylightCliError(
      'io',
      `cannot read the census from ${shown} (${(error as Error).message}); check the URL and that Redis runs`,
      { cause: error },
    );
  } finally {
    client?.disconnect();
  }
}

/**
 * Reads the census from `--server` or a Redis store.
 * @throws {DaylightCliError} `usage` when neither is given; `io` when it cannot be read.
 */
export async function readCensus(options: CensusSourceOptions): Promise<CensusSnapshot> {
  if (options.server !== undefined) return fromServer({ ...options, server: options.server });
  if (isRedisUrl(options.store)) return fromRedis(options.store);
  throw new DaylightCliError(
    'usage',
    'with a file store the census lives in the server: pass --server http://127.0.0.1:3000 (and --token, or set DAYLIGHT_ADMIN_TOKEN), or use a redis:// store',
  );
}

const UNITS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `90s`, `30m`, `24h`, `7d` (also combined: `1h30m`) in milliseconds.
 * @throws {DaylightCliError} `invalid-option`
 */
export function parseDuration(text: string, what: string): number {
  const parts = /^(?:\d+[smhd])+$/.test(text) ? [...text.matchAll(/(\d+)([smhd])/g)] : [];
  const ms = parts.reduce((sum, [, count, unit]) => sum + Number(count) * UNITS[unit!]!, 0);
  if (parts.length === 0 || ms <= 0) {
    throw new DaylightCliError(
      'invalid-option',
      `${what} ${JSON.stringify(text)} is not a duration such as 30m, 24h or 7d`,
    );
  }
  return ms;
}

/** `2026-11-27 09:14 UTC (3m ago)` */
export function formatSeen(at: number, now: number): string {
  return `${formatTimestamp(new Date(at).toISOString())} (${formatDuration(now - at)} ago)`;
}

/** The census as a table: release, cohort, sessions per window, last seen. */
export function censusTable(snapshot: CensusSnapshot): string {
  const scope = snapshot.scope === 'fleet' ? 'every server, through Redis' : 'one server';
  const head = `census (${scope}), counting for ${formatDuration(snapshot.at - snapshot.observingSince)}, each count ±${(snapshot.standardError * 100).toFixed(2)} %`;
  if (snapshot.series.length === 0) return `${head}\n\nno sessions seen yet`;
  const rows = snapshot.series.map((series: CensusSeries) => [
    series.release,
    series.cohort,
    String(series.sessions['5m']),
    String(series.sessions['1h']),
    String(series.sessions['24h']),
    formatSeen(series.lastSeen, snapshot.at),
  ]);
  return `${head}\n\n${table([['RELEASE', 'COHORT', '5 MIN', '1 HOUR', '24 HOURS', 'LAST SEEN'], ...rows], new Set([2, 3, 4]))}`;
}
