/**
 * Playwright fixtures: a fresh release store with the office app's 1.0.0 and
 * 1.1.0 published and 1.0.0 promoted, the app served by a real Express or Koa
 * server on loopback, and a promote that runs the real `daylight` CLI.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test as base, expect, type BrowserContext, type Page, type Request } from '@playwright/test';
import { startOfficeServer, type OfficeServer } from '../../examples/office-app/server/app.mjs';

const run = promisify(execFile);
export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BUILDS = path.join(ROOT, 'examples/office-app/builds');
const BIN = path.join(ROOT, 'packages/cli/dist/bin.js');

export type Framework = 'express' | 'koa';

export interface Office {
  readonly url: string;
  /** The registry file of this test's store. */
  readonly store: string;
  /** Runs `daylight <args> --store <store>` as a real process; rejects on a non-zero exit. */
  cli(...args: string[]): Promise<string>;
  promote(version: string): Promise<void>;
  /** What the server's release check answers now (to a request without a session), as it sent it. */
  releaseAnswer(): Promise<string | undefined>;
  /** Every request the server got, as `METHOD /path?query`, in order. */
  readonly requests: readonly string[];
  /** What the server counted from `POST /_daylight/reports`. */
  reportCounts(): ReturnType<OfficeServer['daylight']['reportCounts']>;
}

/** The office app's admin token in the tests: `Authorization: Bearer <it>` opens the status page. */
export const ADMIN_TOKEN = 'e2e-admin-token';
/** A user the office app lets see the status page once signed in (as the demo does). */
export const ADMIN_USER = 'ops@hq';

/** Automatic halts in the tests: two failed boots that are at least half of the switches. */
export const TEST_HALT = { minFailures: 2, failureRate: 0.5 } as const;

export async function daylight(store: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [BIN, ...args, '--store', store], { cwd: ROOT });
  return stdout;
}

/**
 * Waits (at most 5 s) until the server at `url` answers its release check with `version`. The server follows
 * the registry through fs.watch (and a 1 s poll): on a loaded machine give it a moment after a promote, so that a
 * page opened next sees the change.
 */
export async function servedBy(url: string, version: string): Promise<void> {
  for (const until = Date.now() + 5_000; Date.now() < until;) {
    const answer = await fetch(`${url}/_daylight/release`).catch(() => undefined);
    if (answer?.ok && ((await answer.json()) as { version?: string }).version === version) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export const test = base.extend<{ office: Office }, { framework: Framework }>({
  framework: ['express', { option: true, scope: 'worker' }],
  office: async ({ framework }, use) => {
    for (const version of ['1.0.0', '1.1.0']) {
      if (!existsSync(path.join(BUILDS, version, 'index.html'))) {
        throw new Error(`examples/office-app/builds/${version} is missing: run "npm run build" first`);
      }
    }
    const dir = await mkdtemp(path.join(tmpdir(), 'daylight-e2e-'));
    const store = path.join(dir, 'releases.json');
    await daylight(store, 'publish', path.join(BUILDS, '1.0.0'), '--version', '1.0.0');
    await daylight(store, 'publish', path.join(BUILDS, '1.1.0'), '--version', '1.1.0');
    await daylight(store, 'promote', '1.0.0');
    // DAYLIGHT_E2E_LOG=1 shows what the server logs.
    const quiet = process.env.DAYLIGHT_E2E_LOG ? console : { info() {}, warn() {}, error() {} };
    const requests: string[] = [];
    const server = await startOfficeServer({
      framework,
      store,
      logger: quiet,
      reports: { halt: TEST_HALT },
      onRequest: (req) => requests.push(`${req.method ?? ''} ${req.url ?? ''}`),
      adminToken: ADMIN_TOKEN,
      admins: [ADMIN_USER],
    });
    const releaseAnswer = async (): Promise<string | undefined> => {
      const answer = await fetch(`${server.url}/_daylight/release`).catch(() => undefined);
      return answer?.ok ? answer.text() : undefined;
    };
    await use({
      url: server.url,
      store,
      cli: (...args) => daylight(store, ...args),
      requests,
      reportCounts: () => server.daylight.reportCounts(),
      releaseAnswer,
      async promote(version) {
        await daylight(store, 'promote', version);
        await servedBy(server.url, version);
      },
    });
    await server.close();
    await rm(dir, { recursive: true, force: true });
  },
});

export { expect };

/** The office app's version badge, Daylight status line and banner. */
export const version = (page: Page) => page.getByTestId('version');
export const status = (page: Page) => page.locator('#daylight-status');
export const banner = (page: Page) => page.locator('[data-daylight-banner]');
/** Waits until `v` is downloaded and verified in the page. */
export const ready = (page: Page, v: string) => expect(status(page)).toHaveText(`${v} is downloaded and verified`);

/** The client's state in the page (`window.daylight.state`). */
export const daylightState = (page: Page) =>
  page.evaluate(
    () =>
      (window as unknown as { daylight: { state: { status: string; reason?: string; policy?: string } } }).daylight
        .state,
  );
/** Calls `stop()` on the client in the page. */
export const stopDaylight = (page: Page): Promise<void> =>
  page.evaluate(() => (window as unknown as { daylight: { stop(): void } }).daylight.stop());

/**
 * Holds every request of the page that `url` matches for `ms` before it goes on to the server (a slow network, an
 * overloaded server); `asked` resolves when the first one is held. The server answers what it has at the time.
 */
export async function slowDown(
  page: Page,
  url: string | ((url: URL) => boolean),
  ms: number,
): Promise<{ asked: Promise<void> }> {
  let held!: () => void;
  const asked = new Promise<void>((resolve) => (held = resolve));
  await page.route(url, async (route) => {
    held();
    await new Promise((resolve) => setTimeout(resolve, ms));
    await route.continue().catch(() => undefined); // (cancelled meanwhile)
  });
  return { asked };
}

export interface SlowSaveOptions {
  /** The answer's head at once and its body after `ms`, instead of the whole answer after `ms`. */
  readonly bodyOnly?: boolean;
  /** Through the client's fetch wrapper, or through the app's ky with `kyHooks`. @default 'client.fetch' */
  readonly through?: 'client.fetch' | 'ky with kyHooks';
}

/**
 * Sends a save (`POST /api/invoices`) that the server answers after `ms`, and reads its answer, as an app does
 * (a body not read yet would be cut by any navigation).
 */
export const slowSave = (page: Page, ms: number, options: SlowSaveOptions = {}): Promise<void> =>
  page.evaluate(
    ({ query, through }) => {
      const w = window as unknown as {
        daylight: { fetch: typeof fetch };
        officeApi: { post(url: string, options: object): { text(): Promise<string> } };
      };
      void (through === 'client.fetch'
        ? w.daylight
            .fetch(`/api/invoices?${query}`, {
              method: 'POST',
              headers: { 'Content-Type': 'application/json' },
              body: '{}',
            })
            .then((response) => response.text())
        : w.officeApi.post(`invoices?${query}`, { json: {} }).text());
    },
    { query: `${options.bodyOnly ? 'bodyDelay' : 'delay'}=${ms}`, through: options.through ?? 'client.fetch' },
  );

/** Records what the page did, so a test can assert nothing went wrong. */
export interface Watch {
  /** Top-level document requests (each one is a navigation). */
  readonly navigations: string[];
  /** API requests that failed on the network or answered ≥ 400. */
  readonly failedApi: string[];
  /** Uncaught exceptions in the page. */
  readonly pageErrors: string[];
}

export function watch(page: Page): Watch {
  const result: Watch = { navigations: [], failedApi: [], pageErrors: [] };
  page.on('request', (request: Request) => {
    if (request.isNavigationRequest() && request.frame() === page.mainFrame()) result.navigations.push(request.url());
  });
  page.on('requestfailed', (request) => {
    if (new URL(request.url()).pathname.startsWith('/api/')) {
      result.failedApi.push(`${request.method()} ${request.url()} ${request.failure()?.errorText ?? ''}`);
    }
  });
  page.on('response', (response) => {
    if (new URL(response.url()).pathname.startsWith('/api/') && response.status() >= 400) {
      result.failedApi.push(`${response.request().method()} ${response.url()} ${response.status()}`);
    }
  });
  page.on('pageerror', (error) => result.pageErrors.push(error.message));
  return result;
}

/**
 * Signs in on the page and waits for the invoice form. The app's first
 * `GET /api/me` answers 401 (that is how it learns nobody is signed in yet),
 * so `seen.failedApi` is emptied once signed in: from then on, any failure counts.
 */
export async function signIn(page: Page, url: string, seen?: Watch, user = 'ada', query = ''): Promise<void> {
  await page.goto(`${url}/?poll=500${query}`);
  await page.locator('#user').fill(user);
  await page.locator('#password').fill('correct horse');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByTestId('user')).toHaveText(`signed in as ${user}`);
  await expect(page.locator('#invoice')).toBeVisible();
  if (seen) seen.failedApi.length = 0;
}

/**
 * Signs in (with `query`, as for {@link signIn}), promotes `release` and waits until the page has it downloaded and
 * verified; returns what the page did from the start.
 */
export async function releaseReady(page: Page, office: Office, query = '', release = '1.1.0'): Promise<Watch> {
  const seen = watch(page);
  await signIn(page, office.url, seen, 'ada', query);
  await office.promote(release);
  await ready(page, release);
  return seen;
}

/**
 * Playwright keeps every page visible (microsoft/playwright#2286), so a tab's
 * visibility is emulated inside the page: `document.visibilityState`,
 * `document.hidden` and the `visibilitychange` event. Locks, channels and
 * everything else are the real browser's.
 */
export function emulateVisibility(hidden: boolean): void {
  let state = hidden ? 'hidden' : 'visible';
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => state });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => state === 'hidden' });
  (window as unknown as { setVisibility(next: string): void }).setVisibility = (next) => {
    state = next;
    document.dispatchEvent(new Event('visibilitychange'));
  };
}

/**
 * Two signed-in tabs of one browser, the first one shown and the second hidden; the second polls every `poll` ms.
 * `query` (`&name=value…`) goes to both.
 */
export async function twoTabs(
  context: BrowserContext,
  url: string,
  poll: number,
  query = '',
): Promise<{ shown: Page; hidden: Page }> {
  const shown = await context.newPage();
  const hidden = await context.newPage();
  await shown.addInitScript(emulateVisibility, false);
  await hidden.addInitScript(emulateVisibility, true);
  await signIn(shown, url, undefined, 'ada', query);
  await hidden.goto(`${url}/?poll=${poll}${query}`);
  await expect(hidden.getByTestId('user')).toHaveText('signed in as ada');
  return { shown, hidden };
}

export const setVisibility = (page: Page, state: 'visible' | 'hidden'): Promise<void> =>
  page.evaluate((next) => (window as unknown as { setVisibility(next: string): void }).setVisibility(next), state);

/**
 * Makes the page ask "leave this page?" before it is left (as an app with unsaved input does; `window.dropGuard()`
 * takes it away), and answers the next dialog "stay"; `dialog` resolves with that dialog's type. The page needs a user
 * activation (a click) for the browser to show the dialog.
 */
export async function stayOnLeaving(page: Page): Promise<{ dialog: Promise<string> }> {
  await page.evaluate(() => {
    const guard = (event: BeforeUnloadEvent): void => event.preventDefault();
    addEventListener('beforeunload', guard);
    Object.assign(window, { dropGuard: () => removeEventListener('beforeunload', guard) });
  });
  const dialog = new Promise<string>((resolve) =>
    page.once('dialog', (d) => {
      resolve(d.type());
      void d.dismiss(); // "stay on this page"
    }),
  );
  return { dialog };
}

/**
 * Flips a byte of `version`'s entry script on its way to the page, as a tampering proxy or a cache holding a
 * damaged copy would. (A damaged file on the server's disk is caught earlier: the CLI refuses to promote it.)
 */
export async function corruptInTransit(page: Page, version: string): Promise<void> {
  const entry = new RegExp(`/releases/${version.replaceAll('.', '\\.')}/files/assets/app-[^/]+\\.js$`);
  await page.route(entry, async (route) => {
    // Fetched from Node, which does not know the browser's host rules (office.intranet): straight to loopback.
    const url = new URL(route.request().url());
    url.hostname = '127.0.0.1';
    const response = await route.fetch({ url: url.href });
    const bytes = await response.body();
    bytes[100] = bytes[100]! ^ 0xff;
    await route.fulfill({ response, body: bytes });
  });
}

/** Keeps the code of the client's last `error` event in the page's `sessionStorage['test:error']`. */
export async function recordErrorCodes(page: Page): Promise<void> {
  await page.waitForFunction(() => 'daylight' in window);
  await page.evaluate(() => {
    const daylight = (window as unknown as { daylight: EventTarget }).daylight;
    daylight.addEventListener('error', (event) => {
      sessionStorage.setItem('test:error', (event as CustomEvent<{ error: { code: string } }>).detail.error.code);
    });
  });
}

/**
 * Per page, the files of `release` it asked for from now on, the HTTP cache's answers included: the server's count
 * alone would show one request even if every tab downloaded (the files are immutable, so the others would read them
 * from the cache).
 */
export function releaseFilesAsked(pages: readonly Page[], release: string): string[][] {
  return pages.map((page) => {
    const urls: string[] = [];
    page.on('request', (request) => {
      if (request.url().includes(`/_daylight/releases/${release}/files/`)) urls.push(request.url());
    });
    return urls;
  });
}

/** Fills the page's localStorage (or sessionStorage) to the last byte (run in the page); returns how many items it took. */
export function fillStorage(name: string): number {
  const storage = name === 'sessionStorage' ? sessionStorage : localStorage;
  let items = 0;
  for (let size = 1 << 20; size >= 1;) {
    try {
      storage.setItem(`filler:${items}`, 'x'.repeat(size));
      items++;
    } catch {
      size >>= 1;
    }
  }
  return items;
}
