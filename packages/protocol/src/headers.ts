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

/**
 * A bare item of RFC 9651, as {@link parseDictionary} returns it: a string, an
 * integer or decimal, a boolean, a token, a byte sequence (its base64 text), a
 * date (seconds since the epoch) or a display string (decoded).
 */
export type BareItem =
  | string
  | number
  | boolean
  | { readonly token: string }
  | { readonly bytes: string }
  | { readonly date: number }
  | { readonly display: string };

/** A dictionary member's value: a bare item, or an inner list of bare items. Parameters are dropped. */
export type DictionaryValue = BareItem | { readonly list: readonly BareItem[] };

const KEY = /^[a-z*][a-z0-9_\-.*]*/;
const TOKEN = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/;
// RFC 9651 §3.3.1–3.3.2: an integer has 1 to 15 digits; a decimal 1 to 12
// before the point and 1 to 3 after it. "1." and a 16th digit fail.
const NUMBER = /^-?(?:\d{1,12}\.\d{1,3}|\d{1,15})(?![\d.])/;
const DATE = /^@(-?\d{1,15})(?![\d.])/;
const BYTES = /^:([A-Za-z0-9+/=]*):/;
const LOWER_HEX = /^[0-9a-f]{2}$/;

/**
 * Parses a structured-field dictionary (RFC 9651 §4.2.2) of at most
 * {@link MAX_HEADER_LENGTH} characters. Every item type of RFC 9651 is
 * understood, so a member a later protocol version adds, whatever its type,
 * never makes an older parser drop the whole header. Parameters are parsed and
 * dropped; when a key repeats, the last value wins. Returns `undefined` on any
 * syntax error, as RFC 9651 asks ("fail parsing, ignore the field"). Never
 * throws.
 */
export function parseDictionary(input: unknown): Map<string, DictionaryValue> | undefined {
  if (typeof input !== 'string' || input.length > MAX_HEADER_LENGTH) return undefined;
  const out = new Map<string, DictionaryValue>();
  // HTTP strips optional whitespace (SP, HTAB) around a field value.
  let rest = input.replace(/^[ \t]+|[ \t]+$/g, '');
  if (rest === '') return undefined;

  const readKey = (): string | undefined => {
    const match = KEY.exec(rest);
    if (!match) return undefined;
    rest = rest.slice(match[0].length);
    return match[0];
  };

  const readString = (): string | undefined => {
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
  };

  // RFC 9651 §4.2.10: `%"` then printable ASCII, `%xx` (lowercase hex) for
  // other bytes, `"`; the bytes must be UTF-8.
  const readDisplayString = (): { display: string } | undefined => {
    if (rest[1] !== '"') return undefined;
    const bytes: number[] = [];
    for (let i = 2; i < rest.length; i++) {
      const code = rest.charCodeAt(i);
      if (code < 0x20 || code > 0x7e) return undefined;
      if (code === 0x25) {
        const hex = rest.slice(i + 1, i + 3);
        if (!LOWER_HEX.test(hex)) return undefined;
        bytes.push(Number.parseInt(hex, 16));
        i += 2;
      } else if (code === 0x22) {
        rest = rest.slice(i + 1);
        try {
          const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
          return { display: decoder.decode(new Uint8Array(bytes)) };
        } catch {
          return undefined;
        }
      } else {
        bytes.push(code);
      }
    }
    return undefined; // unterminated display string
  };

  const readBareItem = (): BareItem | undefined => {
    const first = rest[0];
    if (first === '"') return readString();
    if (first === '%') return readDisplayString();
    if (first === '?') {
      const flag = rest[1];
      if (flag !== '0' && flag !== '1') return undefined;
      rest = rest.slice(2);
      return flag === '1';
    }
    if (first === ':') {
      const bytes = BYTES.exec(rest);
      if (!bytes) return undefined;
      rest = rest.slice(bytes[0].length);
      return { bytes: bytes[1]! };
    }
    if (first === '@') {
      const date = DATE.exec(rest);
      if (!date) return undefined;
      rest = rest.slice(date[0].length);
      return { date: Number(date[1]) };
    }
    const number = NUMBER.exec(rest);
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

  // RFC 9651 §4.2.1.2: `(` items separated by spaces `)`, each item and the
  // list itself with optional parameters.
  const readInnerList = (): { list: BareItem[] } | undefined => {
    rest = rest.slice(1);
    const list: BareItem[] = [];
    for (;;) {
      rest = rest.replace(/^ +/, '');
      if (rest[0] === ')') {
        rest = rest.slice(1);
        return { list };
      }
      const item = readBareItem();
      if (item === undefined || !skipParameters()) return undefined;
      list.push(item);
      if (rest[0] !== ' ' && rest[0] !== ')') return undefined;
    }
  };

  for (;;) {
    const key = readKey();
    if (key === undefined) return undefined;
    let value: DictionaryValue = true;
    if (rest[0] === '=') {
      rest = rest.slice(1);
      const item = rest[0] === '(' ? readInnerList() : readBareItem();
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

function stringMember(map: Map<string, DictionaryValue>, key: string): string | undefined {
  const value = map.get(key);
  return typeof value === 'string' ? value : undefined;
}

/**
 * The one form the SDK sends (`formatClientHeader`, the client's stamp).
 * A value of exactly this shape is a valid dictionary whose `v` and `s` are
 * these strings (no escapes: neither class admits `"` or a backslash), so it needs
 * only the version check — about a fifth of the general parser's cost, which
 * matters on a server that sees every session's own header value.
 */
const SDK_CLIENT_FORM = /^v="([0-9A-Za-z.+-]{1,64})", s="([A-Za-z0-9_-]{8,64})"$/;

/** Parses a `Daylight-Client` value; `undefined` when malformed. Never throws. */
export function parseClientHeader(value: unknown): ClientStamp | undefined {
  const sdk = typeof value === 'string' ? SDK_CLIENT_FORM.exec(value) : null;
  if (sdk) return isVersion(sdk[1]) ? { version: sdk[1], session: sdk[2]! } : undefined;
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

/** A value as an error message shows it: quoted, cut to 80 characters, never throwing. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'symbol' || typeof value === 'function') return typeof value;
  if (typeof value === 'object' && value !== null) return Array.isArray(value) ? 'an array' : 'an object';
  return String(value);
}

const VERSION_HINT = 'a semver version such as 1.4.2, at most 64 characters';

/**
 * Writes a `Daylight-Client` value.
 * @throws {TypeError} when the version is not semver or the session id does not match {@link SESSION_ID_PATTERN}.
 */
export function formatClientHeader(stamp: ClientStamp): string {
  if (typeof stamp !== 'object' || stamp === null) {
    throw new TypeError(`Daylight-Client: expected { version, session }, got ${describe(stamp)}`);
  }
  if (!isVersion(stamp.version)) {
    throw new TypeError(`Daylight-Client: version ${describe(stamp.version)} is not ${VERSION_HINT}`);
  }
  if (typeof stamp.session !== 'string' || !SESSION_ID_PATTERN.test(stamp.session)) {
    throw new TypeError(
      `Daylight-Client: session id ${describe(stamp.session)} must be 8 to 64 characters of A-Z a-z 0-9 _ -`,
    );
  }
  return `v=${quote(stamp.version)}, s=${quote(stamp.session)}`;
}

/**
 * Writes a `Daylight-Release` value.
 * @throws {TypeError} when a version is not semver.
 */
export function formatReleaseHeader(stamp: ReleaseStamp): string {
  if (typeof stamp !== 'object' || stamp === null) {
    throw new TypeError(`Daylight-Release: expected { version, min? }, got ${describe(stamp)}`);
  }
  if (!isVersion(stamp.version)) {
    throw new TypeError(`Daylight-Release: version ${describe(stamp.version)} is not ${VERSION_HINT}`);
  }
  if (stamp.min === undefined) return `v=${quote(stamp.version)}`;
  if (!isVersion(stamp.min)) {
    throw new TypeError(
      `Daylight-Release: min ${describe(stamp.min)} is not ${VERSION_HINT}; leave min out when the API has no floor`,
    );
  }
  return `v=${quote(stamp.version)}, min=${quote(stamp.min)}`;
}
