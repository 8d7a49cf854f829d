/**
 * What the server holds in memory for one read of the registry (a
 * "generation"): the stamp precomputed as a header string, and for every
 * published release its manifest and the table of files it may serve.
 * Manifests are immutable per version, so they are cached across reads;
 * rendered shells belong to one generation and are dropped with it.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MAX_MANIFEST_BYTES, formatReleaseHeader, validateManifest, type ReleaseStamp } from '@daylight/protocol';
import { releaseDir, type PublishedRelease, type Registry } from './registry.js';
import { compilePlan, type Plan } from './resolve.js';
import { decodeReleasePath, resolveInside } from './request-path.js';
import { renderShell, type ShellFile } from './render-shell.js';
import type { DaylightState } from './types.js';

/** Manifest asset URLs are relative to the manifest; Daylight serves those below this folder. */
const FILES_PREFIX = 'files/';

export interface ReleaseFile extends ShellFile {
  /** Size in bytes, from the manifest. */
  readonly bytes: number;
}

/** A published release whose manifest was read and validated. */
export interface LoadedRelease {
  readonly version: string;
  /** The registry's digest of the release, part of the cache key. */
  readonly digest: string;
  /** Build-relative path of the HTML shell. */
  readonly shell: string;
  /** Absolute path of `releases/<version>/files`. */
  readonly filesDir: string;
  /** The manifest's bytes, served as they are. */
  readonly manifest: Buffer;
  readonly manifestEtag: string;
  /** The files Daylight serves, by decoded build-relative path. */
  readonly files: ReadonlyMap<string, ReleaseFile>;
  /** Assets the manifest lists that Daylight cannot serve (not below `files/`), for a warning. */
  readonly unservable: readonly string[];
}

export type ReleaseLoad =
  { readonly ok: true; readonly release: LoadedRelease } | { readonly ok: false; readonly error: string };

function hash(algorithm: 'sha256' | 'sha384', bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('base64');
}

/** A strong ETag derived from content. */
export function etagOf(bytes: Uint8Array): string {
  return `"${createHash('sha256').update(bytes).digest('base64url').slice(0, 27)}"`;
}

/** What a failed read of `file` says: `<file>: does not exist`, `<file>: cannot be read (EACCES)`. */
function readFailure(file: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return `${file}: ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${String(code)})`}`;
}

/** Reads and validates the manifest of one published release. Never throws. */
export async function loadRelease(
  registryFile: string,
  version: string,
  published: PublishedRelease,
): Promise<ReleaseLoad> {
  const folder = releaseDir(registryFile, version);
  const file = path.join(folder, 'manifest.json');
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (error) {
    return { ok: false, error: readFailure(file, error) };
  }
  if (bytes.length > MAX_MANIFEST_BYTES) {
    return { ok: false, error: `${file}: is ${bytes.length} bytes; at most ${MAX_MANIFEST_BYTES} are allowed` };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    return { ok: false, error: `${file}: is not valid JSON: ${(error as Error).message}` };
  }
  const check = validateManifest(parsed, version);
  if (!check.ok) return { ok: false, error: `${file}: ${check.errors.join('; ')}` };

  const files = new Map<string, ReleaseFile>();
  const unservable: string[] = [];
  for (const asset of check.manifest.assets) {
    const decoded = asset.url.startsWith(FILES_PREFIX)
      ? decodeReleasePath(asset.url.slice(FILES_PREFIX.length))
      : undefined;
    if (decoded === undefined) {
      // An absolute URL (another origin) is fine; anything else cannot be reached.
      if (!/^https?:\/\//.test(asset.url)) unservable.push(asset.url);
      continue;
    }
    files.set(decoded, { url: asset.url.slice(FILES_PREFIX.length), integrity: asset.integrity, bytes: asset.bytes });
  }
  return {
    ok: true,
    release: {
      version,
      digest: published.digest,
      shell: published.shell,
      filesDir: path.join(folder, 'files'),
      manifest: bytes,
      manifestEtag: etagOf(bytes),
      files,
      unservable,
    },
  };
}

/** A release's shell, read once per generation. */
export interface Shell {
  /** The file as the build wrote it, served at `files/<shell>`. */
  readonly raw: Buffer;
  readonly rawIntegrity: string;
  /** The page served to navigations (see render-shell.ts). */
  readonly html: Buffer;
  readonly etag: string;
}

export type ShellLoad = { readonly ok: true; readonly shell: Shell } | { readonly ok: false; readonly error: string };

/** Reads and renders a release's shell. Never throws. */
export async function loadShell(release: LoadedRelease, base: string, importMap = true): Promise<ShellLoad> {
  const file = resolveInside(release.filesDir, release.shell);
  if (file === undefined)
    return { ok: false, error: `release ${release.version}: shell "${release.shell}" is outside its folder` };
  let raw: Buffer;
  try {
    raw = await readFile(file);
  } catch (error) {
    return { ok: false, error: readFailure(file, error) };
  }
  const html = Buffer.from(
    renderShell({
      html: raw.toString('utf8'),
      version: release.version,
      base,
      files: release.files,
      shell: release.shell,
      importMap,
    }),
    'utf8',
  );
  return { ok: true, shell: { raw, rawIntegrity: `sha384-${hash('sha384', raw)}`, html, etag: etagOf(html) } };
}

/** One release as a request may resolve to it, with everything precomputed. */
export interface Choice {
  readonly stamp: ReleaseStamp;
  /** `Daylight-Release`, formatted once. */
  readonly header: string;
  /** The body of `GET {base}/release`: `{ version, min?, revision? }`. */
  readonly check: string;
  /** The state of a request that sent no client header. */
  readonly state: DaylightState;
}

/** Everything served from one successful read of the registry. */
export interface Generation {
  readonly registry: Registry;
  /** The registry compiled for resolution (resolve.ts). */
  readonly plan: Plan;
  /** Every release the plan can resolve to, by version. */
  readonly choices: ReadonlyMap<string, Choice>;
  /** Everyone's release (`current`), or `undefined` when nothing is promoted. */
  readonly base: Choice | undefined;
  readonly stamp: ReleaseStamp | undefined;
  /** `Daylight-Release`, formatted once. */
  readonly header: string | undefined;
  /** The body of `GET {base}/release`. */
  readonly check: string | undefined;
  /** The state of a request that sent no client header, shared by all of them. */
  readonly state: DaylightState;
  /** Releases whose manifest loaded, by version. */
  readonly releases: ReadonlyMap<string, LoadedRelease>;
  /** Rendered shells, by version; a failed load is not kept. */
  readonly shells: Map<string, Promise<ShellLoad>>;
}

function choiceOf(version: string, registry: Registry): Choice {
  const stamp: ReleaseStamp = Object.freeze(registry.min === undefined ? { version } : { version, min: registry.min });
  const check = registry.revision === undefined ? stamp : { ...stamp, revision: registry.revision };
  return Object.freeze({
    stamp,
    header: formatReleaseHeader(stamp),
    check: JSON.stringify(check),
    state: Object.freeze({ release: stamp }),
  });
}

/** @throws {TypeError} when the registry's versions cannot be formatted (validation makes that unreachable). */
export function createGeneration(registry: Registry, releases: ReadonlyMap<string, LoadedRelease>): Generation {
  const plan = compilePlan(registry);
  const choices = new Map<string, Choice>();
  // Only releases that loaded: a request resolving to one that did not is given everyone's (server.ts).
  for (const version of plan.releases) if (releases.has(version)) choices.set(version, choiceOf(version, registry));
  const base = registry.current === null ? undefined : choices.get(registry.current);
  return {
    registry,
    plan,
    choices,
    base,
    stamp: base?.stamp,
    header: base?.header,
    check: base?.check,
    state: base?.state ?? Object.freeze({}),
    releases,
    shells: new Map(),
  };
}
