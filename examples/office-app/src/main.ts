/**
 * The office app: log in, fill a long invoice form, watch the inbox refresh.
 * Every API call goes through ky with Daylight's hooks, so every response can
 * say which release this office should run.
 */
import ky, { HTTPError } from 'ky';
import { createDaylight, type DaylightState, type Policy } from '@daylight/client';
import { mountBanner } from '@daylight/client/banner';
import { recoverChunkErrors } from '@daylight/client/recovery';
import { enableServiceWorker, reset } from '@daylight/client/sw';
import { coordinateTabs } from '@daylight/client/tabs';
import { watchBoot } from '@daylight/client/watchdog';
import { ATLAS } from './atlas.js';

declare const __APP_VERSION__: string;
declare const __APP_FLAVOUR__: { accent: string; title: string; notesField: boolean };
declare const __APP_BROKEN__: boolean;

interface Snapshot {
  readonly form: Record<string, string>;
  readonly route: string;
  /** The last save was refused by the compatibility floor: the new page tells the person to save again. */
  readonly saveRefused?: boolean;
  /** The form held input not saved yet: restored, it is still not saved, and holds automatic switches again. */
  readonly unsaved?: boolean;
}

const FIELDS: readonly [name: string, label: string, kind?: 'textarea'][] = [
  ['customer', 'Customer'],
  ['contact', 'Contact person'],
  ['email', 'E-mail'],
  ['street', 'Street'],
  ['city', 'City'],
  ['postcode', 'Postcode'],
  ['country', 'Country'],
  ['reference', 'Purchase order reference'],
  ['item', 'Item'],
  ['quantity', 'Quantity'],
  ['price', 'Unit price'],
  ['terms', 'Payment terms'],
  ['description', 'Description', 'textarea'],
];

// Knobs for trying things out (and for the end-to-end tests): ?policy=auto,
// ?idle=ms, ?hidden=ms, ?grace=ms, ?timeout=ms, ?watchdog=ms, ?sw=1 (service worker mode), ?base=/path (the server's
// basePath, when it is not /_daylight), ?brokenSnapshot (the snapshot hook throws), ?readyDelay=ms (a slow boot),
// ?readyFirst (ready() is called before start(), and only then: it takes effect once start() has run), ?remind=ms
// (how long the banner's "Later" holds), ?check=ms (the backstop release check's checkInterval; 0 turns it off),
// ?poll=ms (how often the inbox refreshes), ?loadFirst (the header links load a route's code before they change the
// URL, as Vue Router and Angular's router do; without it, the URL changes first).
// Without them, the defaults.
const params = new URLSearchParams(location.search);
const number = (name: string): number | undefined => (params.has(name) ? Number(params.get(name)) : undefined);
const idle = number('idle');
const hidden = number('hidden');
const grace = number('grace');
const timeout = number('timeout');
const remind = number('remind');
const check = number('check');
const daylight = createDaylight({
  snapshot: (): Snapshot => {
    if (params.has('brokenSnapshot')) throw new Error('the snapshot is broken on purpose');
    return { form: readForm(), route: location.pathname, saveRefused, unsaved: holding !== undefined };
  },
  ...(params.has('policy') ? { policy: params.get('policy') as Policy } : {}),
  ...(grace === undefined ? {} : { grace }),
  ...(timeout === undefined ? {} : { timeout }),
  ...(check === undefined ? {} : { checkInterval: check }),
  ...(params.has('base') ? { basePath: params.get('base')! } : {}),
  safeMoments: { ...(idle === undefined ? {} : { idle }), ...(hidden === undefined ? {} : { hidden }) },
});
// Before start(): the watchdog must see an error thrown right after it.
const watchdog = number('watchdog');
watchBoot(daylight, watchdog === undefined ? {} : { timeout: watchdog });
const tabs = coordinateTabs(daylight);
// A switch after a chunk error lands where the person was going: with ?loadFirst, the URL is still the old one then.
recoverChunkErrors(daylight, { destination: () => going });
const serviceWorker = params.get('sw') === '1' ? enableServiceWorker(daylight) : undefined;
const api = ky.create({ prefixUrl: '/api', hooks: daylight.kyHooks, retry: 0, timeout: 10_000 });
const app = document.getElementById('app')!;

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Partial<HTMLElementTagNameMap[K]> & { dataset?: Record<string, string> } = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(node, rest);
  Object.assign(node.dataset, dataset ?? {});
  node.append(...children);
  return node;
}

/**
 * The invoice, made once per page and kept while the header's links show another route: input typed and not saved
 * yet must outlive the app's own navigation, and stay in the switch's snapshot when it is taken from Reports.
 */
let invoice: HTMLElement | undefined;
/** The inbox, made once per page: one refresh timer however often the person moves between routes. */
let inbox: HTMLElement | undefined;
/** Whether a save was refused by the floor since the last one that went through (the new page says so). */
let saveRefused = false;
// From the client's event, not from ky's rejection: the client emits it before it forces the switch, so the
// snapshot taken for that switch already knows; the rejection can come after it.
daylight.addEventListener('refused', ({ detail }) => {
  if (detail.method === 'POST' && new URL(detail.url).pathname === '/api/invoices') saveRefused = true;
});

/** With ?loadFirst: the path a header link is taking the person to while its route's code loads. */
let going: string | undefined;
/** Counts the routes asked for: a route whose code comes after the person asked for another one is not shown. */
let routes = 0;
/** Who the routes are shown to, once the app shows one. */
let signedIn: string | undefined;
// Back and Forward between this page's own routes (the entries the header's links pushed) show the route at the URL.
window.addEventListener('popstate', () => {
  going = undefined;
  if (signedIn !== undefined) void route(signedIn);
});

/** Ends the hold on automatic switches that the invoice's unsaved input keeps; set while there is such input. */
let holding: (() => void) | undefined;
/** Counts the person's edits of the invoice: a save makes the form saved only if nothing was typed after it left. */
let edits = 0;

/** The invoice has input not saved yet, typed on this page or restored after a switch: automatic switches wait. */
function markUnsaved(): void {
  holding ??= daylight.block('unsaved invoice');
}

function markSaved(): void {
  holding?.();
  holding = undefined;
}

/** Whether a snapshot's form was not saved yet. One from an app that did not say: any value counts as unsaved. */
function restoredUnsaved(restored: Snapshot): boolean {
  return restored.unsaved ?? Object.values(restored.form).some((value) => value !== '');
}

function readForm(): Record<string, string> {
  // From the kept section, not the document: on Reports the form is out of the page but still holds the input.
  const form = invoice?.querySelector<HTMLFormElement>('#invoice');
  if (!form) return {};
  const values: Record<string, string> = {};
  for (const [key, value] of new FormData(form)) values[key] = typeof value === 'string' ? value : value.name;
  return values;
}

/**
 * The compatibility floor's refusal (409, a problem document): this release is too old for the API. The client
 * forces the switch by itself (and at once after a refused save), so the app only has to catch ky's HTTPError and
 * keep what the person typed; the request is for the new page to make again.
 */
function refusedByFloor(error: unknown): boolean {
  return error instanceof HTTPError && isFloorRefusal(error.response);
}

function isFloorRefusal(response: Response): boolean {
  return response.status === 409 && (response.headers.get('content-type') ?? '').startsWith('application/problem+json');
}

/** What a call that failed tells the person: a refusal by the floor is no fault of theirs, and ends by itself. */
function failure(what: string, error: unknown): string {
  return refusedByFloor(error)
    ? `${what}: this version of the app is too old for the server, and updates now.`
    : `${what}: ${error instanceof Error ? error.message : String(error)}.`;
}

function describe(state: DaylightState): string {
  switch (state.status) {
    case 'downloading': {
      const p = state.progress;
      const pct = p && p.total > 0 ? Math.floor((100 * p.loaded) / p.total) : 0;
      return `downloading ${state.target ?? ''} … ${pct}%`;
    }
    case 'ready':
      return `${state.target ?? ''} is downloaded and verified`;
    case 'error':
      return `update problem: ${state.reason ?? ''}`;
    case 'inert':
      return `updates off: ${state.reason ?? ''}`;
    default:
      return state.status === 'idle' ? 'up to date' : state.status;
  }
}

/** The header's line about updates: one listener keeps the header on show current, however often it is redrawn. */
let shownStatus: HTMLElement | undefined;
daylight.addEventListener('statechange', (event) => {
  if (shownStatus) shownStatus.textContent = describe(event.detail);
});

/** `user`: who is signed in; `null`: nobody; `undefined`: not known (the server could not say, or refused this release). */
function header(user: string | null | undefined): HTMLElement {
  const status = el('span', { id: 'daylight-status' }, describe(daylight.state));
  shownStatus = status;
  const nav = el('nav');
  if (user) {
    const link = (href: string, text: string): HTMLAnchorElement => {
      const a = el('a', { href, textContent: text });
      a.addEventListener('click', (event) => {
        event.preventDefault();
        void navigate(user, href);
      });
      return a;
    };
    nav.append(link('/', 'Invoice'), link('/reports', 'Reports'));
  }
  return el(
    'header',
    {},
    el('h1', {}, __APP_FLAVOUR__.title),
    el('span', { className: 'badge', dataset: { testid: 'version' } }, __APP_VERSION__),
    el('span', { dataset: { testid: 'user' } }, user ? `signed in as ${user}` : user === null ? 'not signed in' : ''),
    nav,
    status,
  );
}

function loginView(): void {
  const problem = el('p', { role: 'status' });
  const form = el(
    'form',
    { id: 'login' },
    el('label', { htmlFor: 'user' }, 'User name'),
    el('input', { id: 'user', name: 'user', autocomplete: 'username', required: true }),
    el('label', { htmlFor: 'password' }, 'Password'),
    el('input', {
      id: 'password',
      name: 'password',
      type: 'password',
      autocomplete: 'current-password',
      required: true,
    }),
    el('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const data = new FormData(form);
    void api
      .post('login', { json: { user: data.get('user'), password: data.get('password') } })
      .json<{ user: string }>()
      .then(({ user }) => route(user))
      .catch((error: unknown) => (problem.textContent = failure('Not signed in', error)));
  });
  form.append(problem);
  app.replaceChildren(header(null), el('main', {}, el('section', {}, el('h2', {}, 'Sign in'), form)));
}

function invoiceView(restored: Snapshot | undefined): HTMLElement {
  const fields = [...FIELDS];
  if (__APP_FLAVOUR__.notesField) fields.push(['notes', 'Internal notes (new in 1.1)', 'textarea']);
  const form = el('form', { id: 'invoice' });
  for (const [name, label, kind] of fields) {
    const input = kind === 'textarea' ? el('textarea', { rows: 3 }) : el('input');
    input.id = `f-${name}`;
    input.name = name;
    input.value = restored?.form[name] ?? '';
    form.append(el('label', { htmlFor: input.id }, label), input);
  }
  const saved = el('p', { className: 'saved', role: 'status' });
  if (restored?.saveRefused) saved.textContent = 'Not saved before the update: your input is restored, save it again.';
  form.append(el('button', { type: 'submit' }, 'Save invoice'), saved);
  // Unsaved input holds off automatic switches; the switch snapshot keeps it either way. Input restored after a
  // switch counts too: the person has not saved it, and the next automatic switch (a rollback) must wait for that.
  if (restored && restoredUnsaved(restored)) markUnsaved();
  form.addEventListener('input', () => {
    edits++;
    markUnsaved();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const sent = edits;
    void api
      .post('invoices', { json: readForm() })
      .json<{ id: string }>()
      .then(({ id }) => {
        saveRefused = false;
        // Typed while the save was on its way: that is not in it, and still holds automatic switches.
        const since = edits !== sent;
        saved.textContent = since ? `Saved as ${id}; what you typed since is not saved yet` : `Saved as ${id}`;
        if (!since) markSaved();
      })
      // Not saved: the input stays in the form (and in the switch's snapshot) and keeps holding automatic switches.
      .catch((error: unknown) => {
        const again = refusedByFloor(error) ? 'after the update' : 'in a moment';
        saved.textContent = `${failure('Not saved', error)} Your input is kept: save it again ${again}.`;
      });
  });
  return el('section', {}, el('h2', {}, 'New invoice'), form);
}

function inboxView(): HTMLElement {
  const list = el('ul', { id: 'inbox' });
  const refreshed = el('p', { dataset: { testid: 'inbox-refreshed' } }, 'not loaded yet');
  const refresh = async (): Promise<void> => {
    const { messages, serverTime } = await api.get('inbox').json<{ messages: string[]; serverTime: string }>();
    list.replaceChildren(...messages.map((m) => el('li', {}, m)));
    refreshed.textContent = `refreshed ${new Date(serverTime).toLocaleTimeString()}`;
  };
  const every = Number(new URLSearchParams(location.search).get('poll') ?? 3000);
  // A refresh that fails (the network, the floor's 409, which the client acts on) is simply tried again next time.
  const quietly = (): void => void refresh().catch(() => undefined);
  quietly();
  setInterval(quietly, every);
  return el('section', {}, el('h2', {}, 'Inbox'), list, refreshed);
}

/**
 * A header link. By default the URL changes first and the route loads at it. With ?loadFirst the route's code loads
 * first and the URL changes once it is there, as Vue Router and Angular's router do: a chunk that does not load
 * leaves the URL on the page the person was on, and `going` tells chunk recovery where they were going.
 */
async function navigate(user: string, path: string): Promise<void> {
  if (!params.has('loadFirst')) {
    history.pushState(null, '', path);
    await route(user);
    return;
  }
  going = path;
  if (!(await route(user, undefined, path))) return;
  going = undefined;
  history.pushState(null, '', path);
}

/** Shows the route at `path`; false when another route was asked for while its code loaded (that one is shown). */
async function route(user: string, restored?: Snapshot, path = location.pathname): Promise<boolean> {
  // Made on the first route, whichever it is (showApp made it already), so that input restored after a switch taken
  // from Reports is kept too.
  invoice ??= invoiceView(restored);
  signedIn = user;
  const asked = ++routes;
  const main = el('main');
  if (path === '/reports') {
    const { reportsView } = await import('./reports.js');
    main.append(reportsView(ATLAS.length));
  } else {
    main.append(invoice);
  }
  if (asked !== routes) return false;
  // Made once too: each route made a new one before, and each kept its own refresh timer going.
  inbox ??= inboxView();
  main.append(inbox);
  app.replaceChildren(header(user), main);
  return true;
}

async function boot(): Promise<void> {
  if (params.has('readyFirst')) daylight.ready();
  daylight.start();
  const unmountBanner = mountBanner(daylight, remind === undefined ? {} : { remindAfter: remind });
  // For the end-to-end tests: the client, its parts, and the app's own ky.
  Object.assign(window, {
    daylight,
    unmountBanner,
    daylightTabs: tabs,
    daylightServiceWorker: { worker: serviceWorker, reset },
    officeApi: api,
  });
  if (__APP_BROKEN__) throw new Error(`release ${__APP_VERSION__} is broken on purpose`);
  await showApp(daylight.restored as Snapshot | undefined);
  // For the benchmarks: `window.officeReady` is the version whose boot called ready().
  const ready = (): void => {
    daylight.ready();
    Object.assign(window, { officeReady: __APP_VERSION__ });
  };
  const readyDelay = number('readyDelay');
  if (params.has('readyFirst')) return;
  if (readyDelay === undefined) ready();
  else setTimeout(ready, readyDelay);
}

/** Whether a page refused by the floor waits for Daylight's `downloaded` to switch. */
let updating = false;

/**
 * Signed in: the app; not: the login; offline (a switch can land from the service worker's cache): a note, and the
 * app once the network is back; refused by the compatibility floor (this release booted after the floor passed it,
 * e.g. a tab that was offline meanwhile): a note, not the login — the person is still signed in, and Daylight
 * switches the tab to a release the server accepts.
 */
async function showApp(restored: Snapshot | undefined, retryMs = 1000): Promise<void> {
  // The form holds what a switch brought along, whichever view shows: the next switch's snapshot reads it from there.
  invoice ??= invoiceView(restored);
  const me = await api.get('me', { throwHttpErrors: false }).catch(() => undefined);
  if (me && isFloorRefusal(me)) {
    // Daylight heard the refusal and forces the switch, but waits up to `grace` for a safe moment: the note is all
    // this page shows, so it switches as soon as the release is verified. Asked again at each try, in case it could
    // not (the loop guard, a page that stayed); a download that failed leaves the person a reload.
    const { status } = daylight.state;
    if (status === 'ready') void daylight.apply().catch(() => undefined);
    else if (!updating) {
      updating = true;
      daylight.addEventListener(
        'downloaded',
        () => {
          updating = false;
          void daylight.apply().catch(() => undefined);
        },
        { once: true },
      );
    }
    setTimeout(() => void showApp(restored, Math.min(retryMs * 2, 30_000)).catch(() => undefined), retryMs);
    const note =
      status === 'error'
        ? 'This version of the app is too old for the server and could not update itself: reload the page. You are still signed in.'
        : 'This version of the app is too old for the server, and updates now. You are still signed in.';
    app.replaceChildren(header(undefined), el('main', {}, el('p', { dataset: { testid: 'too-old' } }, note)));
  } else if (!me) {
    // Again once the network is back — and, while it is not reachable yet, again after 1 s, 2 s, 4 s… (at most
    // 30 s, so a server that is down is not asked every second by every tab): a request sent right as `online`
    // fires can still fail (Chromium 150 does), and one try would leave the app on this note.
    if (navigator.onLine) {
      setTimeout(() => void showApp(restored, Math.min(retryMs * 2, 30_000)).catch(() => undefined), retryMs);
    } else window.addEventListener('online', () => void showApp(restored).catch(() => undefined), { once: true });
    app.replaceChildren(header(undefined), el('main', {}, el('p', { dataset: { testid: 'offline' } }, 'offline')));
  } else if (me.ok) {
    const { user } = await me.json<{ user: string }>();
    await route(user, restored);
  } else {
    loginView();
  }
}

void boot();
