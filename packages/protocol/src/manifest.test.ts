import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  MAX_ASSETS,
  MAX_NOTES_LENGTH,
  MAX_URL_LENGTH,
  isAssetUrl,
  isIntegrity,
  validateManifest,
  type ManifestAsset,
} from './manifest.js';
import { anyValue } from './test-arbitraries.js';

function sri(algorithm: 'sha256' | 'sha384' | 'sha512', content: string): string {
  return `${algorithm}-${createHash(algorithm).update(content).digest('base64')}`;
}

function asset(url: string, content = url): ManifestAsset {
  return { url, integrity: sri('sha384', content), bytes: content.length };
}

const ENTRY = asset('files/assets/app-3f2a9c.js');

/** A fresh, valid manifest; tests change one thing in it at a time. */
function manifest(): Record<string, unknown> {
  return {
    schema: 1,
    version: '1.5.0',
    entry: { ...ENTRY },
    assets: [{ ...ENTRY }, asset('files/assets/app-3f2a9c.css'), asset('files/favicon.svg')],
    urgency: 'recommended',
    notes: 'Faster search.',
    publishedAt: '2026-11-27T09:00:00.000Z',
  };
}

function errorsOf(input: unknown, expectedVersion?: string): readonly string[] {
  const result = validateManifest(input, expectedVersion);
  return result.ok ? [] : result.errors;
}

describe('validateManifest', () => {
  it('accepts a valid manifest and returns it', () => {
    const input = manifest();
    const result = validateManifest(input, '1.5.0');
    expect(result).toEqual({ ok: true, manifest: input });
  });

  it('accepts every urgency, sha256 and sha512 hashes, absolute URLs, empty notes and offsets', () => {
    for (const urgency of ['optional', 'recommended', 'critical']) {
      expect(validateManifest({ ...manifest(), urgency }).ok).toBe(true);
    }
    const cdn = { url: 'https://cdn.example.com/app.js', integrity: sri('sha512', 'x'), bytes: 1 };
    const font = { url: 'files/font.woff2', integrity: sri('sha256', 'y'), bytes: 0 };
    const input = {
      ...manifest(),
      entry: cdn,
      assets: [cdn, font],
      notes: '',
      publishedAt: '2026-11-27T10:00:00+01:00',
    };
    expect(errorsOf(input)).toEqual([]);
  });

  const violations: [string, (m: Record<string, unknown>) => void, RegExp][] = [
    ['schema is 2', (m) => (m.schema = 2), /^schema must be 1, got 2$/],
    ['schema is missing', (m) => delete m.schema, /^schema must be 1, got undefined$/],
    ['version is not semver', (m) => (m.version = '1.5'), /^version must be a semver version/],
    ['version is a number', (m) => (m.version = 15), /^version must be a semver version .* got 15$/],
    ['entry is missing', (m) => delete m.entry, /^entry must be an object with url, integrity and bytes/],
    ['entry.url has ..', (m) => (m.entry = { ...ENTRY, url: '../app.js' }), /^entry\.url must be a relative path/],
    ['entry.integrity is md5', (m) => (m.entry = { ...ENTRY, integrity: 'md5-abc' }), /^entry\.integrity must be/],
    ['entry.bytes is negative', (m) => (m.entry = { ...ENTRY, bytes: -1 }), /^entry\.bytes must be a whole number/],
    ['entry.bytes is a fraction', (m) => (m.entry = { ...ENTRY, bytes: 1.5 }), /^entry\.bytes .* got 1\.5$/],
    ['entry.bytes is a string', (m) => (m.entry = { ...ENTRY, bytes: '10' }), /^entry\.bytes .* got "10"$/],
    ['entry is not in assets', (m) => (m.assets = (m.assets as unknown[]).slice(1)), /^entry\.url .* listed in assets/],
    [
      'entry differs from its listing',
      (m) => (m.entry = { ...ENTRY, bytes: ENTRY.bytes + 1 }),
      /^entry files\/assets\/app-3f2a9c\.js must have the same integrity and bytes/,
    ],
    ['assets is missing', (m) => delete m.assets, /^assets must be an array, got undefined$/],
    ['assets is an object', (m) => (m.assets = { 0: ENTRY }), /^assets must be an array/],
    ['an asset is null', (m) => (m.assets as unknown[]).push(null), /^assets\[3\] must be an object/],
    [
      'an asset url is absolute-path',
      (m) => (m.assets as unknown[]).push(asset('/etc/passwd')),
      /^assets\[3\]\.url must be a relative path .* got "\/etc\/passwd"$/,
    ],
    [
      'an asset integrity is missing',
      (m) => (m.assets as unknown[]).push({ url: 'files/x.js', bytes: 1 }),
      /^assets\[3\]\.integrity must be an SRI hash/,
    ],
    [
      'an asset is listed twice',
      (m) => (m.assets as unknown[]).push(asset('files/favicon.svg')),
      /^assets\[3\]\.url files\/favicon\.svg is listed twice$/,
    ],
    ['urgency is unknown', (m) => (m.urgency = 'urgent'), /^urgency must be one of optional, recommended, critical/],
    ['notes are too long', (m) => (m.notes = 'x'.repeat(MAX_NOTES_LENGTH + 1)), /^notes must be a string of at most/],
    ['notes are not a string', (m) => (m.notes = ['a']), /^notes must be a string .* got \["a"\]$/],
    ['publishedAt is prose', (m) => (m.publishedAt = 'yesterday'), /^publishedAt must be an ISO 8601 timestamp/],
    ['publishedAt has no zone', (m) => (m.publishedAt = '2026-11-27T09:00:00'), /^publishedAt must be/],
    ['publishedAt is 30 February', (m) => (m.publishedAt = '2026-02-30T09:00:00Z'), /^publishedAt must be/],
    ['publishedAt is month 13', (m) => (m.publishedAt = '2026-13-01T09:00:00Z'), /^publishedAt must be/],
    ['publishedAt is 25 o’clock', (m) => (m.publishedAt = '2026-11-27T25:00:00Z'), /^publishedAt must be/],
    ['publishedAt is a number', (m) => (m.publishedAt = Date.now()), /^publishedAt must be/],
  ];

  it.each(violations)('reports one error naming the field when %s', (_, change, message) => {
    const input = manifest();
    change(input);
    const errors = errorsOf(input);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(message);
  });

  it('accepts 29 February in a leap year only', () => {
    expect(validateManifest({ ...manifest(), publishedAt: '2028-02-29T09:00:00Z' }).ok).toBe(true);
    expect(validateManifest({ ...manifest(), publishedAt: '2027-02-29T09:00:00Z' }).ok).toBe(false);
  });

  it('names the version it was asked for when the manifest has another', () => {
    expect(errorsOf(manifest(), '1.6.0')).toEqual(['version is 1.5.0 but "1.6.0" was asked for']);
  });

  it('collects every problem at once', () => {
    const errors = errorsOf({ schema: 1, version: 'x', entry: null, assets: 'no', urgency: 'now', notes: 1 });
    expect(errors.map((error) => error.split(' ')[0])).toEqual([
      'version',
      'entry',
      'assets',
      'urgency',
      'notes',
      'publishedAt',
    ]);
  });

  it('rejects a manifest that is not an object', () => {
    for (const input of [null, undefined, 'manifest', 42, [manifest()]]) {
      expect(errorsOf(input)).toEqual([expect.stringMatching(/^the manifest must be a JSON object/)]);
    }
  });

  it('accepts MAX_ASSETS files and refuses one more', () => {
    const assets = Array.from({ length: MAX_ASSETS }, (_, i) => asset(`files/chunk-${i}.js`, 'same bytes'));
    assets[0] = { ...ENTRY };
    expect(errorsOf({ ...manifest(), assets })).toEqual([]);
    expect(errorsOf({ ...manifest(), assets: [...assets, asset('files/one-more.js')] })).toEqual([
      `assets lists ${MAX_ASSETS + 1} files; at most ${MAX_ASSETS} are allowed`,
    ]);
  });

  it('reports the holes of a sparse assets array', () => {
    const assets: unknown[] = [{ ...ENTRY }];
    assets[2] = asset('files/b.js');
    expect(errorsOf({ ...manifest(), assets })).toEqual([
      expect.stringMatching(/^assets\[1\] must be an object with url, integrity and bytes, got undefined$/),
    ]);
  });

  it('describes values JSON cannot write without throwing', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const errors = errorsOf({ ...manifest(), schema: 1n, notes: cyclic, urgency: Symbol('x') });
    expect(errors).toEqual([
      'schema must be 1, got bigint',
      'urgency must be one of optional, recommended, critical, got symbol',
      'notes must be a string of at most 4000 characters, got object',
    ]);
  });

  it('cuts long values in its messages', () => {
    const [error] = errorsOf({ ...manifest(), version: 'x'.repeat(100_000) });
    expect(error).toMatch(/…$/);
    expect(error!.length).toBeLessThan(200);
  });

  it('never throws, whatever it is given', () => {
    fc.assert(
      fc.property(anyValue, fc.option(fc.string(), { nil: undefined }), (input, expected) => {
        const result = validateManifest(input, expected);
        expect(result.ok ? result.manifest : result.errors.length).toBeTruthy();
      }),
      { numRuns: 500 },
    );
  });

  it('never throws, and reports the field, when any one field holds any value', () => {
    const fields = ['schema', 'version', 'entry', 'assets', 'urgency', 'notes', 'publishedAt'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...fields), anyValue, (field, value) => {
        const input = { ...manifest(), [field]: value };
        const result = validateManifest(input);
        if (!result.ok) {
          const named = result.errors.some((error) => error.startsWith(field) || error.startsWith('entry'));
          expect(named).toBe(true);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('isAssetUrl', () => {
  it.each([
    'files/assets/app-3f2a9c.js',
    'files/index.html',
    'files/a%20b.js',
    'files/a(1).js',
    'files/.well-known/x.json',
    'files/...js',
    'app.js',
    'https://cdn.example.com/app.js',
    'https://cdn.example.com:8443/v/1.5.0/app.js?x=1',
    'http://localhost:3000/app.js',
    'https://[::1]/app.js',
  ])('accepts %j', (url) => {
    expect(isAssetUrl(url)).toBe(true);
  });

  it.each([
    ['a parent segment', '../app.js'],
    ['a parent segment in the middle', 'files/../../secret.js'],
    ['a trailing parent segment', 'files/..'],
    ['a current segment', 'files/./app.js'],
    ['only a dot', '.'],
    ['a percent-encoded parent segment', 'files/%2e%2e/%2e%2e/secret.js'],
    ['a half-encoded parent segment', 'files/.%2E/secret.js'],
    ['an encoded slash', 'files/..%2f..%2fsecret.js'],
    ['an encoded backslash', 'files/..%5csecret.js'],
    ['an absolute path', '/files/app.js'],
    ['a protocol-relative URL', '//evil.example/app.js'],
    ['a backslash', 'files\\app.js'],
    ['a leading backslash', '\\\\evil.example\\app.js'],
    ['a javascript: URL', 'javascript:alert(1)'],
    ['a JavaScript: URL in mixed case', 'JavaScript:alert(1)'],
    ['a data: URL', 'data:text/javascript,alert(1)'],
    ['a blob: URL', 'blob:https://app.example/1234'],
    ['an ftp: URL', 'ftp://files.example/app.js'],
    ['an uppercase scheme', 'HTTPS://cdn.example.com/app.js'],
    ['credentials', 'https://user:secret@cdn.example.com/app.js'],
    ['a user name', 'https://user@cdn.example.com/app.js'],
    ['a backslash in an absolute URL', 'https://cdn.example.com\\@evil.example/app.js'],
    ['a tab in the host', 'https://cdn.exa\tmple.com/app.js'],
    ['a newline in the path', 'https://cdn.example.com/app\n.js'],
    ['a space', 'files/app .js'],
    ['a query on a relative path', 'files/app.js?v=1'],
    ['a fragment on a relative path', 'files/app.js#x'],
    ['a non-ASCII character', 'files/café.js'],
    ['a non-ASCII host', 'https://café.example/app.js'],
    ['no host', 'https:///app.js'],
    ['nothing', ''],
    ['too many characters', `files/${'a'.repeat(MAX_URL_LENGTH)}.js`],
  ])('rejects a URL with %s', (_, url) => {
    expect(isAssetUrl(url)).toBe(false);
  });

  it('rejects values that are not strings', () => {
    for (const value of [undefined, null, 1, {}, ['files/app.js'], new URL('https://cdn.example.com/app.js')]) {
      expect(isAssetUrl(value)).toBe(false);
    }
  });

  it('never lets a relative URL it accepts resolve outside the manifest’s folder', () => {
    const manifestUrl = 'https://app.example/_daylight/releases/1.5.0/manifest.json';
    const folder = 'https://app.example/_daylight/releases/1.5.0/';
    const piece = fc.constantFrom('.', '..', '/', '%2e', '%2E', '%2f', '%5C', '\\', 'a', 'files', ':', '?', '#', '@');
    const pathish = fc.array(piece, { maxLength: 10 }).map((pieces) => pieces.join(''));
    fc.assert(
      fc.property(pathish, (url) => {
        if (isAssetUrl(url)) expect(new URL(url, manifestUrl).href.startsWith(folder)).toBe(true);
      }),
      { numRuns: 5000 },
    );
  });
});

describe('isIntegrity', () => {
  it('accepts the digests the client can verify', () => {
    for (const algorithm of ['sha256', 'sha384', 'sha512'] as const) {
      expect(isIntegrity(sri(algorithm, 'hello'))).toBe(true);
    }
  });

  it.each([
    ['an unsupported algorithm', `sha1-${createHash('sha1').update('x').digest('base64')}`],
    ['an uppercase algorithm', sri('sha384', 'x').replace('sha384', 'SHA384')],
    ['a SHA-512 digest labelled sha256', `sha256-${createHash('sha512').update('x').digest('base64')}`],
    ['a SHA-256 digest labelled sha384', `sha384-${createHash('sha256').update('x').digest('base64')}`],
    ['a SHA-512 digest without padding', sri('sha512', 'x').replace(/=+$/, '')],
    ['a truncated digest', sri('sha384', 'x').slice(0, -1)],
    ['base64url characters', sri('sha384', 'x').replace(/^(sha384-).{2}/, '$1-_')],
    ['an option suffix', `${sri('sha384', 'x')}?opt`],
    ['two hashes', `${sri('sha384', 'x')} ${sri('sha384', 'y')}`],
    ['surrounding space', ` ${sri('sha384', 'x')}`],
    ['nothing after the dash', 'sha384-'],
  ])('rejects %s', (_, value) => {
    expect(isIntegrity(value)).toBe(false);
  });
});
