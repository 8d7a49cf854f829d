/**
 * The body of a POST to Daylight's endpoints (reports, the status page's actions). An app that mounts a body
 * parser before Daylight (`app.use(express.json())` on its first line, `koa-bodyparser`) has read the stream
 * already: Daylight would read nothing and refuse the request. The parser left the body on the request
 * (`req.body`, Koa's `ctx.request.body`), and that one is used.
 */
import type { DaylightRequest } from './types.js';

/** What an app's parser read: raw text (`express.text()`, `express.raw()`), or a value it parsed as JSON. */
export type BodyReadBefore = { readonly text: string } | { readonly value: unknown };

/**
 * The body an app's parser read before Daylight, or `undefined` when the stream was not read yet and Daylight
 * reads it itself. A stream read by something that left no body gives `{ value: undefined }`.
 */
export function bodyReadBefore(request: DaylightRequest): BodyReadBefore | undefined {
  const stream = request.incoming;
  if (stream === undefined || !stream.readableEnded) return undefined;
  const body = request.body !== undefined ? request.body : (stream as { body?: unknown }).body;
  if (typeof body === 'string') return { text: body };
  if (Buffer.isBuffer(body)) return { text: body.toString('utf8') };
  return { value: body };
}
