/**
 * Helpers shared by this package's tests (not exported from the package):
 * a release store on disk built like `daylight publish` builds one, a logger
 * that records, and polling without fixed sleeps.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express5 from 'express';
import express4 from 'express4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { MANIFEST_SCHEMA, type ManifestAsset, type ReleaseManifest, type Urgency } from '@daylight/protocol';
import {
  REGISTRY_SCHEMA,
  releaseDigest,
  releaseDir,
  writeRegistryFile,
  type PublishedRelease,
  type Registry,
} from './registry.js';
import type { DaylightLogger } from './types.js';

/** The SRI value of some bytes, `sha384-…`. */
export function sri(content: string | Uint8Array): string {
  return `sha384-${createHash('sha384').update(content).digest('base64')}`;
}

export interface FixtureRelease {
  readonly version: string;
  /** Build-relative path → content. */
  readonly files: Readonly<Record<string, string | Uint8Array>>;
  /** @default 'index.html' */
  readonly shell?: string;
  /** @default the first `.js` file */
  readonly entry?: string;
  /** @default 'optional' */
  readonly urgency?: Urgency;
}

/** A small build as Vite would write it, different for every version. */
export function sampleRelease(version: string): FixtureRelease {
  const slug = version.replace(/[^0-9A-Za-z]/g, '-');
  return {
    version,
    files: {
      'index.html': [
        '<!doctype html>',
        '<html lang="en">',
        '  <head data-build="x">',
        '    <meta charset="utf-8" />',
        '    <title>Office app</title>',
        '    <link rel="icon" href="/favicon.ico" />',
        `    <link rel="stylesheet" href="./assets/style-${slug}.css">`,
        '    <link rel="modulepreload" crossorigin href="/assets/vendor.js" />',
        `    <script type="module" crossorigin src="/assets/app-${slug}.js"></script>`,
        '    <link rel="stylesheet" href="https://cdn.example.com/fonts.css">',
        `    <!-- <script src="/assets/app-${slug}.js"></script> -->`,
        '  </head>',
        `  <body><div id="app"></div><script>window.x = '<script src="/assets/vendor.js">';</script></body>`,
        '</html>',
        '',
      ].join('\n'),
      [`assets/app-${slug}.js`]: `import './vendor.js';\nconsole.log('office app ${version}');\n`,
      'assets/vendor.js': `export const vendor = '${version}';\n`,
      [`assets/style-${slug}.css`]: `body { color: #123; } /* ${version} */\n`,
      'assets/logo.svg': '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
      'favicon.ico': new Uint8Array([0, 0, 1, 0, 1, 0, version.length]),
    },
  };
}

/** Writes a release's files and manifest beside the registry; returns its registry entry. */
export async function writeRelease(registryFile: string, release: FixtureRelease): Promise<PublishedRelease> {
  const folder = releaseDir(registryFile, release.version);
  const shell = release.shell ?? 'index.html';
  const all: { path: string; integrity: string }[] = [];
  const assets: ManifestAsset[] = [];
  for (const [file, content] of Object.entries(release.files)) {
    const target = path.join(folder, 'files', file);
    await mkdir(path.dirname(target), { recursive: true });
    await writeFile(target, content);
    const integrity = sri(content);
    all.push({ path: file, integrity });
    if (file !== shell) {
      const url = `files/${file.split('/').map(encodeURIComponent).join('/')}`;
      assets.push({ url, integrity, bytes: typeof content === 'string' ? Buffer.byteLength(content) : content.length });
    }
  }
  const entryPath = release.entry ?? Object.keys(release.files).find((f) => f.endsWith('.js'));
  const entry = assets.find((a) => a.url === `files/${entryPath}`) ?? assets[0]!;
  const publishedAt = new Date().toISOString();
  const manifest: ReleaseManifest = {
    schema: MANIFEST_SCHEMA,
    version: release.version,
    entry,
    assets,
    urgency: release.urgency ?? 'optional',
    notes: `Release ${release.version}`,
    publishedAt,
  };
  await writeFile(path.join(folder, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return { publishedAt, digest: releaseDigest(all), shell, urgency: release.urgency ?? 'optional' };
}

export interface ReleaseStore {
  /** The temporary directory holding everything. */
  readonly dir: string;
  readonly registryFile: string;
  /** The registry as last written by this helper. */
  registry: Registry;
  /** Rewrites the registry (atomically, as the CLI does) with another `current` and `min`. */
  promote(current: string | null, min?: string): Promise<void>;
  cleanup(): Promise<void>;
}

export interface ReleaseStoreOptions {
  /** @default [sampleRelease('1.0.0'), sampleRelease('1.1.0')] */
  readonly releases?: readonly FixtureRelease[];
  /** @default '1.0.0'; `null` for nothing promoted */
  readonly current?: string | null;
  readonly min?: string;
  /** Do not write the registry file (its releases are still written). @default false */
  readonly withoutRegistry?: boolean;
}

/** A release store in a fresh temporary directory: two published releases, 1.0.0 promoted. */
export async function createReleaseStore(options: ReleaseStoreOptions = {}): Promise<ReleaseStore> {
  const dir = await mkdtemp(path.join(tmpdir(), 'daylight-test-'));
  const registryFile = path.join(dir, 'releases.json');
  const releases: Record<string, PublishedRelease> = {};
  for (const release of options.releases ?? [sampleRelease('1.0.0'), sampleRelease('1.1.0')]) {
    releases[release.version] = await writeRelease(registryFile, release);
  }
  const current = options.current === undefined ? '1.0.0' : options.current;
  const build = (cur: string | null, min?: string): Registry =>
    min === undefined
      ? { schema: REGISTRY_SCHEMA, current: cur, releases }
      : { schema: REGISTRY_SCHEMA, current: cur, min, releases };
  const store: ReleaseStore = {
    dir,
    registryFile,
    registry: build(current, options.min),
    async promote(next, min) {
      store.registry = build(next, min);
      await writeRegistryFile(registryFile, store.registry);
    },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
  if (options.withoutRegistry !== true) await writeRegistryFile(registryFile, store.registry);
  return store;
}

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  readonly error?: unknown;
}

/** A logger that records what it is told. */
export function createTestLogger(): DaylightLogger & { readonly entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    info: (message) => void entries.push({ level: 'info', message }),
    warn: (message) => void entries.push({ level: 'warn', message }),
    error: (message, error) => void entries.push({ level: 'error', message, error }),
  };
}

/** Polls `probe` every 25 ms until it returns something other than `undefined`; rejects after `timeoutMs`. */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waitFor: nothing after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Starts listening on 127.0.0.1 on a free port; returns the origin (`http://127.0.0.1:PORT`). */
export async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes a server, dropping keep-alive connections. */
export async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A registry entry for a published release, for tests of the registry's pure logic. */
export const PUBLISHED_ENTRY = {
  publishedAt: '2026-11-27T09:00:00.000Z',
  digest: `sha384-${'A'.repeat(64)}`,
  shell: 'index.html',
  urgency: 'optional',
} as const;

/**
 * The four frameworks the adapters run on (Express 5 and 4, Koa 3 and 2), for `describe.each`: each app is made by
 * `express` or `koa` from its framework and the test's own arguments.
 */
export function frameworks<A extends unknown[]>(
  express: (create: typeof express5, ...args: A) => Server,
  koa: (KoaClass: typeof Koa3, ...args: A) => Server,
): { name: string; app: (...args: A) => Server }[] {
  return [
    { name: 'Express 5', app: (...args) => express(express5, ...args) },
    { name: 'Express 4', app: (...args) => express(express4, ...args) },
    { name: 'Koa 3', app: (...args) => koa(Koa3, ...args) },
    { name: 'Koa 2', app: (...args) => koa(Koa2, ...args) },
  ];
}
