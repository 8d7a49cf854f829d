import {
  CLIENT_HEADER,
  DEFAULT_BASE_PATH,
  RELEASE_HEADER,
  RELEASE_META_NAME,
  changeKind,
  clientStamp,
  compareVersions,
  isVersion,
  manifestPath,
  readReleaseStamp,
  releaseCheckPath,
  type ChangeKind,
  type ReleaseManifest,
  type Urgency,
} from '@daylight/protocol';
import { knownKeys, policyFor, resolvePolicy, type Policy, type PolicyMap } from './policy.js';
import { downloadRelease, fetchManifest, type DownloadProgress } from './download.js';
import { DaylightError, type DaylightErrorCode } from './errors.js';
import { pushJson, readJson, writeJson } from './storage.js';

export interface DaylightOptions {
  /**
   * The release this page runs.
   * @default the `content` of `<meta name="daylight-release">`, which the middleware injects into the shell
   */
  version?: string;
  /**
   * Base path of the middleware's endpoints, on this page's origin.
   * @default '/_daylight'
   */
  basePath?: string;
  /**
   * What to do with a verified release, per kind of change and per release
   * urgency; the stronger applies (`prompt` < `auto` < `force`). `auto`
   * switches at the next safe moment, `prompt` fires `downloaded` with
   * `policy: 'prompt'` and waits for `apply()`, `force` switches at the next
   * safe moment or when `grace` ends. A client below the floor (`min`) is
   * always forced. A string sets every key.
   * @default { major: 'prompt', minor: 'prompt', patch: 'auto', prerelease: 'prompt', downgrade: 'auto', optional: 'prompt', recommended: 'prompt', critical: 'force' }
   * @example { minor: 'auto', critical: 'prompt' }
   */
  policy?: Policy | PolicyMap;
  /**
   * The moments an automatic (or forced) switch may happen at. Never while a
   * mutating request sent through Daylight is in flight, while the app holds a
   * `block()`, or while a text field has the focus.
   * @default { navigation: true, hidden: 5_000, idle: 120_000 }
   */
  safeMoments?: SafeMoments;
  /**
   * How long a forced switch waits for a safe moment, in ms, before it
   * switches anyway (taking the snapshot, but still after in-flight mutating
   * requests). `state.deadline` says when; the banner counts down.
   * @default 60_000
   */
  grace?: number;
  /**
   * Send reports (`boot`, `boot-failure`, `stale-shell`, `stale-asset`,
   * `integrity`, `loop-guard`) to `POST {basePath}/reports`.
   * @default true
   */
  reports?: boolean;
  /**
   * Origins besides this page's that may serve release files and that API
   * calls may be stamped for (they must allow the `Daylight-Client` header in CORS).
   * @default []
   * @example ['https://cdn.example.com']
   */
  allowedOrigins?: string | readonly string[];
  /**
   * Called right before the switch; whatever it returns (JSON-serialisable)
   * is handed to the new page as `client.restored`.
   * @example () => ({ draft: form.values() })
   */
  snapshot?: () => unknown;
  /**
   * Backstop: how often to ask the server, in ms, when no API response said
   * anything. Failures back off up to an hour. `0` turns it off.
   * @default 600_000 (10 minutes)
   */
  checkInterval?: number;
  /**
   * Limit for the release check and each report, and for `apply()` or `revert()` to leave the page, in ms; a
   * release's whole download (manifest and files) gets 10 × this.
   * @default 30_000
   */
  timeout?: number;
  /**
   * The `fetch` Daylight uses for its own requests and wraps for the app's.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
}

export interface SafeMoments {
  /** Switch when the app navigates: `history.pushState`, back/forward, or `navigated()`. @default true */
  readonly navigation?: boolean;
  /** Switch once the tab has been hidden this long, in ms; `false` turns it off. @default 5_000 */
  readonly hidden?: number | false;
  /** Switch once nobody used the page (pointer, keys, wheel, touch, focus) this long, in ms; `false` turns it off. @default 120_000 */
  readonly idle?: number | false;
}

/** What a report to `POST {basePath}/reports` is about. */
export type ReportKind = 'boot' | 'boot-failure' | 'stale-shell' | 'stale-asset' | 'integrity' | 'loop-guard';

/**
 * What `@daylight/client/tabs` and `/sw` plug into the client with `extend()`.
 * Both hooks steer the flow, hence hooks rather than events.
 */
export interface DaylightExtension {
  /** Wraps downloading and verifying a release's files; `run` does it in this tab. */
  download?(version: string, run: () => Promise<void>, signal: AbortSignal): Promise<void>;
  /**
   * The policy says `prompt`, and nothing is shown until the extension
   * answers: `'prompt'` each time this tab should show the prompt (the client
   * emits `downloaded`), `'hide'` when it should stop showing it because
   * another tab shows it now (`withdrawn`), and `'auto'` when an answer given
   * elsewhere settles it (the tab then switches at its own next safe moment;
   * no answer counts after that). `signal` aborts when the tab moves on.
   */
  prompt?(version: string, signal: AbortSignal, answer: (answer: PromptAnswer) => void): void;
}

/** What a prompt extension answers; see {@link DaylightExtension.prompt}. */
export type PromptAnswer = 'prompt' | 'hide' | 'auto';

/** Where the client is. A release check runs within `idle` (or any other status) and has none of its own. */
export type DaylightStatus = 'inert' | 'idle' | 'downloading' | 'ready' | 'applying' | 'error';

export interface DaylightState {
  readonly status: DaylightStatus;
  /** The release this page runs (`undefined` only when inert). */
  readonly running: string | undefined;
  /** The release being downloaded or ready to switch to. */
  readonly target: string | undefined;
  readonly progress: DownloadProgress | undefined;
  /** What happens with the release that is ready. */
  readonly policy: Policy | undefined;
  /** For a forced switch: when it happens at the latest (epoch ms). */
  readonly deadline: number | undefined;
  /** Why the client is inert, or the last error. */
  readonly reason: string | undefined;
  readonly errorCode: DaylightErrorCode | undefined;
}

export interface AvailableDetail {
  readonly version: string;
  readonly from: string;
  readonly kind: ChangeKind;
}
export interface DownloadedDetail extends AvailableDetail {
  readonly policy: Policy;
  readonly urgency: Urgency;
  readonly notes: string;
  /** For `force`: when the switch happens at the latest (epoch ms). */
  readonly deadline: number | undefined;
}
export interface AppliedDetail {
  readonly from: string;
  readonly version: string;
  readonly restored: unknown;
}
export interface ErrorDetail {
  readonly error: DaylightError;
}

/** The events of a {@link DaylightClient} and their `detail`. */
export interface DaylightEventMap {
  /** Any change of `client.state`. */
  statechange: CustomEvent<DaylightState>;
  /** The server confirmed another release for this tab; its download starts. */
  available: CustomEvent<AvailableDetail>;
  /** Bytes of the release downloaded and verified so far. */
  progress: CustomEvent<DownloadProgress>;
  /**
   * Every file of the release is verified; `apply()` can switch now. With
   * `@daylight/client/tabs` and `policy: 'prompt'` it fires again each time
   * the prompt comes (back) to this tab.
   */
  downloaded: CustomEvent<DownloadedDetail>;
  /** With `@daylight/client/tabs`: the prompt moved to the tab the person is in now; hide it here. */
  withdrawn: CustomEvent<{ readonly version: string }>;
  /** `dismiss()` was called: the person chose "Later" for this release. */
  dismissed: CustomEvent<{ readonly version: string }>;
  /** The switch starts: the app's state was saved and the page is leaving. */
  applying: CustomEvent<{ readonly version: string }>;
  /** On the new page: the switch landed, with the state the old page saved. */
  applied: CustomEvent<AppliedDetail>;
  /** `ready()` was called: the app booted healthily. */
  booted: CustomEvent<{ readonly version: string }>;
  /** On the page a failed switch came back to: `from` is the release that did not boot. */
  rolledback: CustomEvent<AppliedDetail>;
  /**
   * The API refused a request from this release (a 409 problem document of
   * the compatibility floor). The switch is forced; retry the request on the new page.
   */
  refused: CustomEvent<RefusedDetail>;
  error: CustomEvent<ErrorDetail>;
}

export interface RefusedDetail {
  readonly url: string;
  readonly method: string;
  /** The problem type, e.g. `https://daylight.dev/problems/client-too-old`. */
  readonly type: string;
  /** The versions the API serves, e.g. `>=1.4.0`. */
  readonly required: string;
}

interface SwitchRecord {
  readonly from: string;
  readonly to: string;
  readonly state: unknown;
  /** Set once the new page has seen it, so a later reload does not restore it twice. */
  readonly landed?: boolean;
  /** A way back from a release that did not boot; never watched, never reverted. */
  readonly back?: boolean;
}

const SWITCH_PARAM = '_daylight';
const SAFE_METHOD = /^(GET|HEAD|OPTIONS)$/;
/** How long a release whose download failed on the network is left alone, in ms. */
const RETRY_AFTER = 60_000;
/** How long an answer older than the newest one seen is ignored (anti-flip-flop rule, docs/rollouts.md). */
const REVISION_DWELL_MS = 120_000;

/**
 * The anti-flip-flop rule (docs/rollouts.md): the release check reports the
 * registry's revision; the tab remembers the highest it has seen (in
 * sessionStorage, so it survives the switch's reload) and ignores an answer
 * with a lower one: it comes from a server that has not seen the latest
 * change yet. After REVISION_DWELL_MS without the higher one, a lower
 * revision is believed again (the store was replaced).
 */
function isStaleRevision(revision: unknown): boolean {
  if (!Number.isSafeInteger(revision)) return false;
  const seen = readJson<{ revision: number; at: number }>('revision');
  if (seen !== undefined && (revision as number) < seen.revision && Date.now() - seen.at < REVISION_DWELL_MS)
    return true;
  writeJson('revision', { revision, at: Date.now() });
  return false;
}

/** A state's fields about a release on its way, all cleared. */
const NOTHING_PENDING = {
  target: undefined,
  progress: undefined,
  policy: undefined,
  deadline: undefined,
  reason: undefined,
  errorCode: undefined,
} as const;

/** The keys of {@link DaylightOptions}: any other is a typo, refused. */
const OPTION_NAMES = [
  'version',
  'basePath',
  'policy',
  'safeMoments',
  'grace',
  'reports',
  'allowedOrigins',
  'snapshot',
  'checkInterval',
  'timeout',
  'fetch',
] as const satisfies readonly (keyof DaylightOptions)[];
/** Fails to compile when an option is added to {@link DaylightOptions} but not to the list. */
type EveryOptionNamed<T extends never> = T;
// eslint-disable-next-line @typescript-eslint/no-unused-vars -- the check is the type itself
type OptionsNamed = EveryOptionNamed<Exclude<keyof DaylightOptions, (typeof OPTION_NAMES)[number]>>;

/** A duration option: from `min` to 2147483647 ms (the longest a timer waits: past it, it fires at once). */
function positive(name: string, value: number | false | undefined, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  // `false` turns off a safe moment; a timeout, an interval or the grace of Infinity would fire at once.
  if (value === false && name[0] === 's') return Infinity;
  // (`false` is not finite: refused here.)
  if (!(Number.isFinite(value) && (value as number) >= min && (value as number) < 2 ** 31)) {
    throw new TypeError(
      `createDaylight: ${name} must be a number of milliseconds from ${min} to 2147483647, got ${String(value)}`,
    );
  }
  return value as number;
}

/** True when `version` is below the floor `min` (none: not below). */
function below(version: string, min: string | undefined): boolean {
  return min !== undefined && compareVersions(version, min) < 0;
}

/** Takes the switch's `?_daylight=<version>` off this entry's URL, if it is there. */
function unmark(): void {
  const url = new URL(location.href);
  if (url.searchParams.has(SWITCH_PARAM)) {
    url.searchParams.delete(SWITCH_PARAM);
    history.replaceState(history.state, '', url);
  }
}

function randomId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_');
}

// Typed listeners for the events in DaylightEventMap (declaration merging).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export interface DaylightClient {
  addEventListener<K extends keyof DaylightEventMap>(
    type: K,
    listener: (this: DaylightClient, event: DaylightEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | AddEventListenerOptions,
  ): void;
  removeEventListener<K extends keyof DaylightEventMap>(
    type: K,
    listener: (this: DaylightClient, event: DaylightEventMap[K]) => void,
    options?: boolean | EventListenerOptions,
  ): void;
  removeEventListener(
    type: string,
    listener: EventListenerOrEventListenerObject | null,
    options?: boolean | EventListenerOptions,
  ): void;
}

/**
 * The browser SDK. Construct with {@link createDaylight}; nothing happens
 * until `start()`.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class DaylightClient extends EventTarget {
  readonly #options: Readonly<{
    version: string | undefined;
    snapshot: (() => unknown) | undefined;
    basePath: string;
    policy: Required<PolicyMap>;
    allowedOrigins: readonly string[];
    checkInterval: number;
    timeout: number;
    navigation: boolean;
    hidden: number;
    idle: number;
    grace: number;
    reports: boolean;
  }>;
  readonly #fetch: typeof fetch;
  #state: DaylightState = {
    ...NOTHING_PENDING,
    status: 'inert',
    running: undefined,
    reason: 'not started: call start()',
  };
  #session = '';
  /** `undefined`: not started, but `ready()` was called (`start()` calls it again once it finished the switch). */
  #started: boolean | undefined = false;
  #restored: unknown;
  #manifest: ReleaseManifest | undefined;
  #abort: AbortController | undefined;
  #checking: Promise<boolean> | undefined;
  /** The release the last stamp that asked for a check named. */
  #stamped: string | undefined;
  /** Mutating requests in flight, with the time each started. */
  #inflight = new Map<object, number>();
  /** Every request in flight through Daylight, reads included, with the time each started: the switch waits for them. */
  #open = new Map<object, number>();
  #applying: Promise<void> | undefined;
  #kyTokens = new WeakMap<object, object>();
  #blockers = new Set<object>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  /** Releases not to download again before a time: forever after an integrity or manifest failure. */
  #retryAt = new Map<string, number>();
  #lastCheck = 0;
  /** The API refused a save of this page (the floor): a forced switch is due at once, not after `grace`. */
  #refusedSave = false;
  /** The floor from the last release check. */
  #min: string | undefined;
  #extensions: DaylightExtension[] = [];
  /** A safe moment was refused by a guard: switch as soon as the guards clear. */
  #deferred = false;
  #momentTimer: ReturnType<typeof setTimeout> | undefined;
  #hiddenAt = 0;
  #activeAt = Date.now();
  /** Aborted by stop(): removes the listeners start() added. */
  #listening = new AbortController();
  /**
   * Suffix of the keys that say which versions must not be switched to: two apps on one origin (each with its
   * own basePath) may well ship the same version numbers. Empty for the default basePath, whose keys predate it.
   */
  #app: string;
  /** Stamps that did not parse; a growing number means a proxy mangles headers. */
  malformedStamps = 0;

  constructor(options: DaylightOptions = {}) {
    super();
    knownKeys('options', options, OPTION_NAMES);
    const basePath = options.basePath ?? DEFAULT_BASE_PATH;
    // Not "//host" (or "/\\host", which URLs read the same): checks and reports would go to another host.
    if (!/^\/(?![/\\])[^?#]*[^/?#]$/.test(basePath)) {
      throw new TypeError(`createDaylight: basePath must start with one "/" and not end with one, got "${basePath}"`);
    }
    if (options.version !== undefined && !isVersion(options.version)) {
      throw new TypeError(
        `createDaylight: version must be a semver version such as 1.4.2, got "${String(options.version)}"`,
      );
    }
    // One origin may come as a string: a list of one.
    const given = options.allowedOrigins ?? [];
    const origins = typeof given === 'string' ? [given] : [...given];
    for (const origin of origins) {
      if (typeof origin !== 'string' || !/^https?:\/\/[^/]+$/.test(origin)) {
        throw new TypeError(
          `createDaylight: allowedOrigins takes origins such as "https://cdn.example.com", got "${String(origin)}"`,
        );
      }
    }
    if (options.snapshot !== undefined && typeof options.snapshot !== 'function') {
      throw new TypeError(`createDaylight: snapshot must be a function, got ${typeof options.snapshot}`);
    }
    const moments = options.safeMoments ?? {};
    knownKeys('safeMoments', moments, ['navigation', 'hidden', 'idle']);
    this.#options = Object.freeze({
      version: options.version,
      navigation: moments.navigation ?? true,
      hidden: positive('safeMoments.hidden', moments.hidden, 5_000),
      idle: positive('safeMoments.idle', moments.idle, 120_000),
      grace: positive('grace', options.grace, 60_000),
      reports: options.reports ?? true,
      snapshot: options.snapshot,
      allowedOrigins: Object.freeze(origins),
      basePath,
      policy: resolvePolicy(options.policy),
      // 0 turns it off; anything else from a second (600 meant as seconds would check every 600 ms, in every tab).
      checkInterval:
        options.checkInterval === 0 ? 0 : positive('checkInterval (0: off)', options.checkInterval, 600_000, 1_000),
      // At least 1 ms: 0 would abort every check at once and count no request as in flight.
      timeout: positive('timeout', options.timeout, 30_000, 1),
    });
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#app = basePath === DEFAULT_BASE_PATH ? '' : basePath;
  }

  /** The client's current state. */
  get state(): DaylightState {
    return this.#state;
  }

  /** On the page a switch landed on: what the old page's `snapshot` returned. */
  get restored(): unknown {
    return this.#restored;
  }

  /** Base path of the middleware's endpoints (the `basePath` option). */
  get basePath(): string {
    return this.#options.basePath;
  }

  /** This tab's random id, sent with every stamped request. */
  get session(): string {
    return this.#session;
  }

  /**
   * Starts watching: reads the running version, finishes a switch that
   * brought this page here, listens for visibility changes and starts the
   * backstop check. Outside a browser it stays inert and `state.reason` says why.
   */
  start(): this {
    if (this.#started) return this;
    const early = this.#started === undefined;
    this.#started = true;
    let usable: boolean | undefined;
    try {
      // sessionStorage.length throws where the browser blocks storage (all cookies blocked): no loop guard there.
      usable = typeof document !== 'undefined' && sessionStorage.length >= 0;
    } catch {
      // blocked
    }
    if (!usable) {
      this.#set({
        status: 'inert',
        reason: 'no browser window, or storage is blocked (server-side rendering, a test)',
      });
      return this;
    }
    const running =
      this.#options.version ?? document.querySelector<HTMLMetaElement>(`meta[name="${RELEASE_META_NAME}"]`)?.content;
    if (!isVersion(running)) {
      this.#set({
        status: 'inert',
        reason: `no running version: pass { version } or serve the page through the Daylight shell (meta: ${running ?? 'none'})`,
      });
      return this;
    }
    const stored = readJson<unknown>('session');
    this.#session = typeof stored === 'string' && /^[\w-]{8,64}$/.test(stored) ? stored : randomId();
    writeJson('session', this.#session);
    this.#set({ status: 'idle', running, reason: undefined });
    this.#finishSwitch(running);

    const onVisibility = (): void => {
      if (document.visibilityState === 'hidden') this.#hiddenAt = Date.now();
      else if (Date.now() - this.#lastCheck > 60_000) void this.check().catch(() => undefined);
      this.#arm();
    };
    const onNavigate = (): void => this.navigated();
    const onActivity = (): void => {
      this.#activeAt = Date.now();
    };
    const { signal } = this.#listening;
    for (const type of 'pointerdown pointermove keydown wheel touchstart focusin'.split(' '))
      window.addEventListener(type, onActivity, { capture: true, passive: true, signal });
    document.addEventListener('visibilitychange', onVisibility, { signal });
    window.addEventListener('popstate', onNavigate, { signal });
    // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as it was on stop()
    const { pushState } = history;
    const wrapper = (history.pushState = function (this: History, ...args: Parameters<History['pushState']>) {
      pushState.apply(this, args);
      onNavigate();
    });
    // Unless a router or analytics wrapped it since: theirs stays (and calls this one, which then does nothing).
    signal.addEventListener('abort', () => history.pushState === wrapper && (history.pushState = pushState));
    this.#schedule();
    if (early) this.ready();
    return this;
  }

  /** Stops listening and cancels any download. The wrapped `fetch` keeps working. */
  stop(): void {
    this.#listening.abort();
    clearTimeout(this.#timer);
    clearTimeout(this.#momentTimer);
    this.#cancel();
    // Inert for good: no check, download or switch starts again; the wrapped fetch still stamps.
    this.#set({ status: 'inert', target: undefined, reason: 'stopped' });
  }

  /**
   * Plugs in tab coordination (`@daylight/client/tabs`) or the service
   * worker mode (`@daylight/client/sw`). Call before `start()`.
   */
  extend(extension: DaylightExtension): this {
    this.#extensions.push(extension);
    return this;
  }

  /** The app changed its route in a way Daylight cannot see (the History API is seen): a safe moment. */
  navigated(): void {
    if (this.#options.navigation) this.#moment();
  }

  /**
   * On a page a switch just landed on, before `ready()`: the release it came
   * from and this one. The boot watchdog (`@daylight/client/watchdog`) watches
   * exactly while this is set.
   */
  get booting(): { readonly from: string; readonly version: string } | undefined {
    const record = readJson<SwitchRecord>('switch');
    const running = this.#state.running;
    return record?.landed && !record.back && record.to === running
      ? { from: record.from, version: running }
      : undefined;
  }

  /**
   * Goes back to the release the page came from because this one did not
   * boot: remembers it as bad for this browser (it is not offered again; a
   * later version is), reports `boot-failure`, and navigates once, after the
   * mutating requests in flight were answered. Only while `booting` is set;
   * returns whether it navigates.
   */
  revert(reason: string): boolean {
    const booting = this.booting;
    if (!booting) return false;
    const record = readJson<SwitchRecord>('switch')!;
    // Per browser, and per tab too: if localStorage is full, the tab must still not come back here.
    pushJson('bad' + this.#app, booting.version, true);
    pushJson('blocked' + this.#app, booting.version);
    this.report('boot-failure', { ...booting, message: reason });
    // After a switch already under way, which may still leave (for a newer release: no way back is needed then).
    // Requests sent from this page get their answers first and new ones wait, as in a switch. A broken page is
    // worse than a way back without its record.
    void this.#underWay(
      (async () => {
        await this.#held(); // (run before #underWay makes this the one under way: it waits for the one before)
        await this.#settled();
        await this.#go({ from: booting.version, to: booting.from, state: record.state, back: true }, true);
      })(),
    );
    return true;
  }

  /**
   * Sends a report to `POST {basePath}/reports` (with `keepalive`, so it
   * survives the page leaving). Never throws; does nothing when `reports` is off.
   */
  report(kind: ReportKind, detail: { version?: string; from?: string; message?: string } = {}): void {
    const running = this.#state.running;
    if (!this.#options.reports || !running) return;
    const body = JSON.stringify({
      kind,
      session: this.#session,
      version: running,
      ...detail,
      message: detail.message?.slice(0, 500),
    });
    this.#fetch(`${this.#options.basePath}/reports`, {
      method: 'POST',
      body,
      keepalive: true,
      credentials: 'same-origin',
      signal: AbortSignal.timeout(this.#options.timeout),
      headers: {
        'Content-Type': 'application/json',
        [CLIENT_HEADER]: clientStamp(running, this.#session),
      },
    }).catch(() => undefined);
  }

  /**
   * The new release calls this once it has booted healthily. It re-arms the
   * loop guard and forgets the switch that brought the page here. Called
   * before `start()`, it takes effect when `start()` has run.
   */
  ready(): void {
    // Before start(), the switch that brought the page here is not known yet: start() calls this again.
    if (!this.#started) {
      this.#started = undefined;
      return;
    }
    const booting = this.booting;
    if (booting) this.report('boot', booting);
    // Not while a switch from this page is leaving (a way back, late): its page needs its record and attempt.
    if (this.#state.status !== 'applying') {
      writeJson('switch');
      writeJson('attempts');
    }
    if (this.#state.running) this.#emit('booted', { version: this.#state.running });
  }

  /**
   * Holds off automatic switches until the returned function is called (for
   * example while a form has unsaved changes). `apply()` called by the app
   * still switches, taking a snapshot.
   */
  block(_reason: string): () => void {
    const token = {};
    this.#blockers.add(token);
    return () => {
      if (this.#blockers.delete(token)) this.#cleared();
    };
  }

  /**
   * The person chose "Later" for the release offered: emits `dismissed`, so
   * that with `@daylight/client/tabs` no other tab asks again for it. The
   * release stays ready, and `apply()` still switches to it.
   */
  dismiss(): void {
    const { status, target } = this.#state;
    if (status === 'ready' && target) this.#emit('dismissed', { version: target });
  }

  /**
   * Asks the server which release this tab should run, and starts
   * downloading it if it is another one. Resolves `true` when another
   * release is wanted.
   */
  check(): Promise<boolean> {
    // Not while a switch is under way: its answer could change the state the switch relies on.
    if (this.#state.status === 'inert' || this.#applying) return Promise.resolve(false);
    return (this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    }));
  }

  /**
   * Switches to the verified release: saves the app's state through
   * `snapshot`, then navigates once. Rejects with a {@link DaylightError}
   * when nothing is ready, when this tab already tried this version, or when
   * the page did not leave within `timeout`.
   */
  apply(): Promise<void> {
    // One switch at a time: a second call (the banner and a safe moment at once) joins the first.
    return this.#applying ?? this.#underWay(this.#apply());
  }

  /** Makes `work` the switch under way, which requests and checks wait for, until it ends (and no later one began). */
  #underWay(work: Promise<void>): Promise<void> {
    const own: Promise<void> = (this.#applying = work.finally(() => {
      if (this.#applying === own) this.#applying = undefined;
    }));
    return own;
  }

  async #apply(): Promise<void> {
    // First the wait, then the state: a rollback or stop() during the wait calls the switch off.
    await this.#settled();
    // (Ready means a running release and a target.)
    const { target, running, status } = this.#state as DaylightState & { target: string; running: string };
    if (status !== 'ready') {
      throw new DaylightError(
        'not-ready',
        `Nothing to switch to yet (status ${status}); wait for the "downloaded" event`,
      );
    }
    // Also when another tab of this browser found that it does not boot, after this one had it ready.
    if (readJson<Record<string, number>>('attempts')?.[target] || this.#blocked(target)) {
      this.#refuse(
        'loop-guard',
        `${target} was tried in this tab or did not boot in this browser; not switching`,
        target,
      );
    }
    // No safe moment retries this switch by itself (a snapshot hook that keeps failing would be called every second).
    clearTimeout(this.#momentTimer);
    let state: unknown;
    try {
      state = this.#options.snapshot?.();
      JSON.stringify(state);
    } catch (cause) {
      const error = new DaylightError('snapshot', 'The snapshot hook failed; the switch is cancelled', { cause });
      this.#emit('error', { error });
      throw error;
    }
    throw (await this.#go({ from: running, to: target, state }))
      ? new DaylightError('timeout', `The page did not leave for ${target} within ${this.#options.timeout} ms`)
      : new DaylightError('aborted', `The page stayed: the switch to ${target} was cancelled`);
  }

  /** Fails the release in this tab and throws why. */
  #refuse(code: DaylightErrorCode, message: string, version: string): never {
    const error = new DaylightError(code, message, { version });
    this.#fail(error);
    throw error;
  }

  /**
   * Saves the switch, counts the attempt, and navigates once; refuses the switch (`snapshot`) when the record
   * could not be saved, unless `always`. Resolves only if the page did not leave after all: 0 as soon as the
   * browser says so (with the Navigation API, a "leave this page?" dialog answered "stay" rejects `committed`; a
   * cross-document navigation never settles it), 1 after `timeout` (without that API, or a shell that does not
   * come), when the navigation still pending is stopped: the page must not leave later without its record. By
   * then the record and the attempt are undone and the status is back, so the requests held go out.
   */
  async #go(record: SwitchRecord, always = false): Promise<number> {
    const attempts = readJson<Record<string, number>>('attempts') ?? {};
    const { status } = this.#state;
    if (!writeJson('switch', record) && !always) {
      // Without the record the new page could neither restore the state nor tell a stale shell: no loop guard.
      this.#refuse('snapshot', 'sessionStorage refused the switch record; the switch is cancelled', record.to);
    }
    writeJson('attempts', { ...attempts, [record.to]: (attempts[record.to] ?? 0) + 1 });
    this.#set({ status: 'applying' });
    this.#emit('applying', { version: record.to });
    // Read after `applying`, whose listeners may move it: chunk recovery pushes where the person was going there.
    const url = new URL(location.href);
    url.searchParams.set(SWITCH_PARAM, record.to);
    const { navigation } = globalThis as { navigation?: { reload(): { committed: Promise<unknown> } } };
    // A reload of this entry under the new URL, not a navigation to it: the entries the app pushed before belong to
    // the page that loads, so Back after the switch stays on the new release (after a navigation they were the old
    // page's, and Back took that page's shell from the HTTP cache, unvalidated: the old release again). Firefox and
    // Safari refuse the URL after many calls of the History API in a short time: the reload then asks for the page's
    // own URL, which a switch to the server's release does not need.
    try {
      history.replaceState(history.state, '', url);
    } catch {
      // (refused: the reload asks for the page's own URL)
    }
    const timedOut = await new Promise<number>((resolve) => {
      // Stopping cuts only what leaving would have cut (in Chromium, requests in flight too). Also when `committed`
      // rejects, which it does when the page stays and when another navigation takes the reload's place: after the
      // app's own pushState the reload still goes on.
      const stop = (code: number): void => {
        clearTimeout(timer);
        // Not on a page that stayed where it was (its URL still the switch's): it has nothing to stop but its own
        // requests in flight, a long read included.
        if (code || location.href !== url.href) window.stop();
        resolve(code);
      };
      if (navigation) navigation.reload().committed.catch(() => stop(0));
      else location.reload();
      // From here: a "leave this page?" dialog holds the call above until it is answered.
      const timer = setTimeout(stop, this.#options.timeout, 1);
    });
    // It never left: this was no attempt, and no switch is on record. (After stop(), inert it stays.)
    writeJson('switch');
    writeJson('attempts', attempts);
    if (this.#state.status === 'applying') this.#set({ status });
    // The entry's own URL back. Not the URL read before: the app may have moved to another entry since (a page that
    // stayed is usable while the switch waits for its timeout), which keeps the URL the app gave it.
    unmark();
    return timedOut;
  }

  /**
   * A `fetch` that stamps same-origin (and allow-listed) requests with this
   * tab's version and session, and reads the release stamp of the response.
   * Use it directly, or give it to ky as its `fetch` option.
   */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    // (A URL reads as its href. Outside a browser, with no location, only an absolute URL is read.)
    const url = new URL(request?.url ?? (input as string | URL), globalThis.location?.href);
    if (!this.#trusted(url.origin)) return this.#fetch(input, init);
    await this.#held();
    const headers = new Headers(init?.headers ?? request?.headers);
    // Its end is always heard (finally, below): it counts as in flight until then, however long an upload takes.
    const token = this.#track(init?.method ?? request?.method, headers, Infinity);
    let response: Response | undefined;
    try {
      response = await this.#fetch(input, { ...init, headers });
      this.observe(response, init?.method ?? request?.method);
      return response;
    } finally {
      this.#answered(token, response);
    }
  };

  /**
   * Hooks for ky: `ky.create({ hooks: client.kyHooks })`. They stamp requests
   * and read responses; a mutating request counts as in flight until its
   * response (or for at most `timeout`, since ky calls no hook on a network error: a longer upload is counted to
   * its end when ky is given `fetch: client.fetch` instead).
   */
  get kyHooks(): {
    beforeRequest: ((request: Request, options?: unknown) => Promise<void>)[];
    afterResponse: ((request: Request, options: unknown, response: Response) => void)[];
  } {
    // ky hands afterResponse a clone of the Request that beforeRequest saw, but
    // the same normalised options object (one per call): the token is kept by that.
    const key = (request: Request, options: unknown): object =>
      typeof options === 'object' && options !== null ? options : request;
    return {
      beforeRequest: [
        async (request, options) => {
          if (this.#trusted(new URL(request.url).origin)) {
            await this.#held();
            this.#kyTokens.set(key(request, options), this.#track(request.method, request.headers));
          }
        },
      ],
      afterResponse: [
        (request, options, response) => {
          this.#answered(this.#kyTokens.get(key(request, options)), response);
          this.observe(response, request.method);
        },
      ],
    };
  }

  /**
   * Reads the `Daylight-Release` stamp of any response the app got some
   * other way. Never throws; a malformed stamp is ignored and counted.
   */
  observe(response: Response, method = 'GET'): void {
    if (this.#state.status === 'inert') return;
    // A body the app already read cannot be cloned: its stamp is still read. (No content type tests as "null".)
    if (
      response.status === 409 &&
      !response.bodyUsed &&
      /application\/problem\+json/.test(response.headers.get('content-type') as string)
    ) {
      this.#refused(response, method);
    }
    const value = response.headers.get(RELEASE_HEADER);
    if (value === null) return;
    const stamp = readReleaseStamp(value);
    if (!stamp) {
      this.malformedStamps++;
      return;
    }
    const running = this.#state.running!;
    const known = stamp.version === (this.#state.target ?? running) || this.#blocked(stamp.version);
    // Below the floor a known release is checked again (to force it): at once for a new floor, then every 10 s.
    if (known && (!below(running, stamp.min) || (stamp.min === this.#min && this.#recent()))) return;
    // One check, then none for this release for 10 s whatever it answered: a stamp the check does not confirm
    // (a lagging server, a proxy's cached answer) would otherwise cost a check per response.
    if (this.#stamped === stamp.version && this.#recent()) return;
    this.#stamped = stamp.version;
    void this.check().catch(() => undefined);
  }

  /**
   * The API refused a request because this release is outside what it serves
   * (docs/protocol.md, "Compatibility floor"): tell the app which request, so
   * it can retry after the switch, and check now — the floor forces the switch.
   */
  #refused(response: Response, method: string): void {
    response
      .clone()
      .json()
      .then((problem: { type?: unknown; required?: unknown }) => {
        const type = typeof problem.type === 'string' ? problem.type : '';
        if (!/\/problems\/client-(too-old|unsupported|required)$/.test(type)) return;
        this.#emit('refused', {
          url: response.url,
          method: method.toUpperCase(),
          type,
          required: typeof problem.required === 'string' ? problem.required : '',
        });
        // A save refused: the switch is due now (the snapshot keeps the input), not after `grace`, during which
        // every save would be refused too.
        if (!SAFE_METHOD.test(method.toUpperCase())) {
          this.#refusedSave = true;
          if (this.#state.status === 'ready' && this.#state.policy === 'force') this.#announce('force', Date.now());
        }
        // Its stamp (read above) asks for a check when there is news; this is for a refusal without one.
        if (!this.#recent()) void this.check().catch(() => undefined);
      })
      .catch(() => undefined);
  }

  /** A release check started within the last 10 s. */
  #recent(): boolean {
    return Date.now() - this.#lastCheck < 10_000;
  }

  /** This page's origin (none outside a browser) or an allowed one. */
  #trusted(origin: string): boolean {
    return origin === globalThis.location?.origin || this.#options.allowedOrigins.includes(origin);
  }

  /**
   * While a switch is under way, new requests wait for it: the page is about
   * to leave, and a request it started now would be cancelled by the
   * navigation. If the switch fails, they go out as usual.
   */
  async #held(): Promise<void> {
    if (this.#applying) await this.#applying.catch(() => undefined);
  }

  /**
   * A request tracked by {@link #track} got its answer's head (or failed). A mutating one stays in flight until
   * the body has arrived too (the app reads it after this, and a navigation would cut it), for at most `timeout`:
   * an answer that streams for good must not hold every switch, nor the requests a switch holds. Stopping then
   * also lets an app's own `cancel()` of the body reach the network.
   */
  #answered(token: object | undefined, response?: Response): void {
    if (!token) return;
    const done = (): void => {
      this.#open.delete(token);
      if (this.#inflight.delete(token)) this.#cleared();
    };
    let body;
    try {
      body = this.#inflight.has(token) && response?.clone().body;
    } catch {
      // A body already read (or locked) by whoever gave the response: nothing more to wait for.
    }
    if (body)
      body.pipeTo(new WritableStream(), { signal: AbortSignal.timeout(this.#options.timeout) }).then(done, done);
    else done();
  }

  /**
   * Adds the request header; returns a token that counts the request as in flight (when it mutates) and open from
   * `since`: now for ky's, which may never be heard of again; `Infinity`, never expiring, for the fetch wrapper's.
   */
  #track(method: string | undefined, headers: Headers, since = Date.now()): object {
    const token = {};
    if (this.#state.running) {
      headers.set(CLIENT_HEADER, clientStamp(this.#state.running, this.#session));
    }
    if (!SAFE_METHOD.test((method ?? 'GET').toUpperCase())) this.#inflight.set(token, since);
    this.#open.set(token, since);
    return token;
  }

  /**
   * True while a request in `requests` is in flight (one sent through ky's hooks for at most `timeout`: ky calls
   * no hook on a network error, so some never end; one sent through `fetch` until it ends). The default, mutating
   * requests.
   */
  #sending(requests = this.#inflight): boolean {
    const now = Date.now();
    for (const [token, since] of requests) {
      if (now - since > this.#options.timeout) requests.delete(token);
      else return true;
    }
    return false;
  }

  /** True while the app holds a blocker or someone types in a visible tab. (Asked only with a release ready: in a browser.) */
  #busy(): boolean {
    const active = document.activeElement as HTMLElement | null;
    return (
      this.#blockers.size > 0 ||
      (!!active &&
        (/^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) || active.isContentEditable) &&
        document.visibilityState === 'visible')
    );
  }

  #blocked(version: string): boolean {
    // (No entry: undefined, which is not greater.)
    if ((this.#retryAt.get(version) as number) > Date.now()) return true;
    const app = this.#app;
    return [...(readJson<string[]>('blocked' + app) ?? []), ...(readJson<string[]>('bad' + app, true) ?? [])].includes(
      version,
    );
  }

  /**
   * A safe moment: the automatic or forced switch happens here unless a
   * guard holds it, in which case it happens as soon as the guards clear.
   * A forced switch past its deadline only waits for in-flight requests.
   */
  #moment(): void {
    const { status, policy, deadline } = this.#state;
    if (status !== 'ready' || policy === 'prompt') return;
    const late = Date.now() >= (deadline ?? Infinity);
    this.#deferred = this.#sending() || (!late && this.#busy());
    if (!this.#deferred) this.apply().catch(() => undefined);
  }

  /** A request ended or a blocker was released. */
  #cleared(): void {
    if (this.#deferred) this.#moment();
  }

  /**
   * Arms the one timer for the moments that are states rather than events:
   * hidden long enough, idle long enough, the forced switch's deadline.
   * While one is due and a guard holds, it looks again every second.
   */
  #arm(wait = 0): void {
    clearTimeout(this.#momentTimer);
    const { status, policy } = this.#state;
    if (status !== 'ready' || policy === 'prompt') return;
    const due = this.#due();
    if (due === Infinity) return;
    this.#momentTimer = setTimeout(
      () => {
        // Read the moments again: the person may have been active since the timer was set.
        if (Date.now() >= this.#due()) this.#moment();
        this.#arm(1_000);
      },
      Math.min(Math.max(wait, due - Date.now()), 2 ** 31 - 1),
    );
  }

  /** When the next state-like safe moment is due: hidden long enough, idle long enough, or the deadline. */
  #due(): number {
    return Math.min(
      document.visibilityState === 'hidden' ? this.#hiddenAt + this.#options.hidden : Infinity,
      this.#activeAt + this.#options.idle,
      this.#state.deadline ?? Infinity,
    );
  }

  #finishSwitch(running: string): void {
    unmark();
    const record = readJson<SwitchRecord>('switch');
    if (!record) return;
    if (record.landed) {
      writeJson('switch');
      return;
    }
    this.#restored = record.state;
    if (record.to === running) {
      // Landed. The record stays until ready(), so a boot that never gets there is known.
      writeJson('switch', { ...record, landed: true });
      queueMicrotask(() =>
        this.#emit(record.back ? 'rolledback' : 'applied', {
          from: record.from,
          version: running,
          restored: record.state,
        }),
      );
      return;
    }
    writeJson('switch');
    pushJson('blocked' + this.#app, record.to);
    queueMicrotask(() =>
      this.#fail(
        new DaylightError(
          'stale-shell',
          `Switched to ${record.to} but the page came back on ${running}: the server or a cache still sends the old shell; not reloading again`,
          { version: record.to },
        ),
      ),
    );
  }

  async #check(): Promise<boolean> {
    const running = this.#state.running!;
    this.#lastCheck = Date.now();
    let wanted: string | undefined;
    let stale = false;
    try {
      const response = await this.#fetch(releaseCheckPath(this.#options.basePath), {
        cache: 'no-store',
        credentials: 'same-origin',
        signal: AbortSignal.timeout(this.#options.timeout),
        headers: { [CLIENT_HEADER]: clientStamp(running, this.#session) },
      });
      if (response.status === 204) wanted = running;
      else if (!response.ok) throw new DaylightError('network', `The release check answered HTTP ${response.status}`);
      else {
        const body = (await response.json()) as { version?: unknown; min?: unknown; revision?: unknown };
        if (!isVersion(body.version)) throw new DaylightError('network', 'The release check did not name a version');
        stale = isStaleRevision(body.revision);
        wanted = body.version;
        // A stale answer's floor is as old as its release.
        if (!stale) this.#min = isVersion(body.min) ? body.min : undefined;
      }
      this.#failures = 0;
    } catch (error) {
      this.#failures++;
      this.#schedule();
      throw error;
    }
    this.#schedule();
    // Stopped while the check was on its way: nothing starts.
    if (stale || this.#state.status === 'inert') return false;
    if (wanted === running) {
      if (this.#state.target) {
        this.#cancel();
        clearTimeout(this.#momentTimer);
        this.#set({ ...NOTHING_PENDING, status: 'idle' });
      }
      return false;
    }
    if (wanted === this.#state.target) {
      this.#escalate(running, wanted);
      return false;
    }
    if (this.#blocked(wanted)) return false;
    void this.#download(running, wanted);
    return true;
  }

  /**
   * The floor rose above this tab after its release was already verified
   * (prompted, or waiting for a safe moment): the switch becomes forced, with
   * the grace period starting now.
   */
  #escalate(running: string, version: string): void {
    const { status, policy } = this.#state;
    if (status !== 'ready' || policy === 'force' || this.#manifest?.version !== version) return;
    if (!below(running, this.#min)) return;
    this.#announce('force', this.#dueBy());
  }

  /** When a forced switch is due: after `grace`, or at once once a save was refused. */
  #dueBy(): number {
    return Date.now() + (this.#refusedSave ? 0 : this.#options.grace);
  }

  /** Emits `downloaded` for the release that is ready, with `policy` (and its deadline) set first. */
  #announce(policy: Policy, deadline: number | undefined): void {
    const { running, target } = this.#state as { running: string; target: string };
    const { urgency, notes } = this.#manifest!;
    this.#set({ policy, deadline });
    this.#emit('downloaded', {
      version: target,
      from: running,
      kind: changeKind(running, target),
      policy,
      urgency,
      notes,
      deadline,
    });
    this.#arm();
    if (this.#deferred) this.#moment();
  }

  /**
   * Resolves once requests already on their way are done, so that a navigation cancels none of them (a request
   * the app does not see answered has failed): every mutating one (through ky's hooks for at most `timeout`), and, since the app
   * may still be reading a body after the response hook ran, 100 ms without any request open (at most 2 s of that).
   */
  async #settled(): Promise<void> {
    for (let quiet = 0, until = Date.now() + 2_000; (quiet < 100 && Date.now() < until) || this.#sending();) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      quiet = this.#sending(this.#open) ? 0 : quiet + 20;
    }
  }

  /** Cancels the download (or the offer) under way; nothing of it is reported, it was not a failure. */
  #cancel(): void {
    const abort = this.#abort;
    this.#abort = undefined;
    abort?.abort();
  }

  async #download(running: string, version: string): Promise<void> {
    this.#cancel();
    const abort = (this.#abort = new AbortController());
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(this.#options.timeout * 10)]);
    clearTimeout(this.#momentTimer);
    // A moment refused for an earlier release is not this one's: it waits for its own.
    this.#deferred = false;
    this.#set({ ...NOTHING_PENDING, status: 'downloading', target: version });
    this.#emit('available', { version, from: running, kind: changeKind(running, version) });
    const url = new URL(manifestPath(this.#options.basePath, version), location.href).href;
    const context = {
      fetch: this.#fetch,
      signal,
      allowedOrigins: this.#options.allowedOrigins,
      progress: (progress: DownloadProgress) => {
        if (this.#abort !== abort) return;
        this.#set({ progress });
        this.#emit('progress', progress);
      },
    };
    try {
      const manifest = await fetchManifest(url, version, context);
      let run = (): Promise<void> => downloadRelease(manifest, url, context);
      for (const extension of this.#extensions) {
        const inner = run;
        if (extension.download) run = () => extension.download!(version, inner, signal);
      }
      await run();
      if (this.#abort !== abort) return;
      this.#manifest = manifest;
      const policy = policyFor(this.#options.policy, running, version, manifest.urgency, below(running, this.#min));
      const deadline = policy === 'force' ? this.#dueBy() : undefined;
      this.#set({ status: 'ready', policy, deadline });
      const announce = (answer: Policy | 'hide'): void =>
        answer === 'hide' ? this.#emit('withdrawn', { version }) : this.#announce(answer, deadline);
      const asks = this.#extensions.find((extension) => extension.prompt !== undefined);
      if (policy === 'prompt' && asks?.prompt) {
        // Answers count while this release waits for one: not once the tab moved on, settled or was forced.
        asks.prompt(version, abort.signal, (answer) => {
          const { status, policy: now } = this.#state;
          if (this.#abort === abort && status === 'ready' && now === 'prompt') announce(answer);
        });
      } else announce(policy);
    } catch (cause) {
      if (this.#abort !== abort) return;
      this.#fail(
        cause instanceof DaylightError
          ? cause
          : new DaylightError(signal.aborted ? 'timeout' : 'network', `Downloading release ${version} failed`, {
              cause,
              version,
            }),
      );
    }
  }

  /** The manifest of the release that is ready, if any. */
  get manifest(): ReleaseManifest | undefined {
    return this.#state.status === 'ready' ? this.#manifest : undefined;
  }

  #fail(error: DaylightError): void {
    if (error.code === 'stale-shell' || error.code === 'integrity' || error.code === 'loop-guard') {
      this.report(error.code, { message: error.message, ...(error.version ? { version: error.version } : {}) });
    }
    // Not downloaded again in this page, loop-guard refusals included (a stale shell's version is blocked already).
    if (error.version) {
      this.#retryAt.set(
        error.version,
        // A network failure or a timeout is transient.
        error.code === 'network' || error.code === 'timeout' ? Date.now() + RETRY_AFTER : Infinity,
      );
    }
    clearTimeout(this.#momentTimer);
    this.#set({ ...NOTHING_PENDING, status: 'error', reason: error.message, errorCode: error.code });
    this.#emit('error', { error });
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const interval = this.#options.checkInterval;
    if (interval === 0 || !this.#started || this.#state.status === 'inert') return;
    this.#timer = setTimeout(
      () => void this.check().catch(() => undefined),
      // Failures back off, up to an hour.
      Math.min(interval * 2 ** Math.min(this.#failures, 6), 3_600_000),
    );
  }

  #set(patch: Partial<DaylightState>): void {
    this.#state = Object.freeze({ ...this.#state, ...patch });
    this.#emit('statechange', this.#state);
  }

  #emit<K extends keyof DaylightEventMap>(type: K, detail: DaylightEventMap[K]['detail']): void {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

/** Creates a Daylight client. Nothing happens until `start()`. */
export function createDaylight(options?: DaylightOptions): DaylightClient {
  return new DaylightClient(options);
}
