/**
 * Stamping a response. The stamp must be on the head of the response however
 * it is written, and what happens between the request coming in and the head
 * going out can remove it or overwrite what it merged with:
 *
 * - Koa's default error handler (`ctx.onerror`) removes every header before
 *   writing the error;
 * - a CORS middleware mounted after Daylight sets `Access-Control-Expose-Headers`
 *   with `setHeader`, replacing any value already there.
 *
 * Two ways, then:
 *
 * - {@link stampOnWriteHead} adds the stamp when the head is written. Every way
 *   of sending a response in node:http (`end`, `write`, `flushHeaders`, an
 *   explicit `writeHead`) goes through `writeHead`, so arming the response
 *   for the one wrapper on `ServerResponse.prototype.writeHead` covers the
 *   app, its error handlers and the frameworks' defaults. Express needs it for
 *   cross-origin requests: it never hands control back once the app answered,
 *   and the stamp must join the expose list set later.
 * - {@link stampNow} sets it at once. Koa hands control back after the app ran
 *   and before it writes the response (`await next()`): the stamp set then
 *   sees what the app set, with no closure and no WeakMap entry. Koa's
 *   error handler still goes through {@link stampOnWriteHead} (koa.ts).
 *   Express stamps a request without `Origin` this way before the app runs:
 *   with no expose list, nothing set later needs merging (express.ts).
 */
import { ServerResponse, validateHeaderName, validateHeaderValue, type OutgoingHttpHeader } from 'node:http';
import { RELEASE_HEADER } from '@daylight/protocol';

const EXPOSE_HEADER = 'Access-Control-Expose-Headers';
// Look-ups go by the lower-case names: node:http lower-cases the name on every
// getHeader and hasHeader, which allocates unless it is lower-case already.
const EXPOSE_KEY = EXPOSE_HEADER.toLowerCase();
const RELEASE_TOKEN = RELEASE_HEADER.toLowerCase();

/** True when a comma-separated header value lists `Daylight-Release` (case-insensitive). */
function listsRelease(value: string): boolean {
  if (!value.toLowerCase().includes(RELEASE_TOKEN)) return false;
  return value.split(',').some((token) => token.trim().toLowerCase() === RELEASE_TOKEN);
}

/**
 * Adds `Daylight-Release` to `Access-Control-Expose-Headers`, keeping what is
 * there and never listing it twice — on a response to a request that carries
 * `Origin`, only: the browser reads the list only for a cross-origin request,
 * and sends `Origin` on every one (the Fetch standard). Same-origin reads,
 * most of an app's API calls, skip two header look-ups and a write.
 */
export function mergeExposeHeader(res: ServerResponse): void {
  if (res.req.headers.origin === undefined) return;
  const current = res.getHeader(EXPOSE_KEY);
  if (current === undefined) {
    res.setHeader(EXPOSE_HEADER, RELEASE_HEADER);
    return;
  }
  const text = Array.isArray(current) ? current.join(', ') : String(current);
  if (listsRelease(text)) return;
  res.setHeader(EXPOSE_HEADER, text.trim() === '' ? RELEASE_HEADER : `${text}, ${RELEASE_HEADER}`);
}

/**
 * Sets `header` as `Daylight-Release` on `res` now and, for a request with
 * `Origin`, lists it in `Access-Control-Expose-Headers`, keeping what is
 * there. The caller removes the stamp if this throws.
 */
export function stampNow(res: ServerResponse, header: string): void {
  res.setHeader(RELEASE_HEADER, header);
  mergeExposeHeader(res);
}

/** Takes the stamp off a response whose stamping failed half-way, so it goes out unstamped rather than unexposed. */
export function removeStamp(res: ServerResponse): void {
  try {
    if (!res.headersSent) res.removeHeader(RELEASE_HEADER);
  } catch {
    // The response must go out whatever happens here.
  }
}

/**
 * Applies header fields passed to `writeHead` so that the stamp's merge sees
 * them: an object replaces fields one by one (as node:http does when headers
 * were set before); a flat `[name, value, …]` array replaces each named field
 * and keeps duplicates (two `Set-Cookie`), as node:http 22 does then; an
 * array of `[name, value]` pairs, which node:http takes only when no header
 * was set before (and then writes as it is), the same way. Throws, as
 * node:http would, on a name or value it refuses — before changing anything.
 */
function applyFields(res: ServerResponse, fields: object): void {
  if (Array.isArray(fields)) {
    const list = fields as unknown[];
    const pairs = Array.isArray(list[0]);
    const step = pairs ? 1 : 2;
    const nameAt = (i: number): string => String(pairs ? (list[i] as unknown[])[0] : list[i]);
    const valueAt = (i: number): unknown => (pairs ? (list[i] as unknown[])[1] : list[i + 1]);
    // Every field checked before any is changed: one node:http refuses leaves the response as it was.
    if (!pairs && list.length % 2 !== 0) throw new TypeError('writeHead: a flat header array has an odd length');
    for (let i = 0; i < list.length; i += step) {
      validateHeaderName(nameAt(i));
      validateHeaderValue(nameAt(i), valueAt(i) as string); // (any value setHeader takes)
    }
    for (let i = 0; i < list.length; i += step) res.removeHeader(nameAt(i));
    for (let i = 0; i < list.length; i += step) {
      const value = valueAt(i);
      res.appendHeader(nameAt(i), typeof value === 'number' ? String(value) : (value as string | string[]));
    }
    return;
  }
  for (const [name, value] of Object.entries(fields)) {
    if (name !== '') res.setHeader(name, value as OutgoingHttpHeader);
  }
}

/** Where node:http reads `writeHead`'s fields from: (status, message, fields), (status, fields), or (status, undefined, fields). */
function fieldsOf(args: unknown[]): unknown {
  return typeof args[1] === 'string' ? args[2] : (args[2] ?? args[1]);
}

/** The arguments left once the fields are applied: the status, and its message if there is one. */
function withoutFields(args: unknown[]): unknown[] {
  return args.slice(0, typeof args[1] === 'string' ? 2 : 1);
}

/**
 * The arguments for node:http's `writeHead` when the app passes its fields
 * as an array. node:http 20 applies such an array with `setHeader` as soon as
 * any header was set before — the stamp was — so one `Set-Cookie` of two is
 * lost, and `[name, value]` pairs throw (in node:http 22 too); without a
 * header set before, it writes the array as it is. The fields are applied
 * here as that would have written them (each named field replaced,
 * duplicates kept), and node:http gets the status alone. A field node:http
 * refuses changes nothing, and the arguments go on as the app passed them,
 * for node:http to answer with its own error.
 */
function arrayFields(res: ServerResponse, args: unknown[]): unknown[] {
  // Every response the process writes comes here: nothing is allocated unless the fields are an array.
  const fields = fieldsOf(args);
  if (!Array.isArray(fields)) return args;
  try {
    applyFields(res, fields);
    return withoutFields(args);
  } catch {
    return args;
  }
}

/** Test-only fault injection: called when a request is attached and right before the stamp is written. */
export type BeforeStamp = (phase: 'attach' | 'write') => void;

/**
 * How to stamp an armed response when its head is written: `stampFor` gives
 * the stamp then (a release per request resolves there, per-request.ts; its
 * `undefined` leaves the response unstamped), and whom to tell when stamping
 * fails. One object serves every response of a release that is the same for
 * everyone: arming such a response allocates nothing.
 */
export interface Arming {
  stampFor(res: ServerResponse): string | undefined;
  readonly onFailure: (error: unknown) => void;
  readonly beforeStamp: BeforeStamp | undefined;
}

/**
 * Responses armed by {@link stampOnWriteHead}. Kept here rather than on the
 * response: a property added to an Express response (whose prototype Express
 * replaced) turns the property look-ups of every function that touches it
 * slow — a wrapper as `res.writeHead` cost Express ~60,000 instructions per
 * request (docs/decisions.md).
 */
const armed = new WeakMap<ServerResponse, Arming>();
let patched = false;

/**
 * Stamps `res` as its head is written with `args`; returns the arguments to
 * forward to the real `writeHead`. If anything fails, the response goes out
 * unstamped and `onFailure` is told; the response itself is never affected.
 */
function stampHead(res: ServerResponse, args: unknown[], arming: Arming): unknown[] {
  try {
    arming.beforeStamp?.('write');
    let forward = args;
    const fields = fieldsOf(args);
    if (typeof fields === 'object' && fields !== null) {
      applyFields(res, fields);
      forward = withoutFields(args);
    }
    // A release per request resolves now, after the app's middleware ran.
    const value = arming.stampFor(res);
    if (value !== undefined) {
      res.setHeader(RELEASE_HEADER, value);
      mergeExposeHeader(res);
    }
    return forward;
  } catch (error) {
    removeStamp(res);
    arming.onFailure(error);
    return args;
  }
}

/**
 * Wraps `ServerResponse.prototype.writeHead` once per process, when the first
 * Daylight server is created — before any request, so that a wrapper another
 * middleware puts on a response (`on-headers`, which morgan, compression and
 * express-session use) captures this one and calls through to it. Every way of
 * sending a response in node:http reaches it (`end`, `write` and
 * `flushHeaders` call `this.writeHead`). For a response that is not armed it
 * costs one WeakMap look-up, and applies fields passed as an array itself
 * ({@link arrayFields}: a stamp set before must not cost the app a cookie).
 */
export function patchWriteHead(): void {
  if (patched) return;
  patched = true;
  // Called below with .apply(this, …), so it keeps its receiver.
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const writeHead = ServerResponse.prototype.writeHead as (...args: unknown[]) => ServerResponse;
  ServerResponse.prototype.writeHead = function daylightWriteHead(this: ServerResponse, ...args: unknown[]) {
    // Once the head is written, headersSent is true: a second call is node's error to raise, unstamped.
    if (this.headersSent) return writeHead.apply(this, args);
    const arming = armed.get(this);
    return writeHead.apply(this, arming === undefined ? arrayFields(this, args) : stampHead(this, args, arming));
  } as typeof writeHead;
}

/** True when `res` was armed to be stamped as its head is written. */
export function isArmed(res: ServerResponse): boolean {
  return armed.has(res);
}

/** How `res` was armed, if it was. */
export function armingOf(res: ServerResponse): Arming | undefined {
  return armed.get(res);
}

/**
 * Makes `res` carry the stamp `arming` describes when its head is written. A
 * node:http response is armed in a WeakMap read by the one wrapper on the
 * prototype ({@link patchWriteHead}); anything else (the HTTP/2
 * compatibility API) gets a wrapper of its own.
 */
export function stampOnWriteHead(res: ServerResponse, arming: Arming): void {
  // Typed as node:http's, but HTTP/2's compatibility responses come here too.
  const other: ServerResponse = res;
  armed.set(res, arming);
  if (res instanceof ServerResponse) {
    patchWriteHead();
    return;
  }
  // eslint-disable-next-line @typescript-eslint/unbound-method
  const writeHead = other.writeHead as (...args: unknown[]) => ServerResponse;
  other.writeHead = function daylightWriteHead(this: ServerResponse, ...args: unknown[]): ServerResponse {
    return writeHead.apply(this, this.headersSent ? args : stampHead(this, args, arming));
  };
}
