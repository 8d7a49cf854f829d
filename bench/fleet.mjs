// A simulated fleet (issue #6, item 6): 10,000 sessions against two servers.
// After a promote: the time until 50 / 90 / 99 / 100 % of sessions run the new
// release, reloads per session (target: exactly one), failed requests
// (target: none), and the census's memory on each server.
//
// Set-up, all on 127.0.0.1:
//
// - a redis-server (scripts/redis-server.mjs: free port, no persistence,
//   stopped by its PID) holding the registry and the census;
// - two releases, 1.0.0 and 1.1.0, built into a temporary folder (an
//   index.html, an entry script of BUNDLE_KB KiB and a stylesheet), published
//   with the real CLI (`runCli`) into the Redis store; 1.0.0 promoted;
// - two server processes (bench/fleet-server.mjs), one Express 5 and one
//   Koa 3, each with Daylight on the Redis registry with the census on (its
//   default 5 s flush into Redis), the office (cookie) as the cohort, a small
//   JSON API and the shell fallback;
// - LOADERS worker threads (bench/fleet-sessions.mjs) sharing the SESSIONS
//   simulated sessions. Each session is a tab running the client's logic
//   (that file's header says what it copies from packages/client), sends
//   every request to a random one of the two servers (a load balancer
//   without affinity, so a tab sees both servers' view of the registry), and
//   keeps at most SOCKETS keep-alive sockets per server per loader.
//
// Time is compressed: a session's pause between two actions is exponential
// with a mean of THINK simulated seconds (120: over a 12-hour office day most
// tabs sit in the background, and a tab calls the API every two minutes on
// average), divided by SPEEDUP in real time (10: 10,000 sessions then make
// about 1,100 API calls/s, which leaves the two cores room for the switch);
// the SDK's idle safe moment (IDLE simulated seconds) is compressed the same
// way, because it is measured against the same pauses. Network and server
// times, and the SDK's own timers (100 ms quiet wait, 120 s revision dwell,
// 60 s retry), are real. An action is a navigation (35 %: 1–3 GETs in
// parallel, and a safe moment for the switch), a click (35 %: a GET, or 1 in
// 4 a POST) or a background refresh (30 %: a GET that is not the person's
// activity). The app runs the client with `policy: 'auto'` (the SDK's
// default for a minor release is `prompt`, which would measure people, not
// Daylight).
//
// Phases: the sessions open their tab (a shell load) spread over one mean
// pause, run WARMUP real seconds on 1.0.0, then 1.1.0 is promoted through
// the CLI on the Redis store; t0 is the start of that promote. The run ends
// when every session runs 1.1.0 (plus one mean pause, to catch a late second
// reload or failure) or MAX_WAIT real seconds after t0.
//
// Baseline, in the same run: the API calls of the last 10 s before the
// promote (steady state on 1.0.0) against those between t0 and the moment
// 99 % run 1.1.0 — calls/s, p50 and p99 latency — with the servers' and the
// generator's CPU in both windows. Only API calls are compared (the switch's
// own downloads are counted apart): the question is what the switch costs the
// app's users while it happens. Because time is compressed, the sessions
// notice the promote SPEEDUP times faster than real people would, so the
// switch's burst of downloads is SPEEDUP times denser than in real life: the
// switch-window latency is a pessimistic figure.
//
// Knobs: SESSIONS, THINK, SPEEDUP, IDLE (above); WARMUP (real seconds on
// 1.0.0 before the promote); LOADERS (worker threads); SOCKETS (keep-alive
// sockets per server per loader); BUNDLE_KB (size of the entry script);
// OFFICES (cohorts); MAX_WAIT (real seconds after t0 at most).
//
// Census memory: each server reports its census's register bytes and series
// (`daylight.stats.censusBytes`, `censusSeries`); beside them what the
// server's memory grew by over the run (after a GC at each end), census
// excluded: heapUsed + arrayBuffers growth less the registers' growth (the
// registers are typed arrays, kept in arrayBuffers, outside heapUsed), with
// the heapUsed and arrayBuffers growth beside it unadjusted; and in Redis the
// census keys' `MEMORY USAGE`. The fleet census is read from the admin
// endpoint and compared with the truth the generator knows.
//
// Clean-up: Redis, both servers (by their PIDs) and the loader threads are
// stopped in a `finally`, whatever fails (a start, the load, a read).
//
//   npm run bench:fleet
//   SESSIONS=10000 THINK=120 SPEEDUP=10 IDLE=120 WARMUP=25 LOADERS=2 SOCKETS=32 BUNDLE_KB=32 OFFICES=20 MAX_WAIT=240 npm run bench:fleet
import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { runCli } from '@daylight/cli';
import { openCensusRedis } from '@daylight/server-middleware';
import { findRedisServer, startRedis } from '../scripts/redis-server.mjs';
import { cleanUpAll, machine, median, stopChild, stopRedis, versionOf, writeSection } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const knob = (name, fallback) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value <= 0)
    throw new TypeError(`${name} must be a positive number, got ${process.env[name]}`);
  return value;
};
const SESSIONS = Math.round(knob('SESSIONS', 10_000));
const THINK = knob('THINK', 120);
const SPEEDUP = knob('SPEEDUP', 10);
const IDLE = knob('IDLE', 120);
const WARMUP = knob('WARMUP', 25);
const LOADERS = Math.round(knob('LOADERS', 2));
const SOCKETS = Math.round(knob('SOCKETS', 32));
const BUNDLE_KB = knob('BUNDLE_KB', 32);
const OFFICES = Math.round(knob('OFFICES', 20));
const MAX_WAIT = knob('MAX_WAIT', 240);
const SHARE = { nav: 0.35, click: 0.35, poll: 0.3 };
const STEADY_MS = 10_000;
const OLD = '1.0.0';
const NEW = '1.1.0';
const thinkMs = (THINK * 1000) / SPEEDUP;
const ADMIN = randomBytes(18).toString('base64url');

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const say = (line) => console.log(`fleet: ${line}`);

// ---------------------------------------------------------------- set-up

// Everything the run starts, kept from the moment it starts, so that the
// `finally` below stops all of it on every path, a failed start or read included.
let redis;
let dir;
const children = [];
const workers = [];
let monitor;
let sampler;

/** Stops the loaders, both servers (by their PIDs) and Redis (by its PID), and removes the temporary folder. */
async function cleanUp() {
  clearInterval(sampler);
  await cleanUpAll([
    () => Promise.all(workers.map((worker) => worker.terminate())),
    () => Promise.all(children.map((child) => stopChild(child))),
    () => monitor?.disconnect(),
    () => stopRedis(redis),
    () => dir && rm(dir, { recursive: true, force: true }),
  ]);
}

/** A small build: an HTML shell, an entry script and a stylesheet, with content-hashed names. */
async function buildRelease(version) {
  const out = path.join(dir, 'builds', version);
  await mkdir(path.join(out, 'assets'), { recursive: true });
  const lines = [`export const release = ${JSON.stringify(version)};`];
  while (lines.join('\n').length < BUNDLE_KB * 1024) lines.push(`// ${randomBytes(48).toString('base64')}`);
  const script = `${lines.join('\n')}\n`;
  const style = `body { font: 16px system-ui; }\n/* ${randomBytes(1500).toString('base64')} */\n`;
  const tag = (text) => createHash('sha256').update(text).digest('hex').slice(0, 8);
  const app = `app-${tag(script)}.js`;
  const css = `style-${tag(style)}.css`;
  await writeFile(path.join(out, 'assets', app), script);
  await writeFile(path.join(out, 'assets', css), style);
  await writeFile(
    path.join(out, 'index.html'),
    `<!doctype html>\n<html lang="en">\n  <head>\n    <meta charset="utf-8" />\n    <title>Fleet ${version}</title>\n` +
      `    <link rel="stylesheet" href="./assets/${css}" />\n  </head>\n  <body>\n    <div id="app"></div>\n` +
      `    <script type="module" src="./assets/${app}"></script>\n  </body>\n</html>\n`,
  );
  return out;
}

const quiet = { stdout: { write() {} }, stderr: process.stderr };
const cli = async (...args) => {
  const code = await runCli([...args, '--store', redis.url, '--releases', dir, '--actor', 'bench'], quiet);
  if (code !== 0) throw new Error(`daylight ${args.join(' ')} exited with ${code}`);
};

function startServer(framework) {
  const child = spawn(process.execPath, ['--expose-gc', path.join(here, 'fleet-server.mjs'), framework], {
    env: {
      ...process.env,
      FLEET_REDIS: redis.url,
      FLEET_CONFIG: path.join(dir, 'releases.json'),
      FLEET_ADMIN: ADMIN,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the ${framework} server exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      const match = /listening (\S+)/.exec(String(chunk));
      if (match) resolve({ framework, child, url: match[1] });
    });
  });
}

async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers });
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return response.json();
}

const stats = (server, gc = false) => getJson(`${server.url}/fleet/stats${gc ? '?gc=1' : ''}`);

// ---------------------------------------------------------------- load

/** CPU samples, once a second: the servers', Redis's and this process's (the generator: every loader thread). */
const cpuSamples = [];
async function sampleCpu() {
  const at = now();
  const [serverStats, info] = await Promise.all([
    Promise.all(servers.map((server) => stats(server))),
    monitor.info('cpu'),
  ]);
  const redisCpu = ['used_cpu_sys', 'used_cpu_user']
    .map((name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0))
    .reduce((a, b) => a + b, 0);
  const own = process.cpuUsage();
  cpuSamples.push({
    at,
    servers: serverStats.map((s) => (s.cpu.user + s.cpu.system) / 1e6),
    redis: redisCpu,
    generator: (own.user + own.system) / 1e6,
  });
}

/** t0: when the promote starts. */
let t0;
let peakInFlight = 0;
let promoteMs;
let ended;
const progress = new Array(LOADERS).fill(undefined);
const results = [];
const failedLoaders = [];
const per = Math.ceil(SESSIONS / LOADERS);
let started;
function startLoaders() {
  started = now();
  for (let i = 0; i < LOADERS; i++) {
    const first = i * per;
    const count = Math.max(0, Math.min(per, SESSIONS - first));
    const worker = new Worker(path.join(here, 'fleet-sessions.mjs'), {
      workerData: {
        first,
        sessions: count,
        servers: servers.map((s) => s.url),
        offices: OFFICES,
        thinkMs,
        idleMs: (IDLE * 1000) / SPEEDUP,
        share: SHARE,
        sockets: SOCKETS,
        spreadMs: thinkMs,
        timeoutMs: 30_000,
      },
    });
    worker.on('message', (message) => {
      if (message.type === 'progress') {
        progress[i] = message;
        if (t0 !== undefined) peakInFlight = Math.max(peakInFlight, inFlightNow());
      }
      if (message.type === 'done') results[i] = message;
    });
    worker.on('error', (error) => console.error(error));
    worker.on('exit', () => {
      if (results[i] === undefined) failedLoaders.push(i);
    });
    workers.push(worker);
  }
}

const inFlightNow = () => progress.reduce((sum, p) => sum + (p?.inFlight ?? 0), 0);
const onVersion = (version) => progress.reduce((sum, p) => sum + (p?.versions[version] ?? 0), 0);
const requestsSoFar = () => progress.reduce((sum, p) => sum + (p?.requests ?? 0), 0);
let lastLine = { at: now(), requests: 0 };
function line(label) {
  const at = now();
  const requests = requestsSoFar();
  const rate = ((requests - lastLine.requests) * 1000) / (at - lastLine.at);
  lastLine = { at, requests };
  say(
    `${label} ${OLD}: ${onVersion(OLD)}, ${NEW}: ${onVersion(NEW)}, requests ${requests} (${Math.round(rate)}/s), in flight ${inFlightNow()}`,
  );
}

let servers;
let heapBefore;
let heapAfter;
let census;
let censusKeys = 0;
let censusBytes = 0;
let redisMemory;
let redisVersion;
try {
  // ------------------------------------------------------------ set-up
  redis = await startRedis();
  dir = await mkdtemp(path.join(tmpdir(), 'daylight-bench-fleet-'));
  for (const version of [OLD, NEW]) await cli('publish', await buildRelease(version), '--version', version);
  await cli('promote', OLD);
  servers = await Promise.all(['express', 'koa'].map(startServer));
  monitor = await openCensusRedis(redis.url);
  heapBefore = await Promise.all(servers.map((server) => stats(server, true)));
  say(`redis ${redis.url}, ${servers.map((s) => `${s.framework} ${s.url}`).join(', ')}`);

  // ------------------------------------------------------------ load
  startLoaders();
  sampler = setInterval(() => void sampleCpu().catch(() => undefined), 1000);
  while (now() - started < WARMUP * 1000) {
    await sleep(5000);
    line(`warm-up +${((now() - started) / 1000).toFixed(0)} s`);
  }
  await sampleCpu();
  for (const worker of workers) worker.postMessage({ type: 'promote', version: NEW });
  t0 = now();
  await cli('promote', NEW);
  promoteMs = now() - t0;
  say(`promoted ${NEW} in ${promoteMs.toFixed(1)} ms`);
  let allAt;
  let nextLine = t0 + 5000;
  while (now() - t0 < MAX_WAIT * 1000) {
    await sleep(100);
    if (failedLoaders.length > 0) throw new Error(`load generator ${failedLoaders[0]} stopped`);
    if (allAt === undefined && onVersion(NEW) >= SESSIONS) {
      allAt = now();
      line(`every session runs ${NEW} at +${((allAt - t0) / 1000).toFixed(1)} s;`);
    }
    if (allAt !== undefined && now() - allAt > thinkMs) break;
    if (now() >= nextLine) {
      line(`+${((now() - t0) / 1000).toFixed(0)} s`);
      nextLine += 5000;
    }
  }
  ended = now();
  clearInterval(sampler);
  await sampleCpu();
  for (const worker of workers) worker.postMessage({ type: 'stop' });
  while (results.filter(Boolean).length < LOADERS) {
    if (failedLoaders.length > 0) throw new Error(`load generator ${failedLoaders[0]} stopped without its results`);
    await sleep(50);
  }

  // ------------------------------------------------------------ read the servers and Redis
  heapAfter = await Promise.all(servers.map((server) => stats(server, true)));
  const admin = { 'x-fleet-admin': ADMIN };
  // Each read flushes that server's pending sessions first: after both, Redis has everything.
  await getJson(`${servers[0].url}/_daylight/admin/census.json`, admin);
  census = await getJson(`${servers[1].url}/_daylight/admin/census.json`, admin);
  let cursor = '0';
  do {
    const [next, keys] = await monitor.scan(cursor, 'MATCH', 'daylight:census:*', 'COUNT', 1000);
    cursor = next;
    for (const key of keys) {
      censusKeys++;
      censusBytes += Number(await monitor.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) || 0;
    }
  } while (cursor !== '0');
  redisMemory = Number(/used_memory:(\d+)/.exec(await monitor.info('memory'))?.[1] ?? 0);
  redisVersion = /v=(\S+)/.exec(spawnSync(findRedisServer(), ['--version'], { encoding: 'utf8' }).stdout)?.[1];
} finally {
  // On every path, errors included: nothing this run started is left running.
  await cleanUp();
}

// ---------------------------------------------------------------- figures

const kinds = results[0].kinds;
const sessions = { reloads: [], reachedAt: [], downloadAt: [], readyAt: [], applyAt: [] };
const counters = { failures: {}, errors: {} };
const stampTimes = servers.map(() => ({}));
for (const result of results) {
  for (const name of Object.keys(sessions)) for (const value of result.sessions[name]) sessions[name].push(value);
  for (const [name, value] of Object.entries(result.counters)) {
    if (typeof value === 'number') counters[name] = (counters[name] ?? 0) + value;
    else for (const [key, n] of Object.entries(value)) counters[name][key] = (counters[name][key] ?? 0) + n;
  }
  result.stamps.forEach((byVersion, i) => {
    for (const [version, seen] of Object.entries(byVersion)) {
      const into = (stampTimes[i][version] ??= { first: Infinity, last: 0 });
      into.first = Math.min(into.first, seen.first);
      into.last = Math.max(into.last, seen.last);
    }
  });
}

const reached = sessions.reachedAt.filter((at) => !Number.isNaN(at)).map((at) => at - t0);
reached.sort((a, b) => a - b);
/** Time after t0 by which `share` of all sessions ran the new release; undefined when never. */
const timeTo = (share) => reached[Math.ceil(share * SESSIONS) - 1];
const t99 = timeTo(0.99);

const all = { start: [], ms: [], kind: [], ok: [] };
for (const result of results) {
  for (const name of Object.keys(all)) for (const value of result.requests[name]) all[name].push(value);
}
const API = kinds.indexOf('api');
function apiWindow(from, to) {
  const latencies = [];
  let total = 0;
  for (let i = 0; i < all.start.length; i++) {
    if (all.start[i] < from || all.start[i] >= to) continue;
    total++;
    if (all.kind[i] === API) latencies.push(all.ms[i]);
  }
  latencies.sort((a, b) => a - b);
  const pick = (q) => latencies[Math.min(latencies.length - 1, Math.ceil(q * latencies.length) - 1)];
  const seconds = (to - from) / 1000;
  return { rate: latencies.length / seconds, all: total / seconds, p50: pick(0.5), p99: pick(0.99) };
}
function cpuWindow(from, to) {
  const nearest = (at) => cpuSamples.reduce((best, s) => (Math.abs(s.at - at) < Math.abs(best.at - at) ? s : best));
  const a = nearest(from);
  const b = nearest(to);
  const seconds = (b.at - a.at) / 1000;
  const share = (x, y) => (seconds > 0 ? (100 * (y - x)) / seconds : Number.NaN);
  return {
    servers: a.servers.map((x, i) => share(x, b.servers[i])),
    redis: share(a.redis, b.redis),
    generator: share(a.generator, b.generator),
  };
}
const switchEnd = t99 === undefined ? ended : t0 + t99;
// The steady window starts once every tab has opened (they open over one mean pause).
const steadyFrom = Math.max(t0 - STEADY_MS, started + thinkMs + 1000);
const steady = { ...apiWindow(steadyFrom, t0), cpu: cpuWindow(steadyFrom, t0) };
const during = { ...apiWindow(t0, switchEnd), cpu: cpuWindow(t0, switchEnd) };

const requestsByKind = {};
for (const kind of all.kind) requestsByKind[kinds[kind]] = (requestsByKind[kinds[kind]] ?? 0) + 1;
const totalRequests = all.kind.length;
const failed = all.ok.reduce((n, ok) => n + (ok ? 0 : 1), 0);
const reloads = [...sessions.reloads].sort((a, b) => a - b);
const reloadHistogram = {};
for (const n of reloads) reloadHistogram[n] = (reloadHistogram[n] ?? 0) + 1;
const stage = (from, to) =>
  median(
    from
      .map((a, i) => to[i] - a)
      .filter((v) => Number.isFinite(v) && !Number.isNaN(v))
      .map((v) => v / 1000),
  );
const stages = {
  notice: median(sessions.downloadAt.filter((v) => !Number.isNaN(v)).map((v) => (v - t0) / 1000)),
  download: stage(sessions.downloadAt, sessions.readyAt),
  moment: stage(sessions.readyAt, sessions.applyAt),
  reload: stage(sessions.applyAt, sessions.reachedAt),
};
const countedBy = (release) =>
  census.series.filter((s) => s.release === release).reduce((sum, s) => sum + s.sessions['5m'], 0);
const boots = heapAfter.reduce(
  (sum, s) => sum + s.reports.filter((r) => r.release === NEW).reduce((n, r) => n + (r.kinds.boot ?? 0), 0),
  0,
);

const fmt = (n, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const kib = (bytes) => `${fmt(bytes / 1024, 1)} KiB`;
const mib = (bytes) => `${fmt(bytes / 2 ** 20, 1)} MiB`;
const simulated = (ms) => {
  if (ms === undefined) return 'not reached';
  const s = (ms * SPEEDUP) / 1000;
  return s < 120 ? `${fmt(s, 0)} s` : `${fmt(s / 60, 1)} min`;
};
const real = (ms) =>
  ms === undefined
    ? `not reached (${fmt(reached.length)} of ${fmt(SESSIONS)} sessions in ${MAX_WAIT} s)`
    : `${fmt(ms / 1000, 1)} s`;
const list = (object) =>
  Object.entries(object)
    .map(([key, n]) => `${key}: ${fmt(n)}`)
    .join(', ') || 'none';

const quantileRows = [0.5, 0.9, 0.99, 1]
  .map((q) => `| ${q * 100} % | ${simulated(timeTo(q))} | ${real(timeTo(q))} |`)
  .join('\n');
/**
 * What a server's memory grew by over the run, the census's registers excluded. The registers are typed arrays:
 * V8 keeps a typed array's bytes outside its heap (in `arrayBuffers`, not in `heapUsed`) unless it is tiny, so
 * the growth is taken over heapUsed + arrayBuffers, and the registers' own growth is subtracted from that.
 */
const memoryOf = (m) => m.heapUsed + m.arrayBuffers;
const nonCensusGrowth = (before, after) =>
  memoryOf(after.memory) - memoryOf(before.memory) - (after.census.bytes - before.census.bytes);
const serverRows = servers
  .map((server, i) => {
    const before = heapBefore[i];
    const after = heapAfter[i];
    return `| ${server.framework} | ${kib(after.census.bytes)} | ${after.census.series} | ${mib(nonCensusGrowth(before, after))} | ${mib(after.memory.heapUsed - before.memory.heapUsed)} | ${mib(after.memory.arrayBuffers - before.memory.arrayBuffers)} | ${mib(after.memory.rss)} |`;
  })
  .join('\n');
const stampRows = servers
  .map((server, i) => {
    const seen = stampTimes[i];
    const first = seen[NEW] ? `+${fmt(seen[NEW].first - t0, 1)} ms` : 'never';
    const last = seen[OLD] && seen[OLD].last > t0 ? `+${fmt(seen[OLD].last - t0, 1)} ms` : 'before t0';
    return `${server.framework}: first ${NEW} stamp ${first}, last ${OLD} stamp ${last}`;
  })
  .join('; ');
const exactlyOne = reloads[0] === 1 && reloads.at(-1) === 1;
const daylightStats = heapAfter.map((s) => `${s.framework} ${list(s.daylight)}; logged ${list(s.logged)}`).join(' — ');

const body = `## Fleet: ${fmt(SESSIONS)} sessions, two servers, one promote

\`npm run bench:fleet\` — ${machine()}; express ${await versionOf('express')}, koa ${await versionOf('koa')}, redis-server ${redisVersion}.
One Express and one Koa server process with Daylight on a Redis registry and census, ${fmt(SESSIONS)} simulated tabs in ${LOADERS} worker threads sending each request to a random server, ${OFFICES} offices as cohorts. A session's pause between actions is exponential, mean ${THINK} s simulated, run ${SPEEDUP}× faster (${fmt(thinkMs / 1000, 1)} s real); idle moment ${IDLE} s simulated; policy \`auto\`; release files ${BUNDLE_KB} KiB + 2 KiB. ${WARMUP} s on ${OLD}, then \`daylight promote ${NEW}\` on the Redis store (${fmt(promoteMs, 1)} ms) at t0. Details: bench/fleet.mjs.

| sessions on ${NEW} | after t0, simulated | in the ${SPEEDUP}×-compressed run |
| ---: | ---: | ---: |
${quantileRows}

Median stages of a switch, in the run's time (the waits for a stamp and for a safe moment follow the sessions' pauses, ${SPEEDUP}× compressed; the download and the reload do not): ${fmt(stages.notice, 1)} s until a stamp starts the download, ${fmt(stages.download * 1000, 0)} ms to download and verify, ${fmt(stages.moment, 1)} s waiting for a safe moment, ${fmt(stages.reload * 1000, 0)} ms for the reload (after the SDK's 100 ms quiet wait). ${stampRows}.

| per session | min | median | max | target |
| --- | ---: | ---: | ---: | --- |
| reloads | ${reloads[0]} | ${median(reloads)} | ${reloads.at(-1)} | exactly 1: ${exactlyOne ? 'met' : `NOT met (${list(reloadHistogram)} sessions by reload count)`} |

Requests: ${fmt(totalRequests)} (${list(requestsByKind)}); ${fmt(counters.bytes / 2 ** 20, 0)} MiB received. Failed: **${fmt(failed)}**${failed ? ` (${list(counters.failures)})` : ''} — target none: ${failed === 0 ? 'met' : 'NOT met'}. Client-side: ${fmt(counters.staleAnswers)} release checks ignored as stale (lower revision), ${fmt(counters.runningAnswers)} answered the running release, ${fmt(counters.cancelledDownloads)} downloads cancelled, ${fmt(counters.staleShells)} stale shells, ${fmt(counters.loopGuards)} loop-guard refusals, ${fmt(counters.cacheMisses)} shell files not verified before the reload, errors ${list(counters.errors)}.

Baseline, same run — API calls in the last ${fmt((t0 - steadyFrom) / 1000, 0)} s on ${OLD} against t0 until 99 % run ${NEW}:

| window | API calls/s | all requests/s | API p50 ms | API p99 ms | CPU: servers | Redis | generator |
| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
| steady on ${OLD} | ${fmt(steady.rate)} | ${fmt(steady.all)} | ${fmt(steady.p50, 1)} | ${fmt(steady.p99, 1)} | ${steady.cpu.servers.map((c) => `${fmt(c)} %`).join(' + ')} | ${fmt(steady.cpu.redis)} % | ${fmt(steady.cpu.generator)} % |
| switching | ${fmt(during.rate)} | ${fmt(during.all)} | ${fmt(during.p50, 1)} | ${fmt(during.p99, 1)} | ${during.cpu.servers.map((c) => `${fmt(c)} %`).join(' + ')} | ${fmt(during.cpu.redis)} % | ${fmt(during.cpu.generator)} % |

The sessions notice the promote ${SPEEDUP}× sooner than people would, so the switch's downloads arrive ${SPEEDUP}× denser than in real life: read the switching row as an upper bound (at its peak, ${fmt(peakInFlight)} requests were open or queued in the generator). Event-loop delay p99 over the run: generator threads ${results.map((r) => `${fmt(r.lag.p99, 1)} ms`).join(', ')}; servers ${heapAfter.map((s) => `${s.framework} ${fmt(s.lag.p99, 1)} ms (max ${fmt(s.lag.max, 0)} ms)`).join(', ')}.

Census memory:

| server | census registers | series | heapUsed + arrayBuffers growth, less the census registers | heapUsed growth | arrayBuffers growth | RSS |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
${serverRows}

Growth is over the run, between a GC before the load and a GC after it (\`process.memoryUsage()\` on each server). The census registers are typed arrays, whose bytes V8 keeps outside its heap (\`arrayBuffers\`, not \`heapUsed\`), so what the server's other memory grew by is heapUsed + arrayBuffers growth less the registers' growth; the two parts are beside it, unadjusted.

Redis: ${fmt(censusKeys)} census keys, ${kib(censusBytes)} by \`MEMORY USAGE\` (${kib(censusBytes / censusKeys)} a key: Redis keeps every bucket as a dense HyperLogLog, however few sessions it holds; Redis in all: ${mib(redisMemory)}). The fleet census (5-minute window, summed over the ${OFFICES} offices) counts ${fmt(countedBy(OLD))} sessions on ${OLD} and ${fmt(countedBy(NEW))} on ${NEW}; truth: ${fmt(SESSIONS)} and ${fmt(reached.length)}. Boot reports for ${NEW}: ${fmt(boots)}. Server counters: ${daylightStats}.`;

console.log(`\n${body}`);
await writeSection('fleet', body);
