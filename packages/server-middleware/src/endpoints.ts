/**
 * The answers of Daylight's HTTP surface (docs/design.md, "HTTP surface of
 * the middleware"), as framework-free {@link DaylightResponse} values.
 *
 * | request                                 | answer                       | Cache-Control                         |
 * | --------------------------------------- | ---------------------------- | ------------------------------------- |
 * | `GET {base}/release`                    | `{version, min?}`, 204       | `no-store`                            |
 * | `GET {base}/releases/{v}/manifest.json` | the manifest                 | `no-cache`                            |
 * | `GET {base}/releases/{v}/files/{path}`  | a file of the release        | `public, max-age=31536000, immutable` |
 * | ditto, bytes that do not match manifest | 500 (file-check.ts)          | `no-store`                            |
 * | anything else below `{base}`            | 404 (405 for other methods)  | `no-store`                            |
 * | a navigation reaching the shell handler | the HTML shell (503 if none) | `no-cache`                            |
 * | a path with an extension, ditto         | 404                          | `no-store`                            |
 */
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { contentTypeOf } from './content-type.js';
import { matchesManifest } from './file-check.js';
import type { Choice, Generation, LoadedRelease, ShellLoad } from './release-store.js';
import { haltedAnywhere } from './registry.js';
import { repairHint } from './release-check.js';
import { decodeReleasePath, hasFileExtension, resolveInside, restAfterBase, safeDecode } from './request-path.js';
import { answerRetiredWorker } from './service-worker.js';
import type { DaylightRequest, DaylightResponse } from './types.js';
import { askedVersion, shellVersion } from './previous-shell.js';

export const IMMUTABLE = 'public, max-age=31536000, immutable';
const RELEASE_ROUTE = /^\/releases\/([^/]+)\/(?:(manifest\.json)|files\/(.+))$/;

/** What the endpoints need from the server. */
export interface EndpointContext {
  readonly base: string;
  /** The release's shell, cached per generation. */
  shellOf(generation: Generation, release: LoadedRelease): Promise<ShellLoad>;
  /** Reports a problem, once per distinct message per generation. */
  problem(message: string): void;
  /** Paths answered with the retiring service worker (the `retireServiceWorkers` option). */
  readonly retired: ReadonlySet<string>;
  /** A browser asked for a service worker script this server does not serve (`path`): said a few times at most. */
  unservedWorker(path: string): void;
}

function isHead(request: DaylightRequest): boolean {
  return request.method === 'HEAD';
}

/** A short text answer that no cache keeps. */
export function textResponse(
  request: DaylightRequest,
  status: number,
  message: string,
  extra: Readonly<Record<string, string>> = {},
): DaylightResponse {
  const body = `${message}\n`;
  const headers = {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': String(Buffer.byteLength(body)),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...extra,
  };
  return isHead(request) ? { status, headers } : { status, headers, body };
}

function notFound(request: DaylightRequest): DaylightResponse {
  return textResponse(request, 404, 'Not found');
}

function bytesResponse(
  request: DaylightRequest,
  body: Buffer,
  headers: Readonly<Record<string, string>>,
): DaylightResponse {
  const all = { ...headers, 'Content-Length': String(body.length), 'X-Content-Type-Options': 'nosniff' };
  return isHead(request) ? { status: 200, headers: all } : { status: 200, headers: all, body };
}

/** True when `If-None-Match` lists `etag` (weak comparison, as RFC 9110 asks for this header) or is `*`. */
export function matchesEtag(header: string | string[] | undefined, etag: string): boolean {
  if (typeof header !== 'string') return false;
  for (const part of header.split(',')) {
    const tag = part.trim();
    if (tag === '*' || tag === etag || (tag.startsWith('W/') && tag.slice(2) === etag)) return true;
  }
  return false;
}

function notModified(headers: Readonly<Record<string, string>>): DaylightResponse {
  return { status: 304, headers };
}

async function fileResponse(
  ctx: EndpointContext,
  generation: Generation,
  request: DaylightRequest,
  release: LoadedRelease,
  relative: string,
): Promise<DaylightResponse> {
  if (relative === release.shell) {
    const load = await ctx.shellOf(generation, release);
    if (!load.ok) return notFound(request);
    const headers = { 'Cache-Control': IMMUTABLE, ETag: `"${load.shell.rawIntegrity}"` };
    if (matchesEtag(request.headers['if-none-match'], headers.ETag)) return notModified(headers);
    // The raw shell is a file to check, not a page: opened as one, it would boot the release for anyone who
    // knows its URL (a pilot, bypassing the server's resolution). Sandboxed, it runs no script.
    return bytesResponse(request, load.shell.raw, {
      ...headers,
      'Content-Type': contentTypeOf(relative),
      'Content-Security-Policy': 'sandbox',
    });
  }
  const file = release.files.get(relative);
  const absolute = file === undefined ? undefined : resolveInside(release.filesDir, relative);
  if (file === undefined || absolute === undefined) return notFound(request);

  const headers = { 'Cache-Control': IMMUTABLE, ETag: `"${file.integrity}"` };
  if (matchesEtag(request.headers['if-none-match'], headers.ETag)) return notModified(headers);

  let handle: FileHandle;
  try {
    handle = await open(absolute, 'r');
  } catch (error) {
    ctx.problem(
      `daylight: ${absolute}: ${(error as Error).message}; release ${release.version} lists it but it cannot be opened`,
    );
    return notFound(request);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new Error('is not a regular file');
    const all = {
      ...headers,
      'Content-Type': contentTypeOf(relative),
      'Content-Length': String(info.size),
      'X-Content-Type-Options': 'nosniff',
    };
    if (isHead(request)) {
      await handle.close();
      return { status: 200, headers: all };
    }
    if (!(await matchesManifest(file, handle, info))) {
      await handle.close();
      ctx.problem(
        `daylight: ${absolute} does not match the manifest of release ${release.version} (size or hash), so it is not served (\`daylight verify ${release.version}\` names every file that changed); ${repairHint(release.version)}`,
      );
      // Not a 404 (a missing file) and never cached: the browser asks again once the file is repaired.
      return textResponse(request, 500, `This file does not match the manifest of release ${release.version}`);
    }
    // The stream owns the handle from here and closes it when done or destroyed; from the start, as the check read it.
    return { status: 200, headers: all, body: handle.createReadStream({ start: 0 }) };
  } catch (error) {
    await handle.close().catch(() => undefined);
    ctx.problem(`daylight: ${absolute}: ${(error as Error).message}`);
    return notFound(request);
  }
}

/** Answers a request whose path is `rest` below the base path, from one generation of the registry. */
export async function answerBelowBase(
  ctx: EndpointContext,
  generation: Generation | undefined,
  request: DaylightRequest,
  rest: string,
  choice: Choice | undefined = generation?.base,
): Promise<DaylightResponse> {
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return textResponse(request, 405, 'Method not allowed', { Allow: 'GET, HEAD' });
  }
  if (rest === '/release') {
    if (choice === undefined) return { status: 204, headers: { 'Cache-Control': 'no-store' } };
    const body = Buffer.from(choice.check, 'utf8');
    return bytesResponse(request, body, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
    });
  }
  const route = RELEASE_ROUTE.exec(rest);
  const version = route === null ? undefined : safeDecode(route[1]!);
  const release = version === undefined ? undefined : generation?.releases.get(version);
  if (route === null || generation === undefined || release === undefined) return notFound(request);

  if (route[2] !== undefined) {
    const headers = { 'Cache-Control': 'no-cache', ETag: release.manifestEtag };
    if (matchesEtag(request.headers['if-none-match'], headers.ETag)) return notModified(headers);
    return bytesResponse(request, release.manifest, {
      ...headers,
      'Content-Type': 'application/json; charset=utf-8',
    });
  }
  const relative = decodeReleasePath(route[3]!);
  if (relative === undefined) return notFound(request);
  return fileResponse(ctx, generation, request, release, relative);
}

/** True when the request asks for HTML: browsers send `text/html` in `Accept` on navigations. */
function wantsHtml(request: DaylightRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/html');
}

/**
 * Why a navigation gets no shell (a 503):
 * - `loading`: the registry's first read has not finished (the server listened before `await daylight.ready`);
 * - `nothing-promoted`: the store holds no release for this request (nothing published or promoted yet);
 * - `unreadable`: the store cannot be read right now (Redis unreachable, a broken registry) and this server
 *   has no registry of its own to fall back on;
 * - `unservable`: the release cannot be read from disk right now (its manifest, its shell).
 */
export type ShellUnavailable = 'loading' | 'nothing-promoted' | 'unreadable' | 'unservable';

/**
 * A 503 page that loads itself again after `retrySeconds`: a switch that landed on it (`/?_daylight=1.4.0`)
 * completes once the server recovers, with no one there to reload. A meta refresh, not a script: a
 * Content-Security-Policy the app sends with every response (`script-src 'self'`) would block an inline
 * script, and no CSP directive governs a meta refresh.
 */
function page(title: string, text: string, retrySeconds: number): { readonly body: Buffer; readonly retry: string } {
  const html =
    `<!doctype html>\n<meta charset="utf-8">\n<meta http-equiv="refresh" content="${retrySeconds}">\n` +
    `<title>${title}</title>\n<p>${text}</p>\n`;
  return { body: Buffer.from(html, 'utf8'), retry: String(retrySeconds) };
}

/** Asks again every few seconds: the server reads the store again as soon as it answers (within a second). */
const RECOVERS_IN_SECONDS = 10;
const UNAVAILABLE: Readonly<Record<ShellUnavailable, ReturnType<typeof page>>> = {
  'nothing-promoted': page('Not released yet', 'This app has no release yet. Please try again in a minute.', 30),
  // It takes a moment, not a promote.
  loading: page(
    'Starting',
    'This app is starting: the server is still loading its releases. Please try again in a few seconds.',
    5,
  ),
  // Not "no release yet": releases exist, the server cannot tell which one to serve.
  unreadable: page(
    'Temporarily unavailable',
    'This app cannot be loaded right now: the server cannot read its list of releases. This page tries again by itself in a few seconds.',
    RECOVERS_IN_SECONDS,
  ),
  unservable: page(
    'Temporarily unavailable',
    'This app cannot be loaded right now: the server cannot read the files of its release. This page tries again by itself in a few seconds.',
    RECOVERS_IN_SECONDS,
  ),
};

function unavailable(request: DaylightRequest, why: ShellUnavailable): DaylightResponse {
  const { body, retry } = UNAVAILABLE[why];
  const headers = {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-store',
    'Retry-After': retry,
  };
  return isHead(request) ? { status: 503, headers } : { status: 503, headers, body };
}

/**
 * The SPA fallback: the shell of the request's release (`choice`) for a navigation, a 404 for a
 * path with a file extension, `undefined` for anything else (not ours). `none`: why this server
 * has no registry (`generation` undefined), which its 503 says.
 */
export async function answerShell(
  ctx: EndpointContext,
  generation: Generation | undefined,
  request: DaylightRequest,
  choice: Choice | (() => Choice | undefined) | undefined = generation?.base,
  none: ShellUnavailable = 'nothing-promoted',
): Promise<DaylightResponse | undefined> {
  if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
  if (restAfterBase(request.path, ctx.base) !== undefined) return undefined;
  if (hasFileExtension(request.path)) {
    if (ctx.retired.has(request.path)) return answerRetiredWorker(request);
    // A browser checking a worker it installed: a 404 leaves that worker running (with its cached pages).
    if (request.headers['service-worker'] === 'script') ctx.unservedWorker(request.path);
    return notFound(request);
  }
  if (!wantsHtml(request)) return undefined;

  // The request's own release: a pilot office's navigation gets the pilot's shell.
  const stamp = (typeof choice === 'function' ? choice() : choice)?.stamp;
  // `?_daylight=<v>`: a switch or a rollback may get an older published release's shell (previous-shell.ts).
  const version =
    stamp === undefined
      ? undefined
      : shellVersion(
          stamp,
          askedVersion(request.incoming),
          // Never a halted release: anyone can put the parameter in a link.
          (v) => (generation?.releases.has(v) ?? false) && !haltedAnywhere(generation!.registry, v),
        );
  const release = version === undefined ? undefined : generation?.releases.get(version);
  if (generation === undefined) return unavailable(request, none);
  if (release === undefined) return unavailable(request, 'nothing-promoted');
  const load = await ctx.shellOf(generation, release);
  if (!load.ok) return unavailable(request, 'unservable');

  // Vary: the same URL answers an API client that does not ask for HTML differently.
  const headers = { 'Cache-Control': 'no-cache', ETag: load.shell.etag, Vary: 'Accept' };
  if (matchesEtag(request.headers['if-none-match'], headers.ETag)) return notModified(headers);
  return bytesResponse(request, load.shell.html, { ...headers, 'Content-Type': 'text/html; charset=utf-8' });
}
