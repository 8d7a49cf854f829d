/**
 * An optional, unstyled prompt: "A new version is ready — Update now / Later".
 * Native buttons (keyboard and screen-reader usable), announced politely,
 * never steals focus. Style it through `[data-daylight-banner]`.
 */
import type { DaylightClient, DownloadedDetail } from './client.js';

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
}

/**
 * Shows the banner whenever a release that the policy says to prompt for is
 * downloaded, and a countdown for a forced switch (no "Later" then). "Later"
 * calls `client.dismiss()`, so with `@daylight/client/tabs` no other tab asks
 * again; a prompt that moved to another tab (`withdrawn`) leaves this one.
 * Returns a function that removes it and stops listening.
 */
export function mountBanner(client: DaylightClient, options: BannerOptions = {}): () => void {
  let element: HTMLElement | undefined;
  let ticker: ReturnType<typeof setInterval> | undefined;
  const remove = (): void => {
    clearInterval(ticker);
    element?.remove();
    element = undefined;
  };
  const show = (event: CustomEvent<DownloadedDetail>): void => {
    const { policy, deadline } = event.detail;
    // A new answer replaces the banner; `auto` (settled in another tab) leaves none.
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
        if (element === root) return;
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
    remove();
  };
}
