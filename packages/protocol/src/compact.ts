/**
 * The protocol as the browser needs it, written for size: the client's core
 * has a budget of 4 kB gzipped (bench/size.mjs), and the full codec and
 * validator cost about 3 kB of it. The tests hold these to the full versions:
 *
 * - {@link readReleaseStamp} gives exactly what `parseReleaseHeader` gives,
 *   for every input (a property test over the dictionary grammar);
 * - {@link clientStamp} writes exactly what `formatClientHeader` writes;
 * - {@link checkManifest} accepts every manifest `validateManifest` accepts,
 *   and checks everything the client uses (version, files, sizes, urgency,
 *   notes); it does not check `publishedAt` (the client does not read it) and
 *   stops at the first problem.
 */
import type { ReleaseStamp } from './headers.js';
import type { ReleaseManifest } from './manifest.js';
import { isVersion } from './version.js';

// RFC 9651 in regular expressions: key, bare item (string, display string,
// boolean, byte sequence, date, number, token), parameters, inner list.
const KEY = '[a-z*][a-z0-9_.*-]*';
const DISPLAY = '%"(?:[ !#$&-~]|%[0-9a-f]{2})*"';
const ITEM = `(?:"(?:[ !#-[\\]-~]|\\\\["\\\\])*"|${DISPLAY}|\\?[01]|:[A-Za-z0-9+/=]*:|@-?\\d{1,15}(?![\\d.])|-?(?:\\d{1,12}\\.\\d{1,3}|\\d{1,15})(?![\\d.])|[A-Za-z*][!#$%&'*+.^_\`|~\\w:/-]*)`;
const PARAMS = `(?:; *${KEY}(?:=${ITEM})?)*`;
const LISTED = ITEM + PARAMS;
const MEMBER = new RegExp(
  `(${KEY})(?:=(\\( *(?:${LISTED}(?: +${LISTED})*)? *\\)|${ITEM}))?${PARAMS}(?:[ \\t]*(,)[ \\t]*|$)`,
  'y',
);
// Once the grammar holds, strings and display strings can be found in order.
const STRINGS = /"(?:[^"\\]|\\.)*"|%"([^"]*)"/g;

/** A `Daylight-Release` value, read as `parseReleaseHeader` reads it; `undefined` when malformed. Never throws. */
export function readReleaseStamp(input: unknown): ReleaseStamp | undefined {
  if (typeof input !== 'string' || input.length > 256) return;
  const text = input.replace(/^[ \t]+|[ \t]+$/g, '');
  const members: Record<string, string> = {};
  let comma: string | undefined = ',';
  MEMBER.lastIndex = 0;
  while (MEMBER.lastIndex < text.length || comma) {
    const match = MEMBER.exec(text);
    if (!match) return;
    // An item that is not a string is kept as "", which is no version (no item at all tests as "undefined").
    members['_' + match[1]] = /^"[^\\]*"$/.test(match[2] as string) ? match[2]!.slice(1, -1) : '';
    comma = match[3];
  }
  // Display strings must decode as UTF-8 (RFC 9651 §4.2.10), wherever they are.
  try {
    for (const [, display] of text.matchAll(STRINGS)) if (display) decodeURIComponent(display);
  } catch {
    return;
  }
  const version = members._v;
  const min = members._min;
  if (!isVersion(version) || (min !== undefined && !isVersion(min))) return;
  return min === undefined ? { version } : { version, min };
}

/** A `Daylight-Client` value for a valid version and session id, as `formatClientHeader` writes it. */
export function clientStamp(version: string, session: string): string {
  return `v="${version}", s="${session}"`;
}

const INTEGRITY = /^(?:sha256-[A-Za-z0-9+/]{43}=|sha384-[A-Za-z0-9+/]{64}|sha512-[A-Za-z0-9+/]{86}==)$/;
const URGENCY = /^(optional|recommended|critical)$/;

/**
 * Checks what the client uses of a release manifest: returns it, or the
 * first problem as text. Never throws.
 */
export function checkManifest(input: unknown, version: string): ReleaseManifest | string {
  const manifest = (input ?? {}) as Partial<Record<keyof ReleaseManifest, unknown>>;
  const assets = manifest.assets;
  if (manifest.schema !== 1) return 'schema is not 1';
  if (manifest.version !== version) return `version is not ${version}`;
  if (!Array.isArray(assets) || assets.length > 10_000) return 'assets is not a list of at most 10000 files';
  for (const asset of [manifest.entry, ...(assets as unknown[])]) {
    const { url, integrity, bytes } = (asset ?? {}) as Record<string, unknown>;
    if (typeof url !== 'string' || !/^[^\s\\]{1,1024}$/.test(url)) return `bad file url ${String(url)}`;
    if (!INTEGRITY.test(integrity as string)) return `bad integrity for ${url}`;
    if (!Number.isSafeInteger(bytes) || (bytes as number) < 0) return `bad size for ${url}`;
  }
  if (!URGENCY.test(manifest.urgency as string)) return 'bad urgency';
  if (typeof manifest.notes !== 'string' || manifest.notes.length > 4000) return 'bad notes';
  return manifest as ReleaseManifest;
}
