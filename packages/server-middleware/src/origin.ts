// Whether a browser says a request comes from a page on another origin, for the endpoints that act on a
// person's cookies (reports, the status page's actions).
import type { DaylightRequest } from './types.js';

/** A request header's value when it was sent once. */
export function header(request: DaylightRequest, name: string): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
}

/**
 * Why the request's `Origin` header shows another origin, or `undefined` when it shows this host or is absent.
 * Browsers send `Origin` on every `POST`, the old ones without `Sec-Fetch-Site` included; `null` is an opaque
 * origin (a sandboxed frame, a `data:` page) and is refused too.
 */
export function foreignOrigin(request: DaylightRequest): string | undefined {
  const origin = header(request, 'origin');
  if (origin === undefined) return undefined;
  if (origin === 'null') return 'an opaque origin (null) is not this site';
  let originHost: string | undefined;
  try {
    originHost = new URL(origin).host;
  } catch {
    originHost = undefined;
  }
  const host = header(request, 'host');
  return host !== undefined && originHost === host ? undefined : `origin ${origin} is not this site`;
}
