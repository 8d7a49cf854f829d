import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { pathOf } from '../request-path.js';
import type { DaylightState } from '../types.js';
import { writeResponse } from '../write-response.js';
import { createFloor, type FloorOptions } from './floor.js';

/**
 * The compatibility floor for Express; mount it after `daylightExpress`
 * (it reads `res.locals.daylight`) and before the API. Refuses clients
 * outside the floor with a 409 problem document; fail-open.
 * @throws {TypeError} for options it does not know or cannot use, naming the fix.
 * @example app.use('/api', daylightExpressFloor({ range: '>=1.3.0' }));
 */
export function daylightExpressFloor(options?: FloorOptions): RequestHandler {
  const check = createFloor(options, {
    name: 'daylightExpressFloor',
    mount: "app.use('/api', daylightExpressFloor({ range: '>=1.3.0' }))",
  });
  return function daylightFloor(req: Request, res: Response, next: NextFunction): void {
    let refusal;
    try {
      // A CORS preflight never carries Daylight-Client: it is not a request of any version.
      refusal =
        req.method === 'OPTIONS'
          ? undefined
          : check(pathOf(req.originalUrl), (res.locals.daylight as DaylightState | undefined) ?? {});
    } catch {
      refusal = undefined; // Daylight never breaks an API request
    }
    if (refusal === undefined) next();
    else writeResponse(res, refusal);
  };
}
