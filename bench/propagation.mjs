// Promote-to-stamped on several servers: a real redis-server, 4 API server
// processes on the Redis store (scripts/rollout-server.mjs), and 50 promotes
// through the CLI, alternating between the demo's 1.0.0 and 1.1.0. For each,
// the time from starting the promote until all 4 servers stamp the new
// release. Each server is asked over HTTP (GET /api/ping, its
// `Daylight-Release` stamp read) in rounds: one request to every server that
// has not stamped it yet, in parallel, then a 2 ms pause before the next
// round. Reports p50 / p99 / max (nearest rank: with 50 promotes, p99 is the
// slowest of the 50). Target: p99 under 200 ms.
//
// Redis and the servers are stopped by their PIDs whatever happens, a failed
// start or a promote that never reaches every server included.
//
//   npm run bench:propagation          (SERVERS=4 PROMOTES=50 by default)
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { runCli } from '@daylight/cli';
import { startRedis } from '../scripts/redis-server.mjs';
import { cleanUpAll, machine, median, stopChild, stopRedis, writeSection } from './lib.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SERVERS = Number(process.env.SERVERS ?? 4);
const PROMOTES = Number(process.env.PROMOTES ?? 50);
const BUILDS = path.join(ROOT, 'examples/office-app/builds');

const quiet = { stdout: { write() {} }, stderr: process.stderr };
const ensure = (code, args) => {
  if (code !== 0) throw new Error(`daylight ${args.join(' ')} exited with ${code}`);
};
/** Every server process started, kept from the moment it is spawned, so that a failed start is stopped too. */
const children = [];
let redis;
let dir;

function startServer() {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/rollout-server.mjs')], {
    env: { ...process.env, DAYLIGHT_REDIS: redis.url, DAYLIGHT_CONFIG: path.join(dir, 'releases.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      const match = /listening (\S+)/.exec(String(chunk));
      if (match) resolve({ child, url: match[1] });
    });
  });
}

async function stampedBy(url, stamp) {
  const response = await fetch(`${url}/api/ping`);
  await response.arrayBuffer();
  return response.headers.get('daylight-release') === stamp;
}

/** Asks every server not yet stamped, in parallel, with a 2 ms pause after each round, until all stamp `stamp`. */
async function untilAll(servers, stamp, started) {
  const pending = new Set(servers.map((s) => s.url));
  while (pending.size > 0) {
    if (performance.now() - started > 10_000) throw new Error(`not every server stamped ${stamp} within 10 s`);
    await Promise.all(
      [...pending].map(async (url) => {
        if (await stampedBy(url, stamp)) pending.delete(url);
      }),
    );
    if (pending.size > 0) await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return performance.now() - started;
}

const times = [];
const cliTimes = [];
try {
  redis = await startRedis();
  dir = await mkdtemp(path.join(tmpdir(), 'daylight-bench-propagation-'));
  const cli = async (...args) =>
    ensure(await runCli([...args, '--store', redis.url, '--releases', dir, '--actor', 'bench'], quiet), args);
  for (const version of ['1.0.0', '1.1.0']) await cli('publish', path.join(BUILDS, version), '--version', version);
  await cli('promote', '1.0.0');
  const servers = await Promise.all(Array.from({ length: SERVERS }, startServer));
  await untilAll(servers, 'v="1.0.0"', performance.now());
  for (let i = 0; i < PROMOTES; i++) {
    const version = i % 2 === 0 ? '1.1.0' : '1.0.0';
    const started = performance.now();
    await cli('promote', version);
    cliTimes.push(performance.now() - started);
    times.push(await untilAll(servers, `v="${version}"`, started));
  }
} finally {
  // On every path, errors included: the servers and Redis by their PIDs, then the temporary folder.
  await cleanUpAll([
    () => Promise.all(children.map((child) => stopChild(child))),
    () => stopRedis(redis),
    () => dir && rm(dir, { recursive: true, force: true }),
  ]);
}

const sorted = [...times].sort((a, b) => a - b);
const pick = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const ms = (value) => `${value.toFixed(1)} ms`;
const cliMedian = median(cliTimes);
/** Which sample p99 is, by nearest rank: with 50 promotes, the slowest. */
const p99Rank = Math.min(sorted.length, Math.ceil(0.99 * sorted.length));
const fromTop = sorted.length - p99Rank + 1;
const ordinal = (n) => `${n}${['th', 'st', 'nd', 'rd'][n % 100 > 10 && n % 100 < 14 ? 0 : n % 10 < 4 ? n % 10 : 0]}`;
const p99Label = `p99 (the ${fromTop === 1 ? 'slowest' : `${ordinal(fromTop)} slowest`} of ${sorted.length})`;
const body = `## Propagation: promote to stamped on ${SERVERS} servers

\`npm run bench:propagation\` — ${machine()}. A redis-server on loopback, ${SERVERS} server processes
on the Redis store, ${PROMOTES} promotes through the CLI (in process; its median run, connect included: ${ms(cliMedian)}).
Measured from the start of each promote until every server stamps the new release: each server is asked over HTTP
(\`GET /api/ping\`) in rounds, one request to every server not stamped yet, in parallel, with a 2 ms pause after each round.

| p50 | ${p99Label} | max |
| ---: | ---: | ---: |
| ${ms(pick(0.5))} | ${ms(pick(0.99))} | ${ms(sorted.at(-1))} |

Target: p99 under 200 ms. Result: ${pick(0.99) < 200 ? 'met' : 'NOT met'}.`;
console.log(body);
await writeSection('propagation', body);
