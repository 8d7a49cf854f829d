/**
 * The Koa adapter (Koa 2 and 3). Koa is an optional peer dependency: this
 * file imports its types only.
 *
 * @example
 * const daylight = createDaylight();
 * app.use(daylightKoa(daylight));       // first
 * app.use(api.routes());
 * app.use(daylightKoaShell(daylight));  // last
 */
import type { Context, Middleware, Next } from 'koa';
import { checkServerArgument } from './options.js';
import { isUnderBase, pathOf } from './request-path.js';
import type { DaylightRequest, DaylightResponse, DaylightServer, DaylightState } from './types.js';

export type { DaylightState } from './types.js';
export { daylightKoaFloor } from './floor/koa-floor.js';
export type { FloorOptions, FloorProblem } from './floor/floor.js';

function viewOf(ctx: Context): DaylightRequest {
  // `body`: set when a body parser (koa-bodyparser, koa-body) ran before Daylight (request-body.ts).
  const body = (ctx.request as { body?: unknown }).body;
  return { method: ctx.method, path: pathOf(ctx.originalUrl), headers: ctx.headers, incoming: ctx.req, body };
}

function respond(ctx: Context, response: DaylightResponse): void {
  ctx.status = response.status;
  // The body first: Koa's body setter guesses Content-Type and Content-Length,
  // and ours must win.
  if (response.body !== undefined) ctx.body = response.body;
  ctx.set(response.headers);
}

/**
 * Daylight's main middleware; mount it first. Stamps every response that
 * passes through, sets `ctx.state.daylight` (`{ client?, release? }`), and
 * answers everything below the base path.
 *
 * Koa writes the response only after every middleware has returned, so the
 * stamp is set once the app ran — a release per request (`cohort`, `keys`) is
 * resolved then, after the app's sign-in: it merges with the `Access-Control-Expose-Headers`
 * the app set, costs nothing at write time, and
 * Koa's own header checks on the way (`ctx.body = …`) do not meet it.
 *
 * Errors take the slower way, the stamp added when the head is written
 * (`stampOnWrite`): an error thrown past Daylight is answered by an error
 * handler mounted before it or by Koa's (`ctx.onerror`), which removes every
 * header first. Koa's also runs for errors met after every middleware
 * returned, while writing the body (one that does not serialise), so each
 * request's context gets an `onerror` of its own that arms the stamp and hands
 * over to the app's (`app.context.onerror`: Koa's, unless the app replaced it).
 * @throws {TypeError} when `server` is not what `createDaylight()` returns, and for every request when the
 * factory itself was mounted (`app.use(daylightKoa)`): Koa answers 500 and emits the error.
 */
export function daylightKoa(server: DaylightServer): Middleware {
  checkServerArgument('daylightKoa', server, 'app.use(daylightKoa(daylight))');
  const base = server.basePath;
  // One function for every request: the app's handler is on the context's prototype.
  function daylightOnerror(this: Context, error: Error): void {
    // Whatever the app left in `state.daylight`: only a state begin() returned is used.
    server.stampOnWrite(this.req, this.res, (this.state as { daylight?: DaylightState } | undefined)?.daylight);
    (Object.getPrototypeOf(this) as Context).onerror.call(this, error);
  }
  return async function daylight(ctx: Context, next: Next): Promise<void> {
    const { req, res } = ctx;
    const state = server.begin(req, res);
    (ctx.state as Record<string, unknown>).daylight = state;
    ctx.onerror = daylightOnerror;
    const response = isUnderBase(ctx.originalUrl, base) ? await server.handle(viewOf(ctx)) : undefined;
    if (response !== undefined) respond(ctx, response);
    else {
      try {
        await next();
      } catch (error) {
        // An error handler mounted before Daylight may answer instead of Koa's.
        server.stampOnWrite(req, res, state);
        throw error;
      }
    }
    // A response the app writes itself (`ctx.respond = false`) may get its head after this: stamped when it does,
    // so that fields it passes to writeHead (an expose list) are merged with, not over, the stamp.
    if (ctx.respond === false) server.stampOnWrite(req, res, state);
    else server.stamp(req, res, state);
  };
}

/**
 * The SPA fallback; mount it last. Runs after the rest of the app and acts
 * only when nothing answered (404 without a body): navigations get the
 * current release's HTML shell, paths with a file extension a 404 that is
 * never cached.
 * @throws {TypeError} as {@link daylightKoa} does.
 */
export function daylightKoaShell(server: DaylightServer): Middleware {
  checkServerArgument('daylightKoaShell', server, 'app.use(daylightKoaShell(daylight))');
  return async function daylightShell(ctx: Context, next: Next): Promise<void> {
    // Stamps the response too when daylightKoa is not mounted (it sets the state first).
    const state = ctx.state as Record<string, unknown>;
    state.daylight ??= server.attach(ctx.req, ctx.res);
    await next();
    if (ctx.status !== 404 || ctx.body != null) return;
    const response = await server.handleShell(viewOf(ctx));
    if (response !== undefined) respond(ctx, response);
  };
}
