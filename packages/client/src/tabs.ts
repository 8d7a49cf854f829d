/**
 * Tab coordination (`@daylight/client/tabs`): several tabs of the app in one
 * browser behave as one.
 *
 * - One tab downloads for all: the download of a version runs under a Web
 *   Lock; a tab that gets the lock after another verified that version skips
 *   its own download (the files are in the shared HTTP cache, and the shell's
 *   `integrity` attributes make the browser check them again when they run).
 * - The prompt appears in one tab: the one holding the version's prompt lock,
 *   until it leaves. Only a tab the person can see asks for that lock: a
 *   hidden tab waits until it is shown, so the prompt lands where the person
 *   is working rather than in whichever background tab was ready first.
 *   Accepting it (or any switch to that version) settles the others over
 *   BroadcastChannel (and localStorage): they switch at their own next safe
 *   moment, hidden ones quietly. When the prompting tab closes unanswered,
 *   the next tab shown takes the prompt, so no tab is left with a button
 *   that does nothing.
 *
 * Where Web Locks are missing every tab downloads and prompts for itself
 * (`mode: 'none'`); accepting in one still settles the others that have not
 * prompted yet when BroadcastChannel exists.
 */
import type { DaylightClient, DaylightExtension } from './client.js';
import { pushJson, readJson } from './storage.js';

export interface TabsOptions {
  /**
   * Name of the BroadcastChannel and prefix of the locks, so that two apps
   * on one origin do not coordinate with each other.
   * @default 'daylight'
   */
  name?: string;
}

export interface TabCoordinator {
  /** `locks`: full coordination; `none`: each tab on its own (no Web Locks here). */
  readonly mode: 'locks' | 'none';
  /** Why coordination is degraded, when it is. */
  readonly reason: string | undefined;
  stop(): void;
}

interface SettledMessage {
  readonly type: 'daylight:settled';
  readonly version: string;
}

/**
 * Coordinates this tab with the app's other tabs. Call before `start()`.
 * @throws {TypeError} when `name` is not a non-empty string.
 */
export function coordinateTabs(client: DaylightClient, options: TabsOptions = {}): TabCoordinator {
  const name = options.name ?? 'daylight';
  if (typeof name !== 'string' || name === '') {
    throw new TypeError(`coordinateTabs: name must be a non-empty string, got ${JSON.stringify(name)}`);
  }
  const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(name) : undefined;
  const settled = (version: string): boolean => (readJson<string[]>('settled', true) ?? []).includes(version);
  const listeners = new Set<(version: string) => void>();
  const onMessage = (event: MessageEvent<SettledMessage>): void => {
    if (event.data?.type === 'daylight:settled') listeners.forEach((listener) => listener(event.data.version));
  };
  const onStorage = (event: StorageEvent): void => {
    if (event.key === 'daylight:settled')
      listeners.forEach((listener) => readJson<string[]>('settled', true)?.forEach(listener));
  };
  channel?.addEventListener('message', onMessage);
  if (typeof window !== 'undefined') window.addEventListener('storage', onStorage);

  const onApplying = (event: CustomEvent<{ readonly version: string }>): void => {
    pushJson('settled', event.detail.version, true);
    channel?.postMessage({ type: 'daylight:settled', version: event.detail.version } satisfies SettledMessage);
  };
  client.addEventListener('applying', onApplying);

  const extension: DaylightExtension = {
    async download(version, run, signal) {
      if (!locks) return run();
      await locks.request(`${name}:download:${version}`, { signal }, async () => {
        if ((readJson<string[]>('verified', true) ?? []).includes(version)) return;
        await run();
        pushJson('verified', version, true);
      });
    },
    prompt(version, signal) {
      return new Promise((resolve) => {
        const release = new AbortController();
        const done = (answer: 'prompt' | 'auto'): void => {
          listeners.delete(onSettled);
          if (answer === 'auto') release.abort();
          resolve(answer);
        };
        const onSettled = (settledVersion: string): void => {
          if (settledVersion === version) done('auto');
        };
        if (settled(version)) return done('auto');
        listeners.add(onSettled);
        signal.addEventListener('abort', () => release.abort(), { once: true });
        if (!locks) return done('prompt');
        // Held until this tab leaves, settles, or moves on to another version.
        const ask = (): void => {
          locks
            .request(`${name}:prompt:${version}`, { signal: release.signal }, () => {
              if (settled(version)) {
                done('auto');
                return;
              }
              done('prompt');
              return new Promise<void>((unlock) => release.signal.addEventListener('abort', () => unlock()));
            })
            .catch(() => undefined);
        };
        // A hidden tab asks once it is shown (and not at all if it settles or moves on before).
        const shown = (): boolean => typeof document === 'undefined' || document.visibilityState === 'visible';
        if (shown()) return ask();
        const onVisibility = (): void => {
          if (!shown()) return;
          document.removeEventListener('visibilitychange', onVisibility);
          if (!release.signal.aborted) ask();
        };
        document.addEventListener('visibilitychange', onVisibility);
        release.signal.addEventListener('abort', () => document.removeEventListener('visibilitychange', onVisibility));
      });
    },
  };
  client.extend(extension);
  return {
    mode: locks ? 'locks' : 'none',
    reason: locks ? undefined : 'Web Locks are not available: each tab downloads and prompts for itself',
    stop() {
      channel?.removeEventListener('message', onMessage);
      channel?.close();
      if (typeof window !== 'undefined') window.removeEventListener('storage', onStorage);
      client.removeEventListener('applying', onApplying);
      listeners.clear();
    },
  };
}
