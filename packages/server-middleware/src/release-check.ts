/**
 * Is a release folder still what was published? The check the CLI runs before a change sends clients to a
 * release (promote, rollback, a halt that rolls back, pin) and `publish` runs to repair, and the status page's
 * actions run too: the same code, so a release the CLI refuses is refused there. Two depths:
 *
 * - `sizes` (for `status`, which lists every release): the manifest reads and validates, and every file it
 *   lists, and the shell, is there with the size the manifest gives. One `stat` per file, no file is read.
 * - `content`: the same, then every file is read as a stream and its SHA-384 compared with the manifest's SRI,
 *   and the digest of all of them (the shell included, which the manifest does not list) with the one the
 *   registry recorded at publish time.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { validateManifest, type ReleaseManifest } from '@daylight/protocol';
import { releaseDigest, servedReleases, type PublishedRelease, type Registry } from './registry.js';
import { decodeReleasePath } from './request-path.js';

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

export interface ReleaseCheckOptions {
  /** `sizes`: stat every file; `content`: also hash every file and check the registry's digest. */
  readonly depth: 'sizes' | 'content';
  readonly signal?: AbortSignal;
}

const FILES_PREFIX = 'files/';
/** Stats in flight at once for one release. */
const STATS_AT_ONCE = 32;

/** The SRI (`sha384-…`, or of `algorithm`) and size of the bytes `chunks` yields (a file's read stream). */
export async function hashStream(
  chunks: AsyncIterable<unknown>,
  algorithm: 'sha256' | 'sha384' | 'sha512' = 'sha384',
): Promise<{ integrity: string; bytes: number }> {
  const hash = createHash(algorithm);
  let bytes = 0;
  for await (const chunk of chunks) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    bytes += buffer.length;
  }
  return { integrity: `${algorithm}-${hash.digest('base64')}`, bytes };
}

/** A file's SRI (`sha384-…`) and size, read as a stream. */
export function hashFile(file: string): Promise<{ integrity: string; bytes: number }> {
  return hashStream(createReadStream(file));
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    return info.isFile() ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** The file's SRI and size; `undefined` when it is missing; what went wrong when it cannot be read. */
async function integrityOf(file: string): Promise<{ integrity: string; bytes: number } | string | undefined> {
  try {
    return (await stat(file)).isFile() ? await hashFile(file) : undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return `${file} cannot be read (${code ?? String(error)}); check its permissions`;
  }
}

/**
 * Checks the folder of a published release (`releases/<version>/`: `manifest.json` and `files/`) against its
 * manifest and, with `depth: 'content'`, against the registry's digest. Never throws but for an abort.
 */
export async function checkReleaseFolder(
  folder: string,
  version: string,
  published: PublishedRelease,
  options: ReleaseCheckOptions,
): Promise<ReleaseCheck> {
  const manifestFile = path.join(folder, 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(manifestFile, 'utf8'));
  } catch {
    return { ok: false, problem: `${manifestFile} is missing or not JSON` };
  }
  const read = validateManifest(parsed, version);
  if (!read.ok) return { ok: false, problem: `its manifest is invalid: ${read.errors.join('; ')}` };
  const { manifest } = read;
  const where = (buildPath: string) => path.join(folder, 'files', ...buildPath.split('/'));

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
  const shellBytes = await sizeOf(where(published.shell));
  if (shellBytes === undefined) return { ok: false, problem: `its shell ${where(published.shell)} is missing` };
  let bytes = shellBytes;
  // A few stats at a time (status stats every file of every release); the first bad file in manifest order is named.
  for (let start = 0; start < assets.length; start += STATS_AT_ONCE) {
    options.signal?.throwIfAborted();
    const batch = assets.slice(start, start + STATS_AT_ONCE);
    const sizes = await Promise.all(batch.map((asset) => sizeOf(where(asset.path))));
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
    const file = await integrityOf(where(asset.path));
    if (file === undefined) return { ok: false, problem: `${where(asset.path)} is missing` };
    if (typeof file === 'string') return { ok: false, problem: file };
    if (file.bytes !== asset.bytes) {
      return { ok: false, problem: `${where(asset.path)} is ${file.bytes} bytes; its manifest says ${asset.bytes}` };
    }
    if (file.integrity !== asset.integrity) {
      return { ok: false, problem: `${where(asset.path)} does not match its SHA-384 in the manifest` };
    }
  }
  options.signal?.throwIfAborted();
  const shell = await integrityOf(where(published.shell));
  if (shell === undefined) return { ok: false, problem: `its shell ${where(published.shell)} is missing` };
  if (typeof shell === 'string') return { ok: false, problem: shell };
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

/** Every (target, release) pair that sends clients somewhere, as one string each. */
function servedPairs(registry: Registry): Set<string> {
  return new Set(servedReleases(registry).map((s) => `${s.kind}\n${s.cohort ?? ''}\n${s.pin ?? ''}\n${s.release}`));
}

/**
 * The releases a change starts sending clients to: made a target's release (a rollback, a halt that rolls
 * back), rolled out or resumed in a target, pinned, or no longer below a floor that was lowered or cleared. A
 * release a target already runs is not counted.
 */
export function newlyServed(before: Registry, after: Registry): string[] {
  const was = servedPairs(before);
  const versions = new Set<string>();
  for (const pair of servedPairs(after)) {
    if (!was.has(pair)) versions.add(pair.slice(pair.lastIndexOf('\n') + 1));
  }
  return [...versions];
}

/** The fix for a damaged release, as the CLI prints it (`"daylight …"` gets the command prefix). */
export function repairHint(version: string): string {
  return `publish the same build again to repair it ("daylight publish <build-dir> --version ${version}")`;
}
