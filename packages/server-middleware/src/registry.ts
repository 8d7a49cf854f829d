/**
 * The release registry file (`releases.json`) and the release folders beside
 * it. Shared by the middleware (which reads) and the CLI (which writes).
 * Layout and rules: docs/design.md, "On disk: the release store".
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { URGENCIES, isVersion, isIntegrity, type ReleaseManifest, type Urgency } from '@daylight/protocol';
import { isBelowFloor } from './resolve.js';

export const REGISTRY_SCHEMA = 1;
/** The default registry file name, resolved against the working directory. */
export const DEFAULT_REGISTRY_FILE = 'releases.json';

export interface PublishedRelease {
  readonly publishedAt: string;
  /** SHA-384 over the release's sorted `path integrity` lines (see {@link releaseDigest}). */
  readonly digest: string;
  /** Build-relative path of the HTML shell. */
  readonly shell: string;
  readonly urgency: Urgency;
}

/** A release given to a share of a target's requests, by a hash of a key (docs/rollouts.md). */
export interface Rollout {
  readonly release: string;
  /** 0–100, at most two decimals: the share of keys whose bucket (0–9999) is below `percent × 100`. */
  readonly percent: number;
  /** Which request key is hashed: a name of the server's `keys` option, such as `tenant` or `user`. */
  readonly key: string;
  readonly startedAt: string;
}

/** A release stopped in a target: by hand (`daylight halt`) or by the server (`server.halt()`). */
export interface Halt {
  readonly release: string;
  readonly at: string;
  readonly reason: string;
}

/**
 * What a target (everyone, or one cohort) runs. For everyone, `current` is the
 * release and these members sit at the top level of the registry.
 */
export interface TargetRules {
  /** Releases this target ran before, oldest first; `daylight rollback` returns to the last one. */
  readonly previous?: readonly string[];
  readonly rollout?: Rollout;
  readonly halted?: Halt;
  /** The hash salt of this target's rollouts. @default the cohort's name, `*` for everyone */
  readonly salt?: string;
}

export interface Cohort extends TargetRules {
  /** The release the cohort runs; `null` follows everyone's `current` (its rollout may still apply). */
  readonly release: string | null;
}

/** One tenant or user held on a release, keyed `<key>:<value>` in {@link Registry.pins}. */
export interface Pin {
  readonly release: string;
  readonly at: string;
  readonly note?: string;
}

export interface Registry extends TargetRules {
  readonly schema: typeof REGISTRY_SCHEMA;
  /** Grows by one with every change a store writes; the release check reports it (anti-flip-flop rule). */
  readonly revision?: number;
  /** The release every client should run; `null` before the first promote. */
  readonly current: string | null;
  /** The oldest client version the API still serves. */
  readonly min?: string;
  readonly releases: Readonly<Record<string, PublishedRelease>>;
  /** Named groups with their own release or rollout. */
  readonly cohorts?: Readonly<Record<string, Cohort>>;
  /** Keys `<key>:<value>`, such as `tenant:acme`. */
  readonly pins?: Readonly<Record<string, Pin>>;
}

/** A cohort name: letters, digits, `.`, `_`, `-`; at most 64 characters. */
export const COHORT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
/** A key name of the server's `keys` option. */
export const KEY_NAME = /^[a-z][a-z0-9_-]{0,31}$/;
/** The most pins and cohorts a registry may hold. */
export const MAX_COHORTS = 100_000;

export type RegistryRead =
  { readonly ok: true; readonly registry: Registry } | { readonly ok: false; readonly error: string };

export function emptyRegistry(): Registry {
  return { schema: REGISTRY_SCHEMA, current: null, releases: {} };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates a parsed registry; returns every problem found, or none. Never throws. */
export function validateRegistry(input: unknown): RegistryRead {
  const errors: string[] = [];
  if (!isRecord(input)) return { ok: false, error: 'the registry must be a JSON object' };
  if (input.schema !== REGISTRY_SCHEMA) {
    errors.push(`"schema" must be ${REGISTRY_SCHEMA}, got ${JSON.stringify(input.schema)}`);
  }
  if (!isRecord(input.releases)) {
    errors.push('"releases" must be an object keyed by version');
  } else {
    for (const [version, entry] of Object.entries(input.releases)) {
      const where = `releases["${version}"]`;
      if (!isVersion(version)) errors.push(`${where}: the key is not a semver version such as 1.4.2`);
      if (!isRecord(entry)) {
        errors.push(`${where} must be an object`);
        continue;
      }
      if (typeof entry.publishedAt !== 'string' || Number.isNaN(Date.parse(entry.publishedAt))) {
        errors.push(`${where}.publishedAt must be an ISO 8601 timestamp`);
      }
      if (!isIntegrity(entry.digest)) errors.push(`${where}.digest must be a "sha384-…" hash`);
      if (typeof entry.shell !== 'string' || entry.shell === '' || entry.shell.includes('..')) {
        errors.push(`${where}.shell must be a build-relative path such as "index.html"`);
      }
      if (!URGENCIES.includes(entry.urgency as Urgency)) {
        errors.push(`${where}.urgency must be one of ${URGENCIES.join(', ')}`);
      }
    }
  }
  const releases = isRecord(input.releases) ? input.releases : {};
  if (input.current !== null) {
    if (!isVersion(input.current)) {
      errors.push(`"current" must be a published version or null, got ${JSON.stringify(input.current)}`);
    } else if (!(input.current in releases)) {
      errors.push(`"current" is ${input.current}, which is not in "releases"; publish it first`);
    }
  }
  if (input.min !== undefined && !isVersion(input.min)) {
    errors.push(`"min" must be a semver version such as 1.3.0, got ${JSON.stringify(input.min)}`);
  }
  if (input.revision !== undefined && !(Number.isSafeInteger(input.revision) && (input.revision as number) >= 0)) {
    errors.push(`"revision" must be a whole number ≥ 0, got ${JSON.stringify(input.revision)}`);
  }
  validateRules(input, '', releases, errors);
  if (input.cohorts !== undefined) {
    if (!isRecord(input.cohorts)) errors.push('"cohorts" must be an object keyed by cohort name');
    else if (Object.keys(input.cohorts).length > MAX_COHORTS) {
      errors.push(`"cohorts" may hold at most ${MAX_COHORTS}, got ${Object.keys(input.cohorts).length}`);
    } else {
      for (const [name, cohort] of Object.entries(input.cohorts)) {
        const where = `cohorts["${name}"]`;
        if (!COHORT_NAME.test(name)) errors.push(`${where}: the name must be letters, digits, ".", "_" or "-"`);
        if (!isRecord(cohort)) {
          errors.push(`${where} must be an object`);
          continue;
        }
        if (cohort.release !== null && !isPublished(cohort.release, releases)) {
          errors.push(`${where}.release must be a published version or null, got ${JSON.stringify(cohort.release)}`);
        }
        validateRules(cohort, `${where}.`, releases, errors);
      }
    }
  }
  if (input.pins !== undefined) {
    if (!isRecord(input.pins)) errors.push('"pins" must be an object keyed by "<key>:<value>"');
    else if (Object.keys(input.pins).length > MAX_COHORTS) {
      errors.push(`"pins" may hold at most ${MAX_COHORTS}, got ${Object.keys(input.pins).length}`);
    } else {
      for (const [key, pin] of Object.entries(input.pins)) {
        const where = `pins["${key}"]`;
        const colon = key.indexOf(':');
        if (colon < 1 || !KEY_NAME.test(key.slice(0, colon)) || colon === key.length - 1) {
          errors.push(`${where}: the key must be "<key>:<value>", such as "tenant:acme"`);
        }
        if (!isRecord(pin) || !isPublished(pin.release, releases)) {
          errors.push(`${where}.release must be a published version`);
        } else if (typeof pin.at !== 'string') errors.push(`${where}.at must be an ISO 8601 timestamp`);
      }
    }
  }
  if (errors.length > 0) return { ok: false, error: errors.join('; ') };
  return { ok: true, registry: input as unknown as Registry };
}

function isPublished(version: unknown, releases: Record<string, unknown>): boolean {
  return typeof version === 'string' && isVersion(version) && version in releases;
}

/**
 * True for a rollout percentage: a number from 0 to 100 with at most two
 * decimals. The one check for every place that takes one (a promote, the
 * registry's validation), so a percentage a change accepts always validates.
 * Compared with a tolerance: floating point writes most two-decimal values
 * inexactly (33.3 × 100 is 3329.9999999999995), and an exact comparison
 * refused about one in nine of them.
 * @example isPercent(33.3) // true; isPercent(0.125) // false
 */
export function isPercent(value: unknown): value is number {
  return (
    typeof value === 'number' && value >= 0 && value <= 100 && Math.abs(Math.round(value * 100) - value * 100) < 1e-6
  );
}

/** Checks the members a target may carry: `previous`, `rollout`, `halted`, `salt`. */
function validateRules(
  input: Record<string, unknown>,
  where: string,
  releases: Record<string, unknown>,
  errors: string[],
): void {
  if (input.previous !== undefined) {
    if (!Array.isArray(input.previous) || !input.previous.every((v) => isVersion(v))) {
      errors.push(`${where}previous must be a list of versions`);
    }
  }
  if (input.salt !== undefined && (typeof input.salt !== 'string' || input.salt === '' || input.salt.length > 64)) {
    errors.push(`${where}salt must be a short non-empty string`);
  }
  if (input.halted !== undefined) {
    const halt = input.halted;
    if (!isRecord(halt) || !isVersion(halt.release) || typeof halt.at !== 'string' || typeof halt.reason !== 'string') {
      errors.push(`${where}halted must be { release, at, reason }`);
    }
  }
  if (input.rollout !== undefined) {
    const rollout = input.rollout;
    if (!isRecord(rollout)) {
      errors.push(`${where}rollout must be an object`);
      return;
    }
    if (!isPublished(rollout.release, releases)) {
      errors.push(`${where}rollout.release must be a published version, got ${JSON.stringify(rollout.release)}`);
    }
    if (!isPercent(rollout.percent)) {
      errors.push(`${where}rollout.percent must be a number from 0 to 100 with at most two decimals`);
    }
    if (typeof rollout.key !== 'string' || !KEY_NAME.test(rollout.key)) {
      errors.push(`${where}rollout.key must be a key name such as "tenant" or "user"`);
    }
    if (typeof rollout.startedAt !== 'string') errors.push(`${where}rollout.startedAt must be an ISO 8601 timestamp`);
  }
}

/**
 * Reads and validates a registry file. A missing file reads as an error too;
 * the caller decides whether that means "empty" (the CLI's first publish).
 */
export async function readRegistryFile(file: string): Promise<RegistryRead> {
  const read = await readJsonFile(file);
  if (read.ok) return validateRegistry(read.value);
  // A folder (the store's, where the CLI wrote releases.json) given for the file: say which file.
  if (read.error === 'cannot be read (EISDIR)') {
    return {
      ok: false,
      error: `is a directory; name the registry file in it, such as ${path.join(file, DEFAULT_REGISTRY_FILE)}`,
    };
  }
  return { ok: false, error: read.error };
}

/** A JSON file read and parsed, or what went wrong: `missing` when there is no file. */
export type JsonFileRead =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly missing: boolean; readonly error: string };

/**
 * Reads and parses a JSON file (the registry, the Redis registry's local copy); never throws. The error reads
 * after the file's name: `the file does not exist`, `cannot be read (EACCES)`, `is not valid JSON: …`.
 */
export async function readJsonFile(file: string): Promise<JsonFileRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const missing = code === 'ENOENT';
    return { ok: false, missing, error: missing ? 'the file does not exist' : `cannot be read (${String(code)})` };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return { ok: false, missing: false, error: `is not valid JSON: ${(error as Error).message}` };
  }
}

/**
 * Writes a registry atomically: a temporary file in the same directory, then
 * `rename` over the target, so a reader sees the old file or the new one.
 * @throws {TypeError} when `registry` does not validate (nothing is written).
 */
export async function writeRegistryFile(file: string, registry: Registry): Promise<void> {
  const check = validateRegistry(registry);
  if (!check.ok) throw new TypeError(`refusing to write an invalid registry to ${file}: ${check.error}`);
  await writeFileAtomically(file, `${JSON.stringify(registry, null, 2)}\n`);
}

/**
 * Writes `text` to `file` so that a reader sees the old file or the new one, never half of one: a temporary file
 * in the same directory (hidden, with a random suffix), then `rename` over the target. The temporary file is
 * removed when either step fails.
 */
export async function writeFileAtomically(file: string, text: string): Promise<void> {
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, text, { mode: 0o644 });
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
}

/** A place a registry sends clients to: a target's release, its rollout (unless halted), or a pin. */
export interface ServedRelease {
  readonly release: string;
  readonly kind: 'release' | 'rollout' | 'pin';
  /** The cohort whose rule it is; `undefined` for everyone's rules and for pins. */
  readonly cohort: string | undefined;
  /** The pin's `<key>:<value>`, for a pin. */
  readonly pin?: string;
}

/**
 * Where `registry` sends clients: every target's release and rollout (a halted rollout sends nobody), every pin;
 * not one below the floor `min`, which the server skips (resolve.ts). So lowering the floor starts sending clients
 * to what it had made skipped, and `newlyServed` (release-check.ts) names those releases.
 */
export function servedReleases(registry: Registry): ServedRelease[] {
  const served: ServedRelease[] = [];
  const push = (where: ServedRelease): void => {
    if (!isBelowFloor(where.release, registry.min)) served.push(where);
  };
  const add = (cohort: string | undefined, rules: TargetRules, release: string | null): void => {
    if (release !== null) push({ release, kind: 'release', cohort });
    const rollout = rules.rollout;
    if (rollout !== undefined && rules.halted?.release !== rollout.release) {
      push({ release: rollout.release, kind: 'rollout', cohort });
    }
  };
  add(undefined, registry, registry.current);
  for (const [name, cohort] of Object.entries(registry.cohorts ?? {})) add(name, cohort, cohort.release);
  for (const [pin, { release }] of Object.entries(registry.pins ?? {})) {
    push({ release, kind: 'pin', cohort: undefined, pin });
  }
  return served;
}

/**
 * The registry's cohort of that name, looked up among its own members only:
 * `constructor` or `toString` is a valid cohort name, and names no cohort
 * unless the registry has one.
 */
export function cohortNamed(registry: Registry, name: string): Cohort | undefined {
  const cohorts = registry.cohorts;
  return cohorts !== undefined && Object.hasOwn(cohorts, name) ? cohorts[name] : undefined;
}

/** The halt recorded for a target: everyone (`cohort` undefined) or one cohort. */
export function haltOf(registry: Registry, cohort?: string): Halt | undefined {
  return cohort === undefined ? registry.halted : cohortNamed(registry, cohort)?.halted;
}

/** True when `version` is halted for everyone or in any cohort. */
export function haltedAnywhere(registry: Registry, version: string): boolean {
  return [undefined, ...Object.keys(registry.cohorts ?? {})].some(
    (cohort) => haltOf(registry, cohort)?.release === version,
  );
}

/** The folder holding one release: `<dir of registry>/releases/<version>`. */
export function releaseDir(registryFile: string, version: string): string {
  return path.join(path.dirname(path.resolve(registryFile)), 'releases', version);
}

/** SHA-384 over the sorted `path integrity` lines of a release's files (the shell included). */
export function releaseDigest(files: readonly { readonly path: string; readonly integrity: string }[]): string {
  const lines = files.map((f) => `${f.path} ${f.integrity}`).sort();
  return `sha384-${createHash('sha384').update(lines.join('\n')).digest('base64')}`;
}

/** Reads a release's manifest from its folder, or `undefined`. */
export async function readManifestFile(registryFile: string, version: string): Promise<ReleaseManifest | undefined> {
  try {
    const text = await readFile(path.join(releaseDir(registryFile, version), 'manifest.json'), 'utf8');
    return JSON.parse(text) as ReleaseManifest;
  } catch {
    return undefined;
  }
}
