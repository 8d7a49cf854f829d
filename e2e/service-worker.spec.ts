/**
 * Service worker mode (`@daylight/client/sw`, the demo's `?sw=1`) in a real
 * Chromium against the real Express and Koa servers: a downloaded release
 * switches with the network down, a release downloads only the files that
 * changed (the same file comes from the running release's cache), an old
 * tab's lazy chunks keep loading from its version's cache until no tab runs
 * it (a tab back from the back/forward
 * cache included), the worker works under a custom base path, and `reset()`
 * removes the worker and every cache. The first update check after a worker
 * installs can take seconds: the waits here are generous.
 */
import { readdir, readFile, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from './support/browser.js';
import { startOfficeServer } from '../examples/office-app/server/app.mjs';
import { test, expect, watch, signIn, type Office, type Watch, banner, status, version } from './support/fixtures.js';

// The back/forward cache on, as in the browsers people use (Playwright turns it off by default).
const executablePath = findChromium();
test.use({
  launchOptions: {
    args: [...CHROMIUM_ARGS],
    ignoreDefaultArgs: ['--disable-back-forward-cache'],
    ...(executablePath ? { executablePath } : {}),
  },
});

const cacheNames = (page: Page) => page.evaluate(() => caches.keys());
const SLOW = { timeout: 20_000 };

/** Empties the browser's HTTP cache, so that only the worker's caches can answer. */
async function clearHttpCache(page: Page): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.clearBrowserCache');
  await cdp.detach();
}

/** A signed-in tab in service worker mode on 1.0.0, its release cached by the worker. */
async function oldTab(context: BrowserContext, office: Office): Promise<{ old: Page; seen: Watch }> {
  const old = await context.newPage();
  const seen = watch(old);
  await signIn(old, office.url, seen, 'ada', '&sw=1');
  await controlled(old, ['daylight-1.0.0']);
  return { old, seen };
}

/** A tab opened after 1.1.0 was promoted, in service worker mode. */
async function freshTab(context: BrowserContext, office: Office): Promise<Page> {
  const fresh = await context.newPage();
  await fresh.goto(`${office.url}/?poll=500&sw=1`);
  await expect(version(fresh)).toHaveText('1.1.0');
  return fresh;
}

/** Waits until Daylight's worker controls the page and holds `expected` in its caches. */
async function controlled(page: Page, expected: string[]): Promise<void> {
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, SLOW);
  await expect.poll(() => cacheNames(page), SLOW).toEqual(expect.arrayContaining(expected));
}

test('a downloaded release switches with the network down, and the app works once it is back', async ({
  page,
  context,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen, 'ada', '&sw=1');
  await controlled(page, ['daylight-1.0.0']);
  expect(new URL(await page.evaluate(() => navigator.serviceWorker.controller!.scriptURL)).pathname).toBe(
    '/_daylight/sw.js',
  );
  await page.locator('#f-customer').fill('typed before the switch');

  await office.promote('1.1.0');
  await expect(status(page)).toHaveText('1.1.0 is downloaded and verified', SLOW);
  // "ready" comes only after the worker cached 1.1.0, shell included.
  expect(await cacheNames(page)).toContain('daylight-1.1.0');

  await context.setOffline(true);
  await clearHttpCache(page); // the shell and files can only come from the worker's cache
  const before = office.requests.length;
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(version(page)).toHaveText('1.1.0');
  await expect(page.getByTestId('offline')).toBeVisible(); // 1.1.0's code runs: its shell and scripts came from the cache
  expect(seen.navigations.at(-1)).toContain('_daylight=1.1.0');
  expect(office.requests.slice(before)).toEqual([]); // nothing of the switch reached the server

  await context.setOffline(false);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada', SLOW);
  await expect(page.locator('#f-notes')).toBeVisible(); // the 1.1 form
  await expect(page.locator('#f-customer')).toHaveValue('typed before the switch');
  await expect(page.getByTestId('inbox-refreshed')).toContainText('refreshed');
  await expect(version(page)).toHaveText('1.1.0');
  expect(seen.pageErrors).toEqual([]);
});

test('a release downloads only the files that changed: the same file is taken from the running release’s cache', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen, 'ada', '&sw=1');
  await controlled(page, ['daylight-1.0.0']);
  const before = office.requests.length;

  // 1.1.0 has a new app-*.js and new chunks; its style.css is byte for byte 1.0.0's.
  await office.promote('1.1.0');
  await expect(status(page)).toHaveText('1.1.0 is downloaded and verified', SLOW);
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(version(page)).toHaveText('1.1.0');
  await expect(page.getByTestId('user')).toHaveText('signed in as ada', SLOW);

  const files = office.requests
    .slice(before)
    .filter((line) => line.includes('/_daylight/releases/1.1.0/files/'))
    .map((line) => line.replace(/^GET \/_daylight\/releases\/1\.1\.0\/files\//, ''));
  expect(files).toEqual(expect.arrayContaining([expect.stringMatching(/^assets\/app-[\w]+\.js$/)]));
  expect(files).not.toContain('assets/style.css');
  // The page is styled by 1.1.0's style.css, answered by the worker with the bytes the manifest names.
  const css = await page.evaluate(() => {
    const link = document.querySelector<HTMLLinkElement>('link[rel=stylesheet]')!;
    return { href: new URL(link.href).pathname, rules: link.sheet?.cssRules.length ?? 0 };
  });
  expect(css.href).toBe('/_daylight/releases/1.1.0/files/assets/style.css');
  expect(css.rules).toBeGreaterThan(0);
  expect(seen.pageErrors).toEqual([]);
});

test("an old tab's lazy chunks load from its version's cache after the server lost them; the cache goes with the last tab", async ({
  context,
  office,
}) => {
  const { old, seen } = await oldTab(context, office);

  await office.promote('1.1.0');
  const fresh = await freshTab(context, office);
  await controlled(fresh, ['daylight-1.0.0', 'daylight-1.1.0']);

  // 1.0.0's Reports chunk disappears from the server (the release store on disk).
  const assets = path.join(path.dirname(office.store), 'releases/1.0.0/files/assets');
  let deleted = 0;
  for (const name of await readdir(assets)) {
    if (name.startsWith('chunk-') && (await readFile(path.join(assets, name), 'utf8')).includes('Quarterly')) {
      await unlink(path.join(assets, name));
      deleted++;
    }
  }
  expect(deleted).toBe(1);
  // Only the worker's cache can have it now.
  await clearHttpCache(old);
  await old.getByRole('link', { name: 'Reports' }).click();
  await expect(old.getByTestId('reports')).toContainText('Quarterly figures');
  await expect(version(old)).toHaveText('1.0.0');
  expect(seen.pageErrors).toEqual([]);

  // The last tab on 1.0.0 closes; the next report to the worker cleans up.
  await old.close();
  await fresh.reload();
  await expect(version(fresh)).toHaveText('1.1.0');
  await expect.poll(() => cacheNames(fresh), SLOW).not.toContain('daylight-1.0.0');
  expect(await cacheNames(fresh)).toContain('daylight-1.1.0');
});

test("a tab restored from the back/forward cache tells the worker again what it runs, and gets its version's cache back", async ({
  context,
  office,
}) => {
  const { old, seen } = await oldTab(context, office);
  await old.evaluate(() =>
    addEventListener('pageshow', (event) => Object.assign(window, { fromCache: event.persisted })),
  );
  // Another origin (localhost, not 127.0.0.1): the page goes into the back/forward cache, and while it is
  // there the worker sees no tab of its origin running 1.0.0.
  await old.goto(`${office.url.replace('127.0.0.1', 'localhost')}/_daylight/release`);

  await office.promote('1.1.0');
  const fresh = await freshTab(context, office);
  await expect.poll(() => cacheNames(fresh), SLOW).not.toContain('daylight-1.0.0');

  await old.goBack({ waitUntil: 'commit' }); // (a restored page fires no load event)
  await expect.poll(() => old.evaluate(() => (window as unknown as { fromCache?: boolean }).fromCache)).toBe(true);
  await expect(version(old)).toHaveText('1.0.0');
  await expect.poll(() => cacheNames(old), SLOW).toContain('daylight-1.0.0');
  expect(seen.pageErrors).toEqual([]);
});

test('a failed download in one tab does not delete the cache of a release another tab runs', async ({
  context,
  office,
}) => {
  const running = await context.newPage();
  await signIn(running, office.url, undefined, 'ada', '&sw=1');
  await controlled(running, ['daylight-1.0.0']);
  // Another tab asks the worker for 1.0.0 with a shell that is not one (a rollback landing mid-download
  // can do that): the precache fails.
  const other = await context.newPage();
  await other.goto(`${office.url}/?poll=500`); // controlled, but reports nothing itself
  await controlled(other, ['daylight-1.0.0']);
  // The running tab's report cached 1.0.0's shell too (its last step): drop it, so that this precache fetches one.
  const shell = '/_daylight/releases/1.0.0/__shell';
  await expect.poll(() => other.evaluate((key) => caches.match(key).then((r) => !!r), shell), SLOW).toBe(true);
  await other.evaluate((key) => caches.open('daylight-1.0.0').then((c) => c.delete(key)), shell);
  const answer = await other.evaluate(
    () =>
      new Promise<{ ok: boolean; error?: string }>((resolve) => {
        const channel = new MessageChannel();
        channel.port1.onmessage = (event) => resolve(event.data as { ok: boolean; error?: string });
        navigator.serviceWorker.controller!.postMessage(
          { type: 'daylight:precache', version: '1.0.0', shell: '/_daylight/release' },
          [channel.port2],
        );
      }),
  );
  expect(answer).toMatchObject({ ok: false, error: expect.stringContaining('did not answer the shell of 1.0.0') });
  expect(await cacheNames(running)).toContain('daylight-1.0.0');
});

test('reset() unregisters the worker and deletes every Daylight cache', async ({ page, office }) => {
  await signIn(page, office.url, undefined, 'ada', '&sw=1');
  await controlled(page, ['daylight-1.0.0']);

  const result = await page.evaluate(() => {
    const { daylightServiceWorker } = window as unknown as {
      daylightServiceWorker: { reset(): Promise<{ unregistered: number; caches: string[] }> };
    };
    return daylightServiceWorker.reset();
  });
  expect(result.unregistered).toBe(1);
  expect(result.caches).toContain('daylight-1.0.0');
  expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length)).toBe(0);
  expect((await cacheNames(page)).filter((name) => name.startsWith('daylight-'))).toEqual([]);

  // Without ?sw=1 the next page is not controlled by any worker, and the app still works.
  await page.goto(`${office.url}/?poll=500`);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  expect(await page.evaluate(() => navigator.serviceWorker.controller)).toBeNull();
});

test('under a custom basePath the worker lives there, keeps caches of its own, and reset() finds it without being told', async ({
  page,
  office,
  framework,
}) => {
  // A second server on the same release store, with the middleware below /updates instead of /_daylight.
  const quiet = { info() {}, warn() {}, error() {} };
  const custom = await startOfficeServer({ framework, store: office.store, basePath: '/updates', logger: quiet });
  try {
    const seen = watch(page);
    // Another app on this origin (its own base path, its own version numbers) has cached its 0.9.0 and 1.0.0.
    await page.goto(`${custom.url}/?poll=500&base=/updates`);
    await page.evaluate(() =>
      Promise.all(
        ['daylight-0.9.0', 'daylight-1.0.0'].map((name) =>
          caches.open(name).then((c) => c.put('/x', new Response('x'))),
        ),
      ),
    );
    await signIn(page, custom.url, seen, 'ada', '&sw=1&base=/updates');
    await controlled(page, ['daylight-/updates@1.0.0']);
    expect(new URL(await page.evaluate(() => navigator.serviceWorker.controller!.scriptURL)).pathname).toBe(
      '/updates/sw.js',
    );
    await office.promote('1.1.0');
    await expect(status(page)).toHaveText('1.1.0 is downloaded and verified', SLOW);
    await banner(page).getByRole('button', { name: 'Update now' }).click();
    await expect(version(page)).toHaveText('1.1.0');
    await controlled(page, ['daylight-/updates@1.1.0']);
    // The worker let go of its own 1.0.0 (no tab runs it) and never touched the other app's caches.
    await expect.poll(() => cacheNames(page), SLOW).not.toContain('daylight-/updates@1.0.0');
    expect(await cacheNames(page)).toEqual(expect.arrayContaining(['daylight-0.9.0', 'daylight-1.0.0']));
    expect(await page.evaluate(() => caches.match('/x', { cacheName: 'daylight-1.0.0' }).then((r) => r?.text()))).toBe(
      'x',
    );

    // The escape hatch runs without a client (so without its basePath) and with no options.
    const result = await page.evaluate(() =>
      (
        window as unknown as { daylightServiceWorker: { reset(): Promise<{ unregistered: number }> } }
      ).daylightServiceWorker.reset(),
    );
    expect(result.unregistered).toBe(1);
    expect(await page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length)).toBe(0);
    expect(seen.failedApi).toEqual([]);
    expect(seen.pageErrors).toEqual([]);
  } finally {
    await custom.close();
  }
});
