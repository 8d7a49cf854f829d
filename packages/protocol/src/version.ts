/**
 * Strict Semantic Versioning 2.0.0, small enough for the browser bundle.
 *
 * The server and the CLI use the `semver` package; the client cannot afford
 * its size (see docs/decisions.md), so the protocol carries this parser. A
 * property test checks that it agrees with `semver` on every version it
 * accepts.
 */

/** The longest version string Daylight accepts anywhere. */
export const MAX_VERSION_LENGTH = 64;

// From semver.org, without the optional leading "v" or surrounding spaces.
const VERSION_PATTERN =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;

export interface ParsedVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  readonly prerelease: readonly (string | number)[];
}

/** Parses a strict semver string; `undefined` for anything else, never throws. */
export function parseVersion(value: unknown): ParsedVersion | undefined {
  if (typeof value !== 'string' || value.length > MAX_VERSION_LENGTH) return undefined;
  const match = VERSION_PATTERN.exec(value);
  if (!match) return undefined;
  const [major, minor, patch] = match.slice(1, 4).map(Number) as [number, number, number];
  const prerelease = match[4]?.split('.').map((id) => (/\D/.test(id) ? id : Number(id))) ?? [];
  // Every number must be exact: 9007199254740993 would compare equal to its neighbour.
  if (![major, minor, patch, ...prerelease].every((n) => typeof n === 'string' || Number.isSafeInteger(n))) {
    return undefined;
  }
  return { major, minor, patch, prerelease };
}

/** True when `value` is a strict semver string of at most {@link MAX_VERSION_LENGTH} characters. */
export function isVersion(value: unknown): value is string {
  return parseVersion(value) !== undefined;
}

/** Numeric identifiers rank below alphanumeric ones; each kind orders by value. */
function compareIdentifiers(a: string | number, b: string | number): number {
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1;
  return a === b ? 0 : a < b ? -1 : 1;
}

function compareParsed(a: ParsedVersion, b: ParsedVersion): number {
  const ap = a.prerelease;
  const bp = b.prerelease;
  // A version without a prerelease outranks the same version with one.
  let order =
    a.major - b.major || a.minor - b.minor || a.patch - b.patch || (ap.length && bp.length ? 0 : bp.length - ap.length);
  for (let i = 0; !order && i < Math.min(ap.length, bp.length); i++) order = compareIdentifiers(ap[i]!, bp[i]!);
  // Equal as far as the shorter goes: the longer ranks higher.
  return Math.sign(order || ap.length - bp.length);
}

/**
 * Orders two versions by semver precedence (build metadata ignored).
 * @throws {TypeError} when either is not a strict semver string.
 */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  if (!pa || !pb) {
    throw new TypeError(`compareVersions: "${String(pa ? b : a)}" is not a semver version such as 1.4.2`);
  }
  return compareParsed(pa, pb) as -1 | 0 | 1;
}

/** What kind of change moving from one version to another is. */
export type ChangeKind = 'major' | 'minor' | 'patch' | 'prerelease' | 'downgrade' | 'same';

/**
 * The kind of change from `from` to `to`: `downgrade` when `to` is older (a
 * rollback), `same` when they have equal precedence, `prerelease` when `to`
 * is a pre-release, otherwise the most significant part that grew
 * (`1.0.0-rc.1` → `1.0.0` is a `patch`).
 * @throws {TypeError} when either is not a strict semver string.
 */
export function changeKind(from: string, to: string): ChangeKind {
  const order = compareVersions(from, to);
  const a = parseVersion(from)!;
  const b = parseVersion(to)!;
  if (order === 0) return 'same';
  if (order > 0) return 'downgrade';
  // Moving onto a pre-release is its own kind, whatever part grew: teams opt into those.
  if (b.prerelease.length > 0) return 'prerelease';
  if (a.major !== b.major) return 'major';
  if (a.minor !== b.minor) return 'minor';
  return 'patch';
}
