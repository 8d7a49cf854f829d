/**
 * Is a release folder still what was published? Two depths:
 *
 * - `sizes` (for `status`, which lists every release): the manifest reads and
 *   validates, and every file it lists, and the shell, is there with the size
 *   the manifest gives. One `stat` per file, no file is read.
 * - `content` (for what makes a release served: promote, rollback, halt, pin;
 *   and publish, which repairs): the same, then every file is read as a
 *   stream and its SHA-384 compared with the manifest's SRI, and the digest of
 *   all of them (the shell included, which the manifest does not list) with
 *   the one the registry recorded at publish time.
 */
import {
  decodeReleasePath,
  releaseDigest,
  type PublishedRelease,
  type Registry,
  type TargetRules,
} from '@daylight/server-middleware';
import type { ReleaseManifest } from '@daylight/protocol';
import path from 'node:path';
import { DaylightCliError } from './errors.js';
import type { ReleaseStore } from './store.js';

export type ReleaseCheck =
  | {
      readonly ok: true;
      readonly manifest: ReleaseManifest;
      /** Files of the release, the shell included. */
      readonly files: number;
      /** Their total size. */
      readonly bytes: number;
    }
  | {
      readonly ok: false;
      /** What is wrong, naming the first bad file: `/srv/app/releases/1.1.0/files/app.js is missing`. */
      readonly problem: string;
    };

export interface CheckOptions {
  /** `sizes`: stat every file; `content`: also hash every file and check the registry's digest. */
  readonly depth: 'sizes' | 'content';
  readonly signal?: AbortSignal;
}

const FILES_PREFIX = 'files/';
/** Stats in flight at once for one release. */
const STATS_AT_ONCE = 32;

/**
 * Checks a published release's folder against its manifest (and, with
 * `depth: 'content'`, against the registry's digest). Never throws but for
 * an abort.
 */
export async function checkRelease(
  store: ReleaseStore,
  version: string,
  published: PublishedRelease,
  options: CheckOptions,
): Promise<ReleaseCheck> {
  const read = await store.readManifest(version);
  if (!read.ok) return { ok: false, problem: read.error };
  const { manifest } = read;
  const where = (buildPath: string) => path.join(store.releaseLocation(version), 'files', ...buildPath.split('/'));

  const assets: { path: string; bytes: number; integrity: string }[] = [];
  for (const asset of manifest.assets) {
    // Read as the server reads it, so the file checked is the file it serves.
    const buildPath = asset.url.startsWith(FILES_PREFIX)
      ? decodeReleasePath(asset.url.slice(FILES_PREFIX.length))
      : undefined;
    if (buildPath === undefined) {
      return { ok: false, problem: `its manifest lists ${asset.url}, which is not a file of the release folder` };
    }
    assets.push({ path: buildPath, bytes: asset.bytes, integrity: asset.integrity });
  }

  // Sizes first, for every file: a missing file is found without reading the others.
  const shellBytes = await store.fileBytes(version, published.shell);
  if (shellBytes === undefined) return { ok: false, problem: `its shell ${where(published.shell)} is missing` };
  let bytes = shellBytes;
  // A few stats at a time (status stats every file of every release); the first bad file in manifest order is named.
  for (let start = 0; start < assets.length; start += STATS_AT_ONCE) {
    options.signal?.throwIfAborted();
    const batch = assets.slice(start, start + STATS_AT_ONCE);
    const sizes = await Promise.all(batch.map((asset) => store.fileBytes(version, asset.path)));
    for (const [index, asset] of batch.entries()) {
      const size = sizes[index];
      if (size === undefined) return { ok: false, problem: `${where(asset.path)} is missing` };
      if (size !== asset.bytes) {
        return { ok: false, problem: `${where(asset.path)} is ${size} bytes; its manifest says ${asset.bytes}` };
      }
      bytes += size;
    }
  }
  const sound: ReleaseCheck = { ok: true, manifest, files: assets.length + 1, bytes };
  if (options.depth === 'sizes') return sound;

  for (const asset of assets) {
    options.signal?.throwIfAborted();
    const read = await store.fileIntegrity(version, asset.path);
    if (read === undefined) return { ok: false, problem: `${where(asset.path)} is missing` };
    if (read.bytes !== asset.bytes) {
      return { ok: false, problem: `${where(asset.path)} is ${read.bytes} bytes; its manifest says ${asset.bytes}` };
    }
    if (read.integrity !== asset.integrity) {
      return { ok: false, problem: `${where(asset.path)} does not match its SHA-384 in the manifest` };
    }
  }
  options.signal?.throwIfAborted();
  const shell = await store.fileIntegrity(version, published.shell);
  if (shell === undefined) return { ok: false, problem: `its shell ${where(published.shell)} is missing` };
  // The manifest does not list the shell: the registry's digest, over every file, is what covers it.
  const digest = releaseDigest([{ path: published.shell, integrity: shell.integrity }, ...assets]);
  if (digest !== published.digest) {
    return {
      ok: false,
      problem: `its files do not match the digest the registry recorded for ${version}: its shell ${where(published.shell)} or its manifest was changed after it was published`,
    };
  }
  return sound;
}

/** The fix for a damaged release, as the CLI prints it (`"daylight …"` gets the command prefix). */
export function repairHint(version: string): string {
  return `publish the same build again to repair it ("daylight publish <build-dir> --version ${version}")`;
}

/**
 * Reads every file of a release and refuses it when one is missing or not what its manifest says: for the
 * commands that make a release served, so that no server is sent a release whose shell it would answer
 * with a script that 404s.
 * @throws {DaylightCliError} `release`, naming the first bad file and the fix.
 */
export async function requireServable(
  store: ReleaseStore,
  registry: Registry,
  version: string,
  signal?: AbortSignal,
): Promise<void> {
  const published = registry.releases[version];
  // Not published: the model refuses it with its own message.
  if (published === undefined) return;
  const check = await checkRelease(store, version, published, { depth: 'content', ...(signal ? { signal } : {}) });
  if (!check.ok) {
    throw new DaylightCliError(
      'release',
      `release ${version} cannot be served: ${check.problem}; ${repairHint(version)}`,
    );
  }
}

/** Every (target, release) pair that sends clients somewhere: a target's release, its rollout unless halted, a pin. */
function servedPairs(registry: Registry): Set<string> {
  const pairs = new Set<string>();
  const add = (target: string, rules: TargetRules, release: string | null) => {
    if (release !== null) pairs.add(`${target}\n=${release}`);
    const rollout = rules.rollout;
    if (rollout !== undefined && rules.halted?.release !== rollout.release) pairs.add(`${target}\n~${rollout.release}`);
  };
  add('everyone', registry, registry.current);
  for (const [name, cohort] of Object.entries(registry.cohorts ?? {})) add(`cohort ${name}`, cohort, cohort.release);
  for (const [id, pin] of Object.entries(registry.pins ?? {})) pairs.add(`pin ${id}\n=${pin.release}`);
  return pairs;
}

/**
 * The releases a change starts sending clients to: made a target's release (a rollback, a halt that rolls
 * back), rolled out or resumed in a target, or pinned. A release a target already runs is not counted.
 */
export function newlyServed(before: Registry, after: Registry): string[] {
  const was = servedPairs(before);
  const versions = new Set<string>();
  for (const pair of servedPairs(after)) {
    if (!was.has(pair)) versions.add(pair.slice(pair.lastIndexOf('\n') + 2));
  }
  return [...versions];
}
