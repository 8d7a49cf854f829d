/**
 * Cohorts in a real Chromium (docs/rollouts.md): the office app's cohort is
 * the signed-in person's office ("ada@pilot" signs in to the pilot office).
 * Two offices load their own bundles and follow only their own cohort's
 * release; a rollback moves a pilot tab back once; and a tab that sees two
 * servers disagree while a change propagates switches once and never back.
 */
import type { Page, Response } from '@playwright/test';
import { test, expect, watch, signIn } from './support/fixtures.js';
import { startDisagreeingServers } from './support/two-servers.js';

/** Waits for `count` more API responses of the page and returns their stamps. */
async function nextStamps(page: Page, count: number): Promise<string[]> {
  const stamps: string[] = [];
  for (let i = 0; i < count; i++) {
    const response: Response = await page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/api/'));
    stamps.push((await response.headerValue('daylight-release')) ?? '');
  }
  return stamps;
}

/** Requests of the page for anything of one release below /_daylight/releases/. */
function releaseRequests(page: Page, version: string): string[] {
  const seen: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.startsWith(`/_daylight/releases/${version}/`)) seen.push(request.url());
  });
  return seen;
}

test('two offices load their own cohort’s bundle on a fresh load, and each switches only to its own release', async ({
  browser,
  office,
}) => {
  const pilot = await (await browser.newContext()).newPage();
  const berlin = await (await browser.newContext()).newPage();
  const seenPilot = watch(pilot);
  const seenBerlin = watch(berlin);
  const berlinFetches = releaseRequests(berlin, '1.1.0');
  await signIn(pilot, office.url, seenPilot, 'ada@pilot');
  await signIn(berlin, office.url, seenBerlin, 'bob@berlin');
  await expect(pilot.getByTestId('version')).toHaveText('1.0.0');
  await expect(berlin.getByTestId('version')).toHaveText('1.0.0');

  await office.cli('promote', '1.1.0', '--cohort', 'pilot');

  // The pilot tab hears of 1.1.0 through its own API calls and offers it.
  await expect(pilot.locator('[data-daylight-banner]')).toContainText('1.1.0');
  // The Berlin tab keeps being told 1.0.0 and fetches nothing of 1.1.0.
  expect(await nextStamps(berlin, 4)).toEqual(Array(4).fill('v="1.0.0"'));
  expect(berlinFetches).toEqual([]);
  await expect(berlin.locator('[data-daylight-banner]')).toHaveCount(0);

  // A fresh load gets each office its own bundle, with the login kept. The
  // test's own navigation may cancel a poll in flight: that is not Daylight's doing.
  expect([...seenPilot.failedApi, ...seenBerlin.failedApi]).toEqual([]);
  await pilot.goto(`${office.url}/?poll=500`);
  await berlin.goto(`${office.url}/?poll=500`);
  seenPilot.failedApi.length = 0;
  seenBerlin.failedApi.length = 0;
  await expect(pilot.getByTestId('version')).toHaveText('1.1.0');
  await expect(pilot.getByTestId('user')).toHaveText('signed in as ada@pilot');
  await expect(berlin.getByTestId('version')).toHaveText('1.0.0');
  await expect(berlin.getByTestId('user')).toHaveText('signed in as bob@berlin');
  expect(await pilot.locator('meta[name="daylight-release"]').getAttribute('content')).toBe('1.1.0');
  expect(berlinFetches).toEqual([]);
  expect([...seenPilot.failedApi, ...seenBerlin.failedApi]).toEqual([]);
  expect([...seenPilot.pageErrors, ...seenBerlin.pageErrors]).toEqual([]);
});

test('a rollback moves a pilot tab back once, and it stays there', async ({ page, office }) => {
  const seen = watch(page);
  await signIn(page, office.url, seen, 'ada@pilot');
  await office.cli('promote', '1.1.0', '--cohort', 'pilot');
  // The server follows the store within a second; the check endpoint says when (the page's cookies included).
  await expect
    .poll(
      async () =>
        ((await (await page.request.get(`${office.url}/_daylight/release`)).json()) as { version: string }).version,
    )
    .toBe('1.1.0');
  await page.goto(`${office.url}/?poll=500`);
  await expect(page.getByTestId('version')).toHaveText('1.1.0');
  seen.failedApi.length = 0;

  await office.cli('rollback', '--cohort', 'pilot');

  // A downgrade is "auto": downloaded and verified, then applied at the next safe moment (a route change).
  await expect(page.locator('#daylight-status')).toHaveText('1.0.0 is downloaded and verified');
  const before = seen.navigations.length;
  await page.evaluate(() => history.pushState(null, '', location.href));
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  await expect(page.getByTestId('user')).toHaveText('signed in as ada@pilot');
  expect(await nextStamps(page, 4)).toEqual(Array(4).fill('v="1.0.0"'));
  expect(seen.navigations.length - before).toBe(1);
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  // The one navigation may abort a poll that was in flight (a GET, nothing lost); no API call failed otherwise.
  expect(seen.failedApi.filter((failure) => !/^GET .* net::ERR_ABORTED$/.test(failure))).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test('while two servers disagree, a tab switches once and never back (the anti-flip-flop rule)', async ({
  page,
  framework,
}) => {
  const servers = await startDisagreeingServers(framework);
  try {
    const seen = watch(page);
    await signIn(page, servers.url, seen, 'ada');
    const backwards = releaseRequests(page, '1.0.0');

    // Only the first server learns of 1.1.0; the second keeps answering 1.0.0, with an older revision.
    await servers.cli('promote', '1.1.0');
    const banner = page.locator('[data-daylight-banner]');
    await expect(banner).toContainText('1.1.0');
    await banner.getByRole('button', { name: 'Update now' }).click();
    await expect(page.getByTestId('version')).toHaveText('1.1.0');
    const landed = seen.navigations.length;
    const staleBefore = servers.staleAnswers.filter((r) => r.startsWith('GET /_daylight/release')).length;

    // Half of what the tab hears still says 1.0.0, checks included; it acts on none of it.
    const stamps = await nextStamps(page, 8);
    expect(stamps).toContain('v="1.0.0"');
    await expect
      .poll(() => servers.staleAnswers.filter((r) => r.startsWith('GET /_daylight/release')).length)
      .toBeGreaterThan(staleBefore);
    await nextStamps(page, 2);
    expect(backwards).toEqual([]);
    expect(seen.navigations.length).toBe(landed);
    await expect(page.getByTestId('version')).toHaveText('1.1.0');
    await expect(banner).toHaveCount(0);
    expect(seen.pageErrors).toEqual([]);
  } finally {
    await servers.close();
  }
});

test('a release rolled back while the tab downloads it: the download stops, and the tab is up to date, not in error', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  // 1.1.0's files come slowly, so that the rollback lands mid-download.
  const requested = releaseRequests(page, '1.1.0');
  await page.route('**/_daylight/releases/1.1.0/files/**', async (route) => {
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    await route.continue().catch(() => undefined); // (the download may have been cancelled meanwhile)
  });
  await office.promote('1.1.0');
  await expect(page.locator('#daylight-status')).toContainText('downloading 1.1.0');
  await expect.poll(() => requested.some((url) => url.includes('/files/'))).toBe(true);
  await office.cli('rollback');
  await expect(page.locator('#daylight-status')).toHaveText('up to date');
  await page.waitForTimeout(4_000); // past the slow files: the cancelled download reports nothing
  await expect(page.locator('#daylight-status')).toHaveText('up to date');
  await expect(page.locator('[data-daylight-banner]')).toBeHidden();
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  expect(seen.navigations).toHaveLength(1);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});
