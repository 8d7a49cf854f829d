/**
 * The compatibility floor seen from the browser: once `daylight floor 1.1.0`
 * is set, the API refuses a 1.0.0 tab with a 409 problem document. The client
 * tells the app which request was refused and forces the switch after its
 * grace period — even over a dirty form — keeping the typing through the
 * snapshot, and the app works again on 1.1.0.
 */
import { test, expect, watch, signIn } from './support/fixtures.js';

interface Refused {
  url: string;
  method: string;
  type: string;
  required: string;
}

test('a tab below the floor is told which request was refused and is switched after the grace period', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen, 'ada', '&grace=3000');
  await page.waitForFunction(() => 'daylight' in window);
  await page.evaluate(() => {
    const w = window as unknown as { daylight: EventTarget; refused: Refused[] };
    w.refused = [];
    w.daylight.addEventListener('refused', (event) => w.refused.push((event as CustomEvent<Refused>).detail));
  });
  // Unsaved typing: an automatic switch would wait for it, a forced one does not.
  await page.locator('#f-customer').fill('typed below the floor');
  await page.locator('#f-customer').blur();

  await office.promote('1.1.0');
  // 1.1.0 is verified and offered (a minor release prompts) before the floor
  // rises: the waiting prompt must turn into a forced switch.
  await expect(page.locator('[data-daylight-banner]')).toBeVisible();
  await office.cli('floor', '1.1.0');

  await expect
    .poll(() => page.evaluate(() => (window as unknown as { refused?: Refused[] }).refused ?? []), {
      timeout: 15_000,
    })
    .toContainEqual(
      expect.objectContaining({
        method: 'GET',
        type: 'https://daylight.dev/problems/client-too-old',
        required: '>=1.1.0',
      }),
    );
  expect(seen.failedApi.some((line) => /GET \S+\/api\/inbox 409$/.test(line))).toBe(true);

  await expect(page.getByTestId('version')).toHaveText('1.1.0', { timeout: 20_000 });
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  await expect(page.locator('#f-customer')).toHaveValue('typed below the floor');
  // Working again: the inbox refreshes on 1.1.0 and nothing more is refused.
  seen.failedApi.length = 0;
  const refreshed = await page.getByTestId('inbox-refreshed').textContent();
  await expect(page.getByTestId('inbox-refreshed')).not.toHaveText(refreshed!, { timeout: 5_000 });
  expect(seen.failedApi).toEqual([]);
  expect(seen.navigations).toHaveLength(2);
  expect(seen.pageErrors).toEqual([]);
});

test('below the floor with the release in hand, refused requests do not each ask the server again', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  // A long grace: the tab stays below the floor while the inbox is refreshed (and refused) twice a second.
  await signIn(page, office.url, seen, 'ada', '&grace=60000');
  await office.promote('1.1.0');
  await expect(page.locator('[data-daylight-banner]')).toBeVisible();
  await office.cli('floor', '1.1.0');
  await expect.poll(() => seen.failedApi.filter((line) => / 409$/.test(line)).length).toBeGreaterThan(0);
  // The switch is forced (the banner counts down) once the tab learnt the floor.
  await expect(page.locator('[data-daylight-countdown]')).toBeVisible();
  const checks = () => office.requests.filter((r) => r.startsWith('GET /_daylight/release')).length;
  const before = checks();
  const refused = seen.failedApi.length;
  await page.waitForTimeout(4_000);
  expect(seen.failedApi.length - refused).toBeGreaterThanOrEqual(4); // the refusals went on…
  expect(checks() - before).toBeLessThanOrEqual(1); // …and the release checks did not (at most every 10 s)
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  expect(seen.pageErrors).toEqual([]);
});
