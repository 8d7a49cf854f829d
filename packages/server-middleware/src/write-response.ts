/**
 * Writes a {@link DaylightResponse} to a node:http response; used by the
 * Express adapter (Express's `res` is one) with node's own methods only, so
 * Express 4 and 5 behave the same and add nothing of their own (no ETag of
 * theirs, no freshness check of theirs).
 */
import type { ServerResponse } from 'node:http';
import { Readable, pipeline } from 'node:stream';
import type { DaylightResponse } from './types.js';

export function writeResponse(res: ServerResponse, response: DaylightResponse): void {
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
