/**
 * The localStorage leases that stand in for Web Locks on a plain-http
 * intranet (packages/client/src/leases.ts), in two real tabs of a real
 * Chromium on an insecure origin: real localStorage, real `storage` events,
 * real `pagehide`. The module is bundled as it is in the SDK and loaded into
 * a page of the office app's origin (a 404 page, so the app itself does not
 * run and take leases of its own).
 */
import path from 'node:path';
import type { BrowserContext, Page } from '@playwright/test';
import { build } from 'esbuild';
import { INTRANET_HOST } from './support/browser.js';
import { test, expect, fillStorage, ROOT } from './support/fixtures.js';

let bundle: string;
test.beforeAll(async () => {
  const result = await build({
    entryPoints: [path.join(ROOT, 'packages/client/src/leases.ts')],
    bundle: true,
    format: 'iife',
    globalName: 'DaylightLeases',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  bundle = result.outputFiles[0]!.text;
});

/** What a page keeps of its lock requests: when work started and ended, and whether the lease was lost. */
interface Log {
  readonly events: string[];
}

async function tab(context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage();
  const intranet = new URL(url);
  intranet.hostname = INTRANET_HOST;
  await page.goto(`${intranet.origin}/no-such-file.txt`);
  expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
  await page.addScriptTag({ content: bundle });
  await page.evaluate(() => {
    const w = window as unknown as {
      DaylightLeases: {
        leaseLocks(): (n: string, s: AbortSignal, work: (lost: AbortSignal) => Promise<void>) => Promise<void>;
      };
      log: Log;
      hold(name: string, tag: string): void;
      finish: Record<string, () => void>;
    };
    const request = w.DaylightLeases.leaseLocks();
    w.log = { events: [] };
    w.finish = {};
    // Takes the lock `name` and holds it until finish[tag]() is called.
    w.hold = (name, tag) => {
      void request(name, new AbortController().signal, async (lost) => {
        w.log.events.push(`${tag} start`);
        lost.addEventListener('abort', () => w.log.events.push(`${tag} lost`));
        await new Promise<void>((resolve) => (w.finish[tag] = resolve));
        w.log.events.push(`${tag} end`);
      }).catch((error: Error) => w.log.events.push(`${tag} rejected ${error.name}`));
    };
  });
  return page;
}

const events = (page: Page) => page.evaluate(() => (window as unknown as { log: Log }).log.events);
const hold = (page: Page, name: string, tag: string) =>
  page.evaluate(([n, t]) => (window as unknown as { hold(n: string, t: string): void }).hold(n!, t!), [name, tag]);
const finish = (page: Page, tag: string) =>
  page.evaluate((t) => (window as unknown as { finish: Record<string, () => void> }).finish[t]!(), tag);
const setLease = (page: Page, name: string, lease: unknown) =>
  page.evaluate(([key, value]) => localStorage.setItem(`daylight:lease:${key}`, JSON.stringify(value)), [
    name,
    lease,
  ] as const);

test('one tab holds a lease at a time, and the next takes it as soon as it is let go', async ({ context, office }) => {
  const [a, b] = [await tab(context, office.url), await tab(context, office.url)];
  await hold(a, 'x', 'a');
  await expect.poll(() => events(a)).toEqual(['a start']);
  await hold(b, 'x', 'b');
  await b.waitForTimeout(1_000);
  expect(await events(b)).toEqual([]);
  await finish(a, 'a');
  await expect.poll(() => events(b), { timeout: 2_000 }).toEqual(['b start']);
  expect(await events(a)).toEqual(['a start', 'a end']);
  // Other names are not held up.
  await hold(a, 'y', 'a2');
  await expect.poll(() => events(a), { timeout: 2_000 }).toContain('a2 start');
});

test('two tabs that ask for the same lease at the same moment: one holds it, the other waits for it', async ({
  context,
  office,
}) => {
  const [a, b] = [await tab(context, office.url), await tab(context, office.url)];
  const names = Array.from({ length: 8 }, (_, i) => `same-${i}`);
  // Both tabs ask for each name in the same turn of the test, as two tabs that saw one release do.
  await Promise.all(names.flatMap((name) => [hold(a, name, `a ${name}`), hold(b, name, `b ${name}`)]));
  await a.waitForTimeout(1_000);
  const started = [...(await events(a)), ...(await events(b))];
  for (const name of names) expect(started.filter((event) => event.endsWith(`${name} start`))).toHaveLength(1);
  // And the one that waited goes ahead once the holder lets go.
  for (const name of names) {
    const [holder, other] = started.includes(`a ${name} start`) ? [a, 'b'] : [b, 'a'];
    await finish(holder, `${holder === a ? 'a' : 'b'} ${name}`);
    await expect
      .poll(async () => [...(await events(a)), ...(await events(b))], { timeout: 2_000 })
      .toContain(`${other} ${name} start`);
  }
});

test('a tab that closes lets go at once; a lease left by a tab that died runs out after 5 s', async ({
  context,
  office,
}) => {
  const [a, b] = [await tab(context, office.url), await tab(context, office.url)];
  await hold(a, 'x', 'a');
  await expect.poll(() => events(a)).toEqual(['a start']);
  await hold(b, 'x', 'b');
  await a.close({ runBeforeUnload: true });
  await expect.poll(() => events(b), { timeout: 2_000 }).toEqual(['b start']);
  await finish(b, 'b');

  // A lease nobody renews or removes (its tab crashed).
  await setLease(b, 'z', { tab: 'crashed', until: await b.evaluate(() => Date.now() + 5_000) });
  const asked = Date.now();
  await hold(b, 'z', 'c');
  await expect.poll(() => events(b), { timeout: 8_000 }).toContain('c start');
  expect(Date.now() - asked).toBeGreaterThan(4_000);
});

test('a lease that is not one, or that claims more than 5 s ahead, counts as run out', async ({ context, office }) => {
  const b = await tab(context, office.url);
  await setLease(b, 'p', { tab: 'other', expires: 1 });
  await setLease(b, 'q', { tab: 'other', until: await b.evaluate(() => Date.now() + 3_600_000) });
  await hold(b, 'p', 'p');
  await hold(b, 'q', 'q');
  await expect.poll(async () => (await events(b)).sort(), { timeout: 1_000 }).toEqual(['p start', 'q start']);
});

test('a holder whose lease another tab took is told it lost it', async ({ context, office }) => {
  const a = await tab(context, office.url);
  await hold(a, 'x', 'a');
  await expect.poll(() => events(a)).toEqual(['a start']);
  await setLease(a, 'x', { tab: 'thief', until: await a.evaluate(() => Date.now() + 5_000) });
  await expect.poll(() => events(a), { timeout: 3_000 }).toEqual(['a start', 'a lost']);
});

test('with localStorage full the work still runs rather than never', async ({ context, office }) => {
  const a = await tab(context, office.url);
  const filled = await a.evaluate(fillStorage, 'localStorage');
  expect(filled).toBeGreaterThan(1);
  await hold(a, 'x', 'a');
  await expect.poll(() => events(a), { timeout: 2_000 }).toEqual(['a start']);
  expect(await a.evaluate(() => localStorage.getItem('daylight:lease:x'))).toBeNull();
  await a.evaluate(() => localStorage.clear());
});
