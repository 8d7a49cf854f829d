import fc from 'fast-check';
import semver from 'semver';
import { describe, expect, it } from 'vitest';
import { anyValue, version, versionPair } from './test-arbitraries.js';
import { MAX_VERSION_LENGTH, changeKind, compareVersions, isVersion, parseVersion } from './version.js';

const withoutBuild = (value: string): string => value.replace(/\+.*$/, '');

describe('parseVersion', () => {
  it('reads the parts of a version, numeric prerelease identifiers as numbers', () => {
    expect(parseVersion('1.2.3-alpha.10.x-1+build.007')).toEqual({
      major: 1,
      minor: 2,
      patch: 3,
      prerelease: ['alpha', 10, 'x-1'],
    });
    expect(parseVersion('0.0.0')).toEqual({ major: 0, minor: 0, patch: 0, prerelease: [] });
  });

  it('accepts every strict semver version, exactly as semver does', () => {
    fc.assert(
      fc.property(version, (v) => {
        expect(parseVersion(v)).toBeDefined();
        // semver.valid() writes the version back without its build metadata.
        expect(semver.valid(v, { loose: false })).toBe(withoutBuild(v));
      }),
      { numRuns: 500 },
    );
  });

  it('accepts nothing that semver rejects or rewrites', () => {
    const versionish = fc.string({ unit: fc.constantFrom(...'0123456789.-+aZv '), maxLength: 20 });
    fc.assert(
      fc.property(versionish, (value) => {
        if (parseVersion(value) !== undefined) expect(semver.valid(value, { loose: false })).toBe(withoutBuild(value));
      }),
      { numRuns: 2000 },
    );
  });

  it.each([
    '01.0.0',
    '1.01.0',
    '1.0.01',
    '1.0.0-01',
    '1.0.0-alpha.01',
    '1.0',
    '1',
    '1.0.0.0',
    '1.0.0-',
    '1.0.0+',
    '1.0.0-a..b',
    '1.0.0+a..b',
    '1.0.0-a_b',
    '1.0.0+a_b',
    '=1.0.0',
    '-1.0.0',
    '1.-1.0',
    '1.0.0-é',
    '１.0.0',
    '9007199254740992.0.0',
    '0.99999999999999999999.0',
    '',
    'latest',
  ])('rejects %j, as semver does', (value) => {
    expect(semver.valid(value, { loose: false })).toBeNull();
    expect(parseVersion(value)).toBeUndefined();
  });

  it.each([
    ['a leading v', 'v1.0.0'],
    ['a leading space', ' 1.0.0'],
    ['a leading tab', '\t1.0.0'],
    ['a trailing space', '1.0.0 '],
    ['more than 64 characters', `1.0.0-${'a'.repeat(MAX_VERSION_LENGTH - 5)}`],
    ['a prerelease number beyond MAX_SAFE_INTEGER', '1.0.0-9007199254740992'],
  ])('is stricter than semver: rejects a version with %s', (_, value) => {
    expect(semver.valid(value, { loose: false })).not.toBeNull();
    expect(parseVersion(value)).toBeUndefined();
  });

  it('accepts versions of exactly 64 characters and components of exactly MAX_SAFE_INTEGER', () => {
    const longest = `1.0.0-${'a'.repeat(MAX_VERSION_LENGTH - 6)}`;
    expect(longest).toHaveLength(MAX_VERSION_LENGTH);
    expect(isVersion(longest)).toBe(true);
    expect(parseVersion(`${Number.MAX_SAFE_INTEGER}.0.0`)?.major).toBe(Number.MAX_SAFE_INTEGER);
  });

  it('never throws, and rejects every value that is not a string', () => {
    fc.assert(
      fc.property(anyValue, (value) => {
        const parsed = parseVersion(value);
        if (typeof value !== 'string') expect(parsed).toBeUndefined();
      }),
    );
  });
});

describe('compareVersions', () => {
  it('agrees with semver.compare on every pair of versions', () => {
    fc.assert(
      fc.property(versionPair, ([a, b]) => {
        expect(compareVersions(a, b)).toBe(semver.compare(a, b));
      }),
      { numRuns: 2000 },
    );
  });

  it('is antisymmetric', () => {
    fc.assert(
      fc.property(versionPair, ([a, b]) => {
        expect(compareVersions(a, b)).toBe(-compareVersions(b, a) || 0);
      }),
    );
  });

  it.each([
    ['1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1],
    ['1.0.0-alpha.beta', '1.0.0-beta', -1],
    ['1.0.0-beta.2', '1.0.0-beta.11', -1],
    ['1.0.0-rc.1', '1.0.0', -1],
    ['1.0.0', '1.0.0+build.1', 0],
    ['1.0.0+a', '1.0.0+b', 0],
    ['1.10.0', '1.9.0', 1],
    ['2.0.0', '10.0.0', -1],
    ['1.0.0-B', '1.0.0-a', -1],
  ])('orders %s against %s as %i (the semver.org examples)', (a, b, order) => {
    expect(compareVersions(a, b)).toBe(order);
  });

  it('throws a TypeError naming the value that is not a version', () => {
    expect(() => compareVersions('1.0.0', 'v2')).toThrow(
      new TypeError('compareVersions: "v2" is not a semver version such as 1.4.2'),
    );
    expect(() => compareVersions('1.0', '1.0.0')).toThrow(/"1\.0" is not a semver version/);
  });
});

describe('changeKind', () => {
  it.each([
    ['1.4.2', '2.0.0', 'major'],
    ['1.4.2', '1.5.0', 'minor'],
    ['1.4.2', '1.4.3', 'patch'],
    ['1.4.2', '2.0.0-rc.1', 'prerelease'],
    ['1.4.2', '1.4.3-rc.1', 'prerelease'],
    ['1.5.0-rc.1', '1.5.0-rc.2', 'prerelease'],
    ['1.5.0-rc.1', '1.5.0', 'patch'],
    ['1.4.2-rc.1', '1.5.0', 'minor'],
    ['1.9.0-rc.1', '2.0.0', 'major'],
    ['0.9.9', '1.0.0', 'major'],
    ['1.4.2', '1.4.2', 'same'],
    ['1.4.2+a', '1.4.2+b', 'same'],
    ['1.5.0', '1.4.2', 'downgrade'],
    ['2.0.0', '1.99.99', 'downgrade'],
    ['1.5.0', '1.5.0-rc.1', 'downgrade'],
    ['1.5.0-rc.2', '1.5.0-rc.1', 'downgrade'],
  ] as const)('calls %s → %s a %s change', (from, to, kind) => {
    expect(changeKind(from, to)).toBe(kind);
  });

  it('calls a change a downgrade exactly when the reverse change is an upgrade', () => {
    fc.assert(
      fc.property(versionPair, ([a, b]) => {
        const forward = changeKind(a, b);
        const backward = changeKind(b, a);
        if (forward === 'same') expect(backward).toBe('same');
        else if (forward === 'downgrade') expect(backward).not.toMatch(/same|downgrade/);
        else expect(backward).toBe('downgrade');
      }),
    );
  });

  it('throws a TypeError for a value that is not a version', () => {
    expect(() => changeKind('1.0.0', 'next')).toThrow(TypeError);
  });
});
