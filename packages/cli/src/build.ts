/**
 * Reading a build directory: every file, with its SRI hash and size, and the
 * entry script its HTML shell loads.
 */
import { readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { MAX_ASSETS, shellReference } from '@daylight/protocol';
import { hashFile } from '@daylight/server-middleware';
import { DaylightCliError, errnoCode } from './errors.js';

/** One file of a build. */
export interface BuildFile {
  /** Build-relative path with `/` separators, not URL-encoded: `assets/app-3f2a.js`. */
  readonly path: string;
  /** Where the bytes are read from (a link inside the build is resolved to its target). */
  readonly source: string;
  /** `sha384-` and the base64 SHA-384 of the bytes. */
  readonly integrity: string;
  readonly bytes: number;
}

/** A build directory, read and hashed. */
export interface Build {
  /** The directory, absolute and with links resolved. */
  readonly dir: string;
  /** Every file, sorted by path. */
  readonly files: readonly BuildFile[];
  /** Build-relative paths of the hidden entries (names starting with `.`) that were left out. */
  readonly skipped: readonly string[];
  /** Build-relative paths of symbolic links to a folder that contains them, left out (they would loop). */
  readonly loops: readonly string[];
}

// Control characters would break the digest's one-line-per-file format and
// every log that prints the path.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/** SHA-384 of a file as an SRI value, and its size, streamed so large files do not fill memory (the server's). */
export { hashFile };

export function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (relative !== '..' && !relative.startsWith(`..${path.sep}`) && !path.isAbsolute(relative));
}

/**
 * Reads every file of a build directory and hashes it.
 *
 * - Hidden entries (a name starting with `.`: `.DS_Store`, `.env`, `.git/`)
 *   are left out and listed in `skipped`: a web build does not need them, and
 *   publishing an `.env` by accident would serve it to every browser.
 * - A symbolic link is followed only when its target is inside the build
 *   directory; a link that points outside it, or nowhere, is refused.
 * - Anything that is neither a file nor a directory (a socket, a FIFO) is refused.
 *
 * @throws {DaylightCliError} `build` when the directory is missing, not a
 *   directory, empty, or holds one of the refused entries.
 */
export async function readBuild(
  dir: string,
  options: {
    /** The directory as the user wrote it, for messages; they show the resolved path too. */
    readonly name?: string;
    readonly signal?: AbortSignal;
  } = {},
): Promise<Build> {
  const shown = options.name !== undefined && options.name !== dir ? `${options.name} (${dir})` : dir;
  let root: string;
  try {
    const info = await stat(dir);
    if (!info.isDirectory()) {
      throw new DaylightCliError(
        'build',
        `build directory ${shown} is not a directory; pass the folder your build writes (the one with index.html)`,
      );
    }
    root = await realpath(dir);
  } catch (error) {
    if (error instanceof DaylightCliError) throw error;
    const code = errnoCode(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new DaylightCliError(
        'build',
        `build directory ${shown} does not exist; run your build first, or pass the folder it writes to`,
      );
    }
    throw new DaylightCliError('build', `build directory ${shown} cannot be read (${code ?? String(error)})`, {
      cause: error,
    });
  }

  const files: BuildFile[] = [];
  const skipped: string[] = [];
  const loops: string[] = [];
  const walk = async (real: string, prefix: string, ancestors: ReadonlySet<string>): Promise<void> => {
    const entries = await readdir(real, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      options.signal?.throwIfAborted();
      const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
      if (entry.name.startsWith('.')) {
        skipped.push(relative);
        continue;
      }
      if (CONTROL.test(entry.name)) {
        throw new DaylightCliError(
          'build',
          `build file ${JSON.stringify(relative)} has a control character in its name; rename it`,
        );
      }
      let source = path.join(real, entry.name);
      let kind: 'file' | 'directory' | 'other' = entry.isFile() ? 'file' : entry.isDirectory() ? 'directory' : 'other';
      if (entry.isSymbolicLink()) {
        let target: string;
        try {
          target = await realpath(source);
        } catch {
          throw new DaylightCliError(
            'build',
            `build file ${relative} is a symbolic link to nothing; remove the link or rebuild`,
          );
        }
        if (!isInside(root, target)) {
          throw new DaylightCliError(
            'build',
            `build file ${relative} is a symbolic link to ${target}, outside the build directory ${root}; copy the file into the build instead of linking it`,
          );
        }
        const info = await stat(target);
        source = target;
        kind = info.isFile() ? 'file' : info.isDirectory() ? 'directory' : 'other';
      }
      if (kind === 'directory') {
        // A link to a folder that contains it would loop forever; its files are published under their own path.
        if (ancestors.has(source)) {
          loops.push(relative);
          continue;
        }
        await walk(source, relative, new Set([...ancestors, source]));
      } else if (kind === 'file') {
        if (files.length > MAX_ASSETS) {
          throw new DaylightCliError(
            'build',
            `build directory ${root} has more than ${MAX_ASSETS + 1} files, more than a release may list; publish only the app's build output`,
          );
        }
        const { integrity, bytes } = await hashFile(source);
        files.push({ path: relative, source, integrity, bytes });
      } else {
        throw new DaylightCliError(
          'build',
          `build entry ${relative} is neither a file nor a directory; remove it from the build`,
        );
      }
    }
  };
  try {
    await walk(root, '', new Set([root]));
  } catch (error) {
    if (error instanceof DaylightCliError || (error as Error).name === 'AbortError') throw error;
    // A file removed or made unreadable while the build was being read.
    throw new DaylightCliError(
      'build',
      `build directory ${shown} cannot be read (${errnoCode(error) ?? String(error)}); wait for the build to finish and publish again`,
      { cause: error },
    );
  }

  if (files.length === 0) {
    throw new DaylightCliError(
      'build',
      `build directory ${shown} has no files${skipped.length > 0 ? ' (hidden files are never published)' : ''}; run your build first, or pass the folder it writes to`,
    );
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { dir: root, files, skipped, loops };
}

/**
 * Turns a path given on the command line (`./index.html`, `assets\app.js`)
 * into the build-relative form used everywhere else, or `undefined` when it
 * is absolute or leaves the build.
 */
export function toBuildPath(value: string): string | undefined {
  const normalized = path.posix.normalize(value.replaceAll('\\', '/'));
  if (normalized === '.' || normalized.startsWith('/') || normalized === '..' || normalized.startsWith('../')) {
    return undefined;
  }
  return normalized.replace(/\/$/, '');
}

/** The manifest URL of a build file, relative to the manifest: `files/` and the URL-encoded path segments. */
export function fileUrl(buildPath: string): string {
  return `files/${buildPath.split('/').map(encodeURIComponent).join('/')}`;
}

/** One `<script>` of an HTML document. */
export interface ScriptTag {
  readonly src: string;
  readonly module: boolean;
}

const ATTRIBUTE = /([^\s"'=<>/`]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;

/** A numeric character reference as HTML reads it: one past Unicode, a surrogate or zero is U+FFFD. */
function character(code: number): string {
  return code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff) ? '\uFFFD' : String.fromCodePoint(code);
}

function decodeEntities(value: string): string {
  return value
    .replace(/&#x([0-9a-f]+);/gi, (_, hex: string) => character(parseInt(hex, 16)))
    .replace(/&#(\d+);/g, (_, dec: string) => character(parseInt(dec, 10)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The `<script src>` tags of an HTML document, in document order; scripts inside comments are ignored. */
export function scriptTags(html: string): ScriptTag[] {
  const tags: ScriptTag[] = [];
  const uncommented = html.replace(/<!--[\s\S]*?(?:-->|$)/g, '');
  for (const match of uncommented.matchAll(/<script\b([^>]*)>/gi)) {
    const attributes = new Map<string, string>();
    for (const attribute of (match[1] ?? '').matchAll(ATTRIBUTE)) {
      const name = attribute[1]!.toLowerCase();
      if (!attributes.has(name)) {
        attributes.set(name, decodeEntities(attribute[2] ?? attribute[3] ?? attribute[4] ?? ''));
      }
    }
    const src = attributes.get('src')?.trim();
    if (src) tags.push({ src, module: attributes.get('type')?.trim().toLowerCase() === 'module' });
  }
  return tags;
}

/**
 * The entry script of a shell: the first `<script type="module" src>` that
 * names a file of the build, else the first `<script src>` that does.
 * Returns the build-relative path, or `undefined`.
 */
export function findEntryScript(
  html: string,
  shellPath: string,
  inBuild: (path: string) => boolean,
): string | undefined {
  const candidates = scriptTags(html)
    .map((tag) => ({ module: tag.module, path: shellReference(tag.src, shellPath) }))
    .filter((tag): tag is { module: boolean; path: string } => tag.path !== undefined && inBuild(tag.path));
  return (candidates.find((tag) => tag.module) ?? candidates[0])?.path;
}

/**
 * Text only a bundler's run-time loader holds: Vite's list of what to preload for a lazy chunk, webpack's chunk
 * loader's error message. Not the names of their errors (`vite:preloadError`, `ChunkLoadError`): Daylight's own
 * recovery module mentions those, and is in every app that uses it.
 */
const RUNTIME_LOADERS: readonly { marker: string; bundler: string; fix: string; lost: string }[] = [
  {
    marker: '__vite__mapDeps',
    bundler: 'Vite',
    fix: "base: './' in vite.config",
    lost: "a lazy chunk's stylesheet and the modules it preloads",
  },
  {
    marker: 'Loading chunk ',
    bundler: 'webpack',
    fix: "output.publicPath: 'auto' in webpack.config",
    lost: 'its lazy chunks',
  },
];
const ANY_BUNDLER = "a relative base (Vite: base: './'; webpack: output.publicPath: 'auto')";

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A warning when the shell loads a script of the build by an absolute path (`/assets/app.js`), and the build
 * holds URLs that the shell rewrite cannot reach: a bundler's lazy-chunk loader, whose URLs follow the build's
 * base at run time, or a stylesheet or script that names another build file by an absolute path (an image, a
 * font, a CSS `url()`). Daylight rewrites the shell's own references to the release's folder; those stay at
 * `/assets/…`, outside the release, and do not load.
 */
export async function absoluteBaseWarning(
  html: string,
  shellPath: string,
  files: readonly BuildFile[],
): Promise<string | undefined> {
  const byPath = new Map(files.map((file) => [file.path, file]));
  const absolute = scriptTags(html).find((tag) => {
    if (!tag.src.startsWith('/') || tag.src.startsWith('//')) return false;
    const target = shellReference(tag.src, shellPath);
    return target !== undefined && byPath.has(target);
  });
  if (absolute === undefined) return undefined;
  const folder = absolute.src.slice(0, absolute.src.lastIndexOf('/') + 1);
  const intro = `${shellPath} loads ${absolute.src} by an absolute path: the build was made with base '/'`;
  const absolutePaths = new Set(files.map((file) => `/${file.path}`));
  const reference = new RegExp(`${escapeRegExp(folder)}[^\\s"'\`()<>,;?#]+`, 'g');
  let named: { file: string; url: string } | undefined;
  for (const file of files) {
    if (!/\.(?:m?js|css)$/i.test(file.path)) continue;
    const text = await readFile(file.source, 'utf8');
    const loader = RUNTIME_LOADERS.find(({ marker }) => text.includes(marker));
    if (loader !== undefined) {
      return (
        `${intro}, and ${file.path} is ${loader.bundler}'s loader of lazy chunks, which computes their URLs from ` +
        `that base at run time: ${loader.lost} would be asked for at ${folder}…, outside the release's folder, ` +
        `and fail. Build with ${loader.fix}.`
      );
    }
    named ??= [...text.matchAll(reference)]
      .map((match) => ({ file: file.path, url: match[0] }))
      .find(({ url }) => absolutePaths.has(url));
  }
  if (named === undefined) return undefined;
  return (
    `${intro}, and ${named.file} names ${named.url} by that path (an image, a font, a CSS url()): it would be asked ` +
    `for outside the release's folder, and fail. Build with ${ANY_BUNDLER}.`
  );
}

/** A service worker script an app registers from its own folder (vite-plugin-pwa's, workbox's, a hand-written one). */
const WORKER_SCRIPT = /^(?:sw|service-?worker|serviceworker)\.m?js$/i;

/**
 * A warning when the build has a service worker script of its own at its top (`sw.js`): Daylight serves a
 * build's files only below the release's folder, so the app's `register('/sw.js')` gets a 404, and browsers that
 * installed that worker keep it, with the pages it cached (packages/server-middleware's `retireServiceWorkers`).
 */
export function ownServiceWorkerWarning(files: readonly BuildFile[]): string | undefined {
  const worker = files.find((file) => WORKER_SCRIPT.test(file.path))?.path;
  if (worker === undefined) return undefined;
  return (
    `the build has a service worker of its own (${worker}): Daylight serves a build's files only below ` +
    `/_daylight/releases/<version>/files/, not at /${worker}, and browsers that installed it keep it, with the ` +
    `pages it cached. Stop building and registering it (vite-plugin-pwa: remove the plugin and its registerSW.js; ` +
    `Daylight's worker: enableServiceWorker from @daylight/client/sw), and list it on the server, which then ` +
    `answers it with a worker that removes itself: createDaylight({ retireServiceWorkers: ['/${worker}'] }).`
  );
}
