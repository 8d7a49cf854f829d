import { compareVersions, isVersion } from '@daylight/protocol';
import semver from 'semver';
import { DaylightCliError } from './errors.js';

/**
 * Checks a version given on the command line against the protocol's strict
 * semver (the same check the registry and the client apply), and suggests the
 * closest valid version when there is one (`1.0` → `1.0.0`, `v1.2.3` → `1.2.3`).
 * @param what how the value was given, for the message: `--version`, `the version`
 * @throws {DaylightCliError} `invalid-option`
 */
export function checkVersion(value: string, what: string): string {
  if (isVersion(value)) return value;
  const guess = semver.coerce(value, { includePrerelease: true })?.version;
  const hint = guess !== undefined && isVersion(guess) ? `; did you mean ${guess}?` : '';
  throw new DaylightCliError(
    'invalid-option',
    `${what} ${JSON.stringify(value)} is not a semver version such as 1.4.2${hint}`,
  );
}

/** Versions sorted newest first, by semver precedence. */
export function newestFirst(versions: Iterable<string>): string[] {
  return [...versions].sort((a, b) => compareVersions(b, a));
}

/** Versions sorted oldest first, for lists in messages. */
export function oldestFirst(versions: Iterable<string>): string[] {
  return [...versions].sort(compareVersions);
}

/**
 * @throws {DaylightCliError} `not-published` when `registry` has no release `version`, listing those it has
 */
export function requirePublished(
  registry: { readonly releases: Readonly<Record<string, unknown>> },
  version: string,
): void {
  if (registry.releases[version] !== undefined) return;
  const published = oldestFirst(Object.keys(registry.releases));
  throw new DaylightCliError(
    'not-published',
    `version ${version} is not published; published: ${published.length > 0 ? published.join(', ') : 'none'}`,
  );
}
