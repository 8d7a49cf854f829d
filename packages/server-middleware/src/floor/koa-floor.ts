import type { Context, Middleware, Next } from 'koa';
import { pathOf } from '../request-path.js';
import type { DaylightState } from '../types.js';
import { createFloor, type FloorOptions } from './floor.js';

/**
 * The compatibility floor for Koa; mount it after `daylightKoa` (it reads
 * `ctx.state.daylight`) and before the API. Refuses clients outside the
 * floor with a 409 problem document; fail-open.
 * @throws {TypeError} for options it does not know or cannot use, naming the fix.
 * @example app.use(daylightKoaFloor({ range: '>=1.3.0' }));
 */
export function daylightKoaFloor(options?: FloorOptions): Middleware {
  const check = createFloor(options, {
    name: 'daylightKoaFloor',
    mount: "app.use(daylightKoaFloor({ range: '>=1.3.0' }))",
  });
  return async function daylightFloor(ctx: Context, next: Next): Promise<void> {
    let refusal;
    try {
      // A CORS preflight never carries Daylight-Client: it is not a request of any version.
      refusal =
        ctx.method === 'OPTIONS'
          ? undefined
          : check(pathOf(ctx.originalUrl), (ctx.state as { daylight?: DaylightState }).daylight ?? {});
    } catch {
      refusal = undefined; // Daylight never breaks an API request
    }
    if (refusal === undefined) {
      await next();
      return;
    }
    ctx.status = refusal.status;
    ctx.body = refusal.body;
    ctx.set(refusal.headers);
  };
}
