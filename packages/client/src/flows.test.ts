/**
 * The client's flows in a fake browser (window, document, storage, location, history, optionally the Navigation
 * API) against a fake server, where timing matters and a real browser is not needed: the switch and the way back
 * when the page does not leave, stop() and rollbacks racing a switch or a check, guards carried across releases,
 * the loop guard, and stale answers.
 */
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createDaylight, type DaylightOptions } from './client.js';
import { isDaylightError } from './errors.js';

class MemoryStorage {
  #items = new Map<string, string>();
  get length(): number {
    return this.#items.size;
  }
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, String(value));
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
}

interface FakePage {
  /** Where the page was sent (`location.replace` or `navigation.navigate`), in order. */
  readonly left: string[];
  /** How many times `window.stop()` was called. */
  stopped: number;
  /** Puts the focus on an element with this tag name (`BODY`: nobody types). */
  focus(tagName: string): void;
}

/**
 * A page served as `version` at `href`. `navigation`: no Navigation API (`undefined`), or one whose navigations a
 * "leave this page?" dialog answered "stay" cancels (`'stay'`).
 */
function fakeBrowser({
  version = '1.0.0',
  href = 'https://app.test/',
  navigation,
}: { version?: string; href?: string; navigation?: 'stay' | undefined } = {}): FakePage {
  let current = href;
  const page: FakePage = {
    left: [],
    stopped: 0,
    focus: (tagName) => (doc.activeElement = { tagName }),
  };
  const doc = Object.assign(new EventTarget(), {
    visibilityState: 'visible',
    activeElement: null as { tagName: string } | null,
    querySelector: (selector: string) => (selector.includes('daylight-release') ? { content: version } : null),
  });
  vi.stubGlobal('document', doc);
  vi.stubGlobal('window', Object.assign(new EventTarget(), { stop: () => page.stopped++ }));
  vi.stubGlobal('sessionStorage', new MemoryStorage());
  vi.stubGlobal('localStorage', new MemoryStorage());
  vi.stubGlobal('location', {
    get href() {
      return current;
    },
    get origin() {
      return new URL(current).origin;
    },
    replace: (url: string) => page.left.push(url),
  });
  vi.stubGlobal('history', {
    state: null,
    pushState: () => undefined,
    replaceState: (_state: unknown, _title: string, url: string) => (current = new URL(url, current).href),
  });
  if (navigation === 'stay') {
    vi.stubGlobal('navigation', {
      navigate: (url: string) => {
        page.left.push(url);
        return { committed: Promise.reject(new DOMException('The page stayed', 'AbortError')) };
      },
    });
  }
  return page;
}

const FILE = 'console.log("release")';
const INTEGRITY = `sha384-${createHash('sha384').update(FILE).digest('base64')}`;
const manifestOf = (version: string): object => ({
  schema: 1,
  version,
  entry: { url: 'files/app.js', integrity: INTEGRITY, bytes: FILE.length },
  assets: [{ url: 'files/app.js', integrity: INTEGRITY, bytes: FILE.length }],
  urgency: 'optional',
  notes: '',
  publishedAt: '2026-01-01T00:00:00Z',
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `condition` holds; fails the test after 3 s. */
async function until(condition: () => boolean): Promise<void> {
  for (const end = Date.now() + 3_000; !condition(); await sleep(10)) {
    if (Date.now() > end) throw new Error(`still not true after 3 s: ${String(condition)}`);
  }
}

/**
 * A fake Daylight server and API. `release` is what the release check answers (after `checkDelay`), `stamp` the
 * `Daylight-Release` header of API answers; `/api/save?delay=ms` answers after `delay`.
 */
function fakeServer() {
  const server = {
    release: { version: '1.0.1', revision: 1 } as { version: string; revision: number; min?: string },
    checkDelay: 0,
    manifestDelay: 0,
    stamp: undefined as string | undefined,
    /** Paths requested, in order. */
    seen: [] as string[],
    /** Kinds of the reports sent. */
    reports: [] as string[],
    fetch: async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      const url = new URL(input instanceof Request ? input.url : String(input), 'https://app.test/');
      server.seen.push(url.pathname);
      if (url.pathname === '/_daylight/release') {
        const answer = server.release;
        await sleep(server.checkDelay);
        return Response.json(answer);
      }
      const manifest = /\/releases\/([^/]+)\/manifest\.json$/.exec(url.pathname);
      if (manifest) {
        await sleep(server.manifestDelay);
        return Response.json(manifestOf(decodeURIComponent(manifest[1]!)));
      }
      if (url.pathname.endsWith('/files/app.js')) return new Response(FILE);
      if (url.pathname === '/_daylight/reports') {
        server.reports.push((JSON.parse(init!.body as string) as { kind: string }).kind);
        return new Response(null, { status: 204 });
      }
      await sleep(Number(url.searchParams.get('delay') ?? 0));
      return new Response('{}', { headers: server.stamp ? { 'daylight-release': server.stamp } : {} });
    },
  };
  return server;
}

const manifests = (server: { seen: string[] }): number => server.seen.filter((p) => p.endsWith('manifest.json')).length;

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('the way back (revert) when the page does not leave', () => {
  /** A page that a switch from 1.0.0 just landed on, as 1.0.1. */
  const landed = (navigation?: 'stay') => {
    const page = fakeBrowser({ version: '1.0.1', href: 'https://app.test/?_daylight=1.0.1', navigation });
    sessionStorage.setItem('daylight:switch', JSON.stringify({ from: '1.0.0', to: '1.0.1', state: { draft: 'x' } }));
    return page;
  };
  const options: DaylightOptions = { checkInterval: 0, timeout: 500 };

  it('without the Navigation API: gives up after timeout, lets held requests go, clears its record, restores the status', async () => {
    const page = landed();
    const server = fakeServer();
    const client = createDaylight({ ...options, fetch: server.fetch }).start();
    expect(client.revert('boom')).toBe(true);
    await until(() => page.left.length === 1);
    expect(page.left[0]).toContain('_daylight=1.0.0');
    expect(client.state.status).toBe('applying');
    // The page stays (a "leave this page?" dialog answered "stay", or the server answered 204): a save made now.
    const save = client.fetch('/api/save', { method: 'POST' }).then(() => 'answered');
    expect(await Promise.race([save, sleep(2_000).then(() => 'still held')])).toBe('answered');
    expect(client.state.status).toBe('idle');
    // No way back on record: the next reload is no false stale shell.
    expect(sessionStorage.getItem('daylight:switch')).toBeNull();
    expect(page.stopped).toBe(1); // the navigation still pending is cancelled
  });

  it('with the Navigation API: a way back answered "stay" restores the status and clears its record at once', async () => {
    const page = landed('stay');
    const client = createDaylight({ ...options, fetch: fakeServer().fetch }).start();
    expect(client.revert('boom')).toBe(true);
    await until(() => page.left.length === 1);
    await until(() => client.state.status !== 'applying');
    expect(client.state.status).toBe('idle');
    expect(sessionStorage.getItem('daylight:switch')).toBeNull();
    await sleep(700); // past timeout: a page that stayed is not stopped later
    expect(page.stopped).toBe(0);
  });
});

describe('apply()', () => {
  /** A client with 1.1.0 (a minor: prompted) ready. */
  const readyClient = async (options: DaylightOptions = {}) => {
    const page = fakeBrowser();
    const server = fakeServer();
    server.release = { version: '1.1.0', revision: 1 };
    const client = createDaylight({ checkInterval: 0, timeout: 1_000, ...options, fetch: server.fetch }).start();
    await client.check();
    await until(() => client.state.status === 'ready');
    return { page, server, client };
  };

  it('does not switch when a rollback arrived while it waited for a save', async () => {
    const { page, server, client } = await readyClient();
    const save = client.fetch('/api/save?delay=600', { method: 'POST' });
    // A check that a stamp asked for is on its way; it answers the rollback while the switch waits for the save.
    server.release = { version: '1.0.0', revision: 2 };
    server.checkDelay = 200;
    void client.check();
    const applied = client.apply().catch((error: unknown) => (isDaylightError(error) ? error.code : error));
    await save;
    expect(await applied).toBe('not-ready');
    expect(page.left).toEqual([]);
    expect(client.state.status).toBe('idle');
  });

  it('does not switch when stop() was called while it waited for a save', async () => {
    const { page, client } = await readyClient();
    const save = client.fetch('/api/save?delay=600', { method: 'POST' });
    const applied = client.apply().catch((error: unknown) => (isDaylightError(error) ? error.code : error));
    setTimeout(() => client.stop(), 200);
    await save;
    expect(await applied).toBe('not-ready');
    expect(page.left).toEqual([]);
    expect(client.state.status).toBe('inert');
  });

  it('cancels the navigation still pending when the page did not leave within timeout', async () => {
    const { page, client } = await readyClient({ timeout: 300 });
    const applied = client.apply().catch((error: unknown) => (isDaylightError(error) ? error.code : error));
    expect(await applied).toBe('timeout');
    expect(page.left).toHaveLength(1);
    expect(page.stopped).toBe(1);
    expect(client.state.status).toBe('ready');
    expect(sessionStorage.getItem('daylight:switch')).toBeNull();
  });

  it('stopped while the page was leaving: a page that stays after all stays inert', async () => {
    const { page, server, client } = await readyClient({ timeout: 300 });
    const applied = client.apply().catch((error: unknown) => (isDaylightError(error) ? error.code : error));
    await until(() => page.left.length === 1);
    client.stop();
    expect(await applied).toBe('timeout');
    expect(client.state.status).toBe('inert');
    server.stamp = 'v="1.2.0"';
    await client.fetch('/api/inbox'); // its stamp asks for nothing
    await sleep(100);
    expect(server.seen.filter((path) => path === '/_daylight/release')).toHaveLength(1);
  });
});

describe('release checks', () => {
  it('stop() during a release check in flight: its answer starts nothing', async () => {
    const page = fakeBrowser();
    const server = fakeServer();
    server.checkDelay = 100;
    const client = createDaylight({ fetch: server.fetch, checkInterval: 0, safeMoments: { idle: 50 } }).start();
    const events: string[] = [];
    for (const type of ['available', 'downloaded']) client.addEventListener(type, () => events.push(type));
    const checked = client.check().catch(() => undefined);
    client.stop();
    await checked;
    await sleep(300);
    expect(manifests(server)).toBe(0);
    expect(events).toEqual([]);
    expect(client.state.status).toBe('inert');
    expect(page.left).toEqual([]);
  });

  it('a stale answer (an older revision) does not move the floor', async () => {
    fakeBrowser();
    const server = fakeServer();
    server.manifestDelay = 200;
    const client = createDaylight({ fetch: server.fetch, checkInterval: 0, policy: 'prompt' }).start();
    server.release = { version: '1.0.1', revision: 2 };
    expect(await client.check()).toBe(true); // downloading 1.0.1
    // A server that has not seen the latest change yet, with a floor that was lowered since: ignored.
    server.release = { version: '1.0.1', revision: 1, min: '1.0.1' };
    expect(await client.check()).toBe(false);
    await until(() => client.state.status === 'ready');
    expect(client.state.policy).toBe('prompt'); // not forced by the stale floor
  });

  it('observe() reads the stamp of a refusal whose problem body the app already read, without throwing', async () => {
    fakeBrowser();
    const server = fakeServer();
    const client = createDaylight({ fetch: server.fetch, checkInterval: 0 }).start();
    const problem = { type: 'https://daylight.dev/problems/client-too-old', required: '>=1.0.1' };
    const response = new Response(JSON.stringify(problem), {
      status: 409,
      headers: { 'content-type': 'application/problem+json', 'daylight-release': 'v="1.0.1", min="1.0.1"' },
    });
    await response.json(); // the app read it first
    expect(() => client.observe(response, 'POST')).not.toThrow();
    await until(() => server.seen.includes('/_daylight/release')); // the stamp asked for a check
  });
});

describe('guards across releases', () => {
  it('a safe moment refused for one release does not switch to the next one at once', async () => {
    const page = fakeBrowser();
    const server = fakeServer();
    // Default moments: navigation, hidden after 5 s, idle after 2 min. 1.0.1 is a patch: automatic.
    const client = createDaylight({ fetch: server.fetch, checkInterval: 0 }).start();
    await client.check();
    await until(() => client.state.status === 'ready');
    page.focus('TEXTAREA'); // someone types, and the app navigates: the moment is refused
    history.pushState(null, '', '/x');
    server.release = { version: '1.0.0', revision: 2 }; // 1.0.1 is rolled back
    await client.check();
    expect(client.state.status).toBe('idle');
    page.focus('BODY'); // later, reading; no safe moment comes
    server.release = { version: '1.0.2', revision: 3 };
    await client.check();
    await until(() => client.state.status === 'ready');
    await sleep(300);
    expect(page.left).toEqual([]);
    history.pushState(null, '', '/y'); // the next safe moment switches
    await until(() => page.left.length === 1);
    expect(page.left[0]).toContain('_daylight=1.0.2');
  });

  it('a release the loop guard refused is not downloaded again on every stamped response', async () => {
    fakeBrowser();
    // This tab already switched to 1.0.1 once, and no healthy boot re-armed the guard.
    sessionStorage.setItem('daylight:attempts', JSON.stringify({ '1.0.1': 1 }));
    const server = fakeServer();
    server.stamp = 'v="1.0.1"';
    const client = createDaylight({ fetch: server.fetch, checkInterval: 0, safeMoments: { idle: 50 } }).start();
    let downloaded = 0;
    client.addEventListener('downloaded', () => downloaded++);
    for (let i = 0; i < 5; i++) {
      await client.fetch('/api/inbox');
      await sleep(300);
    }
    expect(client.state.errorCode).toBe('loop-guard');
    expect(manifests(server)).toBe(1);
    expect(downloaded).toBe(1);
    expect(server.reports).toEqual(['loop-guard']);
  });
});
