import {
  CLIENT_HEADER,
  DEFAULT_BASE_PATH,
  RELEASE_HEADER,
  RELEASE_META_NAME,
  changeKind,
  formatClientHeader,
  isVersion,
  manifestPath,
  parseReleaseHeader,
  releaseCheckPath,
  type ChangeKind,
  type ReleaseManifest,
  type Urgency,
} from '@daylight/protocol';
import { policyFor, resolvePolicy, type Policy, type PolicyMap } from './policy.js';
import { downloadRelease, fetchManifest, type DownloadProgress } from './download.js';
import { DaylightError, type DaylightErrorCode } from './errors.js';
import { readJson, writeJson } from './storage.js';

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
   * What to do with a verified release, per kind of change: `auto` switches at
   * the next safe moment (the tab hidden, or the app navigating), `prompt`
   * fires `downloaded` with `policy: 'prompt'` and waits for `apply()`.
   * @default { major: 'prompt', minor: 'prompt', patch: 'auto', prerelease: 'prompt', downgrade: 'auto' }
   */
  policy?: Policy | PolicyMap;
  /**
   * Origins besides this page's that may serve release files and that API
   * calls may be stamped for (they must allow the `Daylight-Client` header in CORS).
   * @default []
   * @example ['https://cdn.example.com']
   */
  allowedOrigins?: readonly string[];
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
   * Limit for each network operation, and for `apply()` to leave the page, in ms.
   * @default 30_000
   */
  timeout?: number;
  /**
   * The `fetch` Daylight uses for its own requests and wraps for the app's.
   * @default globalThis.fetch
   */
  fetch?: typeof fetch;
}

export type DaylightStatus = 'inert' | 'idle' | 'checking' | 'downloading' | 'ready' | 'applying' | 'error';

export interface DaylightState {
  readonly status: DaylightStatus;
  /** The release this page runs (`undefined` only when inert). */
  readonly running: string | undefined;
  /** The release being downloaded or ready to switch to. */
  readonly target: string | undefined;
  readonly progress: DownloadProgress | undefined;
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
  /** Every file of the release is verified; `apply()` can switch now. */
  downloaded: CustomEvent<DownloadedDetail>;
  /** The switch starts: the app's state was saved and the page is leaving. */
  applying: CustomEvent<{ readonly version: string }>;
  /** On the new page: the switch landed, with the state the old page saved. */
  applied: CustomEvent<AppliedDetail>;
  error: CustomEvent<ErrorDetail>;
}

interface SwitchRecord {
  readonly from: string;
  readonly to: string;
  readonly state: unknown;
  /** Set once the new page has seen it, so a later reload does not restore it twice. */
  readonly landed?: boolean;
}

const SWITCH_PARAM = '_daylight';
const SAFE_METHOD = /^(GET|HEAD|OPTIONS)$/;
/** How long a release whose download failed on the network is left alone, in ms. */
const RETRY_AFTER = 60_000;

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new TypeError(`createDaylight: ${name} must be a number of milliseconds ≥ 0, got ${String(value)}`);
  }
  return value;
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
  }>;
  readonly #fetch: typeof fetch;
  #state: DaylightState = {
    status: 'inert',
    running: undefined,
    target: undefined,
    progress: undefined,
    reason: 'not started: call start()',
    errorCode: undefined,
  };
  #session = '';
  #started = false;
  #restored: unknown;
  #manifest: ReleaseManifest | undefined;
  #abort: AbortController | undefined;
  #checking: Promise<boolean> | undefined;
  #pendingStamp: string | undefined;
  /** Mutating requests in flight, with the time each started. */
  #inflight = new Map<object, number>();
  #kyTokens = new WeakMap<Request, object>();
  #blockers = new Set<object>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #failures = 0;
  /** Releases not to download again before a time: forever after an integrity or manifest failure. */
  #retryAt = new Map<string, number>();
  #lastCheck = 0;
  #cleanup: (() => void)[] = [];
  /** Stamps that did not parse; a growing number means a proxy mangles headers. */
  malformedStamps = 0;

  constructor(options: DaylightOptions = {}) {
    super();
    const basePath = options.basePath ?? DEFAULT_BASE_PATH;
    if (!/^\/[^?#]*[^/?#]$/.test(basePath)) {
      throw new TypeError(`createDaylight: basePath must start with "/" and not end with one, got "${basePath}"`);
    }
    if (options.version !== undefined && !isVersion(options.version)) {
      throw new TypeError(
        `createDaylight: version must be a semver version such as 1.4.2, got "${String(options.version)}"`,
      );
    }
    for (const origin of options.allowedOrigins ?? []) {
      if (typeof origin !== 'string' || !/^https?:\/\/[^/]+$/.test(origin)) {
        throw new TypeError(
          `createDaylight: allowedOrigins takes origins such as "https://cdn.example.com", got "${String(origin)}"`,
        );
      }
    }
    this.#options = Object.freeze({
      version: options.version,
      snapshot: options.snapshot,
      allowedOrigins: Object.freeze([...(options.allowedOrigins ?? [])]),
      basePath,
      policy: resolvePolicy(options.policy),
      checkInterval: positive('checkInterval', options.checkInterval, 600_000),
      timeout: positive('timeout', options.timeout, 30_000),
    });
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  }

  /** The client's current state. */
  get state(): DaylightState {
    return this.#state;
  }

  /** On the page a switch landed on: what the old page's `snapshot` returned. */
  get restored(): unknown {
    return this.#restored;
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
    this.#started = true;
    if (typeof window === 'undefined' || typeof document === 'undefined' || typeof sessionStorage === 'undefined') {
      this.#set({ status: 'inert', reason: 'no browser window here (server-side rendering or a test runner)' });
      return this;
    }
    const meta = document.querySelector<HTMLMetaElement>(`meta[name="${RELEASE_META_NAME}"]`)?.content;
    const running = this.#options.version ?? meta;
    if (!isVersion(running)) {
      this.#set({
        status: 'inert',
        reason: `no running version: pass { version } or serve the page through the Daylight shell (found ${JSON.stringify(running ?? null)})`,
      });
      return this;
    }
    this.#session = readJson<string>('session') ?? randomId();
    writeJson('session', this.#session);
    this.#set({ status: 'idle', running, reason: undefined });
    this.#finishSwitch(running);

    const onVisibility = (): void => {
      if (document.visibilityState === 'hidden') this.#safeMoment();
      else if (Date.now() - this.#lastCheck > 60_000) void this.check().catch(() => undefined);
    };
    const onNavigate = (): void => this.#safeMoment();
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('popstate', onNavigate);
    // eslint-disable-next-line @typescript-eslint/unbound-method -- restored as it was on stop()
    const { pushState } = history;
    history.pushState = function (this: History, ...args: Parameters<History['pushState']>) {
      pushState.apply(this, args);
      onNavigate();
    };
    this.#cleanup.push(
      () => document.removeEventListener('visibilitychange', onVisibility),
      () => window.removeEventListener('popstate', onNavigate),
      () => (history.pushState = pushState),
    );
    this.#schedule();
    return this;
  }

  /** Stops listening and cancels any download. The wrapped `fetch` keeps working. */
  stop(): void {
    this.#cleanup.forEach((undo) => undo());
    this.#cleanup = [];
    clearTimeout(this.#timer);
    this.#abort?.abort(new DaylightError('aborted', 'The client was stopped'));
  }

  /**
   * The new release calls this once it has booted healthily. It re-arms the
   * loop guard and forgets the switch that brought the page here.
   */
  ready(): void {
    writeJson('switch', undefined);
    writeJson('attempts', undefined);
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
      this.#blockers.delete(token);
    };
  }

  /**
   * Asks the server which release this tab should run, and starts
   * downloading it if it is another one. Resolves `true` when another
   * release is wanted.
   */
  check(): Promise<boolean> {
    if (this.#state.status === 'inert') return Promise.resolve(false);
    this.#checking ??= this.#check().finally(() => {
      this.#checking = undefined;
    });
    return this.#checking;
  }

  /**
   * Switches to the verified release: saves the app's state through
   * `snapshot`, then navigates once. Rejects with a {@link DaylightError}
   * when nothing is ready, when this tab already tried this version, or when
   * the page did not leave within `timeout`.
   */
  async apply(): Promise<void> {
    const { target, running, status } = this.#state;
    if (status !== 'ready' || !target || !running) {
      throw new DaylightError(
        'not-ready',
        `Nothing to switch to yet (status ${status}); wait for the "downloaded" event`,
      );
    }
    const attempts = readJson<Record<string, number>>('attempts') ?? {};
    if ((attempts[target] ?? 0) >= 1) {
      const error = new DaylightError(
        'loop-guard',
        `This tab already switched to ${target} once; not reloading again`,
        {
          version: target,
        },
      );
      this.#fail(error);
      throw error;
    }
    let state: unknown;
    try {
      state = this.#options.snapshot?.();
      JSON.stringify(state);
    } catch (cause) {
      const error = new DaylightError('snapshot', 'The snapshot hook failed; the switch is cancelled', { cause });
      this.#emit('error', { error });
      throw error;
    }
    const record: SwitchRecord = { from: running, to: target, state };
    writeJson('switch', record);
    writeJson('attempts', { ...attempts, [target]: (attempts[target] ?? 0) + 1 });
    this.#set({ status: 'applying' });
    this.#emit('applying', { version: target });
    const url = new URL(location.href);
    url.searchParams.set(SWITCH_PARAM, target);
    location.replace(url.href);
    await new Promise((resolve) => setTimeout(resolve, this.#options.timeout));
    const error = new DaylightError(
      'timeout',
      `The page did not leave for ${target} within ${this.#options.timeout} ms`,
    );
    writeJson('switch', undefined);
    this.#set({ status: 'ready' });
    throw error;
  }

  /**
   * A `fetch` that stamps same-origin (and allow-listed) requests with this
   * tab's version and session, and reads the release stamp of the response.
   * Use it directly, or give it to ky as its `fetch` option.
   */
  readonly fetch = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const request = input instanceof Request ? input : undefined;
    const href = request ? request.url : input instanceof URL ? input.href : (input as string);
    const url = new URL(href, typeof location === 'undefined' ? undefined : location.href);
    if (!this.#trusted(url.origin)) return this.#fetch(input, init);
    const headers = new Headers(init?.headers ?? request?.headers);
    const token = this.#track(init?.method ?? request?.method, headers);
    try {
      const response = await this.#fetch(input, { ...init, headers });
      this.observe(response);
      return response;
    } finally {
      this.#inflight.delete(token);
      if (this.#state.status === 'ready') this.#safeMoment(true);
    }
  };

  /**
   * Hooks for ky: `ky.create({ hooks: client.kyHooks })`. They stamp requests
   * and read responses; a mutating request counts as in flight until its
   * response (or for at most `timeout`, since ky calls no hook on a network error).
   */
  get kyHooks(): {
    beforeRequest: ((request: Request) => void)[];
    afterResponse: ((request: Request, options: unknown, response: Response) => void)[];
  } {
    return {
      beforeRequest: [
        (request) => {
          if (this.#trusted(new URL(request.url).origin)) {
            this.#kyTokens.set(request, this.#track(request.method, request.headers));
          }
        },
      ],
      afterResponse: [
        (request, _options, response) => {
          const token = this.#kyTokens.get(request);
          if (token) this.#inflight.delete(token);
          this.observe(response);
        },
      ],
    };
  }

  /**
   * Reads the `Daylight-Release` stamp of any response the app got some
   * other way. Never throws; a malformed stamp is ignored and counted.
   */
  observe(response: Response): void {
    if (this.#state.status === 'inert') return;
    const value = response.headers.get(RELEASE_HEADER);
    if (value === null) return;
    const stamp = parseReleaseHeader(value);
    if (!stamp) {
      this.malformedStamps++;
      return;
    }
    if (stamp.version === (this.#state.target ?? this.#state.running) || this.#blocked(stamp.version)) return;
    if (this.#pendingStamp === stamp.version) return;
    this.#pendingStamp = stamp.version;
    void this.check()
      .catch(() => undefined)
      .finally(() => (this.#pendingStamp = undefined));
  }

  #trusted(origin: string): boolean {
    return (
      (typeof location !== 'undefined' && origin === location.origin) || this.#options.allowedOrigins.includes(origin)
    );
  }

  /** Adds the request header; returns a token that counts the request as in flight when it mutates. */
  #track(method: string | undefined, headers: Headers): object {
    const token = {};
    if (this.#state.running) {
      headers.set(CLIENT_HEADER, formatClientHeader({ version: this.#state.running, session: this.#session }));
    }
    if (!SAFE_METHOD.test((method ?? 'GET').toUpperCase())) this.#inflight.set(token, Date.now());
    return token;
  }

  #busy(): boolean {
    const now = Date.now();
    for (const [token, since] of this.#inflight) {
      if (now - since > this.#options.timeout) this.#inflight.delete(token);
      else return true;
    }
    const active = typeof document === 'undefined' ? null : document.activeElement;
    const typing =
      !!active && (/^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName) || (active as HTMLElement).isContentEditable);
    return this.#blockers.size > 0 || (typing && document.visibilityState === 'visible');
  }

  #blocked(version: string): boolean {
    if ((this.#retryAt.get(version) ?? 0) > Date.now()) return true;
    return (readJson<string[]>('blocked') ?? []).includes(version);
  }

  /** An automatic switch happens here, when the policy says auto and nothing holds it. */
  #safeMoment(afterRequest = false): void {
    const { status, target, running } = this.#state;
    if (status !== 'ready' || !target || !running) return;
    if (policyFor(this.#options.policy, running, target) !== 'auto' || this.#busy()) return;
    if (afterRequest && document.visibilityState !== 'hidden') return;
    this.apply().catch(() => undefined);
  }

  #finishSwitch(running: string): void {
    const url = new URL(location.href);
    if (url.searchParams.has(SWITCH_PARAM)) {
      url.searchParams.delete(SWITCH_PARAM);
      history.replaceState(history.state, '', url.href);
    }
    const record = readJson<SwitchRecord>('switch');
    if (!record) return;
    if (record.landed) {
      writeJson('switch', undefined);
      return;
    }
    this.#restored = record.state;
    if (record.to === running) {
      // Landed. The record stays until ready(), so a boot that never gets there is known.
      writeJson('switch', { ...record, landed: true });
      queueMicrotask(() => this.#emit('applied', { from: record.from, version: running, restored: record.state }));
      return;
    }
    writeJson('switch', undefined);
    writeJson('blocked', [...(readJson<string[]>('blocked') ?? []), record.to]);
    queueMicrotask(() =>
      this.#fail(
        new DaylightError(
          'stale-shell',
          `Switched to ${record.to} but the page came back on ${running}: the server (or a cache) still sends the old shell. Not reloading again.`,
          { version: record.to },
        ),
      ),
    );
  }

  async #check(): Promise<boolean> {
    const running = this.#state.running!;
    this.#lastCheck = Date.now();
    let wanted: string | undefined;
    try {
      const response = await this.#fetch(releaseCheckPath(this.#options.basePath), {
        cache: 'no-store',
        credentials: 'same-origin',
        signal: AbortSignal.timeout(this.#options.timeout),
        headers: { [CLIENT_HEADER]: formatClientHeader({ version: running, session: this.#session }) },
      });
      if (response.status === 204) wanted = running;
      else if (!response.ok) throw new DaylightError('network', `The release check answered HTTP ${response.status}`);
      else {
        const body = (await response.json()) as { version?: unknown };
        if (!isVersion(body.version)) throw new DaylightError('network', 'The release check did not name a version');
        wanted = body.version;
      }
      this.#failures = 0;
    } catch (error) {
      this.#failures++;
      this.#schedule();
      throw error;
    }
    this.#schedule();
    if (wanted === running) {
      if (this.#state.target) {
        this.#abort?.abort(new DaylightError('aborted', `The server wants ${running} again`));
        this.#set({ status: 'idle', target: undefined, progress: undefined });
      }
      return false;
    }
    if (wanted === this.#state.target || this.#blocked(wanted)) return false;
    void this.#download(running, wanted);
    return true;
  }

  async #download(running: string, version: string): Promise<void> {
    this.#abort?.abort(new DaylightError('aborted', `Superseded by ${version}`));
    const abort = new AbortController();
    this.#abort = abort;
    const signal = AbortSignal.any([abort.signal, AbortSignal.timeout(this.#options.timeout * 10)]);
    this.#set({ status: 'downloading', target: version, progress: undefined, reason: undefined, errorCode: undefined });
    this.#emit('available', { version, from: running, kind: changeKind(running, version) });
    const url = new URL(manifestPath(this.#options.basePath, version), location.href).href;
    const context = {
      fetch: this.#fetch,
      signal,
      allowedOrigins: this.#options.allowedOrigins,
      onProgress: (progress: DownloadProgress) => {
        if (this.#abort !== abort) return;
        this.#set({ progress });
        this.#emit('progress', progress);
      },
    };
    try {
      const manifest = await fetchManifest(url, version, context);
      await downloadRelease(manifest, url, context);
      if (this.#abort !== abort) return;
      this.#manifest = manifest;
      const policy = policyFor(this.#options.policy, running, version);
      this.#set({ status: 'ready' });
      this.#emit('downloaded', {
        version,
        from: running,
        kind: changeKind(running, version),
        policy,
        urgency: manifest.urgency,
        notes: manifest.notes,
      });
      if (document.visibilityState === 'hidden') this.#safeMoment();
    } catch (cause) {
      if (this.#abort !== abort) return;
      const error =
        cause instanceof DaylightError
          ? cause
          : new DaylightError(signal.aborted ? 'timeout' : 'network', `Downloading release ${version} failed`, {
              cause,
              version,
            });
      this.#fail(error);
    }
  }

  /** The manifest of the release that is ready, if any. */
  get manifest(): ReleaseManifest | undefined {
    return this.#state.status === 'ready' ? this.#manifest : undefined;
  }

  #fail(error: DaylightError): void {
    if (error.version && error.code !== 'stale-shell' && error.code !== 'loop-guard') {
      const transient = error.code === 'network' || error.code === 'timeout';
      this.#retryAt.set(error.version, transient ? Date.now() + RETRY_AFTER : Infinity);
    }
    this.#set({
      status: 'error',
      target: undefined,
      progress: undefined,
      reason: error.message,
      errorCode: error.code,
    });
    this.#emit('error', { error });
  }

  #schedule(): void {
    clearTimeout(this.#timer);
    const interval = this.#options.checkInterval;
    if (interval === 0 || !this.#started || this.#state.status === 'inert') return;
    const delay = Math.min(interval * 2 ** Math.min(this.#failures, 6), 3_600_000);
    this.#timer = setTimeout(() => void this.check().catch(() => undefined), delay);
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
