/**
 * A small, deliberate map from file extension to `Content-Type`: the files a
 * web build produces. Anything else is `application/octet-stream`, which the
 * browser will not sniff into something executable (we also send `nosniff`).
 */

const TYPES: ReadonlyMap<string, string> = new Map(
  Object.entries({
    js: 'text/javascript; charset=utf-8',
    mjs: 'text/javascript; charset=utf-8',
    css: 'text/css; charset=utf-8',
    html: 'text/html; charset=utf-8',
    json: 'application/json; charset=utf-8',
    map: 'application/json; charset=utf-8',
    svg: 'image/svg+xml',
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    ico: 'image/x-icon',
    woff2: 'font/woff2',
    wasm: 'application/wasm',
    txt: 'text/plain; charset=utf-8',
    webmanifest: 'application/manifest+json',
  }),
);

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The `Content-Type` for a file name, by its extension (case-insensitive). */
export function contentTypeOf(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot === -1 || dot < fileName.lastIndexOf('/')) return DEFAULT_CONTENT_TYPE;
  return TYPES.get(fileName.slice(dot + 1).toLowerCase()) ?? DEFAULT_CONTENT_TYPE;
}
