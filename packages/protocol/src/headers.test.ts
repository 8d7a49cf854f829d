import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_HEADER_LENGTH,
  SESSION_ID_PATTERN,
  formatClientHeader,
  formatReleaseHeader,
  parseClientHeader,
  parseDictionary,
  parseReleaseHeader,
  type ClientStamp,
  type ReleaseStamp,
} from './headers.js';
import { anyValue, binaryString, grammarSoup, sessionId, version } from './test-arbitraries.js';

const parsers = { parseDictionary, parseClientHeader, parseReleaseHeader } as const;

describe('formatClientHeader and parseClientHeader', () => {
  it('writes the documented wire format', () => {
    expect(formatClientHeader({ version: '1.4.2', session: 'q8Zk1cR2xW0a' })).toBe('v="1.4.2", s="q8Zk1cR2xW0a"');
  });

  it('round-trips every valid version and session id', () => {
    fc.assert(
      fc.property(version, sessionId, (v, s) => {
        const header = formatClientHeader({ version: v, session: s });
        expect(header.length).toBeLessThanOrEqual(MAX_HEADER_LENGTH);
        expect(parseClientHeader(header)).toEqual({ version: v, session: s });
      }),
    );
  });

  it('rejects a header without a session id or without a version', () => {
    expect(parseClientHeader('v="1.4.2"')).toBeUndefined();
    expect(parseClientHeader('s="q8Zk1cR2xW0a"')).toBeUndefined();
  });

  it.each([
    ['too short', 'abc1234'],
    ['too long', 'a'.repeat(65)],
    ['a dot', 'q8Zk1c.R2xW0a'],
    ['a space', 'q8Zk1c R2xW0a'],
    ['an escaped quote', 'q8Zk1c\\"R2xW0a'],
  ])('rejects a session id with %s', (_, session) => {
    expect(parseClientHeader(`v="1.4.2", s="${session}"`)).toBeUndefined();
  });

  it("parses the SDK's own form exactly as the general dictionary parser does", () => {
    // The reference: what parseClientHeader answered before its fast path.
    const general = (value: string): ClientStamp | undefined => {
      const map = parseDictionary(value);
      const [v, s] = [map?.get('v'), map?.get('s')];
      if (typeof v !== 'string' || typeof s !== 'string' || !SESSION_ID_PATTERN.test(s)) return undefined;
      return parseVersionLike(v) ? { version: v, session: s } : undefined;
    };
    const parseVersionLike = (v: string): boolean => parseReleaseHeader(`v=${JSON.stringify(v)}`) !== undefined;
    const near = (chars: string, maxLength: number): fc.Arbitrary<string> =>
      fc.string({ unit: fc.constantFrom(...chars), maxLength });
    const versionish = fc.oneof(version, near('0123456789.-+aZ"\\ ', 70));
    const sessionish = fc.oneof(sessionId, near('aZ09_-.+"\\ ', 70));
    const separator = fc.constantFrom(', ', ',', ',  ', ' , ', ', \t');
    fc.assert(
      fc.property(versionish, separator, sessionish, (v, comma, session) => {
        for (const header of [`v="${v}"${comma}s="${session}"`, ` v="${v}", s="${session}"`]) {
          expect(parseClientHeader(header)).toEqual(general(header));
        }
      }),
      { numRuns: 2000 },
    );
    expect(parseClientHeader('v="1.4.2", s="q8Zk1cR2xW0a"')).toEqual({ version: '1.4.2', session: 'q8Zk1cR2xW0a' });
    expect(parseClientHeader('v="01.4.2", s="q8Zk1cR2xW0a"')).toBeUndefined();
    expect(parseClientHeader('v="1.4.2", s="q8Zk1cR2xW0a", x=1')).toEqual({
      version: '1.4.2',
      session: 'q8Zk1cR2xW0a',
    });
  });

  it('accepts session ids of exactly 8 and exactly 64 characters', () => {
    expect(parseClientHeader('v="1.4.2", s="abcd_-12"')?.session).toBe('abcd_-12');
    expect(parseClientHeader(`v="1.4.2", s="${'A'.repeat(64)}"`)?.session).toBe('A'.repeat(64));
  });
});

describe('formatReleaseHeader and parseReleaseHeader', () => {
  it('writes the documented wire format', () => {
    expect(formatReleaseHeader({ version: '1.5.0', min: '1.3.0' })).toBe('v="1.5.0", min="1.3.0"');
    expect(formatReleaseHeader({ version: '1.5.0' })).toBe('v="1.5.0"');
  });

  it('round-trips every valid release and floor', () => {
    fc.assert(
      fc.property(version, fc.option(version, { nil: undefined }), (v, min) => {
        const stamp: ReleaseStamp = min === undefined ? { version: v } : { version: v, min };
        const header = formatReleaseHeader(stamp);
        expect(header.length).toBeLessThanOrEqual(MAX_HEADER_LENGTH);
        expect(parseReleaseHeader(header)).toEqual(stamp);
      }),
    );
  });

  it('rejects the whole header when min is present but not a version', () => {
    expect(parseReleaseHeader('v="1.5.0", min="1.3"')).toBeUndefined();
    expect(parseReleaseHeader('v="1.5.0", min=1')).toBeUndefined();
    expect(parseReleaseHeader('v="1.5.0", min')).toBeUndefined();
  });

  it.each([
    ['a token', 'v=abc'],
    ['an integer', 'v=1'],
    ['a decimal', 'v=1.5'],
    ['a bare version (not a token, not a number)', 'v=1.0.0'],
    ['a boolean', 'v=?1'],
    ['a bare key (boolean true)', 'v'],
    ['a byte sequence', 'v=:MS4wLjA=:'],
    ['a display string', 'v=%"1.0.0"'],
    ['a date', 'v=@1'],
    ['an inner list', 'v=("1.0.0")'],
    ['a string that is not semver', 'v="1.0"'],
    ['a string with a leading v', 'v="v1.0.0"'],
  ])('rejects v given as %s', (_, header) => {
    expect(parseReleaseHeader(header)).toBeUndefined();
    expect(parseClientHeader(`${header}, s="q8Zk1cR2xW0a"`)).toBeUndefined();
  });
});

describe('the parsers on arbitrary input', () => {
  it.each(Object.entries(parsers))('%s never throws on any JavaScript value', (_, parse) => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const result = parse(value);
        if (typeof value !== 'string') expect(result).toBeUndefined();
      }),
    );
  });

  it.each(Object.entries(parsers))('%s never throws on any string', (_, parse) => {
    const strings = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.string({ unit: 'binary', maxLength: 300 }),
      fc.string({ unit: 'grapheme', maxLength: 100 }),
      binaryString,
      grammarSoup,
    );
    fc.assert(
      fc.property(strings, (value) => {
        expect(() => parse(value)).not.toThrow();
      }),
      { numRuns: 1000 },
    );
  });

  it('returns a map or undefined, never anything else', () => {
    fc.assert(
      fc.property(grammarSoup, (value) => {
        const result = parseDictionary(value);
        expect(result === undefined || result instanceof Map).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it.each(Object.entries(parsers))('%s returns undefined for any value longer than MAX_HEADER_LENGTH', (_, parse) => {
    fc.assert(
      fc.property(fc.string({ minLength: MAX_HEADER_LENGTH + 1, maxLength: 4 * MAX_HEADER_LENGTH }), (value) => {
        expect(parse(value)).toBeUndefined();
      }),
    );
  });

  it('parses a valid header of exactly MAX_HEADER_LENGTH characters and refuses it one character longer', () => {
    const base = 'v="1.5.0", x="';
    const exact = `${base}${'a'.repeat(MAX_HEADER_LENGTH - base.length - 1)}"`;
    expect(exact).toHaveLength(MAX_HEADER_LENGTH);
    expect(parseReleaseHeader(exact)).toEqual({ version: '1.5.0' });
    const longer = `${base}${'a'.repeat(MAX_HEADER_LENGTH - base.length)}"`;
    expect(parseReleaseHeader(longer)).toBeUndefined();
  });
});

describe('parseDictionary, following RFC 9651', () => {
  it('accepts parameters on members and drops them', () => {
    expect(parseClientHeader('v="1.4.2";a=1;b;c="x", s="q8Zk1cR2xW0a";d=?0')).toEqual({
      version: '1.4.2',
      session: 'q8Zk1cR2xW0a',
    });
    expect(parseReleaseHeader('v="1.5.0"; a=1; b')).toEqual({ version: '1.5.0' });
  });

  it('rejects malformed parameters', () => {
    expect(parseDictionary('v="1.5.0";')).toBeUndefined();
    expect(parseDictionary('v="1.5.0";A=1')).toBeUndefined();
    expect(parseDictionary('v="1.5.0";a=')).toBeUndefined();
    expect(parseDictionary('v="1.5.0" ;a=1')).toBeUndefined();
  });

  it('ignores unknown members of every item type', () => {
    const header =
      'x=1, v="1.5.0", y=?0, z=tok/en, b=:aGk=:, d=@1700000000, ds=%"caf%c3%a9", l=(1 "a" b;p=1);q, min="1.3.0", flag';
    expect(header.length).toBeLessThanOrEqual(MAX_HEADER_LENGTH);
    expect(parseReleaseHeader(header)).toEqual({ version: '1.5.0', min: '1.3.0' });
  });

  it('reads every item type of RFC 9651', () => {
    const map = parseDictionary(
      'i=-42, dec=3.125, s="a \\"q\\" \\\\", t=*tok:en/x, b=:aGk=:, d=@-5, ds=%"caf%c3%a9 %25", yes, no=?0, l=(1 ?1), e=()',
    );
    expect(map && Object.fromEntries(map)).toEqual({
      i: -42,
      dec: 3.125,
      s: 'a "q" \\',
      t: { token: '*tok:en/x' },
      b: { bytes: 'aGk=' },
      d: { date: -5 },
      ds: { display: 'café %' },
      yes: true,
      no: false,
      l: { list: [1, true] },
      e: { list: [] },
    });
  });

  it('strips spaces and tabs around the value and around commas', () => {
    expect(parseReleaseHeader(' \t v="1.5.0" \t,\t min="1.3.0"\t ')).toEqual({ version: '1.5.0', min: '1.3.0' });
  });

  it.each([
    ['a space before "="', 'v ="1.5.0"'],
    ['a space after "="', 'v= "1.5.0"'],
    ['a trailing comma', 'v="1.5.0",'],
    ['a trailing comma and space', 'v="1.5.0", '],
    ['a leading comma', ', v="1.5.0"'],
    ['an empty member', 'v="1.5.0",, min="1.3.0"'],
    ['two members without a comma', 'v="1.5.0" min="1.3.0"'],
    ['a semicolon between members', 'v="1.5.0"; min="1.3.0" x'],
    ['an unterminated string', 'v="1.5.0'],
    ['an unterminated string ending in a backslash', 'v="1.5.0\\'],
    ['a \\n escape', 'v="1.5.0\\n"'],
    ['a \\x escape', 'v="\\x31.5.0"'],
    ['a \\u escape', 'v="\\u0031.5.0"'],
    ['a non-ASCII character in a string', 'v="1.5.0é"'],
    ['a non-ASCII key', 'vé="1.5.0"'],
    ['a non-ASCII token', 'x=é, v="1.5.0"'],
    ['a tab inside a string', 'v="1.5.0\t"'],
    ['an uppercase key', 'V="1.5.0"'],
    ['a key starting with a digit', '1v="1.5.0"'],
    ['an integer of 16 digits', 'x=1234567890123456, v="1.5.0"'],
    ['a decimal with 13 integer digits', 'x=1234567890123.5, v="1.5.0"'],
    ['a decimal with 4 fraction digits', 'x=1.2345, v="1.5.0"'],
    ['a decimal ending in a point', 'x=1., v="1.5.0"'],
    ['a lone minus sign', 'x=-, v="1.5.0"'],
    ['a boolean other than ?0 or ?1', 'x=?2, v="1.5.0"'],
    ['a byte sequence with a character outside base64', 'x=:a*b:, v="1.5.0"'],
    ['an unterminated byte sequence', 'v="1.5.0", x=:aGk='],
    ['a decimal date', 'x=@1.5, v="1.5.0"'],
    ['a display string with uppercase hex', 'x=%"caf%C3%A9", v="1.5.0"'],
    ['a display string that is not UTF-8', 'x=%"%ff", v="1.5.0"'],
    ['a display string without its quote', 'x=%caf, v="1.5.0"'],
    ['an unterminated inner list', 'v="1.5.0", x=(1 2'],
    ['an inner list without spaces between items', 'x=(1"a"), v="1.5.0"'],
    ['a nested inner list', 'x=((1)), v="1.5.0"'],
    ['only whitespace', ' \t '],
    ['nothing', ''],
  ])('rejects the whole header for %s', (_, header) => {
    expect(parseDictionary(header)).toBeUndefined();
    expect(parseReleaseHeader(header)).toBeUndefined();
  });

  it('keeps the last value of a repeated key, in the position of the first', () => {
    const map = parseDictionary('v="1.0.0", min="0.9.0", v="2.0.0"');
    expect(map && [...map]).toEqual([
      ['v', '2.0.0'],
      ['min', '0.9.0'],
    ]);
    expect(parseReleaseHeader('v="1.0.0", v="2.0.0"')).toEqual({ version: '2.0.0' });
    expect(parseReleaseHeader('v="1.0.0", v=tok')).toBeUndefined();
  });

  it('accepts the integer and decimal limits of RFC 9651', () => {
    expect(parseDictionary('a=-999999999999999, b=999999999999.999')?.get('b')).toBe(999999999999.999);
    expect(parseDictionary('a=-999999999999999')?.get('a')).toBe(-999999999999999);
  });
});

describe('hostile header values', () => {
  const hostile: [string, unknown][] = [
    ['CRLF after the value', 'v="1.0.0"\r\nSet-Cookie: x=1'],
    ['CRLF inside the string', 'v="1.0.0\r\nSet-Cookie: x"'],
    ['an escaped CRLF inside the string', 'v="1.0.0\\r\\nSet-Cookie: x"'],
    ['a lone LF', 'v="1.0.0"\n, min="1.0.0"'],
    ['a NUL byte', 'v="1.0.0\u0000"'],
    ['10,000 characters', `v="1.0.0", x="${'a'.repeat(10_000)}"`],
    ['10,000 commas', `v="1.0.0"${','.repeat(10_000)}`],
    ['a __proto__ key', '__proto__="1.0.0"'],
    ['a __proto__ key beside v', 'v="1.0.0", __proto__=?1'],
    ['full-width digits', 'v="１.0.0"'],
    ['a right-to-left override', 'v="1.0.0\u202e"'],
    ['a lone surrogate', 'v="1.0.0\ud800"'],
    ['HTML', 'v="<script>alert(1)</script>"'],
    ['a JSON object', '{"v":"1.0.0"}'],
    ['an array of strings', ['v="1.0.0"']],
    ['a String object', Object('v="1.0.0"')],
  ];

  it.each(hostile)('ignores %s without throwing', (_, value) => {
    for (const parse of Object.values(parsers)) {
      expect(() => parse(value)).not.toThrow();
    }
    expect(parseReleaseHeader(value)).toBeUndefined();
    expect(parseClientHeader(value)).toBeUndefined();
  });

  it('does not touch Object.prototype for keys named like its members', () => {
    const map = parseDictionary('constructor="x", tostring=1, hasownproperty, v="1.0.0"');
    expect(map?.get('constructor')).toBe('x');
    expect(parseReleaseHeader('constructor="x", v="1.0.0"')).toEqual({ version: '1.0.0' });
    expect(Object.prototype).not.toHaveProperty('tostring');
    expect(({} as Record<string, unknown>).constructor).toBe(Object);
  });
});

describe('format errors', () => {
  const client = (stamp: unknown) => () => formatClientHeader(stamp as ClientStamp);
  const release = (stamp: unknown) => () => formatReleaseHeader(stamp as ReleaseStamp);

  it.each([
    ['a leading v', { version: 'v1.4.2', session: 'q8Zk1cR2xW0a' }, /version "v1\.4\.2" is not a semver version/],
    ['two parts', { version: '1.4', session: 'q8Zk1cR2xW0a' }, /version "1\.4" is not a semver version/],
    ['65 characters', { version: `1.0.0-${'a'.repeat(59)}`, session: 'q8Zk1cR2xW0a' }, /at most 64 characters/],
    ['a number', { version: 142, session: 'q8Zk1cR2xW0a' }, /version 142 is not/],
    ['no version', { session: 'q8Zk1cR2xW0a' }, /version undefined is not/],
  ])('formatClientHeader throws a TypeError for a version with %s', (_, stamp, message) => {
    expect(client(stamp)).toThrow(TypeError);
    expect(client(stamp)).toThrow(message);
  });

  it.each([
    ['too short', 'abc', /session id "abc" must be 8 to 64 characters/],
    ['a quote', 'abcdefg"h', /session id "abcdefg\\"h" must be/],
    ['a number of 8 digits', 12345678, /session id 12345678 must be/],
    ['no value', undefined, /session id undefined must be/],
    ['null', null, /session id null must be/],
  ])('formatClientHeader throws a TypeError for a session id that is %s', (_, session, message) => {
    expect(client({ version: '1.4.2', session })).toThrow(TypeError);
    expect(client({ version: '1.4.2', session })).toThrow(message);
  });

  it('formatClientHeader throws a TypeError that names the shape when given no object', () => {
    expect(client(undefined)).toThrow(new TypeError('Daylight-Client: expected { version, session }, got undefined'));
    expect(client('1.4.2')).toThrow(TypeError);
  });

  it('formatReleaseHeader throws a TypeError naming version or min', () => {
    expect(release({ version: 'latest' })).toThrow(/Daylight-Release: version "latest" is not a semver version/);
    expect(release({ version: '1.5.0', min: '1.3' })).toThrow(/Daylight-Release: min "1\.3" is not a semver version/);
    expect(release({ version: '1.5.0', min: null })).toThrow(TypeError);
    expect(release(null)).toThrow(/expected \{ version, min\? \}/);
  });

  it('cuts a very long bad value in the message', () => {
    let message = '';
    try {
      formatReleaseHeader({ version: 'x'.repeat(10_000) });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('…');
    expect(message.length).toBeLessThan(200);
  });

  it('either writes a header that parses back or throws a TypeError, whatever it is given', () => {
    const field = fc.oneof(anyValue, version, sessionId);
    fc.assert(
      fc.property(field, field, field, (v, s, min) => {
        let header: string | undefined;
        try {
          header = formatClientHeader({ version: v, session: s } as ClientStamp);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
        if (header !== undefined) expect(parseClientHeader(header)).toEqual({ version: v, session: s });
        header = undefined;
        try {
          header = formatReleaseHeader({ version: v, min } as ReleaseStamp);
        } catch (error) {
          expect(error).toBeInstanceOf(TypeError);
        }
        if (header !== undefined) expect(parseReleaseHeader(header)?.version).toBe(v);
      }),
    );
  });

  it('exports a session pattern that the writer and the reader both enforce', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (session) => {
        const valid = SESSION_ID_PATTERN.test(session);
        let wrote = true;
        try {
          formatClientHeader({ version: '1.0.0', session });
        } catch {
          wrote = false;
        }
        expect(wrote).toBe(valid);
        if (valid) expect(parseClientHeader(`v="1.0.0", s="${session}"`)?.session).toBe(session);
      }),
    );
  });
});
