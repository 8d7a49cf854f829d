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

  it('the retiring worker deletes every cache but Daylight’s own and unregisters itself, and answers no request', () => {
    expect(RETIRING_WORKER_SOURCE).toContain("name.indexOf('daylight-') !== 0");
    expect(RETIRING_WORKER_SOURCE).toContain('self.registration.unregister()');
    expect(RETIRING_WORKER_SOURCE).not.toContain("'fetch'");
    expect(RETIRING_WORKER_SOURCE).not.toContain('navigate(');
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
