/**
 * The two Daylight headers, as RFC 9651 structured-field dictionaries:
 *
 *     Daylight-Client: v="1.4.2", s="q8Zk1cR2xW0a"     (request)
 *     Daylight-Release: v="1.5.0", min="1.3.0"          (response)
 *
 * Parsing is strict and bounded and never throws: a value that is too long,
 * not a valid dictionary, or missing a required member parses to `undefined`
 * and the caller counts it. Unknown members are ignored, so later versions of
 * the protocol can add some without breaking older parsers.
 */
import { isVersion } from './version.js';

/** Request header: the version this tab runs and its random session id. */
export const CLIENT_HEADER = 'Daylight-Client';
/** Response header: the release this client should run, and the API's floor. */
export const RELEASE_HEADER = 'Daylight-Release';
/** The longest header value either side parses or writes, in characters. */
export const MAX_HEADER_LENGTH = 256;
/** Session ids: 8 to 64 characters of `A-Z a-z 0-9 _ -`. */
export const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;

/** What a client says about itself on every request it makes through the SDK. */
export interface ClientStamp {
  /** The release this tab runs. */
  readonly version: string;
  /** A random id for this tab, stable across its reloads. */
  readonly session: string;
}

/** What the server says on every response. */
export interface ReleaseStamp {
  /** The release this client's cohort should run. */
  readonly version: string;
  /** The oldest client version the API still serves, when the server has a floor. */
  readonly min?: string;
}

type BareItem = string | number | boolean | { readonly token: string };

const KEY = /^[a-z*][a-z0-9_\-.*]*/;
const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/;
const INTEGER = /^-?\d{1,15}(?:\.\d{1,3})?/;

/**
 * Parses a structured-field dictionary whose members are bare items (inner
 * lists are rejected). Parameters are parsed and dropped. Returns `undefined`
 * on any syntax error, as RFC 9651 asks ("fail parsing, ignore the field").
 */
export function parseDictionary(input: unknown): Map<string, BareItem> | undefined {
  if (typeof input !== 'string' || input.length > MAX_HEADER_LENGTH) return undefined;
  const out = new Map<string, BareItem>();
  let rest = input.replace(/^[ \t]+|[ \t]+$/g, '');
  if (rest === '') return undefined;

  const readKey = (): string | undefined => {
    const match = KEY.exec(rest);
    if (!match) return undefined;
    rest = rest.slice(match[0].length);
    return match[0];
  };

  const readBareItem = (): BareItem | undefined => {
    const first = rest[0];
    if (first === '"') {
      let value = '';
      for (let i = 1; i < rest.length; i++) {
        const char = rest[i]!;
        if (char === '\\') {
          const next = rest[i + 1];
          if (next !== '"' && next !== '\\') return undefined;
          value += next;
          i++;
        } else if (char === '"') {
          rest = rest.slice(i + 1);
          return value;
        } else {
          const code = char.charCodeAt(0);
          if (code < 0x20 || code > 0x7e) return undefined;
          value += char;
        }
      }
      return undefined; // unterminated string
    }
    if (first === '?') {
      const flag = rest[1];
      if (flag !== '0' && flag !== '1') return undefined;
      rest = rest.slice(2);
      return flag === '1';
    }
    const number = INTEGER.exec(rest);
    if (number) {
      rest = rest.slice(number[0].length);
      return Number(number[0]);
    }
    const token = TOKEN.exec(rest);
    if (token) {
      rest = rest.slice(token[0].length);
      return { token: token[0] };
    }
    return undefined;
  };

  const skipParameters = (): boolean => {
    while (rest[0] === ';') {
      rest = rest.slice(1).replace(/^ +/, '');
      if (readKey() === undefined) return false;
      if (rest[0] === '=') {
        rest = rest.slice(1);
        if (readBareItem() === undefined) return false;
      }
    }
    return true;
  };

  for (;;) {
    const key = readKey();
    if (key === undefined) return undefined;
    let value: BareItem = true;
    if (rest[0] === '=') {
      rest = rest.slice(1);
      const item = readBareItem();
      if (item === undefined) return undefined;
      value = item;
    }
    if (!skipParameters()) return undefined;
    out.set(key, value);
    rest = rest.replace(/^[ \t]+/, '');
    if (rest === '') return out;
    if (rest[0] !== ',') return undefined;
    rest = rest.slice(1).replace(/^[ \t]+/, '');
    if (rest === '') return undefined; // trailing comma
  }
}

function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

function stringMember(map: Map<string, BareItem>, key: string): string | undefined {
  const value = map.get(key);
  return typeof value === 'string' ? value : undefined;
}

/** Parses a `Daylight-Client` value; `undefined` when malformed. Never throws. */
export function parseClientHeader(value: unknown): ClientStamp | undefined {
  const map = parseDictionary(value);
  if (!map) return undefined;
  const version = stringMember(map, 'v');
  const session = stringMember(map, 's');
  if (!isVersion(version) || session === undefined || !SESSION_ID_PATTERN.test(session)) return undefined;
  return { version, session };
}

/** Parses a `Daylight-Release` value; `undefined` when malformed. Never throws. */
export function parseReleaseHeader(value: unknown): ReleaseStamp | undefined {
  const map = parseDictionary(value);
  if (!map) return undefined;
  const version = stringMember(map, 'v');
  if (!isVersion(version)) return undefined;
  if (!map.has('min')) return { version };
  const min = stringMember(map, 'min');
  return isVersion(min) ? { version, min } : undefined;
}

/**
 * Writes a `Daylight-Client` value.
 * @throws {TypeError} when the version is not semver or the session id does not match {@link SESSION_ID_PATTERN}.
 */
export function formatClientHeader(stamp: ClientStamp): string {
  if (!isVersion(stamp.version)) {
    throw new TypeError(`Daylight-Client: version "${String(stamp.version)}" is not a semver version such as 1.4.2`);
  }
  if (!SESSION_ID_PATTERN.test(stamp.session)) {
    throw new TypeError(`Daylight-Client: session id "${stamp.session}" must be 8 to 64 characters of A-Z a-z 0-9 _ -`);
  }
  return `v=${quote(stamp.version)}, s=${quote(stamp.session)}`;
}

/**
 * Writes a `Daylight-Release` value.
 * @throws {TypeError} when a version is not semver.
 */
export function formatReleaseHeader(stamp: ReleaseStamp): string {
  if (!isVersion(stamp.version)) {
    throw new TypeError(`Daylight-Release: version "${String(stamp.version)}" is not a semver version such as 1.4.2`);
  }
  if (stamp.min === undefined) return `v=${quote(stamp.version)}`;
  if (!isVersion(stamp.min)) {
    throw new TypeError(`Daylight-Release: min "${String(stamp.min)}" is not a semver version such as 1.3.0`);
  }
  return `v=${quote(stamp.version)}, min=${quote(stamp.min)}`;
}
