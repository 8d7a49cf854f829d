// Switch time: in Chromium, with the network throttled through the DevTools
// protocol (10 Mbit/s down, 5 Mbit/s up, 40 ms round trip), and a release
// whose bundle is about 5 MB:
//
//   daylight   — the tab on 1.0.0 has already downloaded and verified 1.1.0 in
//                the background; time from apply() to 1.1.0 calling ready()
//   cold       — a plain load of 1.1.0 with an empty cache, from navigation to
//                1.1.0 calling ready()
//
// Target: the Daylight switch takes under a fifth of the cold load.
//   npm run bench:switch        (ROUNDS=5 by default)
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { runCli } from '@daylight/cli';
import { buildRelease } from '../examples/office-app/scripts/build.mjs';
import { startOfficeServer } from '../examples/office-app/server/app.mjs';
import { CHROMIUM_ARGS, findChromium } from '../scripts/chromium.mjs';
import { machine, median, versionOf, writeSection } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const BUNDLE_BYTES = 5_000_000;
const NETWORK = { offline: false, latency: 40, downloadThroughput: 1_250_000, uploadThroughput: 625_000 };

const dir = await mkdtemp(path.join(tmpdir(), 'daylight-switch-'));
const store = path.join(dir, 'releases.json');
const quiet = { stdout: { write() {} }, stderr: process.stderr };
const cli = async (...args) => {
  if ((await runCli([...args, '--store', store], quiet)) !== 0) throw new Error(`daylight ${args.join(' ')} failed`);
};
for (const version of ['1.0.0', '1.1.0']) {
  const outDir = path.join(dir, 'builds', version);
  await buildRelease(version, { outDir, atlasBytes: BUNDLE_BYTES });
  await cli('publish', outDir, '--version', version);
}
await cli('promote', '1.0.0');
const logger = { info() {}, warn: console.warn, error: console.error };
const app = await startOfficeServer({ framework: 'express', store, logger });
const executablePath = findChromium();
const browser = await chromium.launch({ args: CHROMIUM_ARGS, ...(executablePath ? { executablePath } : {}) });

async function throttledPage() {
  const context = await browser.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', NETWORK);
  return { context, page };
}

/** Resolves when the page runs `version` and its boot reached `ready()`. */
function booted(page, version) {
  return page.waitForFunction(
    (v) => 'daylight' in window && document.querySelector('[data-testid="version"]')?.textContent === v,
    version,
    { polling: 10, timeout: 120_000 },
  );
}

async function daylightSwitch() {
  await cli('promote', '1.0.0');
  const { context, page } = await throttledPage();
  await page.goto(`${app.url}/?poll=500`);
  await page.locator('#user').fill('ada');
  await page.locator('#password').fill('pw');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await booted(page, '1.0.0');
  await cli('promote', '1.1.0');
  await page.waitForFunction(() => window.daylight.state.status === 'ready', null, { timeout: 120_000 });
  const started = Date.now();
  await page.evaluate(() => void window.daylight.apply());
  await booted(page, '1.1.0');
  const elapsed = Date.now() - started;
  await context.close();
  return elapsed;
}

async function coldLoad() {
  await cli('promote', '1.1.0');
  const { context, page } = await throttledPage();
  const started = Date.now();
  await page.goto(`${app.url}/`);
  await booted(page, '1.1.0');
  const elapsed = Date.now() - started;
  await context.close();
  return elapsed;
}

const samples = { daylight: [], cold: [] };
try {
  for (let round = 1; round <= ROUNDS; round++) {
    // Alternate which runs first, so neither always gets the warmer machine.
    const order = round % 2 ? ['daylight', 'cold'] : ['cold', 'daylight'];
    for (const kind of order) {
      const ms = kind === 'daylight' ? await daylightSwitch() : await coldLoad();
      samples[kind].push(ms);
      console.log(`round ${round} ${kind}: ${ms} ms`);
    }
  }
} finally {
  await browser.close();
  await app.close();
  await rm(dir, { recursive: true, force: true });
}

const row = (name, list) =>
  `| ${name} | ${median(list)} | ${Math.min(...list)}–${Math.max(...list)} | ${list.join(', ')} |`;
const ratio = median(samples.daylight) / median(samples.cold);
const verdict = `Daylight's switch takes ${(100 * ratio).toFixed(1)} % of a cold load (target < 20 %: ${ratio < 0.2 ? 'met' : `missed by ${(100 * ratio - 20).toFixed(1)} points`}).`;
const table = [
  '| path | median ms | min–max | samples |',
  '| --- | ---: | ---: | --- |',
  row('Daylight: apply() → ready(), release downloaded ahead', samples.daylight),
  row('Cold load of the same release, empty cache', samples.cold),
].join('\n');
console.log(`\n${table}\n\n${verdict}`);
await writeSection(
  'switch-time',
  `## Switch time

\`npm run bench:switch\` — Chromium ${browser.version()} with CDP network throttling (10 Mbit/s down, 5 Mbit/s up, 40 ms latency), the office app with a ${(BUNDLE_BYTES / 1e6).toFixed(0)} MB bundle on Express, ${ROUNDS} rounds alternating which path runs first; each sample in a fresh browser context. "ready()" is the new release's boot having signed in (cookie kept) and rendered.
Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; playwright-core ${await versionOf('playwright-core')}.

${table}

${verdict} The service-worker mode is not measured yet.`,
);
