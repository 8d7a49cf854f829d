/**
 * An app that had a cache-first service worker of its own before it used Daylight (`/sw.js`, answering every
 * navigation with the index.html it cached). A browser that installed it keeps it when the server stops serving
 * the script (a 404 removes nothing), so the person stays on the page from before Daylight. With
 * `retireServiceWorkers: ['/sw.js']` the shell handler answers the browser's next update check with a worker
 * that deletes the old caches and unregisters itself: the next load is Daylight's shell. No page is reloaded
 * by it. Real Chromium, the real Express and Koa servers.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Page } from '@playwright/test';
import { startOfficeServer } from '../examples/office-app/server/app.mjs';
import { test, expect } from './support/fixtures.js';

const OLD_PAGE = `<!doctype html><html><head><title>Office (before Daylight)</title></head><body>
<p id="build">before Daylight</p>
<script>navigator.serviceWorker.register('/sw.js');</script>
</body></html>`;

/** A lazy chunk of the old app, which only its worker's cache will have once the server runs Daylight. */
const OLD_CHUNK = 'export const report = "quarterly figures, before Daylight";';

/** The app's own worker of old: it precaches '/' and its lazy chunk, and answers every navigation with '/'. */
const OLD_WORKER = `
self.addEventListener('install', (event) => {
  self.skipWaiting();
  event.waitUntil(caches.open('office-precache-v1').then((cache) => cache.addAll(['/', '/assets/report-old.js'])));
});
self.addEventListener('activate', (event) => event.waitUntil(self.clients.claim()));
self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.mode === 'navigate') {
    event.respondWith(caches.match('/', { cacheName: 'office-precache-v1' }).then((hit) => hit || fetch(event.request)));
  } else if (url.pathname.startsWith('/assets/')) {
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
  }
});
`;

const shellRelease = (page: Page) =>
  page.evaluate(() => document.querySelector('meta[name="daylight-release"]')?.getAttribute('content') ?? 'none');
const oldBuild = (page: Page) => page.evaluate(() => document.getElementById('build')?.textContent ?? 'none');
const registrations = (page: Page) =>
  page.evaluate(async () => (await navigator.serviceWorker.getRegistrations()).length);

/** The app before Daylight, on a free port: its page and its worker. */
async function startOldApp(): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const script = req.url === '/sw.js' ? OLD_WORKER : req.url === '/assets/report-old.js' ? OLD_CHUNK : undefined;
    res.writeHead(200, {
      'Content-Type': script === undefined ? 'text/html; charset=utf-8' : 'text/javascript',
      'Cache-Control': 'no-cache',
    });
    res.end(script ?? OLD_PAGE);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

for (const retire of [false, true]) {
  test(`a browser that installed the app's own cache-first worker ${retire ? 'reaches Daylight once retireServiceWorkers removed it' : 'stays on the page from before Daylight without retireServiceWorkers'}`, async ({
    page,
    office,
    framework,
  }) => {
    const old = await startOldApp();
    const url = `http://127.0.0.1:${old.port}`;
    await page.goto(`${url}/`);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 15_000 });
    await expect.poll(() => page.evaluate(() => caches.keys())).toContain('office-precache-v1');
    await old.close();

    // The same origin now runs Daylight (the office app on the same port); the old worker is still installed.
    const warnings: string[] = [];
    const logger = { info() {}, warn: (message: string) => warnings.push(message), error() {} };
    const daylight = await startOfficeServer({
      framework,
      store: office.store,
      port: old.port,
      logger,
      ...(retire ? { retireServiceWorkers: ['/sw.js'] } : {}),
    });
    try {
      await page.reload();
      expect(await oldBuild(page)).toBe('before Daylight'); // the old worker answered from its cache

      // The browser checks the worker for an update (on a navigation, at the latest once a day; here at once).
      const update = await page.evaluate(async () => {
        const registration = await navigator.serviceWorker.getRegistration();
        return registration!.update().then(
          () => 'updated',
          (error: Error) => error.message,
        );
      });
      if (!retire) {
        expect(update).toMatch(/bad HTTP response code \(404\)/);
        expect(warnings).toEqual([expect.stringContaining('retireServiceWorkers: ["/sw.js"]')]);
        await page.reload();
        expect(await oldBuild(page)).toBe('before Daylight'); // for good
        expect(await registrations(page)).toBe(1);
        return;
      }
      expect(update).toBe('updated');
      await expect
        .poll(() => page.evaluate(() => navigator.serviceWorker.controller?.state === 'activated'))
        .toBe(true);
      // Nothing reloaded the page, and the old page keeps working: its lazy chunk, which the server no longer
      // has, still comes from the old cache (an app that reloads on a chunk error would lose what was typed).
      expect(await oldBuild(page)).toBe('before Daylight');
      const chunk = await page.evaluate(
        (url) =>
          (import(url) as Promise<{ report: string }>).then(
            (m) => m.report,
            (e: Error) => e.message,
          ),
        '/assets/report-old.js',
      );
      expect(chunk).toBe('quarterly figures, before Daylight');
      expect(await registrations(page)).toBe(1); // kept while a page of the old app is open

      // The person loads the page again: Daylight's shell, and with the old page gone the old worker and its
      // caches go too.
      await page.reload();
      expect(await shellRelease(page)).toBe('1.0.0');
      await expect(page.locator('#login, [data-testid="user"]').first()).toBeVisible();
      await expect.poll(() => registrations(page), { timeout: 15_000 }).toBe(0);
      await expect.poll(() => page.evaluate(() => caches.keys())).not.toContain('office-precache-v1');
      expect(warnings).toEqual([]);
    } finally {
      await daylight.close();
    }
  });
}
