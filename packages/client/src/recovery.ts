/**
 * Chunk-error recovery (`@daylight/client/recovery`). A lazy chunk that does
 * not load is usually a sign that the server moved on: `vite:preloadError`,
 * webpack's `ChunkLoadError`, and failed dynamic imports in the wording of
 * Chromium, Firefox and Safari trigger a release check. If a newer release
 * exists, the tab switches to it (under the client's loop guard: at most once
 * per version until a healthy boot). If not — an ad-blocker, a flaky network,
 * a deleted file — it does not reload: it reports a `stale-asset`, which the
 * server tells apart from application errors.
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
 */
export function recoverChunkErrors(client: DaylightClient, options: RecoveryOptions = {}): () => void {
  optionNames('recoverChunkErrors', options, ['timeout', 'onStale']);
  const timeout = delayOption('recoverChunkErrors: timeout', options.timeout, 60_000, 0);
  if (typeof window === 'undefined') return () => undefined;
  let running: Promise<void> | undefined;
  const reported = new Set<string>();

  const recover = (error: unknown): void => {
    // A page on its way out (the switch navigating) loses requests as it goes: nothing to recover or report.
    if (client.state.status === 'applying') return;
    running ??= (async () => {
      await client.check().catch(() => false);
      await settled(client, timeout);
      // A switch that happens leaves the page, so apply() only ever settles when it did not (the loop guard,
      // a "leave this page?" dialog answered "stay"): then the chunk is still missing.
      if (client.state.status === 'ready') await client.apply().catch(() => undefined);
      const message = String((error as { message?: unknown } | undefined)?.message ?? error);
      if (!reported.has(message)) {
        reported.add(message);
        client.report('stale-asset', { message });
      }
      options.onStale?.(error);
    })().finally(() => (running = undefined));
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
