/**
 * An office intranet on plain http: the page is not a secure context, so the
 * browser offers no SubtleCrypto, no Web Locks and no service workers. The
 * tests' Chromium resolves `office.intranet` to the loopback address
 * (scripts/chromium.mjs), so the same real server is reached under a name
 * that is not `localhost` — the one kind of origin the other tests never use.
 *
 * What must still hold there: nothing unverified runs (the client hands each
 * file's hash to `fetch` and the browser checks it), a switch keeps the login,
 * and several tabs do not leave dead buttons behind.
 */
import type { Page } from '@playwright/test';
import { INTRANET_HOST } from './support/browser.js';
import {
  test,
  expect,
  watch,
  signIn,
  setVisibility,
  twoTabs,
  corruptInTransit,
  recordErrorCodes,
  banner,
  status,
  version,
  releaseFilesAsked,
} from './support/fixtures.js';

const onIntranet = (url: string): string => {
  const intranet = new URL(url);
  intranet.hostname = INTRANET_HOST;
  return intranet.origin;
};

/** What the page can use: the reason these tests exist. */
async function capabilities(page: Page): Promise<{ secure: boolean; subtle: boolean; locks: boolean; sw: boolean }> {
  return page.evaluate(() => ({
    secure: window.isSecureContext,
    subtle: typeof crypto.subtle !== 'undefined',
    locks: 'locks' in navigator,
    sw: 'serviceWorker' in navigator,
  }));
}

test('on a plain-http intranet the release is verified by the browser before it runs, and the switch keeps the login', async ({
  page,
  office,
}) => {
  const url = onIntranet(office.url);
  const seen = watch(page);
  await signIn(page, url, seen);
  expect(await capabilities(page)).toEqual({ secure: false, subtle: false, locks: false, sw: false });
  await page.locator('#f-customer').fill('Nordlicht GmbH');
  await office.promote('1.1.0');

  await expect(status(page)).toHaveText('1.1.0 is downloaded and verified');
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(version(page)).toHaveText('1.1.0');
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  await expect(page.locator('#f-customer')).toHaveValue('Nordlicht GmbH');
  expect(new URL(page.url()).hostname).toBe(INTRANET_HOST);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test('on a plain-http intranet a file that does not match its hash is refused and never runs', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await corruptInTransit(page, '1.1.0');
  await signIn(page, onIntranet(office.url), seen);
  await recordErrorCodes(page);
  await office.promote('1.1.0');

  await expect.poll(() => page.evaluate(() => sessionStorage.getItem('test:error'))).toBe('integrity');
  await expect(status(page)).toContainText(`Downloading`);
  await expect(banner(page)).toHaveCount(0);
  await expect(version(page)).toHaveText('1.0.0');
  await page.locator('#f-customer').fill('still here');
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.locator('.saved')).toContainText('Saved as INV-');
  expect(seen.navigations).toHaveLength(1);
  expect(seen.failedApi).toEqual([]);
});

test('on a plain-http intranet two tabs still act as one: one download, one prompt that follows the person, one answer', async ({
  context,
  office,
}) => {
  const { shown: first, hidden: second } = await twoTabs(context, onIntranet(office.url), 500);
  const asked = releaseFilesAsked([first, second], '1.1.0');
  expect((await capabilities(first)).locks).toBe(false);
  expect(await first.evaluate(() => (window as unknown as { daylightTabs: { mode: string } }).daylightTabs.mode)).toBe(
    'leases',
  );
  await office.promote('1.1.0');
  for (const page of [first, second]) await expect(status(page)).toHaveText('1.1.0 is downloaded and verified');
  const entry = office.requests.filter((r) => /^GET \/_daylight\/releases\/1\.1\.0\/files\/assets\/app-/.test(r));
  expect(entry).toHaveLength(1);
  expect(asked.filter((urls) => urls.length > 0)).toHaveLength(1);

  await expect(banner(first)).toHaveCount(1);
  await expect(banner(second)).toHaveCount(0);
  await setVisibility(first, 'hidden');
  await setVisibility(second, 'visible');
  await expect(banner(second)).toHaveCount(1);
  await expect(banner(first)).toHaveCount(0);

  await second.getByRole('button', { name: 'Update now' }).click();
  await expect(version(second)).toHaveText('1.1.0');
  // Settled by that answer: no prompt in the first tab, which switches at its next safe moment.
  await setVisibility(first, 'visible');
  await first.waitForTimeout(500);
  await expect(banner(first)).toHaveCount(0);
  await first.getByRole('link', { name: 'Reports' }).click();
  await expect(version(first)).toHaveText('1.1.0');
  for (const page of [first, second]) await expect(page.getByTestId('user')).toHaveText('signed in as ada');
});
