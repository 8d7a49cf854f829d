import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  MANIFEST_SCHEMA,
  MAX_NOTES_LENGTH,
  URGENCIES,
  validateManifest,
  type ManifestAsset,
  type ReleaseManifest,
  type Urgency,
} from '@daylight/protocol';
import { releaseDigest, type PublishedRelease } from '@daylight/server-middleware';
import {
  absoluteBaseWarning,
  ownServiceWorkerWarning,
  fileUrl,
  findEntryScript,
  isInside,
  readBuild,
  toBuildPath,
  type BuildFile,
} from '../build.js';
import { DaylightCliError } from '../errors.js';
import { formatBytes, plural } from '../format.js';
import { resolveStore, type ReleaseStore } from '../store.js';
import { checkRelease } from '../verify.js';
import { checkVersion } from '../versions.js';
import { commandPrefix, optional, stringFlag, type CommandSpec } from './command.js';

export interface PublishOptions {
  /**
   * The registry file (resolved against `cwd`), or an opened store.
   * @example 'releases.json'
   */
  readonly store: string | ReleaseStore;
  /** The folder the app's build wrote, resolved against `cwd`. */
  readonly buildDir: string;
  /** The release's version, strict semver. */
  readonly version: string;
  /**
   * Build-relative path of the HTML shell.
   * @default 'index.html'
   */
  readonly shell?: string;
  /**
   * Build-relative path of the entry script.
   * @default the first `<script type="module" src>` of the shell that names a file of the build, else its first `<script src>` that does
   */
  readonly entry?: string;
  /**
   * How strongly the release asks to be taken.
   * @default 'optional'
   */
  readonly urgency?: string;
  /**
   * Release notes for people, plain text.
   * @default ''
   */
  readonly notes?: string;
  /** @default process.cwd() */
  readonly cwd?: string;
  /** The `publishedAt` to record. @default new Date() */
  readonly now?: Date;
  readonly signal?: AbortSignal;
}

export interface PublishResult {
  /** `published`: new; `unchanged`: the same bytes were already published; `repaired`: same bytes, and a missing or damaged release folder was written again. */
  readonly status: 'published' | 'unchanged' | 'repaired';
  readonly version: string;
  /** The registry file. */
  readonly store: string;
  /** The release's folder. */
  readonly directory: string;
  readonly digest: string;
  /** Build-relative path of the shell. */
  readonly shell: string;
  /** Build-relative path of the entry script. */
  readonly entry: string;
  /** Every file of the release, the shell included. */
  readonly files: number;
  /** Their total size. */
  readonly bytes: number;
  readonly urgency: Urgency;
  readonly publishedAt: string;
  /** The registry's current release after the command. */
  readonly current: string | null;
  /**
   * Why some files of this build will not load from its release folder (it was built with an absolute base):
   * published all the same, since an app may map those URLs itself; the command says so as a warning.
   */
  readonly baseProblem?: string;
  /** The build's own service worker, which the app must stop registering and the server retire; a warning. */
  readonly serviceWorkerProblem?: string;
  readonly manifest: ReleaseManifest;
  /** Hidden entries of the build that were left out. */
  readonly skipped: readonly string[];
  /** Things the user should know that did not stop the command. */
  readonly warnings: readonly string[];
}

function buildPathOption(value: string, flag: string): string {
  const normalized = toBuildPath(value);
  if (normalized === undefined) {
    throw new DaylightCliError(
      'invalid-option',
      `${flag} ${JSON.stringify(value)} is not a path inside the build; pass it relative to the build directory, such as index.html`,
    );
  }
  return normalized;
}

function asset(file: BuildFile): ManifestAsset {
  return { url: fileUrl(file.path), integrity: file.integrity, bytes: file.bytes };
}

/**
 * Publishes a build as a release: hashes every file, writes the release's
 * folder (files and manifest) completely, then adds it to the registry. Does
 * not make it current: that is {@link promote}.
 *
 * Publishing a version again with the same bytes changes nothing, unless its
 * folder is missing or damaged (every file is checked against the manifest and
 * the registry's digest): then it is written again (`repaired`). With other
 * bytes it is refused, because browsers may already hold the first ones.
 *
 * @throws {DaylightCliError} `invalid-option`, `build`, `registry`, `conflict` or `io`; the store is unchanged.
 */
export async function publish(options: PublishOptions): Promise<PublishResult> {
  const version = checkVersion(options.version, 'version');
  const urgency = (options.urgency ?? 'optional') as Urgency;
  if (!URGENCIES.includes(urgency)) {
    throw new DaylightCliError(
      'invalid-option',
      `urgency ${JSON.stringify(options.urgency)} is not one of ${URGENCIES.join(', ')}; pass --urgency optional, recommended or critical`,
    );
  }
  const notes = options.notes ?? '';
  if (notes.length > MAX_NOTES_LENGTH) {
    throw new DaylightCliError(
      'invalid-option',
      `notes are ${notes.length} characters long, more than the ${MAX_NOTES_LENGTH} a manifest allows; shorten them and link to the full notes`,
    );
  }
  const shellPath = buildPathOption(options.shell ?? 'index.html', 'shell');
  const entryOption = options.entry === undefined ? undefined : buildPathOption(options.entry, 'entry');
  const cwd = options.cwd ?? process.cwd();
  const store = resolveStore(options.store, cwd);

  const snapshot = await store.read();
  options.signal?.throwIfAborted();
  const build = await readBuild(path.resolve(cwd, options.buildDir), {
    name: options.buildDir,
    ...optional('signal', options.signal),
  });
  if (isInside(build.dir, path.dirname(store.location))) {
    throw new DaylightCliError(
      'build',
      `the store ${store.location} is inside the build directory ${build.dir}, so the build would publish its own releases; keep the registry outside the build (--store)`,
    );
  }
  const byPath = new Map(build.files.map((file) => [file.path, file]));

  const shell = byPath.get(shellPath);
  if (shell === undefined) {
    throw new DaylightCliError(
      'build',
      `shell ${shellPath} is not in the build directory ${build.dir}; pass --shell with the HTML file your app starts from`,
    );
  }
  const html = await readFile(shell.source, 'utf8');
  let entryPath: string;
  if (entryOption !== undefined) {
    if (!byPath.has(entryOption) || entryOption === shellPath) {
      throw new DaylightCliError(
        'build',
        `entry ${entryOption} is not a script of the build directory ${build.dir}; pass --entry with the build-relative path of the script the shell loads first`,
      );
    }
    entryPath = entryOption;
  } else {
    const found = findEntryScript(html, shellPath, (candidate) => candidate !== shellPath && byPath.has(candidate));
    if (found === undefined) {
      throw new DaylightCliError(
        'build',
        `no <script src> in ${shellPath} names a file of the build directory ${build.dir}; pass --entry with the script the shell loads first, such as assets/app.js`,
      );
    }
    entryPath = found;
  }
  const entry = byPath.get(entryPath)!;

  const digest = releaseDigest(build.files.map((file) => ({ path: file.path, integrity: file.integrity })));
  const existing = snapshot.registry.releases[version];
  if (existing !== undefined && existing.digest !== digest) {
    throw new DaylightCliError(
      'conflict',
      `version ${version} was already published with other content (digest ${existing.digest}); publish a new version number`,
    );
  }

  const publishedAt = existing?.publishedAt ?? (options.now ?? new Date()).toISOString();
  const manifest: ReleaseManifest = {
    schema: MANIFEST_SCHEMA,
    version,
    entry: asset(entry),
    assets: build.files
      .filter((file) => file.path !== shellPath)
      .map(asset)
      .sort((a, b) => (a.url < b.url ? -1 : a.url > b.url ? 1 : 0)),
    urgency: existing?.urgency ?? urgency,
    notes,
    publishedAt,
  };
  const check = validateManifest(manifest, version);
  if (!check.ok) {
    throw new DaylightCliError('build', `the manifest of ${version} would be invalid: ${check.errors.join('; ')}`);
  }

  const warnings: string[] = [];
  if (build.skipped.length > 0) {
    const shown = build.skipped.slice(0, 5).join(', ');
    const more = build.skipped.length > 5 ? `, and ${build.skipped.length - 5} more` : '';
    warnings.push(
      `left out ${plural(build.skipped.length, 'hidden file')} (${shown}${more}); hidden files are never published`,
    );
  }
  if (build.loops.length > 0) {
    warnings.push(
      `left out ${plural(build.loops.length, 'symbolic link')} to a folder that contains ${build.loops.length > 1 ? 'them' : 'it'} (${build.loops.join(', ')}): it would loop; the folder's files are published under their own paths`,
    );
  }
  const baseProblem = await absoluteBaseWarning(html, shellPath, build.files);
  const serviceWorkerProblem = ownServiceWorkerWarning(build.files);
  const result = {
    ...optional('baseProblem', baseProblem),
    ...optional('serviceWorkerProblem', serviceWorkerProblem),
    version,
    store: store.location,
    digest,
    shell: shellPath,
    entry: entryPath,
    files: build.files.length,
    bytes: build.files.reduce((sum, file) => sum + file.bytes, 0),
    urgency: manifest.urgency,
    publishedAt,
    current: snapshot.registry.current,
    skipped: build.skipped,
  };

  if (existing !== undefined) {
    // Every file read and hashed again: a folder with a file deleted or changed since is repaired, not "unchanged".
    const onDisk = await checkRelease(store, version, existing, {
      depth: 'content',
      ...optional('signal', options.signal),
    });
    if (onDisk.ok) {
      const kept = onDisk.manifest;
      if (
        (options.urgency !== undefined && options.urgency !== kept.urgency) ||
        (options.notes !== undefined && options.notes !== kept.notes)
      ) {
        warnings.push(
          `urgency and notes are set when a version is first published; ${version} keeps urgency ${kept.urgency} and its notes`,
        );
      }
      return {
        ...result,
        status: 'unchanged',
        urgency: kept.urgency,
        directory: store.releaseLocation(version),
        manifest: kept,
        warnings,
      };
    }
    // Same bytes, but the folder the registry names is missing or damaged: write it again, with the notes
    // of its first publish when its manifest still has them.
    const previous = await store.readManifest(version);
    const repaired: ReleaseManifest = previous.ok ? { ...manifest, notes: previous.manifest.notes } : manifest;
    let directory = '';
    await store.update(
      snapshot,
      async () => {
        directory = await store.installRelease(version, build.files, repaired);
        return snapshot.registry;
      },
      { action: 'publish', summary: `repair the folder of ${version}` },
    );
    warnings.push(
      `the folder of ${version} was missing or damaged (${onDisk.problem}); it was written again from this build`,
    );
    return { ...result, status: 'repaired', directory, manifest: repaired, warnings };
  }

  const entryRecord: PublishedRelease = { publishedAt, digest, shell: shellPath, urgency };
  let directory = '';
  await store.update(
    snapshot,
    async () => {
      directory = await store.installRelease(version, build.files, manifest);
      return { ...snapshot.registry, releases: { ...snapshot.registry.releases, [version]: entryRecord } };
    },
    { action: 'publish', summary: `publish ${version}` },
  );
  return { ...result, status: 'published', directory, manifest, warnings };
}

export const publishCommand: CommandSpec = {
  name: 'publish',
  summary: 'publish a build directory as a release (does not make it current)',
  usage: 'daylight publish <build-dir> --version <version> [options]',
  description: [
    'Hashes every file of <build-dir> (SHA-384, as SRI), writes the release folder',
    'releases/<version>/ beside the registry, then adds the release to the registry.',
    'Hidden files (names starting with ".") are left out; symbolic links are followed',
    'only when they point inside <build-dir>.',
    '',
    'Publishing a version again with the same bytes changes nothing, or repairs its',
    'folder when a file there is missing or changed; with other bytes it is refused:',
    'publish a new version number.',
  ].join('\n'),
  flags: {
    version: {
      type: 'string',
      value: '<version>',
      description: 'the release version, strict semver such as 1.4.2 (required)',
    },
    shell: {
      type: 'string',
      value: '<path>',
      description: 'the HTML shell, relative to <build-dir> (default: index.html)',
    },
    entry: {
      type: 'string',
      value: '<path>',
      description:
        "the entry script, relative to <build-dir> (default: the shell's first module <script src> in the build)",
    },
    urgency: {
      type: 'string',
      value: '<urgency>',
      description: 'optional, recommended or critical (default: optional)',
    },
    notes: {
      type: 'string',
      value: '<text>',
      description: `release notes, plain text, at most ${MAX_NOTES_LENGTH} characters (default: none)`,
    },
  },
  positionals: ['<build-dir>'],
  requiredPositionals: 1,
  async run(args, context) {
    const version = stringFlag(args, 'version');
    if (version === undefined) {
      throw new DaylightCliError('usage', 'publish needs --version, such as: daylight publish dist --version 1.4.2');
    }
    const options: PublishOptions = {
      store: context.store,
      buildDir: args.positionals[0]!,
      version,
      cwd: context.cwd,
      ...optional('shell', stringFlag(args, 'shell')),
      ...optional('entry', stringFlag(args, 'entry')),
      ...optional('urgency', stringFlag(args, 'urgency')),
      ...optional('notes', stringFlag(args, 'notes')),
      ...optional('signal', context.signal),
    };
    const result = await publish(options);
    const promoteHint =
      result.current === result.version
        ? []
        : result.baseProblem !== undefined
          ? [
              `before promoting it: fix the base, build again and publish the build as a new version (${result.version} now names these bytes)`,
            ]
          : [`run "${commandPrefix(context)} promote ${result.version}" to make it current`];
    const summary = `${plural(result.files, 'file')}, ${formatBytes(result.bytes)}, entry ${result.entry}`;
    const lines =
      result.status === 'published'
        ? [`published ${result.version}: ${summary}`, ...promoteHint]
        : result.status === 'repaired'
          ? [`repaired ${result.version}: ${summary}`, ...promoteHint]
          : [`${result.version} is already published with the same content; nothing changed`, ...promoteHint];
    return {
      text: lines.join('\n'),
      json: result,
      warnings: result.warnings,
      ...optional(
        'alerts',
        [result.baseProblem, result.serviceWorkerProblem].filter((alert): alert is string => alert !== undefined),
      ),
    };
  },
};
