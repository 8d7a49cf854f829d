/**
 * Service worker mode and a release that fails to boot, in a real Chromium
 * against the real Express and Koa servers: the boot watchdog's way back
 * lands on the release the tab came from even with the network down (the
 * worker keeps that release's cache until the new page calls ready(), and
 * answers `?_daylight=<v>` only with <v>'s shell), and an offline reload or
 * new tab afterwards gets the release that works, not the newer cached one
 * that was rolled back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { buildRelease } from '../examples/office-app/scripts/build.mjs';
import { test, expect, watch, signIn, type Office, banner, status, version } from './support/fixtures.js';

const SLOW = { timeout: 20_000 };
const cacheNames = (page: Page) => page.evaluate(() => caches.keys());

/** 1.2.0 throws on boot; built once per worker. */
let extraBuilds: string;
test.beforeAll(async () => {
  extraBuilds = await mkdtemp(path.join(tmpdir(), 'daylight-sw-builds-'));
  await buildRelease('1.2.0', { broken: true, outDir: path.join(extraBuilds, '1.2.0'), atlasBytes: 1000 });
});
test.afterAll(async () => {
  await rm(extraBuilds, { recursive: true, force: true });
});

/** Empties the browser's HTTP cache, so that only the worker's caches can answer. */
async function clearHttpCache(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.clearBrowserCache');
  await cdp.detach();
}

/** A signed-in tab on 1.0.0 in service worker mode, with the broken 1.2.0 promoted, downloaded and cached. */
async function brokenReleaseReady(page: Page, office: Office) {
  await signIn(page, office.url, undefined, 'ada', '&sw=1&watchdog=4000');
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, SLOW);
  await expect.poll(() => cacheNames(page), SLOW).toContain('daylight-1.0.0');
  await office.cli('publish', path.join(extraBuilds, '1.2.0'), '--version', '1.2.0');
  await office.promote('1.2.0');
  await expect(status(page)).toHaveText('1.2.0 is downloaded and verified', SLOW);
  expect(await cacheNames(page)).toContain('daylight-1.2.0');
  return watch(page); // from the switch on
}

test('offline, a release that fails to boot goes back to the release the tab came from, from the worker', async ({
  page,
  context,
  office,
}) => {
  const seen = await brokenReleaseReady(page, office);

  await context.setOffline(true);
  await clearHttpCache(page); // shells and files can only come from the worker's caches
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect.poll(() => seen.navigations.length, SLOW).toBeGreaterThanOrEqual(2);
  expect(seen.navigations[0]).toContain('_daylight=1.2.0');
  expect(seen.navigations[1]).toContain('_daylight=1.0.0');
  // The way back got 1.0.0's shell (before: 1.2.0's again, whose cache had replaced 1.0.0's).
  await expect(version(page)).toHaveText('1.0.0', SLOW);
  await expect(page.getByTestId('offline')).toBeVisible(); // 1.0.0's code runs, from the cache
  expect(seen.pageErrors.filter((e) => e.includes('broken on purpose'))).toHaveLength(1);
  expect(seen.navigations).toHaveLength(2);
  expect(await cacheNames(page)).toContain('daylight-1.0.0');
});

test('after a way back, an offline reload and a new tab get the release that works, not the newer one', async ({
  page,
  context,
  office,
}) => {
  const seen = await brokenReleaseReady(page, office);
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect.poll(() => seen.navigations.length, SLOW).toBe(2);
  await expect(version(page)).toHaveText('1.0.0', SLOW);
  // The worker heard from the page that is back on 1.0.0 (its report caches 1.0.0 again if needed).
  await expect.poll(() => cacheNames(page), SLOW).toContain('daylight-1.0.0');

  await context.setOffline(true);
  await clearHttpCache(page);
  seen.pageErrors.length = 0;
  await page.reload();
  await expect(version(page)).toHaveText('1.0.0', SLOW);
  const fresh = await context.newPage();
  const freshSeen = watch(fresh);
  await fresh.goto(`${office.url}/?poll=500&sw=1`);
  await expect(version(fresh)).toHaveText('1.0.0', SLOW);
  expect([...seen.pageErrors, ...freshSeen.pageErrors]).toEqual([]);
});
