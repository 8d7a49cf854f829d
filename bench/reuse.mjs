// What a switch downloads: the office app on 1.0.0 (signed in through the login form, its 2.3 MB bundle loaded),
// then 1.0.1 promoted — 1.0.0's build with one small lazy chunk changed (the same name, other bytes: the case a
// path alone cannot tell) — downloaded ahead and switched to with apply(). Counted on the server: the requests
// for 1.0.1's files and their bytes (each file's size on disk), from the promote to 1.0.1's ready().
//
//   no worker    — the client's verified download: the HTTP cache is keyed by URL, and the URL carries the
//                  version, so every file of 1.0.1 is fetched (the baseline)
//   worker       — the service-worker mode (?sw=1): Daylight's worker holds 1.0.0 and answers a file of 1.0.1
//                  whose manifest names the same hash from 1.0.0's cache (docs/switching.md)
//
// Each path runs ROUNDS times (2 by default), each in a fresh browser context; the figures are byte counts, the
// same every round unless something is wrong, so the table shows each round's. No network throttling: time is
// not what this measures (bench:switch does).
//
//   npm run bench:reuse
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { runCli } from '@daylight/cli';
import { buildRelease } from '../examples/office-app/scripts/build.mjs';
import { startOfficeServer } from '../examples/office-app/server/app.mjs';
import { CHROMIUM_ARGS, findChromium } from '../scripts/chromium.mjs';
import { cleanUpAll, machine, quietCli, signInOffice, versionOf, writeSection } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 2);
const WAIT = 60_000;
const USER = 'ada';
const FILES = '/_daylight/releases/1.0.1/files/';

let dir;
let store;
let app;
let browser;
const requests = [];
const cli = quietCli(runCli, () => store);

/** Every file below `root`, by its path relative to it (with '/'), and its size. */
async function sizes(root, prefix = '') {
  const result = new Map();
  for (const entry of await readdir(path.join(root, prefix), { withFileTypes: true })) {
    const relative = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) for (const [p, s] of await sizes(root, relative)) result.set(p, s);
    else result.set(relative, (await stat(path.join(root, relative))).size);
  }
  return result;
}

/** A copy of `from` as another build, with one lazy chunk's bytes changed (a comment appended). */
async function oneFileChanged(from, to) {
  const files = await sizes(from);
  const chunk = [...files.keys()]
    .filter((p) => /chunk-[^/]+\.js$/.test(p))
    .sort((a, b) => files.get(a) - files.get(b))[0];
  for (const relative of files.keys()) {
    const target = path.join(to, relative);
    await mkdir(path.dirname(target), { recursive: true });
    if (relative === chunk) await writeFile(target, `${await readFile(path.join(from, relative), 'utf8')}\n// 1.0.1\n`);
    else await copyFile(path.join(from, relative), target);
  }
  return chunk;
}

/** One switch from 1.0.0 to 1.0.1; the paths of 1.0.1's files the server was asked for meanwhile. */
async function oneSwitch(worker) {
  await cli('promote', '1.0.0');
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${app.url}/?poll=500${worker ? '&sw=1' : ''}`);
  await signInOffice(page, { user: USER, password: 'pw', worker, running: '1.0.0', waitMs: WAIT });
  const from = requests.length;
  await cli('promote', '1.0.1');
  await page.waitForFunction(() => window.daylight.state.status === 'ready', null, { timeout: WAIT });
  await page.evaluate(() => void window.daylight.apply());
  // 1.0.1 is 1.0.0's code (one chunk aside), so its boot names itself 1.0.0: the page's release is Daylight's word.
  await page.waitForFunction(
    () => window.daylight?.state.running === '1.0.1' && window.officeReady !== undefined,
    null,
    {
      timeout: WAIT,
    },
  );
  const asked = requests
    .slice(from)
    .filter((url) => url.startsWith(FILES))
    .map((url) => decodeURIComponent(url.slice(FILES.length).split('?')[0]));
  await context.close();
  return asked;
}

const results = { 'no worker': [], worker: [] };
let release;
let changed;
try {
  dir = await mkdtemp(path.join(tmpdir(), 'daylight-reuse-'));
  store = path.join(dir, 'releases.json');
  const first = path.join(dir, 'builds', '1.0.0');
  await buildRelease('1.0.0', { outDir: first });
  const second = path.join(dir, 'builds', '1.0.1');
  changed = await oneFileChanged(first, second);
  await cli('publish', first, '--version', '1.0.0');
  await cli('publish', second, '--version', '1.0.1');
  release = await sizes(second);
  release.delete('index.html'); // the shell: not one of the release's files
  const logger = { info() {}, warn: console.warn, error: console.error };
  app = await startOfficeServer({
    framework: 'express',
    store,
    logger,
    onRequest: (req) => requests.push(req.url ?? ''),
  });
  const executablePath = findChromium();
  browser = await chromium.launch({ args: CHROMIUM_ARGS, ...(executablePath ? { executablePath } : {}) });
  for (let round = 1; round <= ROUNDS; round++) {
    for (const kind of round % 2 ? ['no worker', 'worker'] : ['worker', 'no worker']) {
      const asked = await oneSwitch(kind === 'worker');
      const bytes = asked.reduce((sum, p) => sum + (release.get(p) ?? 0), 0);
      results[kind].push({ files: asked.length, bytes, asked });
      console.log(`round ${round} ${kind}: ${asked.length} files, ${bytes} B (${asked.join(', ')})`);
    }
  }
} finally {
  await cleanUpAll([
    () => browser?.close(),
    () => app?.close(),
    () => dir && rm(dir, { recursive: true, force: true }),
  ]);
}

const total = [...release.values()].reduce((a, b) => a + b, 0);
const kB = (bytes) =>
  bytes < 10_000 ? `${bytes} B` : `${(bytes / 1000).toLocaleString('en', { maximumFractionDigits: 1 })} kB`;
const share = (bytes) => `${Number(((100 * bytes) / total).toPrecision(2))} %`;
const row = (name, kind) =>
  `| ${name} | ${results[kind].map((r) => r.files).join(', ')} | ${results[kind].map((r) => kB(r.bytes)).join(', ')} | ${share(results[kind][0].bytes)} |`;
const table = [
  '| path | files of 1.0.1 fetched from the server, per round | bytes, per round | share of the release |',
  '| --- | ---: | ---: | ---: |',
  row('Daylight, no worker (baseline)', 'no worker'),
  row("Daylight's service worker", 'worker'),
].join('\n');
console.log(`\n${table}`);
await writeSection(
  'reuse',
  `## What a switch downloads: one file changed

\`npm run bench:reuse\` — the office app on Express, 1.0.0 then 1.0.1: 1.0.0's build with one lazy chunk changed (\`${changed}\`, same name, other bytes), ${release.size} files, ${kB(total)} without the shell. A signed-in tab on 1.0.0, then 1.0.1 promoted, downloaded ahead and switched to; counted on the server from the promote to 1.0.1's \`ready()\`: the requests for 1.0.1's files and their sizes on disk. ${ROUNDS} rounds, each path in a fresh browser context, no throttling (bench:switch times the switch).
Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; playwright-core ${await versionOf('playwright-core')}.

${table}

Without the worker every file is fetched again: the browser's HTTP cache is keyed by URL, and the URL carries the version. With Daylight's worker, only the changed file is (the worker answers the others from 1.0.0's cache, where it stored the hash their bytes matched, and copies them into 1.0.1's).`,
);
