/**
 * How a tab notices a new release when no API response says so (no
 * `Daylight-Release` stamp: a proxy that drops the header, an app that calls
 * its API without Daylight, a tab that sends no API calls): the client's own
 * backstop check of `GET /_daylight/release` every `checkInterval`, which backs
 * off while the check fails, and a check when the tab is shown again more than
 * a minute after the last one. Time runs on Playwright's clock, paused: only
 * `fastForward` moves it, so minutes pass in an instant and a check that is due
 * cannot hide behind a slow machine.
 */
import type { Page } from '@playwright/test';
import { test, expect, signIn, ready, version, emulateVisibility, setVisibility } from './support/fixtures.js';

const RELEASE_CHECK = '/_daylight/release';
const isCheck = (url: string): boolean => new URL(url).pathname === RELEASE_CHECK;

/** Real time for the page to act on what it has: a check due now would have been sent, an answer read. */
const settle = (page: Page): Promise<void> => page.waitForTimeout(300);

/**
 * Counts the release checks the page sends, and the answers it got. Counted in the browser, not in
 * `office.requests`: the checks answered 503 here never reach the server, and the fixture's `promote` asks the
 * server itself.
 */
function countChecks(page: Page): { sent: number; answered: number } {
  const checks = { sent: 0, answered: 0 };
  page.on('request', (request) => {
    if (request.method() === 'GET' && isCheck(request.url())) checks.sent++;
  });
  page.on('response', (response) => {
    if (isCheck(response.url())) checks.answered++;
  });
  return checks;
}

/**
 * Waits (15 s of real time at most) for the page to have sent `total` release checks and had them answered, then
 * gives it a moment to act on the last answer (set the next timer) before the clock moves again.
 */
async function checked(
  page: Page,
  checks: { sent: number; answered: number },
  total: number,
  message: string,
): Promise<void> {
  await expect.poll(() => checks.sent, { message }).toBe(total);
  await expect.poll(() => checks.answered, { message: `${message}: answered` }).toBe(total);
  await settle(page);
}

/**
 * Removes the `Daylight-Release` stamp from every API answer, so that only a release check can tell the page about
 * a new release. `dropped` counts the stamps taken away (the server does stamp them: a test without any would prove
 * nothing), `stamped` lists the API answers that still reached the page with one (there must be none).
 */
async function dropStamps(page: Page): Promise<{ dropped: number; stamped: string[] }> {
  const seen = { dropped: 0, stamped: [] as string[] };
  await page.route('**/api/**', async (route) => {
    const response = await route.fetch();
    const headers = response.headers();
    if ('daylight-release' in headers) seen.dropped++;
    delete headers['daylight-release'];
    await route.fulfill({ response, headers });
  });
  page.on('response', async (response) => {
    if (new URL(response.url()).pathname.startsWith('/api/') && (await response.headerValue('daylight-release'))) {
      seen.stamped.push(response.url());
    }
  });
  return seen;
}

test('without stamped API answers the backstop check finds the release, backing off 2×, 4×, 8× while it fails', async ({
  page,
  office,
}) => {
  const checks = countChecks(page);
  const stamps = await dropStamps(page);
  // The first three checks find the server unavailable.
  let failures = 3;
  await page.route(`**${RELEASE_CHECK}`, (route) =>
    failures-- > 0 ? route.fulfill({ status: 503, body: 'down for maintenance' }) : route.continue(),
  );
  await page.clock.install();
  await signIn(page, office.url, undefined, 'ada', '&check=10000');
  // Time stands still from here. The first check is due within 10 s of start(), which ran during the sign-in.
  await page.clock.pauseAt(new Date(Date.now() + 1_000));
  expect(checks.sent).toBe(0);
  await office.promote('1.1.0');

  await page.clock.fastForward(10_000);
  await checked(page, checks, 1, 'the first check');

  // client.ts #schedule: checkInterval × 2^failures (at most 2^6, at most an hour). Each gap is asserted from both
  // sides: nothing a second before it is over, the next check once it is.
  for (const [gap, total] of [
    [20_000, 2], // after 1 failure
    [40_000, 3], // after 2
    [80_000, 4], // after 3; this one is answered
  ] as const) {
    await page.clock.fastForward(gap - 1_000);
    await settle(page);
    expect(checks.sent, `no check ${gap - 1_000} ms after the last one`).toBe(total - 1);
    await page.clock.fastForward(1_000);
    await checked(page, checks, total, `a check ${gap} ms after the last one`);
  }

  await ready(page, '1.1.0');
  await expect(version(page)).toHaveText('1.0.0'); // a minor release is offered, not switched to
  // Answered: back to the plain interval.
  await page.clock.fastForward(9_000);
  await settle(page);
  expect(checks.sent, 'no check 9 s after the answered one').toBe(4);
  await page.clock.fastForward(1_000);
  await checked(page, checks, 5, 'a check 10 s after the answered one');
  expect(stamps.stamped).toEqual([]);
  expect(stamps.dropped).toBeGreaterThan(0);
});

test('a tab shown again more than a minute after the last check checks once; shown again sooner, it does not', async ({
  page,
  office,
}) => {
  await page.addInitScript(emulateVisibility, false);
  const checks = countChecks(page);
  const stamps = await dropStamps(page);
  await page.clock.install();
  // The default checkInterval (10 minutes): the backstop does not come within this test.
  await signIn(page, office.url);
  await page.clock.pauseAt(new Date(Date.now() + 1_000));
  await office.promote('1.1.0');

  // Hidden for more than a minute: nothing is asked while hidden, one check once shown, and it finds 1.1.0.
  await setVisibility(page, 'hidden');
  await page.clock.fastForward(61_000);
  await settle(page);
  expect(checks.sent, 'checks while hidden').toBe(0);
  await setVisibility(page, 'visible');
  await checked(page, checks, 1, 'a check once shown after 61 s');
  await ready(page, '1.1.0');
  await settle(page);
  expect(checks.sent, 'checks once shown after 61 s').toBe(1);

  // Shown again 5 s, then 55 s, after that check: none.
  for (const hiddenFor of [5_000, 50_000]) {
    await setVisibility(page, 'hidden');
    await page.clock.fastForward(hiddenFor);
    await setVisibility(page, 'visible');
    await settle(page);
    expect(checks.sent, `checks once shown after another ${hiddenFor} ms`).toBe(1);
  }

  // 61 s after the last check (6 s after the last showing): one more.
  await setVisibility(page, 'hidden');
  await page.clock.fastForward(6_000);
  await setVisibility(page, 'visible');
  await checked(page, checks, 2, 'a check once shown 61 s after the last check');
  expect(checks.sent, 'checks once shown 61 s after the last check').toBe(2);
  expect(stamps.stamped).toEqual([]);
  expect(stamps.dropped).toBeGreaterThan(0);
});
