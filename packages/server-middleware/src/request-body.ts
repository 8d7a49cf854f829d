/**
 * The JSON body of a POST to Daylight's endpoints (reports, the status page's actions), read once for both. An
 * app that mounts a body parser before Daylight (`app.use(express.json())` on its first line, `koa-bodyparser`)
 * has read the stream already: Daylight would read nothing and refuse the request. The parser left the body on
 * the request (`req.body`, Koa's `ctx.request.body`), and that one is used.
 */
import type { DaylightRequest } from './types.js';

/** A body longer than the endpoint takes. */
export class BodyTooLargeError extends Error {}

/**
 * What an app's parser read: raw text (`express.text()`, `express.raw()`), or a value it parsed as JSON;
 * `undefined` when the stream was not read yet and Daylight reads it itself. A stream read by something that left
 * no body gives `{ value: undefined }`.
 */
function bodyReadBefore(request: DaylightRequest): { readonly text: string } | { readonly value: unknown } | undefined {
  const stream = request.incoming;
  if (stream === undefined || !stream.readableEnded) return undefined;
  const body = request.body !== undefined ? request.body : (stream as { body?: unknown }).body;
  if (typeof body === 'string') return { text: body };
  if (Buffer.isBuffer(body)) return { text: body.toString('utf8') };
  return { value: body };
}

/**
 * The request's body parsed as JSON, at most `maxBytes` of text (a value an app's parser made is taken as it is).
 * @throws BodyTooLargeError past `maxBytes`; a SyntaxError when it is not JSON; an Error when there is no body
 */
export async function readJsonBody(request: DaylightRequest, maxBytes: number): Promise<unknown> {
  const stream = request.incoming;
  if (stream === undefined) throw new Error('the request body is not available');
  const before = bodyReadBefore(request);
  if (before !== undefined && 'value' in before) return before.value;
  let text = before?.text;
  if (text === undefined) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new BodyTooLargeError(`the body is larger than ${maxBytes} bytes`);
      chunks.push(chunk);
    }
    text = Buffer.concat(chunks).toString('utf8');
  } else if (Buffer.byteLength(text) > maxBytes) {
    throw new BodyTooLargeError(`the body is larger than ${maxBytes} bytes`);
  }
  return JSON.parse(text) as unknown;
}
