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

const INTEGRITY = /^sha(?:256|384|512)-[A-Za-z0-9+/]{43,86}={0,2}$/;
const RELATIVE_URL = /^(?![/\\])(?!.*(?:^|\/)\.\.?(?:\/|$))[A-Za-z0-9._~!$&'()*+,;=:@%/-]+$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/** True for a relative path without `..`, or an absolute http(s) URL. */
export function isAssetUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_URL_LENGTH) return false;
  if (/^https?:\/\//.test(value)) {
    try {
      const url = new URL(value);
      return (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === '';
    } catch {
      return false;
    }
  }
  return !value.includes(':') && RELATIVE_URL.test(value);
}

/** True for an SRI value Daylight can verify: `sha256-`, `sha384-` or `sha512-` and base64. */
export function isIntegrity(value: unknown): value is string {
  return typeof value === 'string' && INTEGRITY.test(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkAsset(value: unknown, where: string, errors: string[]): value is ManifestAsset {
  if (!isRecord(value)) {
    errors.push(`${where} must be an object with url, integrity and bytes`);
    return false;
  }
  const before = errors.length;
  if (!isAssetUrl(value.url)) {
    errors.push(
      `${where}.url must be a relative path without ".." or an http(s) URL, got ${JSON.stringify(value.url)}`,
    );
  }
  if (!isIntegrity(value.integrity)) {
    errors.push(`${where}.integrity must be an SRI hash such as "sha384-…", got ${JSON.stringify(value.integrity)}`);
  }
  if (typeof value.bytes !== 'number' || !Number.isSafeInteger(value.bytes) || value.bytes < 0) {
    errors.push(`${where}.bytes must be a whole number of bytes, got ${JSON.stringify(value.bytes)}`);
  }
  return errors.length === before;
}

/**
 * Checks that `input` is a release manifest, collecting every problem found.
 * Never throws. `expectedVersion`, when given, must match `version`.
 */
export function validateManifest(input: unknown, expectedVersion?: string): ManifestValidation {
  const errors: string[] = [];
  if (!isRecord(input)) return { ok: false, errors: ['the manifest must be a JSON object'] };
  if (input.schema !== MANIFEST_SCHEMA) {
    errors.push(`schema must be ${MANIFEST_SCHEMA}, got ${JSON.stringify(input.schema)}`);
  }
  if (!isVersion(input.version)) {
    errors.push(`version must be a semver version such as 1.4.2, got ${JSON.stringify(input.version)}`);
  } else if (expectedVersion !== undefined && input.version !== expectedVersion) {
    errors.push(`version is ${input.version} but ${expectedVersion} was asked for`);
  }
  checkAsset(input.entry, 'entry', errors);
  if (!Array.isArray(input.assets)) {
    errors.push('assets must be an array');
  } else if (input.assets.length > MAX_ASSETS) {
    errors.push(`assets lists ${input.assets.length} files; at most ${MAX_ASSETS} are allowed`);
  } else {
    const seen = new Set<string>();
    input.assets.forEach((asset: unknown, i) => {
      if (checkAsset(asset, `assets[${i}]`, errors)) {
        if (seen.has(asset.url)) errors.push(`assets[${i}].url ${asset.url} is listed twice`);
        seen.add(asset.url);
      }
    });
    if (isRecord(input.entry) && typeof input.entry.url === 'string' && !seen.has(input.entry.url)) {
      errors.push(`entry.url ${input.entry.url} must also be listed in assets`);
    }
  }
  if (typeof input.urgency !== 'string' || !URGENCIES.includes(input.urgency as Urgency)) {
    errors.push(`urgency must be one of ${URGENCIES.join(', ')}, got ${JSON.stringify(input.urgency)}`);
  }
  if (typeof input.notes !== 'string' || input.notes.length > MAX_NOTES_LENGTH) {
    errors.push(`notes must be a string of at most ${MAX_NOTES_LENGTH} characters`);
  }
  if (typeof input.publishedAt !== 'string' || !ISO_DATE.test(input.publishedAt)) {
    errors.push(`publishedAt must be an ISO 8601 timestamp, got ${JSON.stringify(input.publishedAt)}`);
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, manifest: input as unknown as ReleaseManifest };
}
