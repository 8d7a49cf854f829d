/**
 * The core promise, in a real Chromium against a real Express or Koa server
 * (one project each): a promote reaches an open tab through its API calls,
 * the release downloads and is verified, and one accepted switch lands on it
 * with the login and the unsaved form intact. Then what must not happen.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Page } from '@playwright/test';
import { test, expect, watch, signIn, ready, corruptInTransit, recordErrorCodes } from './support/fixtures.js';
import { startDamagingProxy } from './support/damaging-proxy.js';
import { startStaleShellProxy } from './support/stale-proxy.js';

test.beforeEach(async ({ page }) => {
  // Remember whether a sign-in form ever appeared, across the switch's reload.
  await page.addInitScript(() => {
    new MutationObserver(() => {
      if (document.getElementById('login')) sessionStorage.setItem('test:saw-login', location.href);
    }).observe(document, { childList: true, subtree: true });
  });
});

test('a promoted release is noticed, downloaded, prompted and switched to without losing the login or the form', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  await page.evaluate(() => sessionStorage.removeItem('test:saw-login'));
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  await page.locator('#f-customer').fill('Nordlicht GmbH');
  await page.locator('#f-description').fill('Twelve desks,\nthree lamps');

  await office.promote('1.1.0');

  const banner = page.locator('[data-daylight-banner]');
  await expect(banner).toBeVisible();
  await expect(banner).toContainText('1.1.0');
  await expect(page.locator('#daylight-status')).toHaveText('1.1.0 is downloaded and verified');
  const before = seen.navigations.length;

  await banner.getByRole('button', { name: 'Update now' }).click();

  await expect(page.getByTestId('version')).toHaveText('1.1.0');
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  await expect(page.locator('#f-customer')).toHaveValue('Nordlicht GmbH');
  await expect(page.locator('#f-description')).toHaveValue('Twelve desks,\nthree lamps');
  await expect(page.locator('#f-notes')).toBeVisible(); // the field that is new in 1.1.0
  await expect(page.getByTestId('inbox-refreshed')).toContainText('refreshed');
  expect(seen.navigations.length - before).toBe(1);
  expect(new URL(page.url()).searchParams.has('_daylight')).toBe(false);
  expect(await page.evaluate(() => sessionStorage.getItem('test:saw-login'))).toBeNull();
  await expect(banner).toHaveCount(0);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test('download progress counts verified bytes as they arrive, from 0 up to the size of the release', async ({
  page,
  office,
}) => {
  type Progress = { loaded: number; total: number };
  await signIn(page, office.url);
  await page.evaluate(() => {
    const seen: Progress[] = [];
    const w = window as unknown as { daylight: EventTarget; progressSeen: Progress[] };
    w.progressSeen = seen;
    w.daylight.addEventListener('progress', (event) => seen.push((event as CustomEvent<Progress>).detail));
  });
  await office.promote('1.1.0');
  await expect(page.locator('#daylight-status')).toHaveText('1.1.0 is downloaded and verified');

  const seen = await page.evaluate(() => (window as unknown as { progressSeen: Progress[] }).progressSeen);
  const manifest = (await (await fetch(`${office.url}/_daylight/releases/1.1.0/manifest.json`)).json()) as {
    assets: { bytes: number }[];
  };
  const total = manifest.assets.reduce((sum, asset) => sum + asset.bytes, 0);
  expect(seen[0]).toEqual({ loaded: 0, total });
  expect(seen.at(-1)).toEqual({ loaded: total, total });
  expect(seen.every((p, i) => p.total === total && (i === 0 || p.loaded >= seen[i - 1]!.loaded))).toBe(true);
  // The 2.3 MB reference data arrives in chunks: progress moves within a file, not only between files.
  expect(new Set(seen.map((p) => p.loaded)).size).toBeGreaterThan(manifest.assets.length + 1);
});

test('an asset whose bytes do not match its hash is never switched to and the page keeps working', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await corruptInTransit(page, '1.1.0');
  await signIn(page, office.url, seen);
  await recordErrorCodes(page);
  await office.promote('1.1.0');

  await expect(page.locator('#daylight-status')).toContainText('does not match its integrity hash');
  expect(await page.evaluate(() => sessionStorage.getItem('test:error'))).toBe('integrity');
  await expect(page.locator('[data-daylight-banner]')).toHaveCount(0);
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  // Still working: the inbox keeps refreshing and a save goes through.
  const refreshed = await page.getByTestId('inbox-refreshed').textContent();
  await expect(page.getByTestId('inbox-refreshed')).not.toHaveText(refreshed!, { timeout: 5_000 });
  await page.locator('#f-customer').fill('still here');
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.locator('.saved')).toContainText('Saved as INV-');
  expect(seen.navigations).toHaveLength(1);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test('a file damaged once on its way is fetched again past the HTTP cache: the tab switches, and later loads of the release work', async ({
  page,
  office,
}) => {
  // A real proxy, not page.route: routing turns the browser's HTTP cache off, and the cache is what kept the damage.
  const proxy = await startDamagingProxy(office.url, /^\/_daylight\/releases\/1\.1\.0\/files\/assets\/app-[^/]+\.js$/);
  try {
    const seen = watch(page);
    await signIn(page, proxy.url, seen);
    await page.locator('#f-customer').fill('typed before the damage');
    await office.promote('1.1.0');
    await ready(page, '1.1.0');
    // The damaged answer (kept by the browser: the file is immutable), then once more past the cache.
    expect(proxy.asked).toEqual(['-', 'no-cache']);
    await page.locator('[data-daylight-banner]').getByRole('button', { name: 'Update now' }).click();
    await expect(page.getByTestId('version')).toHaveText('1.1.0');
    await expect(page.locator('#f-customer')).toHaveValue('typed before the damage');
    expect(seen.failedApi).toEqual([]);
    // The cache holds the good copy now: a reload runs the release from it, without asking the network. (The test's
    // reload may cut an inbox poll on its way: that one is not the switch's.)
    await page.reload();
    await expect(page.getByTestId('version')).toHaveText('1.1.0');
    await expect(page.getByTestId('user')).toHaveText('signed in as ada');
    expect(proxy.asked).toHaveLength(2);
    expect(seen.pageErrors).toEqual([]);
  } finally {
    await proxy.close();
  }
});

/**
 * Changes the chunks of `version` that `pick` chooses on their way to the page (a tampering proxy, a damaged cache):
 * each then sets `window.tampered` and says HACKED for Quarterly. Resolves with the names of the chunks changed.
 */
async function tamperChunks(page: Page, version: string, pick: (body: string) => boolean): Promise<string[]> {
  const changed: string[] = [];
  await page.route(
    new RegExp(`/releases/${version.replaceAll('.', '\\.')}/files/assets/chunk-[^/]+\\.js$`),
    async (route) => {
      const url = new URL(route.request().url());
      url.hostname = '127.0.0.1';
      const response = await route.fetch({ url: url.href });
      const body = await response.text();
      if (!pick(body)) return route.fulfill({ response, body });
      changed.push(url.pathname.split('/').pop()!);
      return route.fulfill({ response, body: `window.tampered=true;${body.replace('Quarterly', 'HACKED')}` });
    },
  );
  return changed;
}

test('a page loaded afresh refuses a lazy chunk changed on its way: no code the release did not publish runs', async ({
  page,
  office,
}) => {
  const consoleErrors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(message.text());
  });
  const changed = await tamperChunks(page, '1.0.0', (body) => body.includes('Quarterly'));
  await signIn(page, office.url);
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect.poll(() => changed.length).toBe(1);
  await expect.poll(() => consoleErrors.join('\n')).toContain('integrity');
  expect(await page.evaluate(() => 'tampered' in window)).toBe(false);
  await expect(page.getByText('HACKED')).toHaveCount(0);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada'); // the tab goes on working
  await expect(page.locator('#invoice')).toBeVisible();
});

test('a page loaded afresh refuses a chunk its entry imports, changed on its way: the app does not start', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  const changed = await tamperChunks(page, '1.0.0', (body) => !body.includes('Quarterly'));
  await page.goto(`${office.url}/?poll=500`);
  await expect.poll(() => changed.length).toBeGreaterThan(0);
  await page.waitForLoadState('load');
  await page.waitForTimeout(500);
  expect(await page.evaluate(() => 'tampered' in window)).toBe(false);
  await expect(page.locator('#user')).toHaveCount(0); // the entry never ran
  expect(seen.navigations).toHaveLength(1); // and nothing reloads
});

test("a chunk changed on the server's disk is refused uncached: once the folder is repaired, the same browser runs it", async ({
  page,
  office,
}) => {
  const assets = path.join(path.dirname(office.store), 'releases/1.0.0/files/assets');
  const chunks = (await readdir(assets)).filter((name) => name.startsWith('chunk-') && name.endsWith('.js'));
  let lazy = '';
  for (const name of chunks) if ((await readFile(path.join(assets, name), 'utf8')).includes('Quarterly')) lazy = name;
  const file = path.join(assets, lazy);
  const good = await readFile(file, 'utf8');
  await writeFile(file, `window.tampered=true;${good.replace('Quarterly', 'HACKED')}`);
  const answers: number[] = [];
  page.on('response', (response) => {
    if (response.url().endsWith(`/${lazy}`)) answers.push(response.status());
  });

  await signIn(page, office.url);
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect.poll(() => answers).toEqual([500]);
  expect(await page.evaluate(() => 'tampered' in window)).toBe(false);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');

  // Repaired (as publishing the build again does): the browser kept nothing of the refused answer.
  await writeFile(file, good);
  await page.reload();
  await expect(page.getByText('Quarterly figures are ready')).toBeVisible();
  expect(answers).toEqual([500, 200]);
  expect(await page.evaluate(() => 'tampered' in window)).toBe(false);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
});

/**
 * As a proxy that rewrites it: every inbox answer of the real server reaches the page with `stamp(n)` (n counts from
 * 0) as its `Daylight-Release`. Resolves with how many were served so far, as a function to poll.
 */
async function restampInbox(page: Page, stamp: (n: number) => string): Promise<() => number> {
  let served = 0;
  await page.route('**/api/inbox', async (route) => {
    const response = await route.fetch();
    const value = stamp(served++);
    await route.fulfill({ response, headers: { ...response.headers(), 'daylight-release': value } });
  });
  return () => served;
}

const HOSTILE = [
  'v="1.1.0', // unterminated
  'v=1.1.0', // a token, not a string
  'v="01.1.0"', // leading zero
  'v="1.1"', // not semver
  'v="1.1.0", min="nope"',
  `v="1.1.0-${'a'.repeat(300)}"`, // over the length limit
  'v="1.1.0";;;, =',
  '<script>alert(1)</script>',
  'v="../../../etc/passwd"',
  'v="1.1.0"\t, s="x", v',
  '',
];

test('malformed, oversized and hostile release headers change nothing and reach the app intact', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  // A hostile proxy.
  const served = await restampInbox(page, (n) => HOSTILE[n % HOSTILE.length]!);
  await signIn(page, office.url, seen);
  await expect.poll(served, { timeout: 20_000 }).toBeGreaterThan(HOSTILE.length + 1);
  await expect(page.locator('#inbox li')).toHaveCount(3);
  await expect(page.locator('#inbox li').first()).toHaveText('Timesheets are due Friday');
  const malformed = await page.evaluate(
    () => (window as unknown as { daylight: { malformedStamps: number } }).daylight.malformedStamps,
  );
  expect(malformed).toBeGreaterThanOrEqual(HOSTILE.length - 2);
  await expect(page.locator('#daylight-status')).toHaveText('up to date');
  await expect(page.locator('[data-daylight-banner]')).toHaveCount(0);
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  expect(seen.pageErrors).toEqual([]);
  expect(seen.failedApi).toEqual([]);
  expect(seen.navigations).toHaveLength(1);
  // The page keeps polling: stop the hostile route before the server closes, so a late poll cannot fail the test.
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});

test('a well-formed stamp the release check does not confirm is checked once, not on every response', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  // A proxy (or a server that lost its way) stamps every inbox answer with a release the server does not give out.
  const served = await restampInbox(page, () => 'v="1.1.0"');
  await signIn(page, office.url, seen);
  const checks = () => office.requests.filter((line) => line.startsWith('GET /_daylight/release')).length;
  await expect.poll(served).toBeGreaterThan(0);
  const first = checks();
  await expect.poll(served, { timeout: 20_000 }).toBeGreaterThan(12);
  // One check asked about 1.1.0 and the server said 1.0.0: the next stamps (within 10 s) do not ask again.
  expect(checks() - first).toBeLessThanOrEqual(1);
  await expect(page.locator('#daylight-status')).toHaveText('up to date');
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  expect(office.requests.some((line) => line.includes('/releases/1.1.0/'))).toBe(false);
  expect(seen.failedApi).toEqual([]);
  await page.unrouteAll({ behavior: 'ignoreErrors' });
});

test('a server that keeps sending the old shell gets one reload, then a reported error, and no loop', async ({
  page,
  office,
}) => {
  const proxy = await startStaleShellProxy(office.url);
  try {
    const seen = watch(page);
    await signIn(page, proxy.url, seen);
    await page.locator('#f-customer').fill('typed before the switch');
    await office.promote('1.1.0');
    const banner = page.locator('[data-daylight-banner]');
    await expect(banner).toBeVisible();
    await banner.getByRole('button', { name: 'Update now' }).click();

    await expect(page.locator('#daylight-status')).toContainText('still sends the old shell');
    await expect(page.getByTestId('version')).toHaveText('1.0.0');
    // The typing survived the wasted reload too.
    await expect(page.locator('#f-customer')).toHaveValue('typed before the switch');
    expect(seen.navigations).toHaveLength(2);
    // Several more stamped responses naming 1.1.0: no prompt, no reload.
    const refreshed = await page.getByTestId('inbox-refreshed').textContent();
    await expect(page.getByTestId('inbox-refreshed')).not.toHaveText(refreshed!, { timeout: 5_000 });
    await page.waitForTimeout(2_000);
    expect(seen.navigations).toHaveLength(2);
    await expect(banner).toHaveCount(0);
    expect(proxy.staleShellsServed).toBeGreaterThanOrEqual(1);
    expect(seen.failedApi).toEqual([]);
    expect(seen.pageErrors).toEqual([]);
  } finally {
    await proxy.close();
  }
});
