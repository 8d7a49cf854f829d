/**
 * The client outside the everyday path, in a real Chromium against the real
 * servers: after `stop()` nothing starts again, and in a browser that blocks
 * storage the app works as it did before Daylight, which stays out of the way
 * (without storage there is no loop guard, so it does not switch at all); with
 * sessionStorage full, a switch that could not save its record is cancelled.
 */
import type { Page } from '@playwright/test';
import {
  test,
  expect,
  watch,
  signIn,
  fillStorage,
  emulateVisibility,
  setVisibility,
  status,
  version,
  banner,
} from './support/fixtures.js';

const state = (page: Page) =>
  page.evaluate(
    () => (window as unknown as { daylight: { state: { status: string; reason?: string } } }).daylight.state,
  );

test('after stop() the client checks, downloads and switches nothing, and the app keeps working', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  await page.evaluate(() => (window as unknown as { daylight: { stop(): void } }).daylight.stop());
  expect(await state(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
  // Its listeners are gone and the History API is the browser's own again.
  // eslint-disable-next-line @typescript-eslint/unbound-method -- read, not called
  expect(await page.evaluate(() => String(history.pushState))).toContain('[native code]');
  await office.promote('1.1.0'); // (which asks the server itself until it serves 1.1.0)
  const before = office.requests.length;
  // The app's own API calls still carry the stamp of the new release, and the tab polls every 500 ms.
  await page.locator('#f-customer').fill('still here');
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.locator('.saved')).toContainText('Saved as INV-');
  await page.waitForTimeout(2_000);
  const after = office.requests.slice(before);
  expect(after.filter((r) => r.includes('/_daylight/release') || r.includes('/releases/1.1.0/'))).toEqual([]);
  expect(after.some((r) => r.startsWith('POST /api/invoices'))).toBe(true);
  expect(await state(page)).toMatchObject({ status: 'inert' });
  expect(seen.navigations).toHaveLength(1);
  expect(seen.pageErrors).toEqual([]);
});

test('stop() leaves a History API wrapper that a router or analytics added after start() in place', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  const after = await page.evaluate(() => {
    const w = window as unknown as { daylight: { stop(): void }; tracked: string[] };
    w.tracked = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the history object
    const inner = history.pushState;
    const theirs = function (this: History, ...args: Parameters<History['pushState']>): void {
      w.tracked.push(String(args[2]));
      inner.apply(this, args);
    };
    history.pushState = theirs;
    w.daylight.stop();
    return { kept: history.pushState === theirs };
  });
  expect(after).toEqual({ kept: true });
  expect(await state(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
  // The app's own navigation still goes through the analytics wrapper.
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page).toHaveURL(/\/reports$/);
  expect(await page.evaluate(() => (window as unknown as { tracked: string[] }).tracked)).toEqual(['/reports']);
  expect(seen.pageErrors).toEqual([]);
});

test('in a browser that blocks storage the app works, and Daylight stays inert and says why', async ({
  page,
  office,
}) => {
  // What Chromium does with every cookie blocked: touching either storage throws.
  await page.addInitScript(() => {
    for (const name of ['sessionStorage', 'localStorage']) {
      Object.defineProperty(window, name, {
        configurable: true,
        get() {
          throw new DOMException('The operation is insecure.', 'SecurityError');
        },
      });
    }
  });
  const seen = watch(page);
  await signIn(page, office.url, seen);
  expect(await state(page)).toMatchObject({ status: 'inert', reason: expect.stringMatching(/storage is blocked/) });
  await office.promote('1.1.0');
  await page.locator('#f-customer').fill('still here');
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.locator('.saved')).toContainText('Saved as INV-');
  await page.waitForTimeout(1_500);
  await expect(version(page)).toHaveText('1.0.0');
  expect(seen.navigations).toHaveLength(1);
  expect(seen.pageErrors).toEqual([]);
  expect(seen.failedApi).toEqual([]);
});

test('with sessionStorage full the switch is cancelled, not made without its loop guard, and the app keeps working', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  await office.promote('1.1.0');
  await expect(status(page)).toHaveText('1.1.0 is downloaded and verified');
  // The switch record (and the loop guard in it) lives in sessionStorage: here it cannot be written.
  expect(await page.evaluate(fillStorage, 'sessionStorage')).toBeGreaterThan(1);

  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(status(page)).toHaveText(
    'update problem: sessionStorage refused the switch record; the switch is cancelled',
  );
  // The person who clicked is told why, until they close it.
  await expect(banner(page)).toContainText(
    'The update could not start: sessionStorage refused the switch record; the switch is cancelled',
  );
  await banner(page).getByRole('button', { name: 'OK' }).click();
  await expect(banner(page)).toBeHidden();
  await page.locator('#f-customer').fill('still here');
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.locator('.saved')).toContainText('Saved as INV-');
  await page.waitForTimeout(1_500); // more release checks: 1.1.0 is not tried again in this tab
  await expect(version(page)).toHaveText('1.0.0');
  expect(seen.navigations).toHaveLength(1);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test('a snapshot hook that throws cancels the switch once per safe moment, not every second', async ({
  page,
  office,
}) => {
  await page.addInitScript(emulateVisibility, false);
  const seen = watch(page);
  await signIn(page, office.url, seen, 'ada', '&policy=auto&hidden=200&brokenSnapshot');
  await page.evaluate(() => {
    const w = window as unknown as { daylight: EventTarget; errors: string[] };
    w.errors = [];
    w.daylight.addEventListener('error', (event) =>
      w.errors.push((event as CustomEvent<{ error: { code: string } }>).detail.error.code),
    );
  });
  await office.promote('1.1.0');
  await expect(status(page)).toHaveText('1.1.0 is downloaded and verified');
  await setVisibility(page, 'hidden'); // due after 200 ms: the switch starts, and the snapshot throws
  const errors = () => page.evaluate(() => (window as unknown as { errors: string[] }).errors);
  await expect.poll(errors).toEqual(['snapshot']);
  await page.waitForTimeout(4_000); // still hidden: every second would be four more
  expect(await errors()).toEqual(['snapshot']);
  await expect(version(page)).toHaveText('1.0.0');
  expect(seen.navigations).toHaveLength(1);
});
