/**
 * fast-check arbitraries shared by this package's tests. Test-only: not
 * exported from index.ts and not part of the build.
 */
import fc from 'fast-check';
import { MAX_VERSION_LENGTH } from './version.js';

const DIGITS = [...'0123456789'];
const LETTERS = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'];
const IDENTIFIER_CHARS = [...DIGITS, ...LETTERS, '-'];

/** A numeric identifier without leading zeros; small values often, so versions collide. */
const numeric: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom('0', '1', '2'), weight: 4 },
  { arbitrary: fc.integer({ min: 0, max: 1000 }).map(String), weight: 2 },
  { arbitrary: fc.maxSafeNat().map(String), weight: 1 },
);

/** An alphanumeric prerelease identifier: at least one letter or hyphen, digits anywhere. */
const alphanumeric: fc.Arbitrary<string> = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...DIGITS), maxLength: 3 }),
    fc.constantFrom(...LETTERS, '-'),
    fc.string({ unit: fc.constantFrom(...IDENTIFIER_CHARS), maxLength: 6 }),
  )
  .map((parts) => parts.join(''));

const prereleaseIdentifier = fc.oneof(
  { arbitrary: fc.constantFrom('alpha', 'beta', 'rc', '0', '1'), weight: 3 },
  { arbitrary: numeric, weight: 1 },
  { arbitrary: alphanumeric, weight: 2 },
);

/** Build identifiers may have leading zeros and are ignored by precedence. */
const buildIdentifier = fc.string({ unit: fc.constantFrom(...IDENTIFIER_CHARS), minLength: 1, maxLength: 6 });

/** The parts of a strict SemVer 2.0.0 version. */
export interface VersionParts {
  readonly core: readonly [string, string, string];
  readonly prerelease: readonly string[];
  readonly build: readonly string[];
}

export function formatParts({ core, prerelease, build }: VersionParts): string {
  return (
    core.join('.') +
    (prerelease.length > 0 ? `-${prerelease.join('.')}` : '') +
    (build.length > 0 ? `+${build.join('.')}` : '')
  );
}

export const versionParts: fc.Arbitrary<VersionParts> = fc.record({
  core: fc.tuple(numeric, numeric, numeric),
  prerelease: fc.oneof(fc.constant([]), fc.array(prereleaseIdentifier, { minLength: 1, maxLength: 3 })),
  build: fc.oneof(fc.constant([]), fc.array(buildIdentifier, { minLength: 1, maxLength: 2 })),
});

/** Any strict SemVer 2.0.0 version Daylight accepts (at most {@link MAX_VERSION_LENGTH} characters). */
export const version: fc.Arbitrary<string> = versionParts
  .map(formatParts)
  .filter((value) => value.length <= MAX_VERSION_LENGTH);

/**
 * Two versions, often related (same core, other prerelease or build) so that
 * comparisons hit every branch, not only "the majors differ".
 */
export const versionPair: fc.Arbitrary<readonly [string, string]> = fc.oneof(
  fc.tuple(version, version),
  fc
    .tuple(versionParts, versionParts)
    .map(([a, b]) => [formatParts(a), formatParts({ ...b, core: a.core })] as const)
    .filter(([a, b]) => a.length <= MAX_VERSION_LENGTH && b.length <= MAX_VERSION_LENGTH),
  version.map((v) => [v, v] as const),
);

const SESSION_CHARS = [...DIGITS, ...LETTERS, '_', '-'];

/** A session id matching SESSION_ID_PATTERN. */
export const sessionId: fc.Arbitrary<string> = fc.string({
  unit: fc.constantFrom(...SESSION_CHARS),
  minLength: 8,
  maxLength: 64,
});

/** Strings of arbitrary Latin-1 code units, control characters included. */
export const binaryString: fc.Arbitrary<string> = fc.string({
  unit: fc.integer({ min: 0, max: 0xff }).map((code) => String.fromCharCode(code)),
  maxLength: 300,
});

/** Every kind of JavaScript value fast-check can make, the odd ones included. */
export const anyValue: fc.Arbitrary<unknown> = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
  withUnicodeString: true,
});

/** Fragments of the dictionary grammar, so random strings reach deep into the parser. */
export const grammarSoup: fc.Arbitrary<string> = fc
  .array(
    fc.constantFrom(
      'v',
      's',
      'min',
      'x',
      '*',
      '=',
      '"',
      '\\',
      '1.0.0',
      'q8Zk1cR2xW0a',
      ',',
      ' ',
      '\t',
      ';',
      '?1',
      '?',
      '(',
      ')',
      ':',
      'aGk=',
      '@',
      '%',
      '%c3%a9',
      '-',
      '.',
      '1',
      '123456789012345',
      'tok/en',
      '\r\n',
      'é',
      '%ff',
      '%"',
      't%ff',
      'min=',
      'v="1.0.0"',
    ),
    { maxLength: 40 },
  )
  .map((parts) => parts.join(''));
