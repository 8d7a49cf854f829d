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
 * slower than that to share the write. The wait covers a round trip: the
 * other tab may read before our claim reaches it and write its own, which
 * must then reach us (Chromium shares a write in 1 to 17 ms on an idle
 * machine; on a loaded CI machine, 60 ms once let two tabs through). A
 * holder whose timers the browser throttles (a hidden tab) can lose its lease
 * to another tab.
 */
import { readJson, writeJson } from './storage.js';

/**
 * Runs `work` while holding the lock `name`; rejects with `signal`'s reason if
 * it aborts before the lock is held. `lost` aborts if another tab took the
 * lock while `work` ran (a lease can be lost; a Web Lock cannot).
 */
export type RequestLock = (
  name: string,
  signal: AbortSignal,
  work: (lost: AbortSignal) => Promise<void>,
) => Promise<void>;

interface Lease {
  readonly tab: string;
  readonly until: number;
}

const LEASE_MS = 5_000;
const RENEW_MS = 1_500;
const CONFIRM_MS = 250;

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
  /** When the lease runs out; a lease that is not one, or that claims more than LEASE_MS ahead (a clock set back), already has. */
  const end = (lease: Lease | undefined): number => {
    const until = lease?.until;
    return typeof until === 'number' && until <= Date.now() + LEASE_MS ? until : 0;
  };
  const holder = (key: string): string | undefined => {
    const lease = readJson<Lease>(key, true);
    return end(lease) > Date.now() ? lease!.tab : undefined;
  };
  const claim = (key: string): boolean => writeJson(key, { tab: me, until: Date.now() + LEASE_MS }, true);

  return async (name, signal, work) => {
    const key = `lease:${name}`;
    const lost = new AbortController();
    let renew: ReturnType<typeof setInterval> | undefined;
    // From the first claim on: a claim left behind would hold the others up for LEASE_MS.
    const release = (): void => {
      clearInterval(renew);
      if (readJson<Lease>(key, true)?.tab === me) writeJson(key, undefined, true);
    };
    window.addEventListener('pagehide', release);
    try {
      for (;;) {
        signal.throwIfAborted();
        const other = holder(key);
        if (other !== undefined && other !== me) {
          // Until it changes hands, or runs out (at most LEASE_MS from now).
          const left = end(readJson<Lease>(key, true)) - Date.now();
          await wait(Math.min(Math.max(left, 0), LEASE_MS) + 10, signal, key);
          continue;
        }
        // Storage full: better the work done twice than never.
        if (!claim(key)) return await work(lost.signal);
        await wait(CONFIRM_MS, signal);
        if (readJson<Lease>(key, true)?.tab === me) break;
      }
      renew = setInterval(() => {
        const other = holder(key);
        if (other === undefined || other === me) claim(key);
        else {
          clearInterval(renew);
          lost.abort();
        }
      }, RENEW_MS);
      await work(lost.signal);
    } finally {
      window.removeEventListener('pagehide', release);
      release();
    }
  };
}
