/**
 * An optional, unstyled prompt: "A new version is ready — Update now / Later".
 * Native buttons (keyboard and screen-reader usable), announced politely,
 * never steals focus. Style it through `[data-daylight-banner]`.
 */
import type { DaylightClient, DownloadedDetail } from './client.js';
import { delayOption, optionNames } from './delay.js';

export interface BannerOptions {
  /**
   * Where the banner is appended.
   * @default document.body
   */
  container?: HTMLElement;
  /**
   * The message; receives the release that is ready.
   * @default (d) => `A new version (${d.version}) is ready.`
   */
  message?: (detail: DownloadedDetail) => string;
  /** @default 'Update now' */
  acceptLabel?: string;
  /** @default 'Later' */
  dismissLabel?: string;
  /** The button that closes the banner after the update could not start. @default 'OK' */
  closeLabel?: string;
  /**
   * The message of a forced switch, every second until it happens; receives
   * the release and the seconds left.
   * @default (d, s) => `Version ${d.version} is required: updating in ${s} s.`
   */
  countdown?: (detail: DownloadedDetail, seconds: number) => string;
  /**
   * How long "Later" holds, in ms: then this tab asks again (once it is in
   * front, and only while that release is still the one ready), or `false`
   * for never again for that release (a newer one is asked for as usual).
   * With `@daylight/client/tabs` the other tabs stay quiet: the reminder
   * comes back in the tab where "Later" was pressed.
   * @default 3_600_000 (an hour)
   */
  remindAfter?: number | false;
}

/**
 * Shows the banner whenever a release that the policy says to prompt for is
 * downloaded, and a countdown for a forced switch (no "Later" then). "Later"
 * calls `client.dismiss()`, so with `@daylight/client/tabs` no other tab asks
 * again, and asks again here after `remindAfter`; a prompt that moved to
 * another tab (`withdrawn`) leaves this one.
 * Returns a function that removes it and stops listening.
 * @throws {TypeError} when `remindAfter` is neither `false` nor a number of milliseconds.
 */
export function mountBanner(client: DaylightClient, options: BannerOptions = {}): () => void {
  optionNames('mountBanner', options, [
    'container',
    'message',
    'acceptLabel',
    'dismissLabel',
    'closeLabel',
    'countdown',
    'remindAfter',
  ]);
  const remindAfter =
    options.remindAfter === false
      ? false
      : delayOption('mountBanner: remindAfter (false: never)', options.remindAfter, 3_600_000, 1);
  /** False once the function mountBanner returned was called: nothing comes back after that. */
  let mounted = true;
  let element: HTMLElement | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  /** Ends the wait for a reminder ("Later" pressed): its timer, or its wait for the tab to be in front. */
  let forget = (): void => {};
  const remove = (): void => {
    clearInterval(ticker);
    element?.remove();
    element = undefined;
  };
  /** After "Later": the same prompt again in `remindAfter`, once the tab is in front, if that release is still ready. */
  const remind = (event: CustomEvent<DownloadedDetail>): void => {
    if (remindAfter === false || !mounted) return;
    const again = (): void => {
      if (document.visibilityState !== 'visible') return;
      forget();
      const { status, target, policy } = client.state;
      if (status === 'ready' && target === event.detail.version && policy === 'prompt') show(event);
    };
    const timer = setTimeout(() => {
      document.addEventListener('visibilitychange', again);
      again();
    }, remindAfter);
    forget = () => {
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', again);
      forget = () => {};
    };
  };
  const show = (event: CustomEvent<DownloadedDetail>): void => {
    const { policy, deadline } = event.detail;
    // A new answer replaces the banner, and a reminder of an older one; `auto` (settled in another tab) leaves none.
    forget();
    remove();
    if (policy !== 'prompt' && policy !== 'force') return;
    const root = document.createElement('div');
    root.setAttribute('role', 'status');
    root.setAttribute('aria-live', 'polite');
    root.dataset.daylightBanner = event.detail.version;
    const text = document.createElement('p');
    text.textContent = (options.message ?? ((d) => `A new version (${d.version}) is ready.`))(event.detail);
    const accept = document.createElement('button');
    accept.type = 'button';
    accept.textContent = options.acceptLabel ?? 'Update now';
    accept.dataset.daylightAccept = '';
    const dismiss = document.createElement('button');
    dismiss.type = 'button';
    dismiss.textContent = options.dismissLabel ?? 'Later';
    dismiss.dataset.daylightDismiss = '';
    accept.addEventListener('click', () => {
      accept.disabled = true;
      client.apply().catch((error: Error) => {
        accept.disabled = false;
        text.textContent = `The update could not start: ${error.message}`;
        if (element === root || !mounted) return;
        // The release was dropped meanwhile (the loop guard, storage refused), and the banner with it: the
        // person who clicked is told why, until they close it.
        remove();
        accept.remove();
        dismiss.textContent = options.closeLabel ?? 'OK';
        root.append(dismiss);
        (options.container ?? document.body).append(root);
        element = root;
      });
    });
    dismiss.addEventListener('click', () => {
      remove();
      client.dismiss();
      // After the "OK" that closes a failed update too: if that release is still the one ready then, it is asked for
      // again; one that was dropped is not.
      remind(event);
    });
    root.append(text, accept);
    if (policy === 'prompt') root.append(dismiss);
    else if (deadline !== undefined) {
      root.dataset.daylightCountdown = '';
      const tick = (): void => {
        const seconds = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
        text.textContent = (options.countdown ?? ((d, s) => `Version ${d.version} is required: updating in ${s} s.`))(
          event.detail,
          seconds,
        );
      };
      tick();
      ticker = setInterval(tick, 1000);
    }
    (options.container ?? document.body).append(root);
    element = root;
  };
  const onState = (): void => {
    // Gone as soon as the release it offers is no longer the one ready.
    if (element && client.state.status !== 'ready' && client.state.status !== 'applying') remove();
  };
  // The prompt moved to the tab the person is in now (`@daylight/client/tabs`).
  const onWithdrawn = (event: CustomEvent<{ readonly version: string }>): void => {
    if (element?.dataset.daylightBanner === event.detail.version) remove();
  };
  client.addEventListener('downloaded', show);
  client.addEventListener('withdrawn', onWithdrawn);
  client.addEventListener('statechange', onState);
  return () => {
    client.removeEventListener('downloaded', show);
    client.removeEventListener('withdrawn', onWithdrawn);
    client.removeEventListener('statechange', onState);
    mounted = false;
    forget();
    remove();
  };
}
