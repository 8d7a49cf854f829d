/**
 * `retireServiceWorkers`: the shell handler answers the worker scripts an app registered before it used
 * Daylight with a worker that removes itself, and says so (a few paths at most) when a browser asks for a worker
 * script that it does not serve. e2e/service-worker-retire.spec.ts proves the migration in Chromium.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createDaylight } from './server.js';
import { RETIRING_WORKER_SOURCE } from './service-worker.js';
import { createReleaseStore, createTestLogger, type ReleaseStore } from './test-support.js';
import type { DaylightServer, DaylightServerOptions } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serverWith(options: Omit<DaylightServerOptions, 'config'> = {}) {
  const store: ReleaseStore = await createReleaseStore();
  cleanups.push(() => store.cleanup());
  const logger = createTestLogger();
  const daylight: DaylightServer = createDaylight({ config: store.registryFile, logger, ...options });
  cleanups.push(() => Promise.resolve(daylight.close()));
  await daylight.ready;
  return { daylight, logger };
}

const workerCheck = (path: string, method = 'GET') => ({
  method,
  path,
  headers: { 'service-worker': 'script', accept: '*/*' },
});

/** The retiring worker run in Node against a fake `self`: an origin whose old app cached its files. */
function retiringWorker(open: string[]) {
  const listeners = new Map<string, (event: unknown) => void>();
  const store = new Map<string, Map<string, Response>>([
    ['office-precache-v1', new Map([['https://app.test/assets/lazy.js', new Response('old lazy chunk')]])],
    ['office-api-v1', new Map([['https://app.test/api/inbox', new Response('stale inbox')]])],
    ['daylight-1.0.0', new Map()],
  ]);
  const state = { open, unregistered: false, network: [] as string[], pageLists: 0 };
  const cacheOf = (name: string) => ({
    match: (url: string) => Promise.resolve(store.get(name)?.get(url)?.clone()),
    put: (url: string, response: Response) => {
      store.get(name)!.set(url, response);
      return Promise.resolve();
    },
  });
  const caches = {
    keys: () => Promise.resolve([...store.keys()]),
    open: (name: string) => {
      if (!store.has(name)) store.set(name, new Map());
      return Promise.resolve(cacheOf(name));
    },
    delete: (name: string) => Promise.resolve(store.delete(name)),
    match: (request: { url: string }) =>
      Promise.resolve(
        [...store.values()]
          .find((entries) => entries.has(request.url))
          ?.get(request.url)
          ?.clone(),
      ),
  };
  const fetch = (request: { url: string }) => {
    state.network.push(new URL(request.url).pathname);
    return Promise.resolve(new Response('from the network'));
  };
  const self = {
    location: { href: 'https://app.test/sw.js' },
    addEventListener: (type: string, listener: (event: unknown) => void) => listeners.set(type, listener),
    skipWaiting: () => Promise.resolve(),
    registration: {
      unregister: () => {
        state.unregistered = true;
        return Promise.resolve(true);
      },
    },
    clients: {
      matchAll: () => {
        state.pageLists++;
        return Promise.resolve(state.open.map((id) => ({ id })));
      },
    },
  };
  const start = () =>
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the served worker, run against fakes
    (new Function('self', 'caches', 'fetch', RETIRING_WORKER_SOURCE) as (...args: unknown[]) => void)(
      self,
      caches,
      fetch,
    );
  start();
  /** A GET from page `clientId`; the answer's text, or 'not answered' when the worker leaves it to the browser. */
  const request = async (clientId: string, path: string, destination = 'script', mode = 'no-cors') => {
    let answer: Promise<Response> | undefined;
    let work: Promise<unknown> = Promise.resolve();
    listeners.get('fetch')!({
      clientId: mode === 'navigate' ? '' : clientId,
      resultingClientId: mode === 'navigate' ? clientId : '',
      request: { method: 'GET', url: `https://app.test${path}`, destination, mode },
      respondWith: (promise: Promise<Response>) => (answer = promise),
      waitUntil: (promise: Promise<unknown>) => (work = promise),
    });
    const text = answer ? await (await answer).text() : 'not answered';
    await work;
    return text;
  };
  /** The browser stops the idle worker and starts it again: the same caches, no memory. */
  const restart = () => {
    listeners.clear();
    start();
  };
  return { state, store, request, restart };
}

describe('the retiring worker', () => {
  it("keeps the old app's open pages loading their files from the old caches, then removes itself and them", async () => {
    const worker = retiringWorker(['old-tab']);
    // The old tab's lazy chunk: from its cache, as before (the server no longer has it).
    expect(await worker.request('old-tab', '/assets/lazy.js')).toBe('old lazy chunk');
    // Never an API answer from a cache (fetch/XHR): the network, as without a worker.
    expect(await worker.request('old-tab', '/api/inbox', '')).toBe('not answered');
    // A navigation goes to the network; the page it opens is the new app's, which gets nothing from old caches.
    expect(await worker.request('daylight-tab', '/', 'document', 'navigate')).toBe('not answered');
    worker.state.open = ['old-tab', 'daylight-tab'];
    expect(await worker.request('daylight-tab', '/assets/lazy.js')).toBe('from the network');
    expect(worker.state.network).toEqual(['/assets/lazy.js']);
    expect(worker.state.unregistered).toBe(false); // the old tab is still open

    // The browser stopped the worker meanwhile; the old tab closes; the next request finishes the job.
    worker.restart();
    worker.state.open = ['daylight-tab'];
    expect(await worker.request('daylight-tab', '/_daylight/releases/1.0.0/files/app.js')).toBe('from the network');
    expect(worker.state.unregistered).toBe(true);
    expect([...worker.store.keys()]).toEqual(['daylight-1.0.0']);
  });

  it('asks for the open pages once for requests that come together, not once per request', async () => {
    const worker = retiringWorker(['old-tab']);
    await Promise.all(Array.from({ length: 20 }, (_, i) => worker.request('old-tab', `/assets/lazy.js?${i}`)));
    expect(worker.state.pageLists).toBe(1);
    await worker.request('old-tab', '/assets/lazy.js');
    expect(worker.state.pageLists).toBe(2); // the next request, later, looks again
    expect(worker.state.unregistered).toBe(false);
  });

  it('treats a page it did not open as the old app’s, also one loaded while it took over', async () => {
    const worker = retiringWorker([]);
    // A reload the old worker answered just before this one took over: the page appears without a navigation here.
    worker.state.open = ['reloaded-old-tab'];
    expect(await worker.request('reloaded-old-tab', '/assets/lazy.js')).toBe('old lazy chunk');
    expect(worker.state.unregistered).toBe(false);
    expect([...worker.store.keys()]).toContain('office-precache-v1');
  });
});

describe('retireServiceWorkers', () => {
  it('answers a listed path with the retiring worker, for GET and HEAD, whatever the request says', async () => {
    const { daylight } = await serverWith({ retireServiceWorkers: ['/sw.js', '/static/service-worker.js'] });
    for (const path of ['/sw.js', '/static/service-worker.js']) {
      const answer = await daylight.handleShell(workerCheck(path));
      expect(answer?.status).toBe(200);
      expect(answer?.headers).toMatchObject({
        'Content-Type': 'text/javascript; charset=utf-8',
        'Cache-Control': 'no-cache',
        'Service-Worker-Allowed': '/',
      });
      expect(Buffer.from(answer!.body as Uint8Array).toString()).toBe(RETIRING_WORKER_SOURCE);
    }
    const head = await daylight.handleShell(workerCheck('/sw.js', 'HEAD'));
    expect(head?.status).toBe(200);
    expect(head?.body).toBeUndefined();
    // Without the header too (a person opening it): the same script, which does nothing in a page.
    expect((await daylight.handleShell({ method: 'GET', path: '/sw.js', headers: {} }))?.status).toBe(200);
  });

  it('without the option, a worker script it does not serve is a 404, logged once per path for a few paths', async () => {
    const { daylight, logger } = await serverWith();
    for (let i = 0; i < 3; i++) expect((await daylight.handleShell(workerCheck('/sw.js')))?.status).toBe(404);
    const warnings = () => logger.entries.filter((entry) => entry.level === 'warn').map((entry) => entry.message);
    expect(warnings()).toEqual([
      expect.stringMatching(
        /^daylight: a browser asked for the service worker script \/sw\.js, which this server does not serve \(404\).*createDaylight\(\{ retireServiceWorkers: \["\/sw\.js"\] \}\)/,
      ),
    ]);
    // A file that is no worker script (no Service-Worker header): a 404 with nothing to say.
    expect((await daylight.handleShell({ method: 'GET', path: '/favicon.ico', headers: {} }))?.status).toBe(404);
    // Anyone can send the header with any path: five paths at most are logged.
    for (let i = 0; i < 20; i++) await daylight.handleShell(workerCheck(`/made-up-${i}.js`));
    expect(warnings()).toHaveLength(5);
  });

  it.each([
    ['not a list', '/sw.js', /must be a list of script paths, such as \["\/sw\.js"\], got "\/sw\.js"/],
    [
      'a relative path',
      ['sw.js'],
      /holds the paths of worker scripts on this origin, such as \["\/sw\.js"\], got "sw\.js"/,
    ],
    ['another origin', ['//cdn.example/sw.js'], /got "\/\/cdn\.example\/sw\.js"/],
    ['a query', ['/sw.js?v=2'], /got "\/sw\.js\?v=2"/],
    ['a path without a file extension', ['/sw'], /got "\/sw"/],
    ['a path below the base', ['/_daylight/sw.js'], /\/_daylight\/sw\.js is below the basePath \/_daylight/],
  ])('refuses %s', async (_name, value, message) => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    expect(() => createDaylight({ config: store.registryFile, retireServiceWorkers: value as string[] })).toThrow(
      message,
    );
  });
});
