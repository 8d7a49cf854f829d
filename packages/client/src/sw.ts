/**
 * Service worker mode (`@daylight/client/sw`): Daylight's worker, served by
 * the middleware at `{basePath}/sw.js`, keeps each release's verified files
 * in a cache of its own (`daylight-<version>`; `daylight-<base>@<version>` under another base path), so that
 *
 * - a switch lands even when the network drops after the download (the
 *   target's shell is cached too, and answers the switch's navigation when
 *   the network cannot);
 * - the files of a release stay servable while a tab still runs it (lazy
 *   chunks of an old tab keep loading after the server dropped them);
 * - a release's cache is deleted only when no open tab runs it.
 *
 * The worker fetches every file itself and checks it against the manifest's
 * SRI hash before caching it (after this tab's own verified download, so the
 * bytes come from the HTTP cache). Registration uses workbox-window (an
 * optional peer dependency). Where service workers are unavailable (an
 * insecure context, no `navigator.serviceWorker`) the client works exactly as
 * without this module, and `mode`/`reason` say so.
 */
import type * as WorkboxWindow from 'workbox-window';
import type { DaylightClient, DaylightExtension } from './client.js';
import { delayOption, optionNames } from './delay.js';
import { pushJson, readJson, writeJson } from './storage.js';

export interface ServiceWorkerOptions {
  /**
   * URL of Daylight's worker script.
   * @default `${client.basePath}/sw.js` (served by the middleware)
   */
  scriptUrl?: string;
  /**
   * The scope the worker controls. The middleware allows `/`
   * (`Service-Worker-Allowed: /`). A scope has one worker: where two apps
   * share an origin, give each the path its pages live under.
   * @default '/'
   */
  scope?: string;
  /**
   * Also cache the release this tab runs (its files only, verified), so its
   * lazy chunks keep loading after the server deleted them. Costs one
   * download of the release where the HTTP cache does not have it yet.
   * @default true
   */
  precacheRunning?: boolean;
  /**
   * Limit for registering and for each request to the worker, in ms. A
   * worker that does not answer in time never blocks a switch: the download
   * counts as done and the switch goes over the network.
   * @default 30_000
   */
  timeout?: number;
}

export interface DaylightServiceWorker {
  /** `worker`: Daylight's worker is (being) registered; `none`: not available here, see `reason`. */
  readonly mode: 'worker' | 'none';
  /** Why the mode is `none`, or the last precache that failed (the switch then needs the network). */
  readonly reason: string | undefined;
  /** Resolves with the registration once the worker is active, or `undefined` when there is none. Never rejects. */
  readonly ready: Promise<ServiceWorkerRegistration | undefined>;
  /** The versions the worker holds in its caches (empty without a worker). Never rejects. */
  cached(): Promise<string[]>;
}

export interface ResetOptions {
  /**
   * The worker to unregister, by its script's path.
   * @default '/_daylight/sw.js' and every script `enableServiceWorker` registered in this browser (a custom
   * `basePath`, one used before)
   */
  scriptUrl?: string;
  /**
   * Limit for the whole reset, in ms.
   * @default 10_000
   */
  timeout?: number;
}

export interface ResetResult {
  /** How many registrations of Daylight's worker were removed. */
  readonly unregistered: number;
  /** The `daylight-*` caches deleted. */
  readonly caches: readonly string[];
}

/** The paths of the worker scripts registered in this browser (localStorage), for `reset()`. */
const SCRIPTS_KEY = 'sw-scripts';

interface WorkerReply {
  readonly ok: boolean;
  readonly versions?: string[];
  readonly error?: string;
}

function unavailable(): string | undefined {
  if (typeof window === 'undefined' || typeof navigator === 'undefined') return 'no browser window here';
  if (!window.isSecureContext) return 'not a secure context (service workers need https or localhost)';
  if (!('serviceWorker' in navigator)) return 'this browser has no service workers (navigator.serviceWorker)';
  return undefined;
}

function within<T>(promise: Promise<T>, ms: number, what: string, signal?: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
    const abort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    if (signal?.aborted) return abort();
    signal?.addEventListener('abort', abort, { once: true });
    promise.then(
      (value) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        resolve(value);
      },
      (error: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        reject(error);
      },
    );
  });
}

/** The URL the client's switch navigates to: this page with `?_daylight=<version>`. */
function switchUrl(version: string): string {
  const url = new URL(location.href);
  url.searchParams.set('_daylight', version);
  return url.href;
}

/**
 * Registers Daylight's service worker for this client and precaches each
 * release the client downloads. Call before `start()`. Where service workers
 * are unavailable it returns `mode: 'none'` and changes nothing.
 * @throws {TypeError} when an option has the wrong type.
 */
export function enableServiceWorker(client: DaylightClient, options: ServiceWorkerOptions = {}): DaylightServiceWorker {
  optionNames('enableServiceWorker', options, ['scriptUrl', 'scope', 'precacheRunning', 'timeout']);
  const timeout = delayOption('enableServiceWorker: timeout', options.timeout, 30_000, 1);
  for (const name of ['scriptUrl', 'scope'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'string' || value === '')) {
      throw new TypeError(`enableServiceWorker: ${name} must be a non-empty string, got ${JSON.stringify(value)}`);
    }
  }
  const scriptUrl = options.scriptUrl ?? `${client.basePath}/sw.js`;
  const scope = options.scope ?? '/';
  const precacheRunning = options.precacheRunning ?? true;

  let reason = unavailable();
  if (reason !== undefined) {
    return { mode: 'none', reason, ready: Promise.resolve(undefined), cached: () => Promise.resolve([]) };
  }
  let mode: 'worker' | 'none' = 'worker';
  let announce: (() => void) | undefined;
  const started = new Promise<void>((resolve) => (announce = resolve));
  const onState = (): void => {
    if (client.state.running === undefined) return;
    client.removeEventListener('statechange', onState);
    announce?.();
  };
  client.addEventListener('statechange', onState);
  onState();

  // workbox-window is loaded here, once a browser with service workers needs it: in plain Node (server-side
  // rendering) its CommonJS build has no named exports, so a static import would make this module fail to load.
  let workboxWindow: typeof WorkboxWindow | undefined;
  // Registered once the client knows its version (after start()) and the page has loaded.
  const ready = started
    .then(async () => {
      workboxWindow = await within(import('workbox-window'), timeout, 'Loading workbox-window');
      const workbox = new workboxWindow.Workbox(scriptUrl, { scope });
      const registration = await within(workbox.register(), timeout, `Registering ${scriptUrl}`);
      if (!registration) throw new Error(`${scriptUrl} could not be registered`);
      // For reset(), which runs without a client and so without its basePath.
      pushJson(SCRIPTS_KEY, new URL(scriptUrl, location.href).pathname, true, 5);
      await within(workbox.active, timeout, `Activating ${scriptUrl}`);
      return registration;
    })
    .catch((error: unknown) => {
      mode = 'none';
      reason = `the service worker is not used: ${(error as Error).message}`;
      return undefined;
    });

  const ask = async (message: Record<string, unknown>, signal?: AbortSignal): Promise<WorkerReply> => {
    const registration = await within(ready, timeout, `Registering ${scriptUrl}`, signal);
    const worker = registration?.active;
    if (!worker) throw new Error(reason ?? 'no active service worker');
    const reply = workboxWindow!.messageSW(worker, message) as Promise<WorkerReply>;
    return within(reply, timeout, 'The service worker', signal);
  };

  // Tell the worker which release this tab runs: it keeps that version's cache while the tab is open. A page a
  // switch just landed on also names the release it came from until ready(): its watchdog may go back there,
  // offline too, so the worker keeps that cache (and serves a way back that version's shell, never another's).
  let leaving: string | undefined;
  const running = async (registration: ServiceWorkerRegistration | undefined): Promise<void> => {
    const version = client.state.running;
    if (!registration || version === undefined) return;
    leaving = client.booting?.from;
    // With precache, its shell too (best effort): an offline reload, or a way back from the next release, needs it.
    const shell = switchUrl(version);
    const answer = await ask({
      type: 'daylight:running',
      version,
      previous: leaving,
      precache: precacheRunning,
      shell,
    }).catch((error: Error) => ({ ok: false, error: error.message }));
    if (!answer.ok) reason = `could not cache ${version}: ${answer.error ?? 'no answer'}`;
  };
  // One report at a time, so that the one after ready() reaches the worker last.
  let reports = Promise.resolve();
  const report = (): Promise<void> => (reports = reports.then(() => ready.then(running)));
  void report();
  // A page in the back/forward cache is no open tab to the worker, which may have dropped its version's
  // cache meanwhile: a restored page says again what it runs (and the worker caches it again).
  addEventListener('pageshow', (event) => {
    if (event.persisted) void report();
  });
  // Booted: the release the page came from is no longer needed for a way back.
  client.addEventListener('booted', () => {
    if (leaving !== undefined) void report();
  });

  const extension: DaylightExtension = {
    async download(version, run, signal) {
      await run();
      // The switch works without the cache (over the network), so a failure here only says so.
      try {
        const answer = await ask({ type: 'daylight:precache', version, shell: switchUrl(version) }, signal);
        if (!answer.ok) throw new Error(answer.error ?? 'no answer');
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        reason = `release ${version} is not cached for offline use: ${(error as Error).message}`;
      }
    },
  };
  client.extend(extension);

  return {
    get mode() {
      return mode;
    },
    get reason() {
      return reason;
    },
    ready,
    async cached() {
      try {
        const answer = await ask({ type: 'daylight:status' });
        return answer.versions ?? [];
      } catch {
        return [];
      }
    },
  };
}

/**
 * The escape hatch: unregisters Daylight's worker (the registrations whose
 * script is `scriptUrl`, by default `/_daylight/sw.js` and every script
 * `enableServiceWorker` registered in this browser) and deletes every `daylight-*` cache. Pages it
 * controls stay controlled until they navigate; an app that keeps calling
 * `enableServiceWorker` registers it again on its next load. Works without
 * a client, and resolves with nothing removed where service workers are unavailable.
 */
export async function reset(options: ResetOptions = {}): Promise<ResetResult> {
  optionNames('reset', options, ['scriptUrl', 'timeout']);
  const timeout = delayOption('reset: timeout', options.timeout, 10_000, 1);
  if (unavailable() !== undefined) return { unregistered: 0, caches: [] };
  const registered = readJson<unknown>(SCRIPTS_KEY, true);
  const paths = options.scriptUrl
    ? [new URL(options.scriptUrl, location.href).pathname]
    : ['/_daylight/sw.js', ...(Array.isArray(registered) ? (registered as unknown[]) : [])];
  const work = async (): Promise<ResetResult> => {
    let unregistered = 0;
    for (const registration of await navigator.serviceWorker.getRegistrations()) {
      const worker = registration.active ?? registration.waiting ?? registration.installing;
      if (worker && paths.includes(new URL(worker.scriptURL).pathname) && (await registration.unregister())) {
        unregistered++;
      }
    }
    const names = typeof caches === 'undefined' ? [] : (await caches.keys()).filter((n) => n.startsWith('daylight-'));
    await Promise.all(names.map((name) => caches.delete(name)));
    if (!options.scriptUrl) writeJson(SCRIPTS_KEY, undefined, true);
    return { unregistered, caches: names };
  };
  return within(work(), timeout, 'Resetting the service worker');
}
