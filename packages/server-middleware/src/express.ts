/**
 * The Express adapter (Express 4 and 5). Express is an optional peer
 * dependency: this file imports its types only.
 *
 * @example
 * const daylight = createDaylight();
 * app.use(daylightExpress(daylight));       // first
 * app.use('/api', api);
 * app.use(daylightExpressShell(daylight));  // last
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { checkServerArgument } from './options.js';
import { RequestState } from './per-request.js';
import { isUnderBase, pathOf } from './request-path.js';
import type { DaylightRequest, DaylightServer, DaylightState } from './types.js';
import { writeResponse } from './write-response.js';

export type { DaylightState } from './types.js';
export { daylightExpressFloor } from './floor/express-floor.js';
export type { FloorOptions, FloorProblem } from './floor/floor.js';

function viewOf(req: Request): DaylightRequest {
  // `body`: set when a body parser ran before Daylight (request-body.ts).
  return { method: req.method, path: pathOf(req.originalUrl), headers: req.headers, incoming: req, body: req.body };
}

/**
 * Daylight's main middleware; mount it first. Stamps every response that
 * passes through, sets `res.locals.daylight` (`{ client?, release? }`), and
 * answers everything below the base path.
 *
 * Express never hands control back once the app answered, so the stamp goes
 * on before the app runs or when the head is written. A request without an
 * `Origin` header (same-origin reads, most API calls) gets no expose list,
 * so nothing the app sets later has to be merged with: it is stamped now, for
 * one `setHeader` (Express's and finalhandler's error paths keep headers). A
 * cross-origin request, and any request when the release depends on it
 * (`cohort`, `keys`), is stamped when the head is written, after the app's
 * CORS middleware and sign-in ran (`stampOnWrite`, given the state `begin` returned).
 * @throws {TypeError} when `server` is not what `createDaylight()` returns, and for every request when the
 * factory itself was mounted (`app.use(daylightExpress)`): Express passes that error on to its error handler.
 */
export function daylightExpress(server: DaylightServer): RequestHandler {
  checkServerArgument('daylightExpress', server, 'app.use(daylightExpress(daylight))');
  const base = server.basePath;
  return function daylight(req: Request, res: Response, next: NextFunction): void {
    const state = server.begin(req, res);
    res.locals.daylight = state;
    // A release per request waits for the app (its sign-in): it resolves when the head is written.
    if (req.headers.origin === undefined && RequestState.pendingOf(state) === undefined) server.stamp(req, res);
    else server.stampOnWrite(req, res, state);
    if (!isUnderBase(req.originalUrl, base)) {
      next();
      return;
    }
    server.handle(viewOf(req)).then((response) => {
      if (response === undefined) next();
      else writeResponse(res, response);
    }, next);
  };
}

/**
 * The SPA fallback; mount it last. Answers navigations (`GET`/`HEAD` without
 * a file extension, `Accept` with `text/html`) with the current release's
 * HTML shell, and paths with a file extension with a 404 that is never cached.
 * Anything else goes on to the next handler.
 * @throws {TypeError} as {@link daylightExpress} does.
 */
export function daylightExpressShell(server: DaylightServer): RequestHandler {
  checkServerArgument('daylightExpressShell', server, 'app.use(daylightExpressShell(daylight))');
  return function daylightShell(req: Request, res: Response, next: NextFunction): void {
    // Stamps the response too when daylightExpress is not mounted.
    (res.locals as { daylight?: DaylightState }).daylight ??= server.attach(req, res);
    server.handleShell(viewOf(req)).then((response) => {
      if (response === undefined) next();
      else writeResponse(res, response);
    }, next);
  };
}
