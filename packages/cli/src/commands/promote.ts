import { compareVersions } from '@daylight/protocol';
import { DaylightCliError } from '../errors.js';
import { readExisting, resolveStore, type ReleaseStore } from '../store.js';
import { checkVersion, oldestFirst } from '../versions.js';
import { optional, type CommandSpec } from './command.js';

export interface PromoteOptions {
  /** The registry file (resolved against `cwd`), or an opened store. */
  readonly store: string | ReleaseStore;
  /** A published version. */
  readonly version: string;
  /** @default process.cwd() */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

export interface PromoteResult {
  /** `unchanged` when the version was already current. */
  readonly status: 'promoted' | 'unchanged';
  readonly version: string;
  /** The current release before the command; `null` when none was. */
  readonly previous: string | null;
  /** The registry file. */
  readonly store: string;
}

/**
 * Makes a published release the one every client should run.
 *
 * Refused when the version is not published, when its folder is missing or
 * damaged (the server could not serve it), or when it is below the floor
 * `min` (every client on it would be told to update at once).
 *
 * @throws {DaylightCliError} `invalid-option`, `registry`, `not-published`, `release`, `conflict` or `io`; the store is unchanged.
 */
export async function promote(options: PromoteOptions): Promise<PromoteResult> {
  const version = checkVersion(options.version, 'version');
  const store = resolveStore(options.store, options.cwd);
  const snapshot = await readExisting(store);
  options.signal?.throwIfAborted();
  const { registry } = snapshot;
  if (registry.releases[version] === undefined) {
    const published = oldestFirst(Object.keys(registry.releases));
    throw new DaylightCliError(
      'not-published',
      `version ${version} is not published; published: ${published.length > 0 ? published.join(', ') : 'none'}`,
    );
  }
  const base = { version, previous: registry.current, store: store.location };
  if (registry.current === version) return { ...base, status: 'unchanged' };
  if (registry.min !== undefined && compareVersions(version, registry.min) < 0) {
    throw new DaylightCliError(
      'conflict',
      `version ${version} is below the floor min ${registry.min}: every client on it would be forced to update; promote ${registry.min} or later, or lower the floor with "daylight min"`,
    );
  }
  const manifest = await store.readManifest(version);
  if (!manifest.ok) {
    throw new DaylightCliError(
      'release',
      `release ${version} cannot be served: ${manifest.error}; publish the same build as ${version} again to repair it`,
    );
  }
  await store.update(snapshot, () => Promise.resolve({ ...registry, current: version }));
  return { ...base, status: 'promoted' };
}

export const promoteCommand: CommandSpec = {
  name: 'promote',
  summary: 'make a published release the one every client should run',
  usage: 'daylight promote <version>',
  description: [
    'Sets the registry\'s "current" release. Servers pick the change up within a',
    'second and start stamping responses with it; clients switch at their next safe moment.',
  ].join('\n'),
  flags: {},
  positionals: ['<version>'],
  requiredPositionals: 1,
  async run(args, context) {
    const result = await promote({
      store: context.store,
      version: args.positionals[0]!,
      cwd: context.cwd,
      ...optional('signal', context.signal),
    });
    const text =
      result.status === 'unchanged'
        ? `${result.version} is already current; nothing changed`
        : `promoted ${result.version} (was ${result.previous ?? 'none'})`;
    return { text, json: result };
  },
};
