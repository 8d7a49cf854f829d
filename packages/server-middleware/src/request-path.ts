/**
 * Matching request paths against the base path, and turning the `{path}` of
 * `{base}/releases/{v}/files/{path}` into a build-relative file path that
 * cannot leave the release's folder.
 */
import path from 'node:path';

/** The longest build-relative path Daylight serves (the manifest's own limit). */
const MAX_FILE_PATH = 1024;
const SLASH = 0x2f;
const QUESTION_MARK = 0x3f;

/** The path of a request target, without its query string: `/a/b?x=1` → `/a/b`. */
export function pathOf(target: string): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/**
 * True when a request target (path and query) is `base` itself or below it.
 * Cheap enough for the hot path: one `startsWith` and one character.
 */
export function isUnderBase(target: string, base: string): boolean {
  if (!target.startsWith(base)) return false;
  if (target.length === base.length) return true;
  const next = target.charCodeAt(base.length);
  return next === SLASH || next === QUESTION_MARK;
}

/** The part of `requestPath` after `base` (`''` or starting with `/`), or `undefined` when it is not below `base`. */
export function restAfterBase(requestPath: string, base: string): string | undefined {
  if (!requestPath.startsWith(base)) return undefined;
  const rest = requestPath.slice(base.length);
  return rest === '' || rest.charCodeAt(0) === SLASH ? rest : undefined;
}

/** `decodeURIComponent` that answers `undefined` instead of throwing on a malformed escape. */
export function safeDecode(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/**
 * Decodes the percent-encoded file part of a release URL into a build-relative
 * path, or `undefined` when it could name anything outside the release: empty,
 * too long, a malformed escape, NUL, a backslash (Windows separators, also
 * when encoded as `%5C`), or an empty, `.` or `..` segment (also `%2e%2e`).
 */
export function decodeReleasePath(encoded: string): string | undefined {
  if (encoded.length === 0 || encoded.length > MAX_FILE_PATH * 3) return undefined;
  const decoded = safeDecode(encoded);
  if (decoded === undefined || decoded.length > MAX_FILE_PATH) return undefined;
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  for (const segment of decoded.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') return undefined;
  }
  return decoded;
}

/**
 * Joins a build-relative path to a folder and checks the result stays inside
 * it. A second line of defence after {@link decodeReleasePath} and the
 * manifest look-up: neither should ever let `..` through, but this one does
 * not depend on them.
 */
export function resolveInside(folder: string, relative: string): string | undefined {
  const root = path.resolve(folder);
  const candidate = path.resolve(root, relative);
  const between = path.relative(root, candidate);
  if (between === '' || path.isAbsolute(between) || between === '..' || between.startsWith(`..${path.sep}`)) {
    return undefined;
  }
  return candidate;
}

/**
 * True when the last segment of a path ends with a file extension
 * (`/assets/app.js`, `/favicon.ico`). A route such as `/people/jane.doe`
 * counts too: an SPA that needs dots in its routes should not rely on the
 * shell fallback for them.
 */
export function hasFileExtension(requestPath: string): boolean {
  const slash = requestPath.lastIndexOf('/');
  return /\.[A-Za-z0-9]+$/.test(requestPath.slice(slash + 1));
}
