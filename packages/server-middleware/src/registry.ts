/**
 * The release registry file (`releases.json`) and the release folders beside
 * it. Shared by the middleware (which reads) and the CLI (which writes).
 * Layout and rules: docs/design.md, "On disk: the release store".
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import { URGENCIES, isVersion, isIntegrity, type ReleaseManifest, type Urgency } from '@daylight/protocol';

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

export interface Registry {
  readonly schema: typeof REGISTRY_SCHEMA;
  /** The release every client should run; `null` before the first promote. */
  readonly current: string | null;
  /** The oldest client version the API still serves. */
  readonly min?: string;
  readonly releases: Readonly<Record<string, PublishedRelease>>;
}

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
  if (errors.length > 0) return { ok: false, error: errors.join('; ') };
  return { ok: true, registry: input as unknown as Registry };
}

/**
 * Reads and validates a registry file. A missing file reads as an error too;
 * the caller decides whether that means "empty" (the CLI's first publish).
 */
export async function readRegistryFile(file: string): Promise<RegistryRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { ok: false, error: code === 'ENOENT' ? 'the file does not exist' : `cannot be read (${String(code)})` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `is not valid JSON: ${(error as Error).message}` };
  }
  return validateRegistry(parsed);
}

/**
 * Writes a registry atomically: a temporary file in the same directory, then
 * `rename` over the target, so a reader sees the old file or the new one.
 * @throws {TypeError} when `registry` does not validate (nothing is written).
 */
export async function writeRegistryFile(file: string, registry: Registry): Promise<void> {
  const check = validateRegistry(registry);
  if (!check.ok) throw new TypeError(`refusing to write an invalid registry to ${file}: ${check.error}`);
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, `${JSON.stringify(registry, null, 2)}\n`, { mode: 0o644 });
    await rename(temporary, file);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
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
