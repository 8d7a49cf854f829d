/**
 * `daylight verify [<version>]`: is a release's folder still what was
 * published? Every file is read and its SHA-384 compared with the manifest,
 * and all of them (the shell included) with the digest recorded at publish
 * time — the check promote runs before it serves a release. The servers' log
 * names this command when a tab reports a file it could not load or a
 * download that did not match (`stale-asset`, `integrity`).
 */
import { formatBytes, table } from '../format.js';
import { readExisting, resolveStore, type ReleaseStore } from '../store.js';
import { checkRelease, repairHint } from '../verify.js';
import { newestFirst, checkVersion, requirePublished } from '../versions.js';
import { optional, type CommandSpec } from './command.js';

export interface VerifyOptions {
  /** The registry file (resolved against `cwd`), or an opened store. */
  readonly store: string | ReleaseStore;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** The release to check; every published release without it. */
  readonly version?: string;
  readonly signal?: AbortSignal;
}

export interface VerifiedRelease {
  readonly version: string;
  readonly ok: boolean;
  /** Files read, the shell included (`null` when the release is damaged). */
  readonly files: number | null;
  readonly bytes: number | null;
  /** What is wrong, naming the first bad file; `null` when intact. */
  readonly problem: string | null;
}

export interface VerifyReport {
  readonly store: string;
  /** Newest version first. */
  readonly releases: readonly VerifiedRelease[];
}

/**
 * Reads every file of one release, or of every published release, against its manifest and its digest.
 * @throws {DaylightCliError} `not-published` for a version the registry does not list; `registry` when there is
 * no registry, or it is unreadable or invalid.
 */
export async function verify(options: VerifyOptions): Promise<VerifyReport> {
  const store = resolveStore(options.store, options.cwd);
  const { registry } = await readExisting(store);
  const version = options.version;
  if (version !== undefined) requirePublished(registry, version);
  const releases: VerifiedRelease[] = [];
  for (const each of version === undefined ? newestFirst(Object.keys(registry.releases)) : [version]) {
    options.signal?.throwIfAborted();
    const check = await checkRelease(store, each, registry.releases[each]!, {
      depth: 'content',
      ...optional('signal', options.signal),
    });
    releases.push(
      check.ok
        ? { version: each, ok: true, files: check.files, bytes: check.bytes, problem: null }
        : { version: each, ok: false, files: null, bytes: null, problem: check.problem },
    );
  }
  return { store: store.location, releases };
}

export const verifyCommand: CommandSpec = {
  name: 'verify',
  summary: "read every file of a release (or of all) and check it against the manifest and the publish's digest",
  usage: 'daylight verify [<version>]',
  description: [
    'Every file of the release is read and its SHA-384 compared with the manifest, and all of them, the shell',
    'included, with the digest recorded when it was published: what promote checks before it serves a release.',
    'Without a version, every published release. Exits 1 when one is damaged, with the command that repairs it.',
  ].join('\n'),
  flags: {},
  positionals: ['<version>'],
  requiredPositionals: 0,
  async run(args, context) {
    const version = args.positionals[0] === undefined ? undefined : checkVersion(args.positionals[0], 'version');
    const report = await verify({
      store: context.store,
      cwd: context.cwd,
      ...optional('version', version),
      ...optional('signal', context.signal),
    });
    if (report.releases.length === 0) return { text: 'no releases published yet', json: report };
    const rows = report.releases.map((release) => [
      release.version,
      release.ok ? 'intact' : `damaged: ${release.problem}`,
      release.files === null ? '-' : String(release.files),
      release.bytes === null ? '-' : formatBytes(release.bytes),
    ]);
    const damaged = report.releases.filter((release) => !release.ok);
    return {
      text: table([['VERSION', 'RESULT', 'FILES', 'SIZE'], ...rows], new Set([2, 3])),
      json: report,
      warnings: damaged.map((release) => `release ${release.version} cannot be served; ${repairHint(release.version)}`),
      exitCode: damaged.length > 0 ? 1 : 0,
    };
  },
};
