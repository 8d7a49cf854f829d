/**
 * The release manifest: what a release consists of, with an SRI hash for
 * every file, written by `daylight publish` and read by the browser before it
 * downloads anything.
 */
import { isVersion } from './version.js';

/** The manifest format this package reads and writes. */
export const MANIFEST_SCHEMA = 1;
/** The largest manifest the client accepts, in bytes of JSON. */
export const MAX_MANIFEST_BYTES = 1_048_576;
/** The most files one release may list. */
export const MAX_ASSETS = 10_000;
export const MAX_URL_LENGTH = 1024;
export const MAX_NOTES_LENGTH = 4000;

/** How strongly a release asks to be taken. */
export type Urgency = 'optional' | 'recommended' | 'critical';
export const URGENCIES: readonly Urgency[] = ['optional', 'recommended', 'critical'];

export interface ManifestAsset {
  /**
   * Relative to the manifest's own URL (`files/assets/app-3f2a.js`), or an
   * absolute `https:` URL on an origin the client allow-lists.
   */
  readonly url: string;
  /** Subresource Integrity value, `sha384-…` (also `sha256-`, `sha512-`). */
  readonly integrity: string;
  /** Size in bytes. */
  readonly bytes: number;
}

export interface ReleaseManifest {
  readonly schema: typeof MANIFEST_SCHEMA;
  readonly version: string;
  /** The script the release's HTML shell loads first. Also listed in `assets`. */
  readonly entry: ManifestAsset;
  /** Every file of the release except the HTML shell. */
  readonly assets: readonly ManifestAsset[];
  readonly urgency: Urgency;
  /** Release notes for people; plain text. */
  readonly notes: string;
  /** ISO 8601 timestamp of `daylight publish`. */
  readonly publishedAt: string;
}

export type ManifestValidation =
  | { readonly ok: true; readonly manifest: ReleaseManifest }
  | { readonly ok: false; readonly errors: readonly string[] };

// SRI as the client verifies it: the algorithm, then the digest in padded
// base64 of exactly the algorithm's length (32, 48 or 64 bytes), because the
// client compares its own base64 digest with this text.
const INTEGRITY = /^(?:sha256-[A-Za-z0-9+/]{43}=|sha384-[A-Za-z0-9+/]{64}|sha512-[A-Za-z0-9+/]{86}==)$/;
const RELATIVE_URL = /^(?![/\\])[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$/;
// URL parsers treat `%2e` as a dot, so `%2e%2e` climbs like `..` does; and a
// server that decodes paths would see `%2f` and `%5c` as separators.
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2e){1,2}(?:\/|$)/i;
const ENCODED_SEPARATOR = /%(?:2f|5c)/i;
// Printable ASCII without space, `"`, `<`, `>`, `\`, `^`, backtick, `{`, `|`,
// `}`: the URL parser would silently drop or rewrite anything else (tabs and
// newlines vanish, `\` becomes `/`), so the origin checked would not be the
// one written.
const ABSOLUTE_URL = /^https?:\/\/[A-Za-z0-9[][A-Za-z0-9._~!$&'()*+,;=:@%/?#[\]-]*$/;
const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|[+-](\d{2}):(\d{2}))$/;

/**
 * True for a relative path without `.`/`..` segments (also percent-encoded),
 * backslashes or colons, or an absolute http(s) URL without credentials.
 */
export function isAssetUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL_LENGTH) return false;
  if (/^https?:/i.test(value)) {
    if (!ABSOLUTE_URL.test(value)) return false;
    try {
      const url = new URL(value);
      return url.host !== '' && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }
  return !value.includes(':') && RELATIVE_URL.test(value) && !DOT_SEGMENT.test(value) && !ENCODED_SEPARATOR.test(value);
}

/**
 * True for an SRI value Daylight can verify: `sha256-`, `sha384-` or
 * `sha512-` and the digest in padded base64 of that algorithm's length.
 */
export function isIntegrity(value: unknown): value is string {
  return typeof value === 'string' && INTEGRITY.test(value);
}

/** True for `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` naming a real calendar moment. */
function isTimestamp(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = ISO_DATE.exec(value);
  if (!match) return false;
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, offsetHour = 0, offsetMinute = 0] = match
    .slice(1)
    .map((part) => Number(part ?? 0));
  // Day 0 of the next month is the last day of this one.
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    hour <= 23 &&
    minute <= 59 &&
    second <= 59 &&
    offsetHour <= 23 &&
    offsetMinute <= 59
  );
}

/** A value as an error message shows it: JSON, cut to 80 characters, never throwing. */
function describe(value: unknown): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // BigInt, cycles, a throwing toJSON: fall back to the type.
  }
  if (text === undefined) return typeof value;
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkAsset(value: unknown, where: string, errors: string[]): value is ManifestAsset {
  if (!isRecord(value)) {
    errors.push(`${where} must be an object with url, integrity and bytes, got ${describe(value)}`);
    return false;
  }
  const before = errors.length;
  if (!isAssetUrl(value.url)) {
    errors.push(
      `${where}.url must be a relative path without "." or ".." segments, backslashes or colons, or an http(s) URL, got ${describe(value.url)}`,
    );
  }
  if (!isIntegrity(value.integrity)) {
    errors.push(
      `${where}.integrity must be an SRI hash such as "sha384-" and 64 base64 characters (also sha256, sha512), got ${describe(value.integrity)}`,
    );
  }
  if (typeof value.bytes !== 'number' || !Number.isSafeInteger(value.bytes) || value.bytes < 0) {
    errors.push(`${where}.bytes must be a whole number of bytes, got ${describe(value.bytes)}`);
  }
  return errors.length === before;
}

/**
 * Checks that `input` is a release manifest, collecting every problem found;
 * each message starts with the field it is about. Never throws.
 * `expectedVersion`, when given, must match `version`.
 */
export function validateManifest(input: unknown, expectedVersion?: string): ManifestValidation {
  const errors: string[] = [];
  if (!isRecord(input)) return { ok: false, errors: [`the manifest must be a JSON object, got ${describe(input)}`] };
  if (input.schema !== MANIFEST_SCHEMA) {
    errors.push(`schema must be ${MANIFEST_SCHEMA}, got ${describe(input.schema)}`);
  }
  if (!isVersion(input.version)) {
    errors.push(`version must be a semver version such as 1.4.2, got ${describe(input.version)}`);
  } else if (expectedVersion !== undefined && input.version !== expectedVersion) {
    errors.push(`version is ${input.version} but ${describe(expectedVersion)} was asked for`);
  }
  const entryOk = checkAsset(input.entry, 'entry', errors);
  if (!Array.isArray(input.assets)) {
    errors.push(`assets must be an array, got ${describe(input.assets)}`);
  } else if (input.assets.length > MAX_ASSETS) {
    errors.push(`assets lists ${input.assets.length} files; at most ${MAX_ASSETS} are allowed`);
  } else {
    const assets: readonly unknown[] = input.assets;
    const seen = new Map<string, ManifestAsset>();
    // An index loop, not forEach: forEach skips the holes of a sparse array.
    for (let i = 0; i < assets.length; i++) {
      const asset = assets[i];
      if (!checkAsset(asset, `assets[${i}]`, errors)) continue;
      if (seen.has(asset.url)) errors.push(`assets[${i}].url ${asset.url} is listed twice`);
      else seen.set(asset.url, asset);
    }
    if (entryOk) {
      const entry = input.entry as ManifestAsset;
      const listed = seen.get(entry.url);
      if (listed === undefined) {
        errors.push(`entry.url ${entry.url} must also be listed in assets`);
      } else if (listed.integrity !== entry.integrity || listed.bytes !== entry.bytes) {
        errors.push(`entry ${entry.url} must have the same integrity and bytes as its listing in assets`);
      }
    }
  }
  if (typeof input.urgency !== 'string' || !URGENCIES.includes(input.urgency as Urgency)) {
    errors.push(`urgency must be one of ${URGENCIES.join(', ')}, got ${describe(input.urgency)}`);
  }
  if (typeof input.notes !== 'string' || input.notes.length > MAX_NOTES_LENGTH) {
    const got = typeof input.notes === 'string' ? `${input.notes.length} characters` : describe(input.notes);
    errors.push(`notes must be a string of at most ${MAX_NOTES_LENGTH} characters, got ${got}`);
  }
  if (!isTimestamp(input.publishedAt)) {
    errors.push(
      `publishedAt must be an ISO 8601 timestamp such as "2026-11-27T09:00:00.000Z", got ${describe(input.publishedAt)}`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, manifest: input as unknown as ReleaseManifest };
}
