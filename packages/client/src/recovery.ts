/**
 * Chunk-error recovery (`@daylight/client/recovery`). A lazy chunk that does
 * not load is usually a sign that the server moved on: `vite:preloadError`,
 * webpack's `ChunkLoadError`, and failed dynamic imports in the wording of
 * Chromium, Firefox and Safari trigger a release check. If a newer release
 * exists, the tab switches to it (under the client's loop guard: at most once
 * per version until a healthy boot). If not — an ad-blocker, a flaky network,
 * a deleted file — it does not reload: it reports a `stale-asset`, which the
 * server tells apart from application errors. The switch lands where the
 * person was going: the current URL, or the `destination` the app names for a
 * router that changes the URL only once the route's code has loaded.
 */
import type { DaylightClient } from './client.js';
import { delayOption, optionNames } from './delay.js';

export interface RecoveryOptions {
  /**
   * How long to wait for a newer release to download before giving up, in ms.
   * @default 60_000
   */
  timeout?: number;
  /** Called when a chunk failed and there is nothing newer to switch to (after the report). */
  onStale?: (error: unknown) => void;
  /**
   * Where the person was going when the chunk failed, for a router that loads a route's code before it changes
   * the URL (Vue Router's and Angular's order): when the chunk fails, such a router is still on the page the
   * person clicked away from. Return the URL it was navigating to, and a switch to a newer release lands there
   * instead, as if the navigation had gone through: the URL is pushed (Back leads to the page they were on) and
   * the new release loads at it, with the snapshot.
   *
   * Called at the chunk error, while the router still knows its navigation. Return a URL of this origin, as a
   * string (`'/reports?q=1'`, resolved against the page) or a `URL`, or `undefined` (or `null`) when no navigation
   * is under way. Not used when no switch happens, nor when the URL changed between the error and the switch (the
   * person went somewhere else meanwhile). A hook that throws, or any other value, is reported with
   * `reportError()`, and the switch lands on the current URL.
   * @default undefined: the switch lands on the current URL, where a router that changes the URL first is already
   * @example
   * let pending: string | undefined; // Vue Router: the navigation under way
   * router.beforeEach((to) => void (pending = to.fullPath));
   * router.afterEach(() => void (pending = undefined));
   * recoverChunkErrors(daylight, { destination: () => pending });
   */
  destination?: (error: unknown) => string | URL | null | undefined;
}

/** The messages of a failed lazy load, per bundler and browser. */
const CHUNK_ERROR = new RegExp(
  [
    'Failed to fetch dynamically imported module', // Chromium
    'error loading dynamically imported module', // Firefox
    'Importing a module script failed', // Safari
    'Unable to preload CSS', // Vite's CSS preload
    'Loading (?:CSS )?chunk \\S+ failed', // webpack
  ].join('|'),
  'i',
);

/** True for the error of a lazy chunk that did not load, from any of the bundlers and browsers above. */
export function isChunkError(error: unknown): boolean {
  if (typeof error === 'string') return CHUNK_ERROR.test(error);
  if (typeof error !== 'object' || error === null) return false;
  const { name, message } = error as { name?: unknown; message?: unknown };
  return name === 'ChunkLoadError' || (typeof message === 'string' && CHUNK_ERROR.test(message));
}

/**
 * What `destination` says for `error`, as the href of a URL of this origin; `undefined` for none and for the current
 * URL. A hook that throws or a value that is no such URL is reported and gives none: the switch still goes, on the
 * current URL, which is never worse than without the hook.
 */
function destinationOf(destination: NonNullable<RecoveryOptions['destination']>, error: unknown): string | undefined {
  const refuse = (what: string, cause?: unknown): undefined => {
    globalThis.reportError?.(
      new TypeError(`recoverChunkErrors: ${what}; the switch lands on the current URL`, { cause }),
    );
    return undefined;
  };
  let value: unknown;
  try {
    value = destination(error);
  } catch (cause) {
    return refuse('the destination hook threw', cause);
  }
  if (value === undefined || value === null) return undefined;
  // (A URL of another frame is no `instanceof URL` here.)
  if (typeof value !== 'string' && Object.prototype.toString.call(value) !== '[object URL]') {
    return refuse(
      `destination must return a URL or a string such as '/reports', got ${Object.prototype.toString.call(value)} (a router's location object? return its path and query)`,
    );
  }
  const text = typeof value === 'string' ? value : (value as URL).href;
  let url: URL;
  try {
    url = new URL(text, location.href);
  } catch (cause) {
    return refuse(`destination returned ${JSON.stringify(text)}, which is no URL`, cause);
  }
  if (url.origin !== location.origin) {
    return refuse(`destination must return a URL of this page's origin (${location.origin}), got ${url.href}`);
  }
  return url.href === location.href ? undefined : url.href;
}

function settled(client: DaylightClient, timeout: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      client.removeEventListener('statechange', check);
      resolve();
    };
    const check = (): void => {
      if (client.state.status !== 'downloading') done();
    };
    const timer = setTimeout(done, timeout);
    client.addEventListener('statechange', check);
    check();
  });
}

/**
 * Listens for chunk errors and recovers from them. Returns a function that
 * stops listening. Outside a browser it does nothing.
 * @throws {TypeError} for an option it does not have, a `timeout` that is no number of milliseconds, or a
 * `destination` that is not a function.
 */
export function recoverChunkErrors(client: DaylightClient, options: RecoveryOptions = {}): () => void {
  optionNames('recoverChunkErrors', options, ['timeout', 'onStale', 'destination']);
  const timeout = delayOption('recoverChunkErrors: timeout', options.timeout, 60_000, 0);
  const { destination } = options;
  if (destination !== undefined && typeof destination !== 'function') {
    throw new TypeError(
      `recoverChunkErrors: destination must be a function that returns where a navigation was going, got ${typeof destination}`,
    );
  }
  if (typeof window === 'undefined') return () => undefined;
  let running: Promise<void> | undefined;
  /** Where the person was going at the last chunk error that named a destination, and the URL they were on then. */
  let going: { readonly from: string; readonly to: string } | undefined;
  const reported = new Set<string>();

  /**
   * `apply()`, landing on `going.to`. The URL is pushed when the switch starts (`applying`: the loop guard and the
   * snapshot let it go, and the client reads the URL to navigate to right after), not before: a switch refused
   * leaves no trace in the history. Not if the URL moved since the error: the person went elsewhere meanwhile.
   * A page that stays after all (a "leave this page?" dialog answered "stay", a shell that did not come) gets its
   * URL and history state back; its Back then leads to the same page once.
   */
  const apply = async (): Promise<void> => {
    let back: { readonly url: string; readonly state: unknown; readonly to: string } | undefined;
    // Whichever release the switch goes to (a newer one may have become the target while apply() waited for
    // requests in flight): the person's destination holds for it too.
    const land = (): void => {
      if (!going || location.href !== going.from) return;
      back = { url: location.href, state: history.state as unknown, to: going.to };
      // Past the app's and its router's wrappers: this is no navigation of the app's, the page is leaving.
      History.prototype.pushState.call(history, null, '', going.to);
    };
    client.addEventListener('applying', land);
    try {
      await client.apply();
    } catch {
      // Not switched: the chunk is still missing (below).
    } finally {
      client.removeEventListener('applying', land);
      if (back && location.href === back.to) History.prototype.replaceState.call(history, back.state, '', back.url);
    }
  };

  const recover = (error: unknown): void => {
    // A page on its way out (the switch navigating) loses requests as it goes: nothing to recover or report.
    if (client.state.status === 'applying') return;
    // Asked now: a router forgets the navigation that failed soon after. The latest one named wins.
    const to = destination && destinationOf(destination, error);
    if (to) going = { from: location.href, to };
    running ??= (async () => {
      await client.check().catch(() => false);
      await settled(client, timeout);
      // A switch that happens leaves the page, so apply() only ever settles when it did not (the loop guard,
      // a "leave this page?" dialog answered "stay"): then the chunk is still missing.
      if (client.state.status === 'ready') await apply();
      const message = String((error as { message?: unknown } | undefined)?.message ?? error);
      if (!reported.has(message)) {
        reported.add(message);
        client.report('stale-asset', { message });
      }
      options.onStale?.(error);
    })().finally(() => {
      running = undefined;
      going = undefined;
    });
  };

  const onPreload = (event: Event): void => {
    const error = (event as Event & { payload?: unknown }).payload ?? 'vite:preloadError';
    // Vite rethrows the error unless the event is cancelled. Cancelled, a module that did not load resolves
    // the app's import() to undefined (a TypeError somewhere else, and no catch of the app sees the real
    // error), so only a stylesheet that did not preload is cancelled: the module itself still loads.
    if (/Unable to preload CSS/i.test(error instanceof Error ? error.message : typeof error === 'string' ? error : ''))
      event.preventDefault();
    recover(error);
  };
  const onRejection = (event: PromiseRejectionEvent): void => {
    if (!isChunkError(event.reason)) return;
    event.preventDefault();
    recover(event.reason);
  };
  const onError = (event: ErrorEvent): void => {
    if (!isChunkError(event.error ?? event.message)) return;
    event.preventDefault();
    recover(event.error ?? event.message);
  };
  window.addEventListener('vite:preloadError', onPreload);
  window.addEventListener('unhandledrejection', onRejection);
  window.addEventListener('error', onError);
  return () => {
    window.removeEventListener('vite:preloadError', onPreload);
    window.removeEventListener('unhandledrejection', onRejection);
    window.removeEventListener('error', onError);
  };
}
