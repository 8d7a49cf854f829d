/**
 * Where the middleware serves Daylight's own resources, relative to a base
 * path (default `/_daylight`). The client and the server both build URLs
 * through these functions, so the layout lives in one place.
 */

/** The default base path of Daylight's endpoints. */
export const DEFAULT_BASE_PATH = '/_daylight';

/**
 * The `<meta name>` the middleware injects into every HTML shell it serves,
 * whose `content` is the release that shell belongs to.
 */
export const RELEASE_META_NAME = 'daylight-release';

/** `GET` → `{ version, min }` for this request, uncached: the authoritative check. */
export function releaseCheckPath(base: string): string {
  return `${base}/release`;
}

/** `GET` → the release's manifest. */
export function manifestPath(base: string, version: string): string {
  return `${base}/releases/${encodeURIComponent(version)}/manifest.json`;
}

/** `GET` → one of the release's files; `file` is relative to the build directory. */
export function assetPath(base: string, version: string, file: string): string {
  return `${base}/releases/${encodeURIComponent(version)}/files/${file}`;
}

/** A path segment percent-decoded, or as written when it is no valid escape (`100%.js`). */
function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/**
 * The build-relative file a `src` or `href` in a release's HTML shell names,
 * as the CLI and the middleware both read it: a root-relative value
 * (`/assets/app.js`) from the build's root, a relative one from the shell's
 * folder (`shell` is the shell's build-relative path, `index.html` by
 * default), query and fragment dropped, segments percent-decoded (a segment
 * that is no valid escape, such as `100%.js`, as written). `undefined` for
 * another origin or a `data:` URL.
 */
export function shellReference(value: string, shell = 'index.html'): string | undefined {
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) || value.startsWith('//')) return undefined;
  try {
    const base = new URL(shell.split('/').map(encodeURIComponent).join('/'), 'http://build.invalid/');
    const segments = new URL(value, base).pathname.slice(1).split('/');
    return segments.map((segment) => decodeSegment(segment)).join('/');
  } catch {
    return undefined;
  }
}
