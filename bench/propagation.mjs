// Promote-to-stamped on several servers: a real redis-server, 4 API server
// processes on the Redis store (scripts/rollout-server.mjs), and 50 promotes
// through the CLI, alternating between the demo's 1.0.0 and 1.1.0. For each,
// the time from starting the promote until all 4 servers stamp the new
// release (each polled over HTTP every 2 ms). Reports p50 / p99 / max.
// Target: p99 under 200 ms.
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
import { machine, writeSection } from './lib.mjs';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const SERVERS = Number(process.env.SERVERS ?? 4);
const PROMOTES = Number(process.env.PROMOTES ?? 50);
const BUILDS = path.join(ROOT, 'examples/office-app/builds');

const redis = await startRedis();
const dir = await mkdtemp(path.join(tmpdir(), 'daylight-bench-propagation-'));
const quiet = { stdout: { write() {} }, stderr: process.stderr };
const cli = (...args) => runCli([...args, '--store', redis.url, '--releases', dir, '--actor', 'bench'], quiet);
for (const version of ['1.0.0', '1.1.0']) {
  if ((await cli('publish', path.join(BUILDS, version), '--version', version)) !== 0) process.exit(1);
}
if ((await cli('promote', '1.0.0')) !== 0) process.exit(1);

function startServer() {
  const child = spawn(process.execPath, [path.join(ROOT, 'scripts/rollout-server.mjs')], {
    env: { ...process.env, DAYLIGHT_REDIS: redis.url, DAYLIGHT_CONFIG: path.join(dir, 'releases.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
    child.stdout.on('data', (chunk) => {
      const match = /listening (\S+)/.exec(String(chunk));
      if (match) resolve({ child, url: match[1] });
    });
  });
}

const servers = await Promise.all(Array.from({ length: SERVERS }, startServer));

async function stampedBy(url, stamp) {
  const response = await fetch(`${url}/api/ping`);
  await response.arrayBuffer();
  return response.headers.get('daylight-release') === stamp;
}

async function untilAll(stamp, started) {
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

const ensure = (code) => {
  if (code !== 0) throw new Error(`daylight exited with ${code}`);
};
await untilAll('v="1.0.0"', performance.now());
const times = [];
const cliTimes = [];
for (let i = 0; i < PROMOTES; i++) {
  const version = i % 2 === 0 ? '1.1.0' : '1.0.0';
  const started = performance.now();
  ensure(await cli('promote', version));
  cliTimes.push(performance.now() - started);
  times.push(await untilAll(`v="${version}"`, started));
}

for (const { child } of servers) child.kill('SIGTERM');
await redis.stop();
await rm(dir, { recursive: true, force: true });

const sorted = [...times].sort((a, b) => a - b);
const pick = (q) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
const ms = (value) => `${value.toFixed(1)} ms`;
const cliMedian = [...cliTimes].sort((a, b) => a - b)[Math.floor(cliTimes.length / 2)];
const body = `## Propagation: promote to stamped on ${SERVERS} servers

\`npm run bench:propagation\` — ${machine()}. A redis-server on loopback, ${SERVERS} server processes
on the Redis store, ${PROMOTES} promotes through the CLI (in process; its median run, connect included: ${ms(cliMedian)}).
Measured from the start of each promote until every server stamps the new release (each polled every 2 ms).

| p50 | p99 | max |
| ---: | ---: | ---: |
| ${ms(pick(0.5))} | ${ms(pick(0.99))} | ${ms(sorted.at(-1))} |

Target: p99 under 200 ms. Result: ${pick(0.99) < 200 ? 'met' : 'NOT met'}.`;
console.log(body);
await writeSection('propagation', body);
