/**
 * Writes a {@link DaylightResponse} to a node:http response; used by the
 * Express adapter (Express's `res` is one) with node's own methods only, so
 * Express 4 and 5 behave the same and add nothing of their own (no ETag of
 * theirs, no freshness check of theirs).
 *
 * An answer can be ready only after the response went out: an endpoint waits for the app's callbacks
 * (`authorize`, `reports.trust`), and a request timeout mounted before Daylight (`connect-timeout`) may have
 * answered meanwhile. That answer is dropped: writing it would throw ERR_HTTP_HEADERS_SENT in a promise
 * callback, out of Express's reach, and Node ends the process on an unhandled rejection.
 */
import type { ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import type { DaylightResponse } from './types.js';

export function writeResponse(res: ServerResponse, response: DaylightResponse): void {
  if (res.headersSent) {
    if (response.body instanceof Readable) response.body.destroy(); // its file handle
    return;
  }
  res.statusCode = response.status;
  for (const [name, value] of Object.entries(response.headers)) res.setHeader(name, value);
  const body = response.body;
  if (body instanceof Readable) {
    // pipeline destroys the file stream when the client goes away, and the
    // response when the file fails half-way (the client sees a cut-off body,
    // which Content-Length makes detectable).
    pipeline(body, res, () => undefined);
  } else {
    res.end(body);
  }
}
