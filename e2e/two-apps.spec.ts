/**
 * Two apps on one origin, as an intranet host often serves them (a reverse
 * proxy sends each app's requests to its own servers): each has its own
 * Daylight base path, release store and version numbers, and the browser
 * gives both one localStorage, one set of Web Locks and one BroadcastChannel
 * namespace. What one app's tabs learn about a version must not hold for the
 * other app's version of the same number.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildRelease } from '../examples/office-app/scripts/build.mjs';
import { createSessions, startOfficeServer } from '../examples/office-app/server/app.mjs';
import { BUILDS, banner, daylight, expect, ready, signIn, test, version, watch } from './support/fixtures.js';
import { passOn } from './support/two-servers.js';

/** 1.2.0 twice: the billing app's throws on boot, the desk app's is healthy. */
let builds: string;
test.beforeAll(async () => {
  builds = await mkdtemp(path.join(tmpdir(), 'daylight-two-apps-'));
  await buildRelease('1.2.0', { broken: true, outDir: path.join(builds, 'billing-1.2.0'), atlasBytes: 1000 });
  await buildRelease('1.2.0', { outDir: path.join(builds, 'desk-1.2.0'), atlasBytes: 1000 });
});
test.afterAll(async () => {
  await rm(builds, { recursive: true, force: true });
});

test('a version that did not boot in one app is still offered by the other app on the same origin', async ({
  context,
  framework,
}) => {
  const dir = await mkdtemp(path.join(tmpdir(), 'daylight-e2e-apps-'));
  const quiet = { info() {}, warn() {}, error() {} };
  const sessions = createSessions();
  const apps = {
    // A store keeps its files next to its registry: one folder each.
    desk: { store: path.join(dir, 'desk', 'releases.json'), requests: [] as string[] },
    billing: { store: path.join(dir, 'billing', 'releases.json'), requests: [] as string[] },
  };
  for (const { store } of Object.values(apps)) {
    await daylight(store, 'publish', path.join(BUILDS, '1.0.0'), '--version', '1.0.0');
    await daylight(store, 'promote', '1.0.0');
  }
  await daylight(apps.desk.store, 'publish', path.join(builds, 'desk-1.2.0'), '--version', '1.2.0');
  await daylight(apps.billing.store, 'publish', path.join(builds, 'billing-1.2.0'), '--version', '1.2.0');
  const desk = await startOfficeServer({ framework, store: apps.desk.store, logger: quiet, sessions });
  const billing = await startOfficeServer({
    framework,
    store: apps.billing.store,
    logger: quiet,
    sessions,
    basePath: '/billing/_daylight',
  });
  // One origin: the proxy sends a billing tab's requests (marked with a header) to billing, the rest to the desk.
  const proxy = createServer((req, res) => {
    const app = req.headers['x-app'] === 'billing' ? 'billing' : 'desk';
    apps[app].requests.push(`${req.method ?? ''} ${req.url ?? ''}`);
    passOn(req, res, app === 'billing' ? billing.url : desk.url);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  try {
    const billingTab = await context.newPage();
    await billingTab.setExtraHTTPHeaders({ 'x-app': 'billing' });
    const deskTab = await context.newPage();
    const seen = { billing: watch(billingTab), desk: watch(deskTab) };
    await signIn(billingTab, url, seen.billing, 'ada', '&base=/billing/_daylight&watchdog=4000');
    await deskTab.goto(`${url}/?poll=500`);
    await expect(deskTab.getByTestId('user')).toHaveText('signed in as ada');

    // Billing's 1.2.0 throws on boot: the tab goes back, and this browser marks billing's 1.2.0 bad.
    await daylight(apps.billing.store, 'promote', '1.2.0');
    await expect(banner(billingTab)).toContainText('1.2.0');
    await banner(billingTab).getByRole('button', { name: 'Update now' }).click();
    await expect.poll(() => seen.billing.navigations.length).toBe(3); // signed in, there, and back
    await expect(version(billingTab)).toHaveText('1.0.0');
    expect(seen.billing.pageErrors.join()).toContain('broken on purpose');

    // The desk's own 1.2.0 is downloaded by the desk tab itself, offered, and switched to.
    const before = apps.desk.requests.length;
    await daylight(apps.desk.store, 'promote', '1.2.0');
    await ready(deskTab, '1.2.0');
    const files = apps.desk.requests
      .slice(before)
      .filter((r) => r.startsWith('GET /_daylight/releases/1.2.0/') && !r.endsWith('/manifest.json'));
    expect(files.length).toBeGreaterThan(0);
    await expect(banner(deskTab)).toContainText('1.2.0');
    await banner(deskTab).getByRole('button', { name: 'Update now' }).click();
    await expect(version(deskTab)).toHaveText('1.2.0');
    await expect(deskTab.getByTestId('user')).toHaveText('signed in as ada');
    expect(seen.desk.failedApi).toEqual([]);
    expect(seen.desk.pageErrors).toEqual([]);

    // And billing's tab stays where it was sent back to: its own bad mark holds.
    await billingTab.waitForTimeout(1_000);
    await expect(version(billingTab)).toHaveText('1.0.0');
    await expect(banner(billingTab)).toHaveCount(0);
  } finally {
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
    await desk.close();
    await billing.close();
    await rm(dir, { recursive: true, force: true });
  }
});
