/**
 * Cohorts in a real Chromium (docs/rollouts.md): the office app's cohort is
 * the signed-in person's office ("ada@pilot" signs in to the pilot office).
 * Two offices load their own bundles and follow only their own cohort's
 * release; a rollback moves a pilot tab back once; and a tab that sees two
 * servers disagree while a change propagates switches once and never back.
 * A rollout to a share of users on two servers with one Redis reaches the
 * users the documented hash picks, from both servers, through growth and a
 * hotfix.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Page, Response } from '@playwright/test';
import { buildRelease } from '../examples/office-app/scripts/build.mjs';
import { bucketOf } from '../packages/server-middleware/src/resolve.js';
import { test, expect, watch, signIn, banner, ready, version } from './support/fixtures.js';
import { SERVED_BY, startDisagreeingServers, startSharedServers } from './support/two-servers.js';

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

    // Half of what the tab hears still says 1.0.0, checks included; it acts on none of it. (A release a stamp names
    // is checked at most every 10 s, and the proxy sends every other check to the stale server: the next stale
    // check can be two checks, 20 s, away.)
    const stamps = await nextStamps(page, 8);
    expect(stamps).toContain('v="1.0.0"');
    await expect
      .poll(() => servers.staleAnswers.filter((r) => r.startsWith('GET /_daylight/release')).length, {
        timeout: 30_000,
      })
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

/**
 * A percentage rollout by user on two servers that share one Redis (docs/rollouts.md, "Percentages"). The
 * expected split is computed here from the documented rule — everyone's salt is `*`, the hashed text is
 * `*:<user name>`, a user is in at p % when the bucket is below p × 100 — so a server that salts or compares
 * otherwise fails, and so does one that disagrees with the other server. (The hash is bucketOf itself, shared with
 * the servers; resolve.test.ts pins its values.)
 */
test.describe('a rollout to a share of users, on two servers that share one Redis', () => {
  let extraBuilds: string;
  test.beforeAll(async () => {
    extraBuilds = await mkdtemp(path.join(tmpdir(), 'daylight-builds-'));
    await buildRelease('1.1.1', { outDir: path.join(extraBuilds, '1.1.1'), atlasBytes: 1000 });
  });
  test.afterAll(async () => {
    await rm(extraBuilds, { recursive: true, force: true });
  });

  /** The office app lets any name sign in; without "@" all of them are in the main office, which has no rules. */
  const USERS = Array.from({ length: 20 }, (_, i) => `user${String(i + 1).padStart(2, '0')}`);
  /** Everyone's rollout is salted with `*` when the registry names no salt (written out, not imported). */
  const inAt = (percent: number, user: string): boolean => bucketOf('*', user) < percent * 100;

  test('every server sends each user the same release; growth keeps everyone; a hotfix reaches the same users', async ({
    browser,
    framework,
  }) => {
    test.slow();
    const fleet = await startSharedServers(framework, { '1.1.1': path.join(extraBuilds, '1.1.1') });
    try {
      const inUser = USERS.find((user) => inAt(50, user))!;
      const outUser = USERS.find((user) => !inAt(50, user))!;
      // A degenerate split would prove nothing: the names give both kinds, at 50 % and between 50 and 80 %.
      expect(inUser).toBeDefined();
      expect(outUser).toBeDefined();
      expect(USERS.some((user) => !inAt(50, user) && inAt(80, user))).toBe(true);

      // Tabs open on 1.0.0 before the rollout starts, as people work when it does.
      const inPage = await (await browser.newContext()).newPage();
      const outPage = await (await browser.newContext()).newPage();
      const seenIn = watch(inPage);
      const seenOut = watch(outPage);
      const outFetches = releaseRequests(outPage, '1.1.0');
      const outFixFetches = releaseRequests(outPage, '1.1.1');
      await signIn(inPage, fleet.url, seenIn, inUser);
      await signIn(outPage, fleet.url, seenOut, outUser);

      const cookies = new Map<string, string>();
      for (const user of USERS) cookies.set(user, await signInByApi(fleet.servers[0], user));
      /** Each user's release as each server tells it, stamp and check: `user → "<stamp> <check>, <stamp> <check>"`. */
      const releases = async (): Promise<Record<string, string>> => {
        const told: Record<string, string> = {};
        for (const user of USERS) {
          const answers: string[] = [];
          for (const server of fleet.servers) answers.push(await releaseOf(server, cookies.get(user)!));
          told[user] = answers.join(', ');
        }
        return told;
      };
      const expected = (version: (user: string) => string): Record<string, string> =>
        Object.fromEntries(
          USERS.map((user) => [
            user,
            Array(2)
              .fill(`v="${version(user)}" ${version(user)}`)
              .join(', '),
          ]),
        );
      const change = async (...args: string[]): Promise<void> => {
        const before = await revisionOf(fleet.servers[0]);
        await fleet.cli(...args);
        // Both servers follow Redis within a second; a user checked before then would be checked against the old plan.
        await expect
          .poll(async () => Math.min(...(await Promise.all(fleet.servers.map(revisionOf)))))
          .toBeGreaterThan(before);
      };

      // 50 %: each user gets from both servers exactly what the documented hash says.
      await change('promote', '1.1.0', '--percent', '50', '--key', 'user');
      expect(await releases()).toEqual(expected((user) => (inAt(50, user) ? '1.1.0' : '1.0.0')));

      // In the browser: the user who is in is offered 1.1.0 and switches.
      await expect(banner(inPage)).toContainText('1.1.0');
      await banner(inPage).getByRole('button', { name: 'Update now' }).click();
      await expect(version(inPage)).toHaveText('1.1.0');
      await expect(inPage.getByTestId('user')).toHaveText(`signed in as ${inUser}`);
      // The user who is out hears 1.0.0 from both servers, again and again, and fetches nothing of 1.1.0.
      const outStamps = await stampsOf(outPage, 8);
      expect(outStamps.map(([stamp]) => stamp)).toEqual(Array(8).fill('v="1.0.0"'));
      expect(new Set(outStamps.map(([, server]) => server))).toEqual(new Set(['0', '1']));
      expect(outFetches).toEqual([]);
      await expect(banner(outPage)).toHaveCount(0);
      await expect(version(outPage)).toHaveText('1.0.0');

      // A hotfix of the rolled-out line at the same percentage: the salt is the target's, so the same users.
      await change('promote', '1.1.1', '--percent', '50', '--key', 'user');
      expect(await releases()).toEqual(expected((user) => (inAt(50, user) ? '1.1.1' : '1.0.0')));
      // (A patch is applied automatically at the next safe moment, not offered: downloaded and verified is the sign.)
      await ready(inPage, '1.1.1');
      const outAfterHotfix = await stampsOf(outPage, 4);
      expect(outAfterHotfix.map(([stamp]) => stamp)).toEqual(Array(4).fill('v="1.0.0"'));
      expect(new Set(outAfterHotfix.map(([, server]) => server))).toEqual(new Set(['0', '1']));
      expect([...outFetches, ...outFixFetches]).toEqual([]);
      await expect(banner(outPage)).toHaveCount(0);

      // 80 %: everyone who was in stays in, and the ones between 50 and 80 come in. Without --key, as an operator
      // widens it: the rollout keeps going by user (by the default, tenant, everyone here would be in or out at once).
      await change('promote', '1.1.1', '--percent', '80');
      expect(await releases()).toEqual(expected((user) => (inAt(80, user) ? '1.1.1' : '1.0.0')));

      // 100 %: everyone.
      await change('promote', '1.1.1', '--percent', '100');
      expect(await releases()).toEqual(expected(() => '1.1.1'));

      expect([...seenIn.pageErrors, ...seenOut.pageErrors]).toEqual([]);
      await inPage.context().close();
      await outPage.context().close();
    } finally {
      await fleet.close();
    }
  });
});

/** Signs `user` in through the office app's login (any name, any password) and returns the session cookie. */
async function signInByApi(url: string, user: string): Promise<string> {
  const answer = await fetch(`${url}/api/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password: 'correct horse' }),
  });
  expect(answer.status).toBe(200);
  const cookie = answer.headers.get('set-cookie');
  expect(cookie).toBeTruthy();
  return cookie!.split(';')[0]!;
}

/** What one server tells a session: the stamp of an API answer and the version its release check confirms. */
async function releaseOf(url: string, cookie: string): Promise<string> {
  const api = await fetch(`${url}/api/me`, { headers: { cookie } });
  expect(api.status).toBe(200);
  const check = await fetch(`${url}/_daylight/release`, { headers: { cookie } });
  const { version } = (await check.json()) as { version: string };
  return `${api.headers.get('daylight-release') ?? '(no stamp)'} ${version}`;
}

/** The registry revision a server answers with (to a request without a session). */
async function revisionOf(url: string): Promise<number> {
  const answer = await fetch(`${url}/_daylight/release`);
  return ((await answer.json()) as { revision: number }).revision;
}

/** The next `count` API answers of the page behind the proxy of startSharedServers: [stamp, server]. */
async function stampsOf(page: Page, count: number): Promise<[string, string][]> {
  const stamps: [string, string][] = [];
  for (let i = 0; i < count; i++) {
    const response = await page.waitForResponse((r) => new URL(r.url()).pathname.startsWith('/api/'));
    stamps.push([
      (await response.headerValue('daylight-release')) ?? '',
      (await response.headerValue(SERVED_BY)) ?? '',
    ]);
  }
  return stamps;
}
