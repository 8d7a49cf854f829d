/**
 * The admin surface below `{base}/admin` (docs/census.md, "Admin endpoint and
 * status page"):
 *
 * | request                          | answer                                              |
 * | -------------------------------- | --------------------------------------------------- |
 * | `GET {base}/admin/`              | the status page (HTML)                              |
 * | `GET {base}/admin/census.json`   | the census: per release and cohort, per window      |
 * | `POST {base}/admin/actions`      | promote, widen, halt, roll back (JSON in and out)   |
 *
 * Every one of them answers only when the app configured `authorize` and it
 * returned true for this request. Otherwise the answer is the same short
 * text for every path below `{base}/admin` — 403 when admin is off, 401 when
 * `authorize` said no — so nothing (cohorts, releases, counts, even which
 * paths exist) leaks. Actions also need, against cross-site requests: `POST`,
 * `Content-Type: application/json`, `X-Daylight-Admin: 1`, a same-origin
 * `Origin` (when sent) and `Sec-Fetch-Site` (when sent), and the CSRF token of
 * the page in `X-Daylight-CSRF`, equal to the `SameSite=Strict` cookie it set
 * (a double-submit token: stateless, so any server of the fleet accepts it).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { CensusSnapshot } from '../census/census.js';
import {
  haltChange,
  isRegistryChangeError,
  promoteChange,
  rollbackChange,
  type ChangeOutcome,
} from '../registry-changes.js';
import type { Registry } from '../registry.js';
import { readJsonBody } from '../request-body.js';
import type { ReportCount } from '../reports.js';
import { foreignOrigin, header } from '../origin.js';
import type { DaylightLogger, DaylightRequest, DaylightResponse } from '../types.js';
import { renderStatusPage } from './page.js';

/** Decides whether a request may see the admin pages; the app's own authentication. */
export type Authorize = (req: IncomingMessage) => boolean | Promise<boolean>;

export const CSRF_COOKIE = 'daylight_admin_csrf';
const CSRF_PATTERN = /^[A-Za-z0-9_-]{32}$/;
const AUTHORIZE_TIMEOUT_MS = 5_000;
const MAX_ACTION_BYTES = 4_096;
/** Stable problem types (RFC 9457) of the actions endpoint. */
export const ADMIN_PROBLEM = 'https://daylight.dev/problems/admin-action-refused';

export interface AdminDeps {
  readonly base: string;
  readonly authorize: Authorize | undefined;
  readonly logger: DaylightLogger;
  registry(): Registry | undefined;
  /** Why the server could not take the store's registry and still serves `registry()`, or `undefined`. */
  registryProblem(): string | undefined;
  /** The census, fleet-wide with Redis; rejects when it cannot be read. `undefined` when the census is off. */
  census(): Promise<CensusSnapshot | undefined>;
  reports(): readonly ReportCount[];
  /** Applies a change through the store (file or Redis) with an audit entry, and reloads. */
  change(
    apply: (registry: Registry) => ChangeOutcome,
    action: string,
  ): Promise<{ changed: boolean; summary: string; revision: number }>;
}

export interface Admin {
  /** Answers a request whose path below the base starts with `/admin`. Never rejects. */
  handle(request: DaylightRequest, rest: string): Promise<DaylightResponse>;
}

function text(status: number, message: string, extra: Record<string, string> = {}): DaylightResponse {
  const body = `${message}\n`;
  return {
    status,
    headers: {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      ...extra,
    },
    body,
  };
}

function json(status: number, value: unknown, type = 'application/json'): DaylightResponse {
  const body = `${JSON.stringify(value, null, 2)}\n`;
  return {
    status,
    headers: {
      'Content-Type': `${type}; charset=utf-8`,
      'Content-Length': String(Buffer.byteLength(body)),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
    },
    body,
  };
}

function problem(status: number, title: string, detail: string): DaylightResponse {
  return json(status, { type: ADMIN_PROBLEM, title, status, detail }, 'application/problem+json');
}

function cookie(request: DaylightRequest, name: string): string | undefined {
  const all = header(request, 'cookie');
  if (all === undefined) return undefined;
  for (const part of all.split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function isSecure(request: DaylightRequest): boolean {
  const socket = request.incoming?.socket as { encrypted?: boolean } | undefined;
  return socket?.encrypted === true || header(request, 'x-forwarded-proto') === 'https';
}

function optionalString(body: Record<string, unknown>, name: string): string | undefined {
  const value = body[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > 200) throw new TypeError(`"${name}" must be a short string`);
  return value;
}

function requiredString(body: Record<string, unknown>, name: string): string {
  const value = optionalString(body, name);
  if (value === undefined) throw new TypeError(`"${name}" is required`);
  return value;
}

/** The change an action body asks for. @throws {TypeError} for a malformed body. */
function changeOf(body: unknown): { action: string; apply: (registry: Registry) => ChangeOutcome } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new TypeError('the body must be a JSON object');
  const fields = body as Record<string, unknown>;
  const now = new Date();
  const cohort = optionalString(fields, 'cohort');
  const withCohort = cohort === undefined ? {} : { cohort };
  switch (fields.action) {
    case 'promote': {
      const version = requiredString(fields, 'version');
      const percent = fields.percent;
      if (percent !== undefined && typeof percent !== 'number')
        throw new TypeError('"percent" must be a number from 0 to 100');
      return {
        action: 'promote',
        apply: (registry) =>
          promoteChange(registry, { version, now, ...withCohort, ...(percent === undefined ? {} : { percent }) }),
      };
    }
    case 'halt': {
      const release = requiredString(fields, 'release');
      const reason = requiredString(fields, 'reason');
      return { action: 'halt', apply: (registry) => haltChange(registry, { release, reason, now, ...withCohort }) };
    }
    case 'rollback':
      return { action: 'rollback', apply: (registry) => rollbackChange(registry, { now, ...withCohort }) };
    default:
      throw new TypeError('"action" must be promote, halt or rollback');
  }
}

/** Creates the admin surface. Without `authorize`, every admin path answers 403. */
export function createAdmin(deps: AdminDeps): Admin {
  const { base, authorize, logger } = deps;
  const off = text(403, 'Forbidden: the admin pages are off (configure authorize)');
  const denied = text(401, 'Unauthorized');

  async function allowed(request: DaylightRequest): Promise<boolean> {
    if (authorize === undefined || request.incoming === undefined) return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answer = await Promise.race([
        Promise.resolve(authorize(request.incoming)),
        new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), AUTHORIZE_TIMEOUT_MS))),
      ]);
      return answer === true;
    } catch (error) {
      logger.error('daylight: the authorize callback threw; the admin request was refused', error);
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  async function page(request: DaylightRequest): Promise<DaylightResponse> {
    const existing = cookie(request, CSRF_COOKIE);
    const csrf =
      existing !== undefined && CSRF_PATTERN.test(existing) ? existing : randomBytes(24).toString('base64url');
    const nonce = randomBytes(16).toString('base64');
    let census: CensusSnapshot | undefined;
    let censusProblem: string | undefined;
    try {
      census = await deps.census();
      if (census === undefined) censusProblem = 'the census is off (census: false)';
    } catch (error) {
      censusProblem = (error as Error).message;
    }
    const registryProblem = deps.registryProblem();
    const html = renderStatusPage({
      registry: deps.registry(),
      census,
      ...(censusProblem === undefined ? {} : { censusProblem }),
      ...(registryProblem === undefined ? {} : { registryProblem }),
      reports: deps.reports(),
      csrf,
      nonce,
      actionsUrl: `${base}/admin/actions`,
      censusUrl: `${base}/admin/census.json`,
    });
    const body = Buffer.from(html, 'utf8');
    const headers: Record<string, string> = {
      'Content-Type': 'text/html; charset=utf-8',
      'Content-Length': String(body.length),
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      'X-Frame-Options': 'DENY',
      'Referrer-Policy': 'no-referrer',
      'Content-Security-Policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'`,
    };
    if (existing !== csrf) {
      headers['Set-Cookie'] =
        `${CSRF_COOKIE}=${csrf}; Path=${base}/admin; HttpOnly; SameSite=Strict${isSecure(request) ? '; Secure' : ''}`;
    }
    return { status: 200, headers, body };
  }

  function crossSite(request: DaylightRequest): string | undefined {
    if (!(header(request, 'content-type') ?? '').toLowerCase().startsWith('application/json')) {
      return 'Content-Type must be application/json';
    }
    if (header(request, 'x-daylight-admin') !== '1') return 'the X-Daylight-Admin: 1 header is missing';
    // Where the request comes from, as the browser says it: in Sec-Fetch-Site, which a page cannot set; browsers
    // without it (older Safari) in Origin, which is checked only then, as for reports — a reverse proxy that
    // rewrites Host must not refuse the actions of modern browsers (Origin then names a host this server never sees).
    const site = header(request, 'sec-fetch-site');
    if (site !== undefined) {
      if (site !== 'same-origin') return `a ${site} request cannot act`;
    } else {
      const origin = foreignOrigin(request);
      if (origin !== undefined) return origin;
    }
    const token = header(request, 'x-daylight-csrf');
    const expected = cookie(request, CSRF_COOKIE);
    if (token === undefined || expected === undefined || !CSRF_PATTERN.test(expected) || !sameToken(token, expected)) {
      return 'the CSRF token is missing or does not match; reload the status page';
    }
    return undefined;
  }

  async function act(request: DaylightRequest): Promise<DaylightResponse> {
    if (request.method !== 'POST') return text(405, 'Method not allowed', { Allow: 'POST' });
    const refused = crossSite(request);
    if (refused !== undefined) return problem(403, 'Cross-site request refused', refused);
    let change: ReturnType<typeof changeOf>;
    try {
      change = changeOf(await readJsonBody(request, MAX_ACTION_BYTES));
    } catch (error) {
      return problem(400, 'Malformed action', (error as Error).message);
    }
    try {
      const result = await deps.change(change.apply, change.action);
      return json(200, result);
    } catch (error) {
      if (isRegistryChangeError(error)) return problem(409, 'Change refused', error.message);
      logger.error('daylight: an admin action failed', error);
      return problem(503, 'The store could not be changed', (error as Error).message);
    }
  }

  return {
    async handle(request, rest) {
      try {
        if (authorize === undefined) return off;
        if (!(await allowed(request))) return denied;
        if (rest === '/admin/actions') return await act(request);
        if (request.method !== 'GET' && request.method !== 'HEAD') {
          return text(405, 'Method not allowed', { Allow: 'GET, HEAD' });
        }
        if (rest === '/admin' || rest === '/admin/') return await page(request);
        if (rest === '/admin/registry.json') {
          // What this server serves, for `daylight gate --server` run away from the store.
          const registry = deps.registry();
          return registry === undefined
            ? text(503, 'No registry read yet', { 'Retry-After': '5' })
            : json(200, registry);
        }
        if (rest === '/admin/census.json') {
          let census: CensusSnapshot | undefined;
          try {
            census = await deps.census();
          } catch (error) {
            return text(503, `The census cannot be read: ${(error as Error).message}`, { 'Retry-After': '10' });
          }
          return census === undefined ? text(404, 'The census is off') : json(200, census);
        }
        return text(404, 'Not found');
      } catch (error) {
        logger.error(`daylight: could not answer ${request.method} ${request.path}`, error);
        return text(500, 'Internal error');
      }
    },
  };
}
