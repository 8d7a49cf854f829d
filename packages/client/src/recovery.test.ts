import { afterEach, describe, expect, it, vi } from 'vitest';
import type { DaylightClient } from './client.js';
import { isChunkError, recoverChunkErrors } from './recovery.js';

describe('isChunkError', () => {
  it.each([
    ['Chromium', new TypeError('Failed to fetch dynamically imported module: https://app.example/assets/a.js')],
    ['Firefox', new TypeError('error loading dynamically imported module: https://app.example/assets/a.js')],
    ['Safari', new TypeError('Importing a module script failed.')],
    ['Vite, a stylesheet', new Error('Unable to preload CSS for /assets/a.css')],
    [
      'webpack, a script',
      Object.assign(new Error('Loading chunk 7 failed.\n(missing: /7.js)'), { name: 'ChunkLoadError' }),
    ],
    ['webpack, a stylesheet', new Error('Loading CSS chunk 7 failed.\n(/7.css)')],
    ['webpack, by name only', { name: 'ChunkLoadError', message: '' }],
    ['a rejection with a string', 'Failed to fetch dynamically imported module: /a.js'],
  ])('recognises %s', (_, error) => {
    expect(isChunkError(error)).toBe(true);
  });

  it.each([
    ['a failed API call', new TypeError('Failed to fetch')],
    ['a network error', new TypeError('NetworkError when attempting to fetch resource.')],
    ['an application error', new Error('Cannot read properties of undefined')],
    ['nothing', undefined],
    ['null', null],
    ['a number', 7],
  ])('does not take %s for one', (_, error) => {
    expect(isChunkError(error)).toBe(false);
  });
});

/**
 * A window with a session history and a client that says what it does: just enough of a browser to follow where
 * a switch started by a chunk error lands. The client's `apply()` does what the real one does at the switch: it
 * emits `applying` and then reads `location.href` as the URL to navigate to (client.ts, #go).
 */
function browser(href: string) {
  const entries = [{ url: href, state: 'the router of the page' as unknown }];
  let at = 0;
  const entry = () => entries[at]!;
  const location = {
    get href() {
      return entry().url;
    },
    get origin() {
      return new URL(entry().url).origin;
    },
  };
  class History {
    get state(): unknown {
      return entry().state;
    }
    pushState(state: unknown, _: string, url: string): void {
      entries.splice(at + 1, Infinity, { url: new URL(url, entry().url).href, state });
      at++;
    }
    replaceState(state: unknown, _: string, url: string): void {
      entries[at] = { url: new URL(url, entry().url).href, state };
    }
  }
  const reported: Error[] = [];
  const window = new EventTarget();
  vi.stubGlobal('window', window);
  vi.stubGlobal('location', location);
  vi.stubGlobal('History', History);
  vi.stubGlobal('history', new History());
  vi.stubGlobal('reportError', (error: Error) => reported.push(error));

  let checked!: () => void;
  const fields: {
    state: { status: string; target?: string };
    /** How `apply()` ends: the page leaves, it stays (a "leave this page?" dialog), or the loop guard refuses. */
    ending: 'leaves' | 'stays' | 'refused';
  } = { state: { status: 'idle' }, ending: 'leaves' };
  const client = Object.assign(new EventTarget(), fields, {
    /** The URL the switch navigated to. */
    landedOn: undefined as string | undefined,
    /** Resolves once `checked()` is called: the release check found 1.1.0, downloaded and verified. */
    check: () =>
      new Promise<boolean>((resolve) => {
        checked = () => {
          client.state = { status: 'ready', target: '1.1.0' };
          resolve(true);
        };
      }),
    apply(): Promise<void> {
      if (client.ending === 'refused') return Promise.reject(new Error('1.1.0 was tried in this tab'));
      client.dispatchEvent(new CustomEvent('applying', { detail: { version: '1.1.0' } }));
      client.landedOn = location.href;
      return client.ending === 'leaves' ? new Promise(() => undefined) : Promise.reject(new Error('stayed'));
    },
    report: () => undefined,
  });
  return {
    client: client as unknown as DaylightClient,
    fake: client,
    reported,
    /** The history's URLs, and which one the page is at. */
    history: () => ({ urls: entries.map((e) => new URL(e.url).pathname), at: entries[at]!.url }),
    /** A lazy chunk fails, as Chromium says it. */
    chunkFails: () => {
      const event = Object.assign(new Event('unhandledrejection', { cancelable: true }), {
        reason: new TypeError('Failed to fetch dynamically imported module: https://app.example/assets/reports-1.js'),
      });
      window.dispatchEvent(event);
    },
    releaseReady: () => checked(),
  };
}

describe('recoverChunkErrors, where the switch lands', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it('lands on the destination a router was going to, pushed over the page the person was on', async () => {
    const page = browser('https://app.example/invoice?draft=7');
    let going: string | undefined = '/reports?q=1';
    const stop = recoverChunkErrors(page.client, { destination: () => going });
    page.chunkFails();
    going = undefined; // the router forgets its failed navigation: the destination was asked for at the error
    page.releaseReady();
    await vi.waitFor(() => expect(page.fake.landedOn).toBe('https://app.example/reports?q=1'));
    expect(page.history().urls).toEqual(['/invoice', '/reports']);
    stop();
  });

  it('lands on the current URL without a destination, or with one that is the current URL', async () => {
    for (const destination of [undefined, () => undefined, () => null, () => '/invoice', () => location.href]) {
      const page = browser('https://app.example/invoice');
      const stop = recoverChunkErrors(page.client, destination ? { destination } : {});
      page.chunkFails();
      page.releaseReady();
      await vi.waitFor(() => expect(page.fake.landedOn).toBe('https://app.example/invoice'));
      expect(page.history().urls).toEqual(['/invoice']);
      expect(page.reported).toEqual([]);
      stop();
    }
  });

  it('leaves the person where they went when the URL changed between the chunk error and the switch', async () => {
    const page = browser('https://app.example/invoice');
    const stop = recoverChunkErrors(page.client, { destination: () => '/reports' });
    page.chunkFails();
    history.pushState(null, '', '/inbox'); // the person clicked elsewhere while the release downloaded
    page.releaseReady();
    await vi.waitFor(() => expect(page.fake.landedOn).toBe('https://app.example/inbox'));
    expect(page.history().urls).toEqual(['/invoice', '/inbox']);
    stop();
  });

  it('takes the latest destination named before the switch', async () => {
    const page = browser('https://app.example/invoice');
    let going = '/reports';
    const stop = recoverChunkErrors(page.client, { destination: () => going });
    page.chunkFails();
    going = '/settings';
    page.chunkFails();
    page.releaseReady();
    await vi.waitFor(() => expect(page.fake.landedOn).toBe('https://app.example/settings'));
    stop();
  });

  it('pushes nothing when the switch is refused before it starts (the loop guard)', async () => {
    const page = browser('https://app.example/invoice');
    page.fake.ending = 'refused';
    const onStale = vi.fn();
    const stop = recoverChunkErrors(page.client, { destination: () => '/reports', onStale });
    page.chunkFails();
    page.releaseReady();
    await vi.waitFor(() => expect(onStale).toHaveBeenCalledOnce());
    expect(page.history()).toEqual({ urls: ['/invoice'], at: 'https://app.example/invoice' });
    stop();
  });

  it('gives a page that stays after all its URL and history state back', async () => {
    const page = browser('https://app.example/invoice');
    page.fake.ending = 'stays';
    const onStale = vi.fn();
    const stop = recoverChunkErrors(page.client, { destination: () => '/reports', onStale });
    page.chunkFails();
    page.releaseReady();
    await vi.waitFor(() => expect(onStale).toHaveBeenCalledOnce());
    expect(page.fake.landedOn).toBe('https://app.example/reports');
    expect(page.history().at).toBe('https://app.example/invoice');
    expect(history.state).toBe('the router of the page');
    stop();
  });

  it.each([
    [
      'a hook that throws',
      () => {
        throw new Error('the router is gone');
      },
      /the destination hook threw/,
    ],
    [
      'a URL of another origin',
      () => 'https://elsewhere.example/reports',
      /of this page's origin \(https:\/\/app\.example\), got https:\/\/elsewhere\.example\/reports/,
    ],
    [
      'a router location object',
      () => ({ pathname: '/reports' }) as never,
      /got \[object Object\] \(a router's location object\?/,
    ],
    ['no URL', () => 'http://[', /returned "http:\/\/\[", which is no URL/],
  ])('reports %s and lands on the current URL', async (_, destination, message) => {
    const page = browser('https://app.example/invoice');
    const stop = recoverChunkErrors(page.client, { destination });
    page.chunkFails();
    page.releaseReady();
    await vi.waitFor(() => expect(page.fake.landedOn).toBe('https://app.example/invoice'));
    expect(page.reported).toHaveLength(1);
    expect(page.reported[0]).toBeInstanceOf(TypeError);
    expect(page.reported[0]!.message).toMatch(/^recoverChunkErrors: /);
    expect(page.reported[0]!.message).toMatch(message);
    expect(page.reported[0]!.message).toMatch(/the switch lands on the current URL$/);
    stop();
  });

  it('refuses a destination that is not a function, naming it', () => {
    expect(() => recoverChunkErrors({} as DaylightClient, { destination: '/reports' as never })).toThrow(
      new TypeError(
        'recoverChunkErrors: destination must be a function that returns where a navigation was going, got string',
      ),
    );
  });
});
