/**
 * Is a release folder still what was published? `checkRelease` runs
 * @daylight/server-middleware's check (the status page's actions run the same)
 * on the store's folder of the release, at one of two depths:
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
  checkReleaseFolder,
  repairHint,
  type PublishedRelease,
  type Registry,
  type ReleaseCheck,
  type ReleaseCheckOptions,
} from '@daylight/server-middleware';
import { DaylightCliError } from './errors.js';
import type { ReleaseStore } from './store.js';

export { newlyServed, repairHint } from '@daylight/server-middleware';
export type { ReleaseCheck } from '@daylight/server-middleware';

/**
 * Checks a published release's folder against its manifest (and, with
 * `depth: 'content'`, against the registry's digest). Never throws but for
 * an abort.
 */
export function checkRelease(
  store: ReleaseStore,
  version: string,
  published: PublishedRelease,
  options: ReleaseCheckOptions,
): Promise<ReleaseCheck> {
  return checkReleaseFolder(store.releaseLocation(version), version, published, options);
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
