/**
 * Release files are served `immutable` for a year, so bytes that do not match the manifest (a file changed on
 * disk after publish, a copy half done) would stay in every browser that fetched them, after the folder is
 * repaired: the browser would refuse them (the shell's import map carries each file's hash) for as long as that
 * release runs. So the first request for a file, and the first after it changes on disk, reads it whole and
 * compares it with the manifest's SRI hash before a byte is sent; later requests stream it while its inode, size
 * and times are those that were checked. One check at a time per file, however many requests wait for it.
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { hashStream } from './release-check.js';
import type { ReleaseFile } from './release-store.js';

interface Check {
  readonly key: string;
  readonly matches: Promise<boolean>;
}

/** By the manifest's entry, so a release read again (a new manifest) is checked again. */
const checks = new WeakMap<ReleaseFile, Check>();

function keyOf(info: Stats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}

/**
 * True when the open file `handle` (whose `stat` is `info`) has the size and SRI hash the manifest gives `file`.
 * Rejects when the file cannot be read; that answer is not kept.
 */
export function matchesManifest(file: ReleaseFile, handle: FileHandle, info: Stats): Promise<boolean> {
  const key = keyOf(info);
  const known = checks.get(file);
  if (known?.key === key) return known.matches;
  // The manifest's algorithm (validated: sha256, sha384 or sha512), from the start of the file, and without closing
  // the handle: the same handle is streamed to the client afterwards.
  const algorithm = file.integrity.slice(0, 6) as 'sha256' | 'sha384' | 'sha512';
  const matches =
    info.size === file.bytes
      ? Promise.resolve()
          // In the promise: a handle that cannot be read (closed) throws at createReadStream, and that is a rejection.
          .then(() => hashStream(handle.createReadStream({ start: 0, autoClose: false }), algorithm))
          .then(({ integrity }) => integrity === file.integrity)
      : Promise.resolve(false);
  checks.set(file, { key, matches });
  matches.catch(() => {
    if (checks.get(file)?.matches === matches) checks.delete(file);
  });
  return matches;
}
