/**
 * Tab coordination (`@daylight/client/tabs`): several tabs of the app in one
 * browser behave as one.
 *
 * - One tab downloads for all: the download of a version runs under a Web
 *   Lock; a tab that gets the lock after another verified that version skips
 *   its own download (the files are in the shared HTTP cache, and the shell's
 *   `integrity` attributes make the browser check them again when they run).
 * - The prompt appears in one tab, the one in front of the person: the tab
 *   holding the version's prompt lock shows it. Only a tab the person can see
 *   asks for that lock, and a tab that is hidden lets go of it (the client
 *   emits `withdrawn` there), so when the person moves to another tab of the
 *   app the prompt moves with them. "Later" (`client.dismiss()`) holds for
 *   every tab. Accepting the prompt (or any switch to that version) settles
 *   the others over BroadcastChannel (and localStorage): they switch at their
 *   own next safe moment, hidden ones quietly. When the prompting tab closes
 *   unanswered, the next tab shown takes the prompt, so no tab is left with a
 *   button that does nothing.
 *
 * Web Locks exist only in secure contexts. On a plain-http intranet the locks
 * are leases in localStorage instead (`mode: 'leases'`, see leases.ts); only
 * where localStorage cannot be written either does every tab download and
 * prompt for itself (`mode: 'none'`), and accepting in one still settles the
 * others when BroadcastChannel exists.
 */
import type { DaylightClient, DaylightExtension } from './client.js';
import { leaseLocks, type RequestLock } from './leases.js';
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
  /**
   * `locks`: full coordination with Web Locks; `leases`: the same through
   * localStorage (not a secure context, so no Web Locks); `none`: each tab
   * on its own.
   */
  readonly mode: 'locks' | 'leases' | 'none';
  /** Why coordination is degraded, when it is. */
  readonly reason: string | undefined;
  stop(): void;
}

/** What tabs tell each other: a version was switched to (settled), or put off with "Later" (dismissed). */
type News = 'settled' | 'dismissed';

interface NewsMessage {
  readonly type: `daylight:${News}`;
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
  const webLocks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const locks: RequestLock | undefined = webLocks
    ? async (lock, signal, work) => {
        await webLocks.request(lock, { signal }, work);
      }
    : leaseLocks();
  const channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(name) : undefined;
  /** News heard over the channel, for when localStorage cannot keep it. */
  const heard = { settled: new Set<string>(), dismissed: new Set<string>() };
  const knows = (news: News, version: string): boolean =>
    heard[news].has(version) || (readJson<string[]>(news, true) ?? []).includes(version);
  const listeners = new Set<(news: News, version: string) => void>();
  const hear = (news: News, version: string): void => {
    heard[news].add(version);
    listeners.forEach((listener) => listener(news, version));
  };
  const tell = (news: News, version: string): void => {
    pushJson(news, version, true);
    channel?.postMessage({ type: `daylight:${news}`, version } satisfies NewsMessage);
    hear(news, version);
  };
  const onMessage = ({ data }: MessageEvent<NewsMessage>): void => {
    if (data?.type === 'daylight:settled' || data?.type === 'daylight:dismissed') {
      hear(data.type === 'daylight:settled' ? 'settled' : 'dismissed', data.version);
    }
  };
  const onStorage = (event: StorageEvent): void => {
    for (const news of ['settled', 'dismissed'] as const) {
      if (event.key === `daylight:${news}`) readJson<string[]>(news, true)?.forEach((version) => hear(news, version));
    }
  };
  channel?.addEventListener('message', onMessage);
  if (typeof window !== 'undefined') window.addEventListener('storage', onStorage);

  const onApplying = (event: CustomEvent<{ readonly version: string }>): void => tell('settled', event.detail.version);
  const onDismissed = (event: CustomEvent<{ readonly version: string }>): void =>
    tell('dismissed', event.detail.version);
  client.addEventListener('applying', onApplying);
  client.addEventListener('dismissed', onDismissed);
  const shown = (): boolean => typeof document === 'undefined' || document.visibilityState === 'visible';
  const stopped = new AbortController();

  const extension: DaylightExtension = {
    async download(version, run, signal) {
      if (!locks) return run();
      await locks(`${name}:download:${version}`, signal, async () => {
        if ((readJson<string[]>('verified', true) ?? []).includes(version)) return;
        await run();
        pushJson('verified', version, true);
      });
    },
    prompt(version, signal, answer) {
      if (knows('settled', version)) return answer('auto');
      // Ends everything this tab does for the version: it moved on, or the version was settled.
      const done = new AbortController();
      const end = (): void => done.abort();
      signal.addEventListener('abort', end, { once: true });
      stopped.signal.addEventListener('abort', end, { once: true });
      /** Resolves once `ok()` holds, re-checked on every visibility change and every piece of news. */
      const until = (ok: () => boolean): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => {
            if (!done.signal.aborted && !ok()) return;
            document.removeEventListener('visibilitychange', check);
            waiting.delete(check);
            done.signal.removeEventListener('abort', check);
            resolve();
          };
          document.addEventListener('visibilitychange', check);
          waiting.add(check);
          done.signal.addEventListener('abort', check);
          check();
        });
      const waiting = new Set<() => void>();
      const onNews = (news: News, about: string): void => {
        if (about !== version) return;
        if (news === 'settled') {
          end();
          answer('auto');
        } else if (!locks) answer('hide'); // each tab prompts for itself: "Later" in one clears them all
        waiting.forEach((check) => check());
      };
      listeners.add(onNews);
      done.signal.addEventListener('abort', () => listeners.delete(onNews));
      if (!locks) return answer('prompt');
      const wanted = (): boolean => shown() && !knows('dismissed', version);
      void (async () => {
        while (!done.signal.aborted) {
          // A hidden tab asks once shown; nobody asks for a version put off with "Later".
          await until(wanted);
          if (done.signal.aborted) return;
          await locks(`${name}:prompt:${version}`, done.signal, async () => {
            if (knows('settled', version)) {
              end();
              answer('auto');
              return;
            }
            if (!wanted()) return;
            answer('prompt');
            // Held while the person can see it; hidden, or put off, it goes to whoever is shown next.
            await until(() => !wanted());
            if (!done.signal.aborted) answer('hide');
          }).catch(() => undefined);
        }
      })();
    },
  };
  client.extend(extension);
  return {
    mode: webLocks ? 'locks' : locks ? 'leases' : 'none',
    reason: webLocks
      ? undefined
      : locks
        ? 'Web Locks are not available (they need a secure context): tabs coordinate through localStorage leases'
        : 'neither Web Locks nor localStorage are available: each tab downloads and prompts for itself',
    stop() {
      channel?.removeEventListener('message', onMessage);
      channel?.close();
      if (typeof window !== 'undefined') window.removeEventListener('storage', onStorage);
      client.removeEventListener('applying', onApplying);
      client.removeEventListener('dismissed', onDismissed);
      listeners.clear();
      stopped.abort();
    },
  };
}
