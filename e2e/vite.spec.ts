/**
 * A Vite app (examples/vite-app), built by Vite itself, published with the real CLI and served by Express or Koa:
 * its lazy chunk and the chunk's stylesheet, which Vite's preload helper asks for at run time, load from the
 * release's folder; a switch keeps the note; an open tab whose lazy chunk is gone recovers through Vite's own
 * `vite:preloadError`; and a build made with Vite's default base is called out by `daylight publish`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Page, Response } from '@playwright/test';
import { buildRelease } from '../examples/vite-app/scripts/build.mjs';
import { startViteAppServer } from '../examples/vite-app/server/app.mjs';
import { banner, daylight, expect, ROOT, servedBy, test as base, watch } from './support/fixtures.js';

const run = promisify(execFile);

interface ViteApp {
  readonly url: string;
  readonly store: string;
  promote(version: string): Promise<void>;
}

const test = base.extend<{ viteApp: ViteApp }, { viteBuilds: string }>({
  // Vite's own build of releases 1.0.0 and 1.1.0 (vite.config.mjs, base './'), once per worker.
  viteBuilds: [
    // eslint-disable-next-line no-empty-pattern -- Playwright reads a fixture's dependencies from this pattern
    async ({}, use) => {
      const dir = await mkdtemp(path.join(tmpdir(), 'daylight-vite-builds-'));
      for (const version of ['1.0.0', '1.1.0']) await buildRelease(version, { outDir: path.join(dir, version) });
      await use(dir);
      await rm(dir, { recursive: true, force: true });
    },
    { scope: 'worker' },
  ],
  viteApp: async ({ framework, viteBuilds }, use) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'daylight-vite-e2e-'));
    const store = path.join(dir, 'releases.json');
    for (const version of ['1.0.0', '1.1.0']) {
      await daylight(store, 'publish', path.join(viteBuilds, version), '--version', version);
    }
    await daylight(store, 'promote', '1.0.0');
    const quiet = process.env.DAYLIGHT_E2E_LOG ? console : { info() {}, warn() {}, error() {} };
    const server = await startViteAppServer({ framework, store, logger: quiet });
    await use({
      url: server.url,
      store,
      async promote(version) {
        await daylight(store, 'promote', version);
        await servedBy(server.url, version);
      },
    });
    await server.close();
    await rm(dir, { recursive: true, force: true });
  },
});

/** Every response the page got, as `status path`. */
function responses(page: Page): string[] {
  const seen: string[] = [];
  page.on('response', (response: Response) => seen.push(`${response.status()} ${new URL(response.url()).pathname}`));
  page.on('requestfailed', (request) => seen.push(`failed ${new URL(request.url()).pathname}`));
  return seen;
}

/** A response of 400 or more, or a request that failed on the network. */
const failed = (line: string): boolean => /^(?:[45]\d\d|failed) /.test(line);
const release = (page: Page) => page.getByTestId('release');
const report = (page: Page) => page.getByTestId('report');

test("a Vite build's lazy chunk and its stylesheet load from the release's folder, and a switch keeps the note", async ({
  page,
  viteApp,
}) => {
  const seen = watch(page);
  const answered = responses(page);
  await page.goto(`${viteApp.url}/?poll=500`);
  await expect(release(page)).toHaveText('1.0.0');

  await page.getByRole('button', { name: 'Open the report' }).click();
  await expect(report(page)).toHaveText('Quarterly report (from the chunk built for 1.0.0)');
  // The stylesheet Vite's helper preloaded for the chunk applies.
  await expect(report(page)).toHaveCSS('border-left-color', 'rgb(30, 122, 70)');
  const lazy = answered.filter((line) => /\/report-[^/]+\.(js|css)$/.test(line));
  expect(lazy.map((line) => line.replace(/report-[^.]+/, 'report-…')).sort()).toEqual([
    '200 /_daylight/releases/1.0.0/files/assets/report-….css',
    '200 /_daylight/releases/1.0.0/files/assets/report-….js',
  ]);
  expect(answered.filter(failed)).toEqual([]);

  await page.locator('#note').fill('typed on 1.0.0');
  await viteApp.promote('1.1.0');
  await expect(page.locator('#daylight-status')).toHaveText('1.1.0 is downloaded and verified');
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(release(page)).toHaveText('1.1.0');
  await expect(page.locator('#note')).toHaveValue('typed on 1.0.0');

  await page.getByRole('button', { name: 'Open the report' }).click();
  await expect(report(page)).toHaveText('Quarterly report (from the chunk built for 1.1.0)');
  await expect(report(page)).toHaveCSS('border-left-color', 'rgb(30, 122, 70)');
  expect(answered.filter(failed)).toEqual([]);
  expect(seen.navigations).toHaveLength(2);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test("an open tab whose lazy chunk is gone switches to the newer release through Vite's preloadError, keeping the note", async ({
  page,
  viteApp,
}) => {
  const seen = watch(page);
  await page.goto(`${viteApp.url}/?poll=500`);
  await expect(release(page)).toHaveText('1.0.0');
  await page.locator('#note').fill('typed on 1.0.0');
  await viteApp.promote('1.1.0');
  await expect(page.locator('#daylight-status')).toHaveText('1.1.0 is downloaded and verified');

  // 1.0.0's report chunk and stylesheet are removed from the server (an old release cleaned up while a tab still
  // runs it): the tab, which never loaded them, now gets a 404 for each.
  const assets = path.join(path.dirname(viteApp.store), 'releases', '1.0.0', 'files', 'assets');
  for (const name of await readdir(assets)) {
    if (name.startsWith('report-')) await rm(path.join(assets, name));
  }
  const preloadErrors = page.evaluate(
    () =>
      new Promise<string>((resolve) =>
        addEventListener('vite:preloadError', (event) =>
          resolve(String((event as Event & { payload: unknown }).payload)),
        ),
      ),
  );
  await page.getByRole('button', { name: 'Open the report' }).click();
  expect(await preloadErrors).toMatch(/Unable to preload CSS|Failed to fetch dynamically imported module/);

  await expect(release(page)).toHaveText('1.1.0');
  await expect(page.locator('#note')).toHaveValue('typed on 1.0.0');
  await page.getByRole('button', { name: 'Open the report' }).click();
  await expect(report(page)).toHaveText('Quarterly report (from the chunk built for 1.1.0)');
  // One switch, and no loop.
  expect(seen.navigations).toHaveLength(2);
  expect(seen.failedApi).toEqual([]);
});

test("daylight publish calls out a Vite build made with the default base '/', whose lazy chunks' stylesheets would not load", async ({
  viteBuilds,
}) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'daylight-vite-absolute-'));
  try {
    const outDir = path.join(dir, 'build');
    await buildRelease('1.2.0', { outDir, base: '/' });
    const store = path.join(dir, 'store', 'releases.json');
    const { stdout, stderr } = await run(process.execPath, [
      path.join(ROOT, 'packages/cli/dist/bin.js'),
      'publish',
      outDir,
      '--version',
      '1.2.0',
      '--store',
      store,
    ]);
    expect(stderr).toMatch(
      /^daylight: warning: index\.html loads \/assets\/index-[^ ]+\.js by an absolute path: the build was made with base '\/', and assets\/index-[^ ]+\.js is Vite's loader of lazy chunks/,
    );
    expect(stderr).toMatch(/Build with base: '\.\/' in vite\.config\.\n$/);
    // Published (an app may map those URLs itself), but not offered for promotion as it is.
    expect(stdout).toMatch(/^published 1\.2\.0: /);
    expect(stdout).toMatch(/before promoting it: fix the base, build again and publish the build as a new version/);
    expect(stdout).not.toMatch(/promote 1\.2\.0/);
    // The example's own builds (base './') publish without it.
    const clean = await run(process.execPath, [
      path.join(ROOT, 'packages/cli/dist/bin.js'),
      'publish',
      path.join(viteBuilds, '1.0.0'),
      '--version',
      '1.0.0',
      '--store',
      path.join(dir, 'other', 'releases.json'),
    ]);
    expect(clean.stdout).toMatch(/published 1\.0\.0/);
    expect(clean.stderr).not.toMatch(/absolute path/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
