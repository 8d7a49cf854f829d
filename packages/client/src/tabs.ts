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
import { optionNames } from './delay.js';
import { pushJson, readJson } from './storage.js';

export interface TabsOptions {
  /**
   * Name of the BroadcastChannel and prefix of the locks and of the tabs'
   * localStorage keys, so that two apps on one origin do not coordinate with
   * each other (nor take one's "Later" or verified download for the other's).
   * Two apps on one origin have two base paths, so the default tells them apart.
   * @default 'daylight', followed by the client's basePath when it is not '/_daylight'
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
  optionNames('coordinateTabs', options, ['name']);
  // '/_daylight' is DEFAULT_BASE_PATH, spelled out: importing @daylight/protocol here would bundle ~300 B of it.
  const name = options.name ?? `daylight${client.basePath === '/_daylight' ? '' : client.basePath}`;
  // Web Locks reserve names that start with "-".
  if (typeof name !== 'string' || !/^[^-]/.test(name)) {
    throw new TypeError(
      `coordinateTabs: name must be a non-empty string that does not start with "-", got ${JSON.stringify(name)}`,
    );
  }
  const webLocks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
  const locks: RequestLock | undefined = webLocks
    ? async (lock, signal, work) => {
        // A Web Lock is never taken away: a signal of its own that never aborts (a shared one would collect
        // a listener each time a tab takes the prompt, for the whole session).
        await webLocks.request(lock, { signal }, () => work(new AbortController().signal));
      }
    : leaseLocks();
  /** This app's keys in localStorage: two apps on one origin may well ship the same version numbers. */
  const key = (what: string): string => `${name}:${what}`;
  const channel = typeof BroadcastChannel !== 'undefined' ? new BroadcastChannel(name) : undefined;
  /** News heard over the channel, for when localStorage cannot keep it. */
  const heard = { settled: new Set<string>(), dismissed: new Set<string>() };
  const knows = (news: News, version: string): boolean =>
    heard[news].has(version) || (readJson<string[]>(key(news), true) ?? []).includes(version);
  const listeners = new Set<(news: News, version: string) => void>();
  const hear = (news: News, version: string): void => {
    heard[news].add(version);
    listeners.forEach((listener) => listener(news, version));
  };
  const tell = (news: News, version: string): void => {
    pushJson(key(news), version, true);
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
      if (event.key === `daylight:${key(news)}`) {
        readJson<string[]>(key(news), true)?.forEach((version) => hear(news, version));
      }
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

  /**
   * The tab that verified a version holds a shared Web Lock named for it until it closes (or stop()), taken before
   * it lets go of the download's lock. localStorage alone is not enough: Chromium passes one tab's write to the
   * others' copies a moment later, so the next tab to get the download's lock could still read the list without
   * the version and download it again (from the HTTP cache, but reading and hashing every file).
   */
  const verifiedLock = (version: string): string => `${name}:verified:${version}`;
  const verifiedElsewhere = async (version: string): Promise<boolean> =>
    (readJson<string[]>(key('verified'), true) ?? []).includes(version) ||
    !!(await webLocks?.query())?.held?.some((lock) => lock.name === verifiedLock(version));
  const holdVerified = (version: string): Promise<void> | undefined =>
    webLocks &&
    new Promise((granted) => {
      webLocks
        .request(verifiedLock(version), { mode: 'shared' }, () => {
          granted();
          return new Promise<void>((done) => {
            if (stopped.signal.aborted) done();
            else stopped.signal.addEventListener('abort', () => done(), { once: true });
          });
        })
        .catch(() => granted());
    });

  const extension: DaylightExtension = {
    async download(version, run, signal) {
      if (!locks || stopped.signal.aborted) return run();
      await locks(`${name}:download:${version}`, signal, async () => {
        if (await verifiedElsewhere(version)) return;
        await run();
        pushJson(key('verified'), version, true);
        await holdVerified(version);
      });
    },
    prompt(version, signal, answer) {
      if (knows('settled', version)) return answer('auto');
      // After stop(), or without any lock, this tab prompts for itself (still not after "Later" elsewhere).
      const alone = (): void => {
        if (!knows('dismissed', version)) answer('prompt');
      };
      if (stopped.signal.aborted) return alone();
      // Settled ends what this tab does for the version; so do moving on (signal) and stop().
      const settled = new AbortController();
      const ended = AbortSignal.any([signal, stopped.signal, settled.signal]);
      const waiting = new Set<() => void>();
      /** Resolves once `ok()` holds, re-checked on every visibility change and every piece of news. */
      const until = (ok: () => boolean): Promise<void> =>
        new Promise((resolve) => {
          const check = (): void => {
            if (!ended.aborted && !ok()) return;
            document.removeEventListener('visibilitychange', check);
            waiting.delete(check);
            ended.removeEventListener('abort', check);
            resolve();
          };
          document.addEventListener('visibilitychange', check);
          waiting.add(check);
          ended.addEventListener('abort', check);
          check();
        });
      const onNews = (news: News, about: string): void => {
        if (about !== version) return;
        if (news === 'settled') {
          settled.abort();
          answer('auto');
        } else if (!locks) answer('hide'); // each tab prompts for itself: "Later" in one clears them all
        waiting.forEach((check) => check());
      };
      listeners.add(onNews);
      ended.addEventListener('abort', () => listeners.delete(onNews), { once: true });
      if (!locks) return alone();
      let showing = false;
      // stop() while this tab waits for the prompt: it prompts for itself from then on.
      stopped.signal.addEventListener(
        'abort',
        () => {
          if (!showing) alone();
        },
        { once: true, signal },
      );
      // Not in a tab whose switch failed (the loop guard, storage refused): another tab can offer it.
      const wanted = (): boolean =>
        shown() && !knows('dismissed', version) && /^(ready|applying)$/.test(client.state.status);
      const onState = (): void => waiting.forEach((check) => check());
      client.addEventListener('statechange', onState);
      ended.addEventListener('abort', () => client.removeEventListener('statechange', onState), { once: true });
      void (async () => {
        while (!ended.aborted) {
          // A hidden tab asks once shown; nobody asks for a version put off with "Later".
          await until(wanted);
          if (ended.aborted) return;
          let failed = false;
          await locks(`${name}:prompt:${version}`, ended, async (lost) => {
            if (knows('settled', version)) {
              settled.abort();
              answer('auto');
              return;
            }
            if (!wanted()) return;
            answer('prompt');
            showing = true;
            // Held while the person can see it; hidden, put off, or (a lease) taken by another tab, it goes.
            lost.addEventListener('abort', () => waiting.forEach((check) => check()), { once: true });
            await until(() => !wanted() || lost.aborted);
            showing = false;
            if (!ended.aborted) answer('hide');
          }).catch(() => {
            failed = !ended.aborted;
          });
          // A lock that cannot be had at all: prompt here rather than nowhere (and never spin on it).
          if (failed) return alone();
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
