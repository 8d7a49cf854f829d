/**
 * The boot watchdog (`@daylight/client/watchdog`). After a switch, the new
 * release must call `ready()` within `timeout`, without an uncaught error or
 * unhandled rejection before it. Otherwise the tab goes back to the release
 * it came from (`client.revert()`): the bad version is remembered for this
 * browser (a later version is offered again, this one is not) and reported as
 * `boot-failure`, which the server counts to halt the rollout.
 *
 * Install it before `client.start()`, so that an error thrown right after the
 * start is seen.
 */
import type { DaylightClient } from './client.js';
import { delayOption, optionNames } from './delay.js';

export interface WatchdogOptions {
  /**
   * How long a release that was switched to has to call `ready()`, in ms, counting only while the page is visible:
   * a tab switched in the background (browsers slow its timers and skip its frames) gets its time once shown.
   * @default 15_000
   */
  timeout?: number;
  /**
   * Treat an uncaught error or unhandled rejection before `ready()` as a
   * failed boot (without waiting for the timeout).
   * @default true
   */
  errors?: boolean;
}

export interface BootWatchdog {
  /** Why the boot failed, once it did. */
  readonly failure: string | undefined;
  /** Stops watching. */
  stop(): void;
}

/**
 * Watches the boot of a release a switch lands on.
 * @throws {TypeError} when `timeout` is not a number of milliseconds from 1 to 2147483647.
 */
export function watchBoot(client: DaylightClient, options: WatchdogOptions = {}): BootWatchdog {
  optionNames('watchBoot', options, ['timeout', 'errors']);
  const timeout = delayOption('watchBoot: timeout', options.timeout, 15_000, 1);
  let failure: string | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  /** Time left for `ready()`, and since when it has been running down (the page visible), if it is. */
  let left = timeout;
  let since: number | undefined;
  const fail = (reason: string): void => {
    if (stopped) return;
    // Before start() nothing says whether this page is a switch: keep the first failure for `applied`.
    failure ??= reason;
    if (client.booting) {
      stop();
      client.revert(failure);
    }
  };
  const onError = (event: ErrorEvent): void => fail(`uncaught error before ready(): ${event.message}`);
  const onRejection = (event: PromiseRejectionEvent): void => {
    const reason = event.reason as { message?: unknown } | undefined;
    const message = typeof reason?.message === 'string' ? reason.message : JSON.stringify(event.reason);
    fail(`unhandled rejection before ready(): ${message}`);
  };
  const onVisibility = (): void => {
    clearTimeout(timer);
    if (since !== undefined) left -= Date.now() - since;
    since = undefined;
    if (document.visibilityState === 'hidden') return;
    since = Date.now();
    timer = setTimeout(() => fail(`no ready() within ${timeout} ms of being visible`), Math.max(left, 0));
  };
  const onApplied = (): void => {
    if (!client.booting) return;
    if (failure !== undefined) return fail(failure);
    document.addEventListener('visibilitychange', onVisibility);
    onVisibility();
  };
  const stop = (): void => {
    stopped = true;
    clearTimeout(timer);
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', onVisibility);
    if (typeof window !== 'undefined' && options.errors !== false) {
      window.removeEventListener('error', onError);
      window.removeEventListener('unhandledrejection', onRejection);
    }
    client.removeEventListener('applied', onApplied);
    client.removeEventListener('booted', stop);
  };
  if (typeof window !== 'undefined' && options.errors !== false) {
    window.addEventListener('error', onError);
    window.addEventListener('unhandledrejection', onRejection);
  }
  client.addEventListener('applied', onApplied);
  client.addEventListener('booted', stop);
  return {
    get failure() {
      return failure;
    },
    stop,
  };
}
