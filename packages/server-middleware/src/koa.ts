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
import { isUnderBase, pathOf } from './request-path.js';
import type { DaylightRequest, DaylightResponse, DaylightServer } from './types.js';

export type { DaylightState } from './types.js';
export { daylightKoaFloor } from './floor/koa-floor.js';
export type { FloorOptions, FloorProblem } from './floor/floor.js';

function viewOf(ctx: Context): DaylightRequest {
  return { method: ctx.method, path: pathOf(ctx.originalUrl), headers: ctx.headers, incoming: ctx.req };
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
 * The stamp survives Koa's default error handler, which removes every header
 * before it writes the error: the stamp is added when the head of the
 * response is written (see stamp.ts), after that removal.
 */
export function daylightKoa(server: DaylightServer): Middleware {
  const base = server.basePath;
  return async function daylight(ctx: Context, next: Next): Promise<void> {
    (ctx.state as Record<string, unknown>).daylight = server.attach(ctx.req, ctx.res);
    const response = isUnderBase(ctx.originalUrl, base) ? await server.handle(viewOf(ctx)) : undefined;
    if (response === undefined) await next();
    else respond(ctx, response);
  };
}

/**
 * The SPA fallback; mount it last. Runs after the rest of the app and acts
 * only when nothing answered (404 without a body): navigations get the
 * current release's HTML shell, paths with a file extension a 404 that is
 * never cached.
 */
export function daylightKoaShell(server: DaylightServer): Middleware {
  return async function daylightShell(ctx: Context, next: Next): Promise<void> {
    (ctx.state as Record<string, unknown>).daylight = server.attach(ctx.req, ctx.res);
    await next();
    if (ctx.status !== 404 || ctx.body != null) return;
    const response = await server.handleShell(viewOf(ctx));
    if (response !== undefined) respond(ctx, response);
  };
}
