/** Fixtures shared by the tests: real files in temporary directories. Not exported by the package. */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CliIO } from './cli.js';
import { isDaylightCliError } from './errors.js';

const created: string[] = [];

/** A fresh temporary directory, removed by {@link removeTempDirs}. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'daylight-cli-'));
  created.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(created.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

/** Writes files (build-relative path → content) under `dir`. */
export async function writeFiles(dir: string, files: Readonly<Record<string, string | Buffer>>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    const target = path.join(dir, ...file.split('/'));
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
  }
}

export const SHELL_HTML = `<!doctype html>
<html>
  <head>
    <!-- <script type="module" src="/assets/commented-out.js"></script> -->
    <script src="/vendor/legacy.js"></script>
    <script type="module" crossorigin src="/assets/app-3f2a.js?v=1"></script>
    <link rel="stylesheet" href="/assets/app-77c1.css">
  </head>
  <body><div id="app"></div></body>
</html>
`;

/** A small Vite-like build: a shell, an entry, a chunk whose name needs URL-encoding, and a hidden file. */
export function sampleFiles(appCode = 'console.log("app 1");\n'): Record<string, string | Buffer> {
  return {
    'index.html': SHELL_HTML,
    'assets/app-3f2a.js': appCode,
    'assets/app-77c1.css': 'body { margin: 0 }\n',
    'assets/commented-out.js': 'never the entry\n',
    'assets/lazy chunk#1.js': 'export const lazy = 1;\n',
    'vendor/legacy.js': 'window.legacy = true;\n',
    'favicon.ico': Buffer.from([0, 1, 2, 3, 255]),
    '.DS_Store': 'finder junk',
  };
}

/** A temporary project: `build/` with {@link sampleFiles}, and the registry path `store/releases.json` (not created). */
export async function sampleProject(appCode?: string): Promise<{ root: string; build: string; store: string }> {
  const root = await tempDir();
  const build = path.join(root, 'build');
  await writeFiles(build, sampleFiles(appCode));
  return { root, build, store: path.join(root, 'store', 'releases.json') };
}

/** Every file under `dir` (hidden ones included) and its bytes, to prove that nothing changed. */
export async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (current: string, prefix: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const relative = `${prefix}${entry.name}`;
      if (entry.isDirectory()) {
        out.set(`${relative}/`, '');
        await walk(path.join(current, entry.name), `${relative}/`);
      } else {
        out.set(relative, (await readFile(path.join(current, entry.name))).toString('base64'));
      }
    }
  };
  await walk(dir, '');
  return out;
}

/** The SRI value of some bytes, computed independently of the code under test. */
export function sri(content: string | Buffer): string {
  return `sha384-${createHash('sha384').update(content).digest('base64')}`;
}

/** An `io` for `runCli` that records what it prints. */
export function captureIO(
  cwd: string,
  env: Record<string, string | undefined> = {},
): CliIO & { out(): string; err(): string } {
  let stdout = '';
  let stderr = '';
  return {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env,
    cwd,
    out: () => stdout,
    err: () => stderr,
  };
}

/** A real Redis started by a test; see @daylight/server-middleware's `src/test-redis.ts`. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a real `redis-server` on a free loopback port with the server
 * package's test helper, so the repository has one copy of it. (Imported by
 * URL: the helper is a test file of another package, outside this one's `rootDir`.)
 */
export async function startRedis(): Promise<TestRedis> {
  const helper = new URL('../../server-middleware/src/test-redis.ts', import.meta.url).href;
  const module = (await import(helper)) as { startRedis(): Promise<TestRedis> };
  return module.startRedis();
}

/** Awaits a promise that must reject with a DaylightCliError; its code and message. */
export async function rejection(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (error) {
    if (isDaylightCliError(error)) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected the promise to reject');
}
