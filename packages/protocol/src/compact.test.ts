import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkManifest, clientStamp, readReleaseStamp } from './compact.js';
import { formatClientHeader, parseReleaseHeader } from './headers.js';
import { validateManifest, type ReleaseManifest } from './manifest.js';
import { anyValue, binaryString, grammarSoup, sessionId, version } from './test-arbitraries.js';

const key = fc.constantFrom('v', 'min', 'x', 'a1', '*k', 'v.b');
const validItem = fc.oneof(
  { arbitrary: version.map((v) => `"${v}"`), weight: 4 },
  fc.constantFrom('"a \\"q\\" \\\\"', '""', '"1.0.0\\\\"', '"%"', '"q%"', '%"caf%c3%a9"', '%"plain"', '%""'),
  fc.constantFrom('?0', '?1', ':aGk=:', '::', '@-5', '-42', '3.125', '999999999999.999', 'tok/en', '*t:x', 't%ff', 'T'),
);
const oddItem = fc.constantFrom(
  ...['%"%ff"', '%"%ed%a0%80"', '%"%C3%A9"', '?2', ':a*b:', '@1.5', '@1234567890123456'],
  ...['1.', '1.2345', '1234567890123456', '-', 'é'],
);
const item = fc.oneof({ arbitrary: validItem, weight: 9 }, { arbitrary: oddItem, weight: 1 });
const params = fc
  .array(fc.tuple(key, fc.option(item, { nil: undefined }), fc.constantFrom('', ' ', '  ')), { maxLength: 2 })
  .map((list) => list.map(([k, value, space]) => `;${space}${k}${value === undefined ? '' : `=${value}`}`).join(''));
const value = fc.oneof(
  { arbitrary: fc.tuple(item, params).map(([i, p]) => i + p), weight: 4 },
  {
    arbitrary: fc
      .array(fc.tuple(item, params), { maxLength: 3 })
      .chain((list) =>
        fc.constantFrom(' ', '  ', '').map((space) => `(${space}${list.map(([i, p]) => i + p).join(space || ' ')})`),
      ),
    weight: 1,
  },
);
const member = fc
  .tuple(key, fc.option(value, { nil: undefined }), params)
  .map(([k, v, p]) => `${k}${v === undefined ? '' : `=${v}`}${p}`);
/** Dictionaries built from the grammar of RFC 9651, most of them valid. */
const dictionary = fc
  .tuple(fc.array(member, { minLength: 1, maxLength: 4 }), fc.constantFrom(',', ', ', ', ', ' ,\t', ',,'), fc.boolean())
  .map(([members, comma, edge]) => (edge ? ' \t' : '') + members.join(comma) + (edge && comma === ',,' ? ',' : ''));

describe('readReleaseStamp', () => {
  it('reads exactly what parseReleaseHeader reads', () => {
    const input = fc.oneof(dictionary, grammarSoup, binaryString, anyValue);
    fc.assert(
      fc.property(input, (header) => {
        expect(readReleaseStamp(header)).toEqual(parseReleaseHeader(header));
      }),
      { numRuns: 20_000 },
    );
  });

  it('accepts the valid headers the generator makes, not only rejects', () => {
    const results = fc.sample(dictionary, { numRuns: 2_000, seed: 1 }).map(readReleaseStamp);
    expect(results.filter(Boolean).length).toBeGreaterThan(100);
  });

  it('reads the documented examples', () => {
    expect(readReleaseStamp('v="1.5.0", min="1.3.0"')).toEqual({ version: '1.5.0', min: '1.3.0' });
    expect(readReleaseStamp('v="1.5.0";a=1, x=%"caf%c3%a9", l=(1 "a" b;p=1);q')).toEqual({ version: '1.5.0' });
    expect(readReleaseStamp('v="1.5.0", x=%"%ff"')).toBeUndefined();
    expect(readReleaseStamp('v="1.5.0",')).toBeUndefined();
    expect(readReleaseStamp('v="1.0.0", v="2.0.0"')).toEqual({ version: '2.0.0' });
    expect(readReleaseStamp('v="1.5.0", min')).toBeUndefined();
    expect(readReleaseStamp(`v="1.5.0", x="${'a'.repeat(300)}"`)).toBeUndefined();
  });
});

describe('clientStamp', () => {
  it('writes what formatClientHeader writes', () => {
    fc.assert(
      fc.property(version, sessionId, (v, s) => {
        expect(clientStamp(v, s)).toBe(formatClientHeader({ version: v, session: s }));
      }),
    );
  });
});

const integrity = `sha384-${'A'.repeat(64)}`;
const asset = { url: 'files/app.js', integrity, bytes: 10 };
const valid: ReleaseManifest = {
  schema: 1,
  version: '1.1.0',
  entry: asset,
  assets: [asset, { url: 'https://cdn.example.com/a.css', integrity: `sha256-${'b'.repeat(43)}=`, bytes: 0 }],
  urgency: 'optional',
  notes: 'Faster search',
  publishedAt: '2026-11-27T09:00:00.000Z',
};

describe('checkManifest', () => {
  it('accepts every manifest validateManifest accepts', () => {
    const files = fc.array(
      fc.record({
        url: fc.constantFrom('a.js', 'files/x-1.css', 'https://cdn.example.com/a.js', 'a/b/c.js'),
        integrity: fc.constantFrom(integrity, `sha512-${'c'.repeat(86)}==`),
        bytes: fc.nat(),
      }),
      { maxLength: 4 },
    );
    const manifest = fc.record({
      schema: fc.constant(1),
      version: fc.constant('1.1.0'),
      entry: fc.constant(asset),
      assets: files.map((list) =>
        [asset, ...new Map(list.map((file) => [file.url, file])).values()].filter(
          (file, i) => i === 0 || file.url !== asset.url,
        ),
      ),
      urgency: fc.constantFrom('optional', 'recommended', 'critical'),
      notes: fc.string({ maxLength: 50 }),
      publishedAt: fc.constant('2026-11-27T09:00:00Z'),
    });
    fc.assert(
      fc.property(manifest, (m) => {
        expect(validateManifest(m, '1.1.0').ok).toBe(true);
        expect(checkManifest(m, '1.1.0')).toBe(m);
      }),
    );
  });

  it.each<[string, unknown]>([
    ['no object', null],
    ['a string', 'manifest'],
    ['another schema', { ...valid, schema: 2 }],
    ['another version', { ...valid, version: '1.2.0' }],
    ['no assets', { ...valid, assets: undefined }],
    ['assets as an object', { ...valid, assets: { length: 1 } }],
    ['too many assets', { ...valid, assets: Array.from({ length: 10_001 }, () => asset) }],
    ['no entry', { ...valid, entry: undefined }],
    ['an asset that is null', { ...valid, assets: [asset, null] }],
    ['an empty url', { ...valid, assets: [{ ...asset, url: '' }] }],
    ['a url with a backslash', { ...valid, assets: [{ ...asset, url: 'a\\b.js' }] }],
    ['a url with a newline', { ...valid, assets: [{ ...asset, url: 'a\n.js' }] }],
    ['a url of 1,025 characters', { ...valid, assets: [{ ...asset, url: 'a'.repeat(1025) }] }],
    ['an md5 integrity', { ...valid, assets: [{ ...asset, integrity: 'md5-AAAA' }] }],
    ['a short sha384', { ...valid, assets: [{ ...asset, integrity: 'sha384-AAAA' }] }],
    ['negative bytes', { ...valid, assets: [{ ...asset, bytes: -1 }] }],
    ['bytes as a string', { ...valid, entry: { ...asset, bytes: '10' } }],
    ['fractional bytes', { ...valid, assets: [{ ...asset, bytes: 1.5 }] }],
    ['an unknown urgency', { ...valid, urgency: 'urgent' }],
    ['notes that are no string', { ...valid, notes: 5 }],
    ['notes of 4,001 characters', { ...valid, notes: 'n'.repeat(4001) }],
  ])('rejects %s, as validateManifest does', (_, input) => {
    expect(validateManifest(input, '1.1.0').ok).toBe(false);
    expect(typeof checkManifest(input, '1.1.0')).toBe('string');
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(anyValue, (input) => {
        const result = checkManifest(input, '1.1.0');
        expect(typeof result === 'string' || result === input).toBe(true);
      }),
    );
  });
});
