// Switch time: in Chromium, with the network throttled through the DevTools
// protocol (10 Mbit/s down, 5 Mbit/s up, 40 ms round trip), and a release
// whose bundle is about 5 MB:
//
//   daylight     — the tab on 1.0.0 (signed in through the login form) has
//                  already downloaded and verified 1.1.0 in the background;
//                  time from apply() to 1.1.0 calling ready()
//   daylight+sw  — the same with the service-worker mode (?sw=1): Daylight's
//                  worker (/_daylight/sw.js) controls the tab, has cached the
//                  running 1.0.0, and precached 1.1.0 (files and shell) into
//                  daylight-1.1.0 before the client reported it ready; time
//                  from apply() to 1.1.0 calling ready()
//   cold         — a plain load of 1.1.0 with an empty cache and no worker,
//                  signed in first (the app's own POST /api/login, through
//                  the context's request API, which shares the page's
//                  cookies), from navigation to 1.1.0 calling ready()
//
// "Calling ready()" is the office app's boot having asked /api/me with the
// session cookie, rendered the signed-in app and called daylight.ready():
// examples/office-app/src/main.ts sets `window.officeReady` to its version
// right after that call, and the benchmark waits for it (then checks that
// the page shows the signed-in person). All three paths time the same boot.
//
// The three alternate within each round (the order rotates), every sample in
// a fresh browser context, so each service-worker sample starts with no
// registration and no caches. Each Daylight sample is also divided by the
// cold sample of its own round: RESULTS.md has the median and the range of
// those per-round ratios besides the ratio of the medians.
//
// Throttling the worker too: Network.emulateNetworkConditions on the page's
// session does not reach a service worker's own fetches. Checked with
// Chromium 156: with only the page throttled, a no-store fetch of the 5 MB
// bundle from inside the worker took 44 ms, and the page's own fetch of it
// 104 ms, because the controlled page's request went through the worker. So the
// page's session also auto-attaches (Target.setAutoAttach, not flattened,
// waiting for the debugger) to every worker the page starts, throttles each
// with the same conditions through Target.sendMessageToTarget before letting
// it run, and a service-worker sample without a throttled worker fails. The
// first service-worker sample also times a no-store fetch of the bundle from
// inside the worker after the switch and fails when it beats the throttle's
// floor (bytes / 1.25 MB/s, less 10 %); RESULTS.md shows that time.
//
// Target: each Daylight switch takes under a fifth of the cold load (read
// from the ratio of the medians).
//
// The office server and Chromium are stopped, and the temporary folder
// removed, in a `finally`, whatever fails.
//
//   npm run bench:switch        (ROUNDS=5 by default)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { runCli } from '@daylight/cli';
import { buildRelease } from '../examples/office-app/scripts/build.mjs';
import { startOfficeServer } from '../examples/office-app/server/app.mjs';
import { CHROMIUM_ARGS, findChromium } from '../scripts/chromium.mjs';
import { cleanUpAll, machine, median, quietCli, signInOffice, versionOf, writeSection } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BUNDLE_BYTES = 5_000_000;
const NETWORK = { offline: false, latency: 40, downloadThroughput: 1_250_000, uploadThroughput: 625_000 };
const KINDS = ['daylight', 'daylight+sw', 'cold'];
const WAIT = 120_000;
const USER = 'ada';
const PASSWORD = 'pw';

// Set in the `try` below, cleaned up in its `finally`.
let dir;
let store;
let app;
let browser;
let bundleUrl;
let browserVersion;
const cli = quietCli(runCli, () => store);

/**
 * Throttles every worker the page starts, service workers included, through
 * the page's session (not flattened, so each worker's session is reached
 * with Target.sendMessageToTarget). Returns the types of the targets throttled so far.
 */
async function throttleWorkers(cdp) {
  const throttled = [];
  const waiting = new Map();
  let nextId = 1;
  const send = (sessionId, method, params = {}) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      waiting.set(`${sessionId}:${id}`, { resolve, reject, method });
      cdp
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method, params }) })
        .catch(reject);
    });
  cdp.on('Target.receivedMessageFromTarget', ({ sessionId, message }) => {
    const { id, error } = JSON.parse(message);
    const waiter = waiting.get(`${sessionId}:${id}`);
    if (!waiter) return; // an event of the Network domain
    waiting.delete(`${sessionId}:${id}`);
    if (error) waiter.reject(new Error(`${waiter.method}: ${error.message}`));
    else waiter.resolve();
  });
  cdp.on('Target.attachedToTarget', ({ sessionId, targetInfo, waitingForDebugger }) => {
    void (async () => {
      await send(sessionId, 'Network.enable');
      await send(sessionId, 'Network.emulateNetworkConditions', NETWORK);
      throttled.push(targetInfo.type);
      if (waitingForDebugger) await send(sessionId, 'Runtime.runIfWaitingForDebugger');
    })().catch((error) => console.warn(`could not throttle ${targetInfo.type} ${targetInfo.url}: ${error.message}`));
  });
  await cdp.send('Target.setAutoAttach', { autoAttach: true, waitForDebuggerOnStart: true, flatten: false });
  return throttled;
}

async function throttledPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', NETWORK);
  const workers = await throttleWorkers(cdp);
  return { context, page, workers };
}

/** Resolves when the page runs `version` and its boot called `ready()` (the app sets `window.officeReady` then). */
function booted(page, version) {
  return page.waitForFunction((v) => window.officeReady === v, version, { polling: 10, timeout: WAIT });
}

/** After a timed boot, not timed: it rendered the signed-in app, not the login form. */
async function assertSignedIn(page, what) {
  const user = await page.locator('[data-testid="user"]').textContent();
  if (user !== `signed in as ${USER}`) throw new Error(`${what}: the boot rendered "${user}", not the signed-in app`);
}

/** Signs the context in through the app's own endpoint, as the login form does; the page then loads with the cookie. */
async function signIn(context) {
  const response = await context.request.post(`${app.url}/api/login`, { data: { user: USER, password: PASSWORD } });
  if (!response.ok()) throw new Error(`POST /api/login answered ${response.status()}`);
  if (!(await context.cookies(app.url)).some((cookie) => cookie.name === 'sid')) {
    throw new Error('POST /api/login set no session cookie in the browser context');
  }
}

const cacheNames = (page) => page.evaluate(() => window.caches.keys());
const controlled = (page) => page.evaluate(() => window.navigator.serviceWorker.controller !== null);

let workerCheck;

/** Times a no-store fetch of the bundle from inside the page's service worker; fails when it beats the throttle. */
async function checkWorkerThrottle(context) {
  const [worker] = context.serviceWorkers();
  if (!worker) throw new Error('no service worker to check');
  const { bytes, ms } = await worker.evaluate(async (url) => {
    const started = Date.now();
    const body = await (await fetch(url, { cache: 'no-store' })).arrayBuffer();
    return { bytes: body.byteLength, ms: Date.now() - started };
  }, bundleUrl);
  const floor = (1000 * bytes) / NETWORK.downloadThroughput;
  if (bytes < BUNDLE_BYTES || ms < 0.9 * floor) {
    throw new Error(`the service worker fetched ${bytes} B in ${ms} ms: not throttled (at least ${floor} ms expected)`);
  }
  return { bytes, ms, floor };
}

/** Daylight's switch, with or without the service worker; also returns how long downloading ahead took. */
async function daylightSwitch(serviceWorker) {
  await cli('promote', '1.0.0');
  const { context, page, workers } = await throttledPage();
  await page.goto(`${app.url}/?poll=500${serviceWorker ? '&sw=1' : ''}`);
  // 1.0.0 called ready() under the login form already; the sign-in lands, and with the worker, it controls the tab
  // and holds the running release before the next one appears.
  await booted(page, '1.0.0');
  await signInOffice(page, { user: USER, password: PASSWORD, worker: serviceWorker, running: '1.0.0', waitMs: WAIT });
  if (serviceWorker && !workers.includes('service_worker')) throw new Error('the service worker was not throttled');
  await cli('promote', '1.1.0');
  const promoted = Date.now();
  await page.waitForFunction(() => window.daylight.state.status === 'ready', null, { timeout: WAIT });
  const ahead = Date.now() - promoted;
  if (serviceWorker && !(await cacheNames(page)).includes('daylight-1.1.0')) {
    const reason = await page.evaluate(() => window.daylightServiceWorker.worker?.reason);
    throw new Error(`1.1.0 is ready but not in the worker's cache: ${reason ?? 'no reason given'}`);
  }
  const started = Date.now();
  await page.evaluate(() => void window.daylight.apply());
  await booted(page, '1.1.0');
  const elapsed = Date.now() - started;
  await assertSignedIn(page, `the switch${serviceWorker ? ' with the service worker' : ''}`);
  if (serviceWorker) {
    if (!(await controlled(page))) throw new Error('1.1.0 runs without the service worker');
    workerCheck ??= await checkWorkerThrottle(context);
  }
  await context.close();
  return { elapsed, ahead };
}

/** A cold load of 1.1.0 by someone signed in: the same boot as after a switch, with nothing cached. */
async function coldLoad() {
  await cli('promote', '1.1.0');
  const { context, page } = await throttledPage();
  await signIn(context);
  const started = Date.now();
  await page.goto(`${app.url}/`);
  await booted(page, '1.1.0');
  const elapsed = Date.now() - started;
  await assertSignedIn(page, 'the cold load');
  await context.close();
  return { elapsed };
}

const samples = Object.fromEntries(KINDS.map((kind) => [kind, []]));
const downloads = { daylight: [], 'daylight+sw': [] };
try {
  dir = await mkdtemp(path.join(tmpdir(), 'daylight-switch-'));
  store = path.join(dir, 'releases.json');
  for (const version of ['1.0.0', '1.1.0']) {
    const outDir = path.join(dir, 'builds', version);
    await buildRelease(version, { outDir, atlasBytes: BUNDLE_BYTES });
    await cli('publish', outDir, '--version', version);
  }
  await cli('promote', '1.0.0');
  const logger = { info() {}, warn: console.warn, error: console.error };
  app = await startOfficeServer({ framework: 'express', store, logger });
  const executablePath = findChromium();
  browser = await chromium.launch({ args: CHROMIUM_ARGS, ...(executablePath ? { executablePath } : {}) });
  browserVersion = browser.version();

  // The 1.1.0 bundle, for checking that the worker's own fetches are throttled.
  const manifestUrl = `${app.url}/_daylight/releases/1.1.0/manifest.json`;
  const manifest = await (await fetch(manifestUrl)).json();
  bundleUrl = new URL(manifest.assets.find((asset) => /\/app-[^/]+\.js$/.test(asset.url)).url, manifestUrl).href;

  for (let round = 1; round <= ROUNDS; round++) {
    // Rotate the order, so that no path always gets the same slot on a busy machine.
    const order = KINDS.map((_, i) => KINDS[(i + round - 1) % KINDS.length]);
    for (const kind of order) {
      const { elapsed, ahead } = kind === 'cold' ? await coldLoad() : await daylightSwitch(kind === 'daylight+sw');
      samples[kind].push(elapsed);
      if (ahead !== undefined) downloads[kind].push(ahead);
      console.log(
        `round ${round} ${kind}: ${elapsed} ms${ahead === undefined ? '' : ` (downloaded ahead in ${ahead} ms)`}`,
      );
    }
  }
} finally {
  // On every path, errors included: Chromium (its processes) and the office server stopped, the folder removed.
  await cleanUpAll([
    () => browser?.close(),
    () => app?.close(),
    () => dir && rm(dir, { recursive: true, force: true }),
  ]);
}

const cold = median(samples.cold);
const percent = (kind) => (100 * median(samples[kind])) / cold;
/** Each round's sample over that round's cold load (the paths of a round ran back to back). */
const perRound = (kind) => samples[kind].map((ms, round) => ms / samples.cold[round]);
const row = (name, kind) => {
  const list = samples[kind];
  const ratios = perRound(kind);
  return `| ${name} | ${median(list)} | ${Math.min(...list)}–${Math.max(...list)} | ${(percent(kind) / 100).toFixed(3)} | ${median(ratios).toFixed(3)} | ${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} | ${list.join(', ')} |`;
};
const verdict = (name, kind) => {
  const p = percent(kind);
  const ratios = perRound(kind).map((ratio) => 100 * ratio);
  return `${name} takes ${p.toFixed(1)} % of a cold load (median over median; target < 20 %: ${p < 20 ? 'met' : `missed by ${(p - 20).toFixed(1)} points`}); round by round, ${median(ratios).toFixed(1)} % (median), ${Math.min(...ratios).toFixed(1)}–${Math.max(...ratios).toFixed(1)} %.`;
};
const seconds = (list) => `${(median(list) / 1000).toFixed(1)} s`;
const table = [
  '| path | median ms | min–max | × cold median | × cold, per round (median) | per round min–max | samples |',
  '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  row('Daylight: apply() → ready(), release downloaded ahead', 'daylight'),
  row('Daylight + service worker: apply() → ready(), release precached ahead', 'daylight+sw'),
  row('Cold load of the same release, signed in, empty cache, no worker', 'cold'),
].join('\n');
const verdicts = [verdict("Daylight's switch", 'daylight'), verdict('With the service worker, it', 'daylight+sw')].join(
  ' ',
);
const check = workerCheck
  ? `Inside the worker, a no-store fetch of the ${(workerCheck.bytes / 1e6).toFixed(2)} MB bundle took ${workerCheck.ms} ms (the throttle allows no less than ${Math.round(workerCheck.floor)} ms).`
  : '';
console.log(`\n${table}\n\n${verdicts}\n${check}`);
await writeSection(
  'switch-time',
  `## Switch time

\`npm run bench:switch\` — Chromium ${browserVersion} with CDP network throttling (10 Mbit/s down, 5 Mbit/s up, 40 ms latency) on the page and on every worker it starts (the page's throttling does not reach a service worker's own fetches), the office app with a ${(BUNDLE_BYTES / 1e6).toFixed(0)} MB bundle on Express, ${ROUNDS} rounds rotating the order of the three paths; each sample in a fresh browser context (no worker registration, no caches). "ready()" is the new release's boot having found the session (\`GET /api/me\` with the cookie), rendered the signed-in app and called \`daylight.ready()\`, on all three paths: the switches sign in through the login form on 1.0.0 (the cookie is kept across the switch), the cold load signs in through the same \`POST /api/login\` before its navigation, and each sample checks afterwards that the signed-in app was rendered. "× cold, per round" divides each sample by the cold load of its own round. The service-worker path runs the app with \`?sw=1\`: Daylight's worker controls the tab and has cached 1.1.0 (files and shell) before the switch.
Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; playwright-core ${await versionOf('playwright-core')}.

${table}

${verdicts} Downloading ahead (promotion → \`ready\`, not part of the switch) took a median ${seconds(downloads.daylight)} without the worker and ${seconds(downloads['daylight+sw'])} with it. ${check}`,
);
