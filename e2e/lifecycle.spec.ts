/**
 * The client outside the everyday path, in a real Chromium against the real
 * servers: after `stop()` nothing starts again, even when it comes while a
 * switch or a release check is under way, and in a browser that blocks
 * storage the app works as it did before Daylight, which stays out of the way
 * (without storage there is no loop guard, so it does not switch at all); with
 * sessionStorage full, a switch that could not save its record is cancelled.
 * And the office app's own part: while its server cannot be reached, it asks
 * again with a back-off rather than every second.
 */
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
  releaseReady,
  daylightState,
  stopDaylight,
  slowDown,
  slowSave,
} from './support/fixtures.js';

test('after stop() the client checks, downloads and switches nothing, and the app keeps working', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  await stopDaylight(page);
  expect(await daylightState(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
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
  expect(await daylightState(page)).toMatchObject({ status: 'inert' });
  expect(seen.navigations).toHaveLength(1);
  expect(seen.pageErrors).toEqual([]);
});

test('stop() while "Update now" waits for a slow save: the switch is called off', async ({ page, office }) => {
  const seen = await releaseReady(page, office);
  const answered = page.waitForResponse((r) => r.url().includes('/api/invoices'));
  await slowSave(page, 2_500);
  await banner(page).getByRole('button', { name: 'Update now' }).click(); // the switch waits for the save…
  await stopDaylight(page); // …and the app stops Daylight meanwhile
  expect((await answered).status()).toBe(201);
  await expect(banner(page)).toContainText('The update could not start: Nothing to switch to yet (status inert)');
  expect(await daylightState(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
  await expect(version(page)).toHaveText('1.0.0');
  expect(office.requests.filter((r) => r.includes('_daylight=1.1.0'))).toEqual([]);
  expect(seen.navigations).toHaveLength(1);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});

test('stop() while a release check is on its way: its answer starts nothing', async ({ page, office }) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  // The check that the next stamp asks for takes 1.5 s to reach the server, which then answers 1.1.0.
  const check = await slowDown(page, '**/_daylight/release', 1_500);
  const answered = page.waitForResponse('**/_daylight/release');
  await office.promote('1.1.0');
  await check.asked;
  await stopDaylight(page);
  expect(((await (await answered).json()) as { version: string }).version).toBe('1.1.0');
  await page.waitForTimeout(1_000);
  expect(office.requests.filter((r) => r.includes('/_daylight/releases/1.1.0/'))).toEqual([]); // no download
  expect(await daylightState(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
  await expect(status(page)).toHaveText('updates off: stopped');
  await expect(banner(page)).toHaveCount(0);
  await expect(version(page)).toHaveText('1.0.0');
  expect(seen.navigations).toHaveLength(1);
  expect(seen.pageErrors).toEqual([]);
});

test('stop() while a switch waits for a slow shell: the page stays after timeout, and inert', async ({
  page,
  office,
}) => {
  const seen = await releaseReady(page, office, '&timeout=2000');
  // The new page's HTML takes 4 s, longer than the switch's 2 s timeout; the app stops Daylight 0.5 s into the wait
  // (from the page: Playwright's own calls wait for a pending navigation).
  const shell = await slowDown(page, (url) => url.searchParams.has('_daylight'), 4_000);
  await page.evaluate(() => {
    const { daylight } = window as unknown as { daylight: EventTarget & { stop(): void } };
    daylight.addEventListener('applying', () => setTimeout(() => daylight.stop(), 500), { once: true });
  });
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await shell.asked;
  const leaving = office.requests.length;
  await expect(banner(page)).toContainText('The update could not start: The page did not leave for 1.1.0 within 2000');
  // Past the shell's arrival, with every inbox refresh stamped 1.1.0: stopped it stays, so nothing asks the server.
  await page.waitForTimeout(3_000);
  expect(await daylightState(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
  await expect(status(page)).toHaveText('updates off: stopped');
  expect(office.requests.slice(leaving).filter((r) => r.startsWith('GET /_daylight/release'))).toEqual([]);
  await expect(version(page)).toHaveText('1.0.0');
  expect(seen.navigations).toHaveLength(2);
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
  expect(await daylightState(page)).toMatchObject({ status: 'inert', reason: 'stopped' });
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
  expect(await daylightState(page)).toMatchObject({
    status: 'inert',
    reason: expect.stringMatching(/storage is blocked/),
  });
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

test('while the server cannot be reached the office app asks again after 1 s, 2 s, 4 s…, and shows the app once it can', async ({
  page,
  office,
}) => {
  await signIn(page, office.url);
  await page.clock.install();
  // Time stands still from here: only fastForward moves it.
  await page.clock.pauseAt(new Date(Date.now() + 1_000));
  let asked = 0;
  await page.route('**/api/me', (route) => {
    asked++;
    return route.abort('connectionrefused');
  });
  // Each failed try sets the next one's timer, then draws a new "offline" note: a note not yet marked means the try
  // is over and the next one is on the clock.
  const triedAgain = async (): Promise<void> => {
    const note = page.locator('[data-testid="offline"]:not([data-seen])');
    await expect(note).toBeVisible();
    await note.evaluate((element) => (element.dataset.seen = ''));
  };
  await page.reload();
  await triedAgain();
  expect(asked).toBe(1);
  // Each retry waits twice as long as the one before: 1 s, then 2 s, then 4 s.
  for (const [wait, total] of [
    [1_000, 2],
    [2_000, 3],
    [4_000, 4],
  ] as const) {
    await page.clock.fastForward(wait - 100);
    await page.waitForTimeout(200); // real time, the page's clock stands still: a try due now would have been sent
    expect(asked).toBe(total - 1);
    await page.clock.fastForward(100);
    await triedAgain();
    expect(asked).toBe(total);
  }
  await page.unroute('**/api/me');
  await page.clock.fastForward(8_000);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  expect(asked).toBe(4);
});
