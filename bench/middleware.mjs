// Middleware cost: autocannon on loopback against GET /api/items (small JSON)
// on Express 5 and on Koa 3 — bare, with Daylight, and with helmet (a widely
// used header middleware) as the reference — in alternating rounds within one
// run. Reports requests per second (median of rounds, with min–max) as a ratio
// to bare, and p99 latency. Target: Daylight ≥ 97 % of bare, and cheaper than helmet.
//
//   npm run bench:middleware          (ROUNDS=5 SECONDS=4 CONNECTIONS=32 by default)
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { runCli } from '@daylight/cli';
import { machine, median, versionOf, writeSection } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const SECONDS = Number(process.env.SECONDS ?? 4);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 32);
const FRAMEWORKS = ['express', 'koa'];
const VARIANTS = ['bare', 'daylight', 'helmet'];

// A store with one tiny published and promoted release, so every response is stamped.
const dir = await mkdtemp(path.join(tmpdir(), 'daylight-bench-'));
const build = path.join(dir, 'build');
await mkdir(path.join(build, 'assets'), { recursive: true });
await writeFile(path.join(build, 'index.html'), '<!doctype html><script type="module" src="./assets/app.js"></script>');
await writeFile(path.join(build, 'assets', 'app.js'), 'console.log("hi")');
const store = path.join(dir, 'releases.json');
const quiet = { stdout: { write() {} }, stderr: process.stderr };
if ((await runCli(['publish', build, '--version', '1.0.0', '--store', store], quiet)) !== 0) process.exit(1);
if ((await runCli(['promote', '1.0.0', '--store', store], quiet)) !== 0) process.exit(1);

function startServer(framework, variant) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, 'middleware-server.mjs'), framework, variant, store], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout.once('data', (data) => resolve({ child, port: Number(String(data).trim()) }));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`server ${framework}/${variant} exited with ${code}`)));
  });
}

async function load(port) {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/api/items`,
    connections: CONNECTIONS,
    duration: SECONDS,
  });
  if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} non-2xx, ${result.errors} errors`);
  return { rps: result.requests.average, p99: result.latency.p99 };
}

const samples = {};
for (let round = 1; round <= ROUNDS; round++) {
  for (const framework of FRAMEWORKS) {
    // Rotate the order each round so no variant always runs first (or last).
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    for (const variant of order) {
      const { child, port } = await startServer(framework, variant);
      await load(port).catch(() => undefined); // warm-up: JIT, connection pool
      const sample = await load(port);
      child.removeAllListeners('exit');
      child.kill('SIGTERM');
      (samples[`${framework}/${variant}`] ??= []).push(sample);
      console.log(`round ${round} ${framework}/${variant}: ${Math.round(sample.rps)} req/s, p99 ${sample.p99} ms`);
    }
  }
}
await rm(dir, { recursive: true, force: true });

const lines = [];
for (const framework of FRAMEWORKS) {
  const bare = median(samples[`${framework}/bare`].map((s) => s.rps));
  for (const variant of VARIANTS) {
    const list = samples[`${framework}/${variant}`];
    const rps = list.map((s) => s.rps);
    const ratio = median(rps) / bare;
    lines.push(
      `| ${framework} | ${variant} | ${Math.round(median(rps)).toLocaleString('en')} | ${Math.round(Math.min(...rps)).toLocaleString('en')}–${Math.round(Math.max(...rps)).toLocaleString('en')} | ${(100 * ratio).toFixed(1)} % | ${median(list.map((s) => s.p99))} |`,
    );
  }
}
const verdicts = FRAMEWORKS.map((framework) => {
  const m = (variant) => median(samples[`${framework}/${variant}`].map((s) => s.rps));
  const ratio = m('daylight') / m('bare');
  const cheaper = m('daylight') > m('helmet');
  return `${framework}: Daylight keeps ${(100 * ratio).toFixed(1)} % of bare (target ≥ 97 %: ${ratio >= 0.97 ? 'met' : `missed by ${(97 - 100 * ratio).toFixed(1)} points`}), ${cheaper ? 'cheaper' : 'not cheaper'} than helmet.`;
});
const table = [
  '| framework | variant | req/s (median) | min–max | vs bare | p99 ms (median) |',
  '| --- | --- | ---: | ---: | ---: | ---: |',
  ...lines,
].join('\n');
console.log(`\n${table}\n\n${verdicts.join('\n')}`);
await writeSection(
  'middleware',
  `## Middleware cost

\`npm run bench:middleware\` — autocannon, ${CONNECTIONS} connections, ${SECONDS} s per sample after a ${SECONDS} s warm-up, ${ROUNDS} rounds with the variants' order rotated each round; each server in its own process; GET of a small JSON body on loopback.
Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}; express ${await versionOf('express')}, koa ${await versionOf('koa')}, helmet ${await versionOf('helmet')}.

${table}

${verdicts.map((v) => `- ${v}`).join('\n')}

The load generator and the server share the machine's 2 cores, so absolute figures are low and noisy; compare the ratios.`,
);
