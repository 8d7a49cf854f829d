/**
 * An exclusive lock across the tabs of one browser, for pages without Web
 * Locks: they exist only in secure contexts, and an office intranet on plain
 * http is not one. The lock is a lease in localStorage that its holder renews
 * while the work runs and removes when the work ends or the page goes away;
 * a lease whose tab died without removing it runs out after LEASE_MS.
 *
 * It is weaker than a Web Lock, and used only where a lock saves doing the
 * same thing twice (a download, a prompt), never where correctness depends on
 * it. localStorage has no compare-and-set: a tab claims by writing its lease,
 * waits CONFIRM_MS and reads it back, and goes ahead only if its claim stayed,
 * so two tabs claiming at once end with one winner unless the browser is
 * slower than that to share the write. A holder whose timers the browser
 * throttles (a hidden tab) can lose its lease to another tab.
 */
import { readJson, writeJson } from './storage.js';

/** Runs `work` while holding the lock `name`; rejects with `signal`'s reason if it aborts before the lock is held. */
export type RequestLock = (name: string, signal: AbortSignal, work: () => Promise<void>) => Promise<void>;

interface Lease {
  readonly tab: string;
  readonly until: number;
}

const LEASE_MS = 5_000;
const RENEW_MS = 1_500;
const CONFIRM_MS = 60;

/** Resolves after `ms`, or earlier when `key` (if given) changes in another tab; rejects when `signal` aborts. */
function wait(ms: number, signal: AbortSignal, key?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      window.removeEventListener('storage', onStorage);
      signal.removeEventListener('abort', onAbort);
    };
    const onStorage = (event: StorageEvent): void => {
      if (key === undefined || event.key !== `daylight:${key}`) return;
      done();
      resolve();
    };
    const onAbort = (): void => {
      done();
      reject(signal.reason as Error);
    };
    const timer = setTimeout(() => {
      done();
      resolve();
    }, ms);
    window.addEventListener('storage', onStorage);
    signal.addEventListener('abort', onAbort);
  });
}

/** Leases in localStorage standing in for Web Locks; `undefined` when localStorage cannot be written. */
export function leaseLocks(): RequestLock | undefined {
  if (typeof window === 'undefined' || !writeJson('lease-probe', 1, true)) return undefined;
  writeJson('lease-probe', undefined, true);
  const me = Array.from(crypto.getRandomValues(new Uint32Array(2)), (n) => n.toString(36)).join('');
  const ours = (lease: Lease | undefined): boolean => !lease || lease.tab === me || lease.until <= Date.now();
  const claim = (key: string): boolean => writeJson(key, { tab: me, until: Date.now() + LEASE_MS }, true);

  return async (name, signal, work) => {
    const key = `lease:${name}`;
    for (;;) {
      signal.throwIfAborted();
      const lease = readJson<Lease>(key, true);
      if (!ours(lease)) {
        await wait(lease!.until - Date.now(), signal, key);
        continue;
      }
      claim(key);
      await wait(CONFIRM_MS, signal);
      if (readJson<Lease>(key, true)?.tab === me) break;
    }
    const renew = setInterval(() => {
      if (ours(readJson<Lease>(key, true))) claim(key);
    }, RENEW_MS);
    const release = (): void => {
      clearInterval(renew);
      if (readJson<Lease>(key, true)?.tab === me) writeJson(key, undefined, true);
    };
    window.addEventListener('pagehide', release);
    try {
      await work();
    } finally {
      window.removeEventListener('pagehide', release);
      release();
    }
  };
}
