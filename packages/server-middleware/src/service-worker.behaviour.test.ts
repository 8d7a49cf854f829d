/**
 * The worker script itself, run in Node with a fake `self`, `caches` and
 * `fetch` (the real `Response`, `URL` and WebCrypto): the same source the
 * middleware serves, driven through its `message` and `fetch` listeners.
 * e2e/service-worker*.spec.ts prove the same in Chromium; these pin the
 * cases a browser makes hard to reach (a full disk, a failing Cache API).
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { compareVersions } from '@daylight/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { SERVICE_WORKER_SOURCE } from './service-worker.js';

const ORIGIN = 'https://app.test';
const BASE = '/_daylight';

type Listener = (event: unknown) => void;
interface Reply {
  ok: boolean;
  versions?: string[];
  error?: string;
}

const file = (version: string): string => `console.log(${JSON.stringify(version)});`;
/** Every release also has `lib.js`, the same bytes in each unless `state.lib` gives a version its own. */
const SHARED_LIB = 'export const shared = 1;';
const chunk = (i: number): string => `export const chunk = ${i};`;
const sri = (body: string): string => `sha384-${createHash('sha384').update(body).digest('base64')}`;
const shellOf = (version: string): string =>
  `<!doctype html><meta name="daylight-release" content="${version}"><script src="app.js"></script>`;

/** A fake browser around one worker: an origin serving `published` releases, a Cache API and open tabs. */
function browser(published: string[] = ['1.0.0', '1.1.0', '1.2.0']) {
  const listeners = new Map<string, Listener>();
  const store = new Map<string, Map<string, Response>>();
  const state = {
    online: true,
    full: false,
    matchFails: false,
    tabs: [] as string[],
    proxyError: 0,
    /** A slow server: a manifest's body starts and never ends. */
    manifestStalls: false,
    lib: {} as Record<string, string>,
    /** How many more files every release names beside app.js and lib.js (`chunk-<i>.js`, the same bytes in each). */
    chunks: 0,
    /** How many times the worker listed the caches (`caches.keys()`). */
    listings: 0,
  };
  const lib = (version: string): string => state.lib[version] ?? SHARED_LIB;
  const key = (request: string | { url: string }): string =>
    new URL(typeof request === 'string' ? request : request.url, ORIGIN).href;
  const full = (): never => {
    throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
  };
  const cache = (name: string) => ({
    match: (request: string) => Promise.resolve(store.get(name)?.get(key(request))?.clone()),
    put: (request: string, response: Response) => {
      if (state.full) full();
      if (!store.has(name)) store.set(name, new Map());
      store.get(name)!.set(key(request), response);
      return Promise.resolve();
    },
  });
  const caches = {
    keys: () => {
      state.listings++;
      return Promise.resolve([...store.keys()]);
    },
    open: (name: string) => {
      if (!store.has(name)) {
        if (state.full) full();
        store.set(name, new Map());
      }
      return Promise.resolve(cache(name));
    },
    delete: (name: string) => Promise.resolve(store.delete(name)),
    match: (request: string | { url: string }, options: { cacheName: string }) => {
      if (state.matchFails) return Promise.reject(new DOMException('Cache storage is broken', 'UnknownError'));
      return cache(options.cacheName).match(key(request));
    },
  };
  const network: string[] = [];
  const fetch = (input: string | { url: string }): Promise<Response> => {
    const url = new URL(key(input));
    network.push(url.pathname + url.search);
    if (!state.online) return Promise.reject(new TypeError('Failed to fetch'));
    // A reverse proxy whose server is down: every request gets its error page.
    if (state.proxyError) return Promise.resolve(new Response('Bad gateway', { status: state.proxyError }));
    const manifest = /^\/_daylight\/releases\/([^/]+)\/manifest\.json$/.exec(url.pathname);
    const files = /^\/_daylight\/releases\/([^/]+)\/files\/(app|lib|chunk-\d+)\.js$/.exec(url.pathname);
    const segment = manifest?.[1] ?? files?.[1];
    const version =
      (segment === undefined ? undefined : decodeURIComponent(segment)) ??
      url.searchParams.get('_daylight') ??
      published.at(-1)!;
    if (!published.includes(version)) return Promise.resolve(new Response('Not found', { status: 404 }));
    if (manifest && state.manifestStalls) {
      const stalled = new ReadableStream<Uint8Array>({ start: (out) => out.enqueue(new TextEncoder().encode('{')) });
      return Promise.resolve(new Response(stalled, { headers: { 'Content-Type': 'application/json' } }));
    }
    if (manifest)
      return Promise.resolve(
        Response.json({
          version,
          assets: [
            { url: 'files/app.js', integrity: sri(file(version)) },
            { url: 'files/lib.js', integrity: sri(lib(version)) },
            ...Array.from({ length: state.chunks }, (_, i) => ({
              url: `files/chunk-${i}.js`,
              integrity: sri(chunk(i)),
            })),
          ],
        }),
      );
    if (files) {
      const name = files[2]!;
      const body = name === 'lib' ? lib(version) : name === 'app' ? file(version) : chunk(Number(name.slice(6)));
      return Promise.resolve(new Response(body, { headers: { 'Content-Type': 'text/javascript' } }));
    }
    return Promise.resolve(new Response(shellOf(version), { headers: { 'Content-Type': 'text/html; charset=utf-8' } }));
  };
  const self = {
    location: { href: `${ORIGIN}${BASE}/sw.js`, origin: ORIGIN },
    addEventListener: (type: string, listener: Listener) => listeners.set(type, listener),
    skipWaiting: () => Promise.resolve(),
    clients: {
      // A tab is its id, or `id@/path` for a window on another page of the origin.
      matchAll: () =>
        Promise.resolve(
          state.tabs.map((tab) => {
            const [id, path = '/'] = tab.split('@');
            return { id, url: `${ORIGIN}${path}` };
          }),
        ),
      claim: () => Promise.resolve(),
    },
  };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the served worker, run against fakes
  const run = new Function('self', 'caches', 'fetch', `${SERVICE_WORKER_SOURCE}\n;return { compare: compare };`) as (
    ...args: unknown[]
  ) => { compare: (a: string, b: string) => number };
  let internals = run(self, caches, fetch);
  /** The browser stops an idle worker and starts it again for the next event: the same caches, no memory. */
  const restart = (): void => {
    internals = run(self, caches, fetch);
  };

  /** Posts a message from tab `from` and resolves with the worker's reply (`undefined`: none) once its work is done. */
  async function send(from: string, data: Record<string, unknown>): Promise<Reply | undefined> {
    let reply: Reply | undefined;
    let work: Promise<unknown> = Promise.resolve();
    listeners.get('message')!({
      data,
      source: { id: from },
      ports: [{ postMessage: (message: Reply) => (reply ??= message) }],
      waitUntil: (promise: Promise<unknown>) => (work = promise),
    });
    await work;
    return reply;
  }

  /** A GET the page makes (`navigate`: a navigation); `undefined` when the worker leaves it to the network. */
  async function request(path: string, mode = 'no-cors'): Promise<Response | undefined> {
    let answer: Promise<Response> | undefined;
    listeners.get('fetch')!({
      request: { method: 'GET', url: `${ORIGIN}${path}`, mode },
      respondWith: (promise: Promise<Response>) => (answer = promise),
    });
    return answer;
  }

  /** A navigation's answer: the shell's version, or the network error the page would get. */
  const navigate = (path: string): Promise<string> =>
    request(path, 'navigate').then(
      async (answer) => /content="([^"]+)"/.exec((await answer?.text()) ?? '')?.[1] ?? 'no shell',
      (error: Error) => `failed: ${error.message}`,
    );

  const cached = () => [...store.keys()].filter((name) => name !== 'daylight-meta').sort();
  return { state, store, send, request, navigate, cached, network, restart, compare: internals.compare };
}

/**
 * Tab a ran 1.0.0 (its shell cached) and cached 1.2.0; the switch's navigation opened page b on 1.2.0, which
 * has not called ready() yet.
 */
async function switchedNotBooted(): Promise<ReturnType<typeof browser>> {
  const b = browser();
  b.state.tabs = ['a'];
  await b.send('a', {
    type: 'daylight:running',
    version: '1.0.0',
    precache: true,
    shell: `${ORIGIN}/?_daylight=1.0.0`,
  });
  await b.send('a', { type: 'daylight:precache', version: '1.2.0', shell: `${ORIGIN}/?_daylight=1.2.0` });
  b.state.tabs = ['b'];
  await b.send('b', { type: 'daylight:running', version: '1.2.0', previous: '1.0.0', precache: true });
  return b;
}

describe('the worker: a way back to the release a tab came from', () => {
  it('keeps the previous release of a tab whose new page has not called ready(), until it does', async () => {
    const b = await switchedNotBooted();
    expect(b.cached()).toEqual(['daylight-1.0.0', 'daylight-1.2.0']);

    // Its watchdog goes back, offline: the way back gets 1.0.0's shell, not the one that failed.
    b.state.online = false;
    expect(await b.navigate('/?_daylight=1.0.0')).toBe('1.0.0');

    // Had 1.2.0 booted (ready()), the tab would have said so: then 1.0.0 is no longer needed.
    b.state.online = true;
    await b.send('b', { type: 'daylight:running', version: '1.2.0', precache: true });
    expect(b.cached()).toEqual(['daylight-1.2.0']);
  });

  it("answers a navigation asking for one version only with that version's shell, never another's", async () => {
    const b = browser();
    b.state.tabs = ['a'];
    await b.send('a', { type: 'daylight:running', version: '1.0.0', precache: true });
    await b.send('a', { type: 'daylight:precache', version: '1.2.0', shell: `${ORIGIN}/?_daylight=1.2.0` });
    b.state.online = false;
    // 1.0.0's files are cached, its shell is not: the navigation fails as it would without the worker.
    expect(await b.navigate('/?_daylight=1.0.0')).toBe('failed: Failed to fetch');
    expect(await b.navigate('/?_daylight=not-a-version')).toBe('failed: Failed to fetch');
    expect(await b.navigate('/?_daylight=1.2.0')).toBe('1.2.0');
  });
});

describe('the worker: offline, a reload gets the release tabs last ran healthily', () => {
  it('prefers it to a newer cached release that was rolled back', async () => {
    const b = await switchedNotBooted();
    // The way back: 1.2.0 did not boot.
    b.state.tabs = ['c'];
    await b.send('c', {
      type: 'daylight:running',
      version: '1.0.0',
      precache: true,
      shell: `${ORIGIN}/?_daylight=1.0.0`,
    });

    b.state.online = false;
    expect(await b.navigate('/')).toBe('1.0.0');
    // A tab that never ran a release is still offered the newest one rather than nothing.
    const fresh = browser();
    fresh.state.tabs = ['a'];
    await fresh.send('a', { type: 'daylight:precache', version: '1.1.0', shell: `${ORIGIN}/?_daylight=1.1.0` });
    fresh.state.online = false;
    expect(await fresh.navigate('/')).toBe('1.1.0');
  });
});

describe('the worker: a switch behind a proxy whose server is down', () => {
  it("answers ?_daylight=<v> with <v>'s cached shell rather than the proxy's 502/503/504, and nothing else", async () => {
    const b = await switchedNotBooted();
    for (const status of [502, 503, 504]) {
      b.state.proxyError = status;
      expect(await b.navigate('/?_daylight=1.0.0')).toBe('1.0.0');
    }
    // Not cached: the proxy's page, as without the worker. An ordinary navigation: the server's answer, always.
    const answer = await b.request('/?_daylight=1.1.0', 'navigate');
    expect(answer?.status).toBe(504);
    expect((await b.request('/inbox', 'navigate'))?.status).toBe(504);
    b.state.proxyError = 500;
    expect((await b.request('/?_daylight=1.0.0', 'navigate'))?.status).toBe(500);
  });
});

describe('the worker: windows that never report', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Tab a ran 1.0.0 and switched: page b runs 1.1.0 (booted), alongside `other`. */
  async function switchedBeside(other: string): Promise<ReturnType<typeof browser>> {
    const b = browser();
    b.state.tabs = ['a', other];
    await b.send('a', { type: 'daylight:running', version: '1.0.0', precache: true });
    await b.send('a', { type: 'daylight:precache', version: '1.1.0' });
    b.state.tabs = ['b', other];
    await b.send('b', { type: 'daylight:running', version: '1.1.0', precache: true });
    return b;
  }

  it("do not keep old releases when they are Daylight's own pages (the status page)", async () => {
    const b = await switchedBeside('admin@/_daylight/admin/');
    expect(b.cached()).toEqual(['daylight-1.1.0']);
  });

  it('keep old releases for a minute, then no longer (another app on the origin, a help page)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const b = await switchedBeside('help@/help.html');
    // It may be a tab whose report has not come yet.
    expect(b.cached()).toEqual(['daylight-1.0.0', 'daylight-1.1.0']);
    vi.setSystemTime(Date.now() + 61_000);
    await b.send('b', { type: 'daylight:running', version: '1.1.0', precache: true });
    expect(b.cached()).toEqual(['daylight-1.1.0']);
  });

  it('keep that minute when the browser restarts the worker in between', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const b = await switchedBeside('help@/help.html');
    for (let i = 0; i < 3; i++) {
      vi.setSystemTime(Date.now() + 30_000);
      b.restart();
      await b.send('b', { type: 'daylight:running', version: '1.1.0', precache: true });
    }
    expect(b.cached()).toEqual(['daylight-1.1.0']);
  });
});

describe('the worker: a file another release already has', () => {
  /** Tab a runs 1.0.0, its release cached by the worker; `network` then starts empty. */
  async function runningOneZero(): Promise<ReturnType<typeof browser>> {
    const b = browser();
    b.state.tabs = ['a'];
    await b.send('a', { type: 'daylight:running', version: '1.0.0', precache: true });
    expect(b.network).toContain('/_daylight/releases/1.0.0/files/lib.js');
    b.network.length = 0;
    return b;
  }
  const text = async (answer: Promise<Response | undefined>): Promise<string | undefined> => (await answer)?.text();

  it('is copied into the new release’s cache, not downloaded again; a changed file is downloaded', async () => {
    const b = await runningOneZero();
    b.state.lib['1.2.0'] = 'export const shared = 2;';
    // Two tabs on 1.0.0, one downloading 1.1.0, the other 1.2.0.
    b.state.tabs = ['a', 'b'];
    await b.send('b', { type: 'daylight:running', version: '1.0.0' });
    await b.send('a', { type: 'daylight:precache', version: '1.1.0' });
    await b.send('b', { type: 'daylight:precache', version: '1.2.0' });
    expect(b.network).toEqual([
      '/_daylight/releases/1.1.0/manifest.json',
      '/_daylight/releases/1.1.0/files/app.js',
      '/_daylight/releases/1.2.0/manifest.json',
      '/_daylight/releases/1.2.0/files/app.js',
      '/_daylight/releases/1.2.0/files/lib.js', // same path, other bytes
    ]);
    // Each version's cache answers with its own bytes, offline too.
    b.state.online = false;
    expect(await text(b.request('/_daylight/releases/1.1.0/files/lib.js'))).toBe(SHARED_LIB);
    expect(await text(b.request('/_daylight/releases/1.2.0/files/lib.js'))).toBe('export const shared = 2;');
    expect(await text(b.request('/_daylight/releases/1.1.0/files/app.js'))).toBe(file('1.1.0'));
  });

  it("answers a download's request from another release's cache when the manifest names the same bytes", async () => {
    const b = await runningOneZero();
    b.state.lib['1.2.0'] = 'export const shared = 2;';
    // The tab's own verified download of 1.1.0 goes through the worker before the worker caches 1.1.0: first
    // the manifest (passed on, and read on the way), then the files.
    const manifest = await b.request('/_daylight/releases/1.1.0/manifest.json');
    expect(((await manifest?.json()) as { version: string }).version).toBe('1.1.0');
    expect(await text(b.request('/_daylight/releases/1.1.0/files/lib.js'))).toBe(SHARED_LIB);
    expect(await text(b.request('/_daylight/releases/1.1.0/files/app.js'))).toBe(file('1.1.0'));
    await b.request('/_daylight/releases/1.2.0/manifest.json');
    expect(await text(b.request('/_daylight/releases/1.2.0/files/lib.js'))).toBe('export const shared = 2;');
    expect(b.network).toEqual([
      '/_daylight/releases/1.1.0/manifest.json', // the page's own request, once
      '/_daylight/releases/1.1.0/files/app.js',
      '/_daylight/releases/1.2.0/manifest.json',
      '/_daylight/releases/1.2.0/files/lib.js',
    ]);
  });

  it('never asks the server for a manifest on a file request: without one seen, the file goes to the network', async () => {
    const b = await runningOneZero();
    expect(await text(b.request('/_daylight/releases/1.1.0/files/lib.js'))).toBe(SHARED_LIB);
    expect(b.network).toEqual(['/_daylight/releases/1.1.0/files/lib.js']);
  });

  it('waits at most 2 s for a manifest whose body is slow, then lets the file go to the network', async () => {
    const b = await runningOneZero();
    b.state.manifestStalls = true;
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      await b.request('/_daylight/releases/1.1.0/manifest.json'); // its head came, its body never ends
      let answered = false;
      const file = b.request('/_daylight/releases/1.1.0/files/lib.js').then(async (answer) => {
        answered = true;
        return answer?.text();
      });
      await vi.advanceTimersByTimeAsync(1_999);
      expect(answered).toBe(false);
      expect(b.network).not.toContain('/_daylight/releases/1.1.0/files/lib.js');
      await vi.advanceTimersByTimeAsync(1);
      expect(await file).toBe(SHARED_LIB);
      expect(b.network).toEqual(['/_daylight/releases/1.1.0/manifest.json', '/_daylight/releases/1.1.0/files/lib.js']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps a version with build metadata under the URLs pages ask for (%2B)', async () => {
    const b = browser(['1.0.0', '1.1.0+build.7']);
    b.state.tabs = ['a'];
    await b.send('a', { type: 'daylight:running', version: '1.1.0+build.7', precache: true });
    b.state.online = false;
    expect(await text(b.request('/_daylight/releases/1.1.0%2Bbuild.7/files/app.js'))).toBe(file('1.1.0+build.7'));
  });

  it('is downloaded when its cached copy carries no hash the worker stored (an older worker cached it)', async () => {
    const b = await runningOneZero();
    const files = b.store.get('daylight-1.0.0')!;
    for (const [url, response] of files) {
      files.set(url, new Response(await response.text(), { headers: { 'Content-Type': 'text/javascript' } }));
    }
    await b.send('a', { type: 'daylight:precache', version: '1.1.0' });
    expect(b.network).toContain('/_daylight/releases/1.1.0/files/lib.js');
  });

  it("lists the caches once for a page's download of a release, not once per file", async () => {
    const b = browser();
    b.state.chunks = 20;
    b.state.tabs = ['a'];
    await b.send('a', { type: 'daylight:running', version: '1.0.0', precache: true });
    b.network.length = 0;
    b.state.listings = 0;
    await b.request('/_daylight/releases/1.1.0/manifest.json');
    // The page asks for its files together, as a browser does; each misses 1.1.0's cache and 1.0.0's has it.
    const paths = ['lib', ...Array.from({ length: 20 }, (_, i) => `chunk-${i}`)];
    const answers = await Promise.all(
      paths.map((name) => text(b.request(`/_daylight/releases/1.1.0/files/${name}.js`))),
    );
    expect(answers).toEqual([SHARED_LIB, ...Array.from({ length: 20 }, (_, i) => chunk(i))]);
    expect(b.network).toEqual(['/_daylight/releases/1.1.0/manifest.json']);
    expect(b.state.listings).toBe(1);
  });

  it('looks in a cache the worker created after it listed them for a download', async () => {
    const b = await runningOneZero();
    b.state.lib['1.1.0'] = b.state.lib['1.2.0'] = 'export const shared = 2;';
    await b.request('/_daylight/releases/1.1.0/manifest.json');
    // A miss: listed with 1.0.0 alone, which does not have it.
    expect(await text(b.request('/_daylight/releases/1.1.0/files/app.js'))).toBe(file('1.1.0'));
    await b.send('a', { type: 'daylight:precache', version: '1.2.0' });
    b.network.length = 0;
    expect(await text(b.request('/_daylight/releases/1.1.0/files/lib.js'))).toBe('export const shared = 2;');
    expect(b.network).toEqual([]);
  });

  it('never answers from a cache deleted after it listed them (a page reset the worker meanwhile)', async () => {
    const b = await runningOneZero();
    await b.request('/_daylight/releases/1.1.0/manifest.json');
    await text(b.request('/_daylight/releases/1.1.0/files/app.js'));
    b.store.delete('daylight-1.0.0');
    expect(await text(b.request('/_daylight/releases/1.1.0/files/lib.js'))).toBe(SHARED_LIB);
    expect(b.network).toContain('/_daylight/releases/1.1.0/files/lib.js');
  });

  it('is not looked for when no other release is cached: the request goes straight to the network', async () => {
    const b = browser();
    await b.request('/_daylight/releases/1.1.0/manifest.json');
    expect(await text(b.request('/_daylight/releases/1.1.0/files/lib.js'))).toBe(SHARED_LIB);
    expect(b.network).toEqual(['/_daylight/releases/1.1.0/manifest.json', '/_daylight/releases/1.1.0/files/lib.js']);
  });
});

describe('the worker with the storage full', () => {
  it('still answers, with the real error, and still cleans up', async () => {
    const b = browser();
    b.state.tabs = ['a'];
    await b.send('a', { type: 'daylight:running', version: '1.0.0', precache: true });
    await b.send('a', { type: 'daylight:precache', version: '1.1.0' });
    b.state.tabs = ['b'];
    await b.send('b', { type: 'daylight:running', version: '1.1.0', precache: true });
    b.state.tabs = ['c'];
    b.state.full = true;
    const answer = await b.send('c', { type: 'daylight:precache', version: '1.2.0' });
    expect(answer).toEqual({ ok: false, error: 'The quota has been exceeded.' });
    // Tab b closed; 1.0.0 (no tab runs it) made room, 1.1.0 stays (the newest cached).
    expect(b.cached()).toEqual(['daylight-1.1.0']);
  });

  it('keeps the record of tabs in memory when it cannot be saved', async () => {
    const b = browser();
    b.state.tabs = ['a', 'b'];
    b.state.full = true;
    expect(await b.send('a', { type: 'daylight:running', version: '1.0.0' })).toMatchObject({ ok: true });
    b.state.full = false;
    await b.send('b', { type: 'daylight:precache', version: '1.1.0' });
    await b.send('b', { type: 'daylight:running', version: '1.1.0', precache: true });
    await b.send('a', { type: 'daylight:precache', version: '1.0.0' });
    // a still runs 1.0.0, b runs 1.1.0: both kept, because the worker remembers a.
    expect(b.cached()).toEqual(['daylight-1.0.0', 'daylight-1.1.0']);
  });
});

describe('the worker: a file request when the Cache API fails', () => {
  it('goes to the network', async () => {
    const b = browser();
    b.state.tabs = ['a'];
    await b.send('a', { type: 'daylight:running', version: '1.0.0', precache: true });
    b.state.matchFails = true;
    const before = b.network.length;
    const answer = await b.request('/_daylight/releases/1.0.0/files/app.js');
    expect(await answer?.text()).toBe(file('1.0.0'));
    expect(b.network.slice(before)).toEqual(['/_daylight/releases/1.0.0/files/app.js']);
  });
});

describe("the worker's version order", () => {
  const { compare } = browser();
  const sign = (n: number): number => Math.sign(n);

  it('follows SemVer 2.0.0 precedence for pre-releases', () => {
    // The example of SemVer 2.0.0 §11, plus numeric identifiers of different lengths.
    const ordered = [
      '1.0.0-alpha',
      '1.0.0-alpha.1',
      '1.0.0-alpha.beta',
      '1.0.0-beta',
      '1.0.0-beta.2',
      '1.0.0-beta.11',
      '1.0.0-rc.1',
      '1.0.0-rc.9',
      '1.0.0-rc.10',
      '1.0.0',
      '1.0.1-0',
      '1.0.1',
    ];
    expect([...ordered].reverse().sort(compare)).toEqual(ordered);
    expect(compare('1.0.0-rc.10', '1.0.0-rc.9')).toBeGreaterThan(0);
    expect(compare('1.0.0-1', '1.0.0-a')).toBeLessThan(0);
    expect(compare('1.0.0-rc.1', '1.0.0-rc.1.0')).toBeLessThan(0);
    expect(compare('1.0.0-rc.1+build.5', '1.0.0-rc.1')).toBe(0);
  });

  it('agrees with @daylight/protocol on any two versions', () => {
    // Few distinct parts, so that two versions often differ in their pre-release only (rc.9 against rc.10).
    const part = fc.oneof(fc.constantFrom(0, 1, 9, 10), fc.nat({ max: 1000 })).map(String);
    const identifier = fc.oneof(part, fc.constantFrom('alpha', 'beta', 'rc', 'a1', '1a', 'x-y'));
    const core = fc.constantFrom('0', '1');
    const version = fc
      .tuple(core, core, core, fc.array(identifier, { maxLength: 3 }))
      .map(([a, b, c, pre]) => `${a}.${b}.${c}${pre.length > 0 ? `-${pre.join('.')}` : ''}`);
    fc.assert(
      fc.property(version, version, (a, b) => sign(compare(a, b)) === sign(compareVersions(a, b))),
      { numRuns: 2000 },
    );
  });
});
