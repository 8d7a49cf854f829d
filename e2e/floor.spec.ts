/**
 * The compatibility floor seen from the browser: once `daylight floor 1.1.0`
 * is set, the API refuses a 1.0.0 tab with a 409 problem document. The client
 * tells the app which request was refused and forces the switch after its
 * grace period — even over a dirty form — keeping the typing through the
 * snapshot, and the app works again on 1.1.0. A refusal whose body the app
 * read itself is still observed, and a stale release check (an older
 * revision) does not move the floor.
 */
import {
  test,
  expect,
  watch,
  signIn,
  ready,
  banner,
  daylightState,
  slowDown,
  type Office,
} from './support/fixtures.js';

/** Sets the floor and waits until the server answers with it; returns that answer of the release check. */
async function setFloor(office: Office, floor: string): Promise<string> {
  await office.cli('floor', floor);
  let answer: string | undefined;
  await expect
    .poll(async () => (answer = await office.releaseAnswer()) && (JSON.parse(answer) as { min?: string }).min)
    .toBe(floor);
  return answer!;
}

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

test('a save refused below the floor switches the tab at once, with the typing kept, not after the grace period', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen); // the default grace: 60 s
  await page.locator('#f-customer').fill('typed before the refused save');
  await office.promote('1.1.0');
  await expect(banner(page)).toBeVisible();
  await setFloor(office, '1.1.0');
  // The floor reaches the tab (a refused poll, or a stamp): the prompt becomes a forced switch, 60 s away.
  await expect.poll(async () => (await daylightState(page)).policy, { timeout: 15_000 }).toBe('force');
  // The person saves meanwhile: refused, as every save would be until the switch. The switch is due at once.
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.getByTestId('version')).toHaveText('1.1.0', { timeout: 15_000 });
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  await expect(page.locator('#f-customer')).toHaveValue('typed before the refused save');
  expect(seen.failedApi.filter((line) => /POST \S+\/api\/invoices 409$/.test(line))).toHaveLength(1);
  // On 1.1.0 the save goes through.
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.locator('.saved')).toContainText('Saved as');
});

test("below the floor the app catches ky's rejections: no uncaught error, and a refused save says the input is kept", async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen); // the default grace: 60 s, and the unsaved invoice holds safe moments
  await page.locator('#f-customer').fill('typed before the refused save');
  await office.promote('1.1.0');
  await expect(banner(page)).toBeVisible();
  await setFloor(office, '1.1.0');
  await expect.poll(async () => (await daylightState(page)).policy, { timeout: 15_000 }).toBe('force');
  // A header link: the route asks for the inbox at once, outside the poll's own catch, and is refused.
  const inboxRefusals = () => seen.failedApi.filter((line) => /GET \S+\/api\/inbox 409$/.test(line)).length;
  const before = inboxRefusals();
  await page.getByRole('link', { name: 'Reports' }).click();
  await page.getByRole('link', { name: 'Invoice', exact: true }).click();
  await expect.poll(inboxRefusals).toBeGreaterThanOrEqual(before + 3); // the two routes' and a poll's after them
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  // The save is refused too, and the switch is due at once: the app says so and keeps the input.
  await page.getByRole('button', { name: 'Save invoice' }).click();
  await expect(page.getByTestId('version')).toHaveText('1.1.0', { timeout: 15_000 });
  expect(seen.failedApi.filter((line) => /POST \S+\/api\/invoices 409$/.test(line))).toHaveLength(1);
  expect(seen.pageErrors).toEqual([]);
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  await expect(page.locator('#f-customer')).toHaveValue('typed before the refused save');
  await expect(page.locator('.saved')).toHaveText(
    'Not saved before the update: your input is restored, save it again.',
  );
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

test('a refusal whose problem body the app already read: observe() does not throw, and its stamp still asks for a check', async ({
  page,
  office,
}) => {
  // The sign-in page sends nothing once it is up: every release check below comes from the observed response.
  await page.goto(`${office.url}/`);
  await expect(page.locator('#login')).toBeVisible();
  await office.promote('1.1.0');
  await setFloor(office, '1.1.0');
  const before = office.requests.length;
  // An app with its own fetch: it reads the problem document, then hands the response to Daylight.
  const outcome = await page.evaluate(async () => {
    const { daylight } = window as unknown as {
      daylight: { session: string; state: { running: string }; observe(response: Response, method: string): void };
    };
    const response = await fetch('/api/inbox', {
      headers: { 'Daylight-Client': `v="${daylight.state.running}", s="${daylight.session}"` },
    });
    const problem = (await response.json()) as { type: string };
    try {
      daylight.observe(response, 'GET');
    } catch (error) {
      return `observe() threw ${String(error)}`;
    }
    return `${response.status} ${problem.type}`;
  });
  expect(outcome).toBe('409 https://daylight.dev/problems/client-too-old');
  await ready(page, '1.1.0'); // its stamp (1.1.0, floor 1.1.0) asked for a check, which found 1.1.0
  expect(office.requests.slice(before).filter((r) => r === 'GET /_daylight/release')).toHaveLength(1);
});

test('a stale release check (an older revision, with a floor lowered since) does not force the switch', async ({
  page,
  office,
}) => {
  // What a server that has not seen the latest changes answers (a replica behind the same load balancer): 1.1.0 with
  // the floor at 1.1.0. The floor was cleared since, and the tab starts on 1.0.0 again.
  await office.promote('1.1.0');
  const stale = await setFloor(office, '1.1.0');
  await office.cli('floor', '--clear', '--lower');
  await office.promote('1.0.0');
  const seen = watch(page);
  await signIn(page, office.url, seen);
  // 1.1.0 is promoted (without a floor); its manifest comes slowly, so the next check lands mid-download.
  const manifest = await slowDown(page, '**/_daylight/releases/1.1.0/manifest.json', 1_500);
  await office.promote('1.1.0');
  await manifest.asked;
  // That check reaches the server that has not caught up: the stale answer, an older revision.
  await page.route('**/_daylight/release', (route) => route.fulfill({ contentType: 'application/json', body: stale }), {
    times: 1,
  });
  const checked = await page.evaluate(() =>
    (window as unknown as { daylight: { check(): Promise<boolean> } }).daylight.check(),
  );
  expect(checked).toBe(false);
  await ready(page, '1.1.0');
  // Offered (the prompt of a minor release, with "Later"), not forced by the stale floor.
  await expect(banner(page).getByRole('button', { name: 'Later' })).toBeVisible();
  await expect(page.locator('[data-daylight-countdown]')).toHaveCount(0);
  expect(await daylightState(page)).toMatchObject({ status: 'ready', policy: 'prompt' });
  expect(seen.pageErrors).toEqual([]);
});

test('a release that boots below the floor says it updates, not "sign in": the person stays signed in through the switch', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  // What each page draws, however briefly: the sign-in form, or the app's note that this release is too old.
  const drawn: string[] = [];
  await page.exposeFunction('e2eDrawn', (what: string) => drawn.push(what));
  await page.addInitScript(() => {
    const told = new Set<string>();
    new MutationObserver(() => {
      const release = document.querySelector('[data-testid="version"]')?.textContent;
      const watched: [what: string, selector: string][] = [
        ['sign-in form', '#user'],
        ['too old', '[data-testid="too-old"]'],
      ];
      for (const [what, selector] of watched) {
        if (!told.has(what) && document.querySelector(selector)) {
          told.add(what);
          void (window as unknown as { e2eDrawn(what: string): Promise<void> }).e2eDrawn(`${release}: ${what}`);
        }
      }
    }).observe(document, { childList: true, subtree: true });
  });
  // A tab opened while the server cannot be reached (the app shows its "offline" note and asks again), and the floor
  // is raised meanwhile: once the server answers, this 1.0.0 page's `GET /api/me` is refused with the floor's 409.
  await page.route('**/api/me', (route) => route.abort('connectionrefused'));
  await page.goto(`${office.url}/?poll=500`);
  await expect(page.getByTestId('offline')).toBeVisible();
  await expect(page.getByTestId('version')).toHaveText('1.0.0');
  await office.promote('1.1.0');
  await setFloor(office, '1.1.0');
  await page.unroute('**/api/me');

  await expect(page.getByTestId('version')).toHaveText('1.1.0', { timeout: 20_000 });
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  await expect(page.locator('#invoice')).toBeVisible();
  expect(seen.failedApi.some((line) => /GET \S+\/api\/me 409$/.test(line))).toBe(true);
  // On the 1.0.0 page the note, never the sign-in form; the 1.1.0 page the switch opened drew neither.
  expect(drawn).toEqual(['1.0.0: too old']);
  expect(seen.pageErrors).toEqual([]);
});

test('input a switch brought to a page the floor refuses goes on with the next switch', async ({ page, office }) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  await page.locator('#f-customer').fill('typed on 1.0.0');
  await office.promote('1.1.0');
  await ready(page, '1.1.0');
  // A floor above 1.1.0 as 1.1.0's page meets it (its requests carry its version): that page only shows the note.
  await page.route('**/api/me', (route) =>
    /v="1\.1\.0"/.test(route.request().headers()['daylight-client'] ?? '')
      ? route.fulfill({
          status: 409,
          contentType: 'application/problem+json',
          body: JSON.stringify({ type: 'https://daylight.dev/problems/client-too-old', required: '>=1.2.0' }),
        })
      : route.continue(),
  );
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(page.getByTestId('version')).toHaveText('1.1.0');
  await expect(page.getByTestId('too-old')).toBeVisible();

  // The next release this page gets (a rollback here) is switched to at once, with what the first switch brought.
  await office.promote('1.0.0');
  await page.evaluate(() => (window as unknown as { daylight: { check(): Promise<boolean> } }).daylight.check());
  await expect(page.getByTestId('version')).toHaveText('1.0.0', { timeout: 15_000 });
  await expect(page.locator('#f-customer')).toHaveValue('typed on 1.0.0');
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  expect(seen.pageErrors).toEqual([]);
});
