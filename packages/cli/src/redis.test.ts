/**
 * The Redis store for real: a redis-server started by the test on a free
 * port, two API server processes (scripts/rollout-server.mjs) sharing it and
 * one release folder, and the CLI in this process. Redis is stopped and
 * started again by its PID in the middle.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDaylight } from '@daylight/server-middleware';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRedis, type TestRedis } from '../../../scripts/redis-server.mjs';
import { runCli } from './cli.js';
import { captureIO, removeTempDirs, sampleProject, writeFiles } from './test-support.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const SERVER = path.join(ROOT, 'scripts/rollout-server.mjs');

let redis: TestRedis;
let redisDir: string;
let root: string;
const servers: { child: ChildProcess; url: string }[] = [];

async function cli(...argv: string[]) {
  const io = captureIO(root, { DAYLIGHT_ACTOR: 'release-bot' });
  const code = await runCli([...argv, '--store', redis.url, '--releases', root], io);
  return { code, stdout: io.out(), stderr: io.err() };
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [SERVER], {
    cwd: ROOT,
    env: { ...process.env, DAYLIGHT_REDIS: redis.url, DAYLIGHT_CONFIG: path.join(root, 'releases.json') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`server exited with ${String(code)}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      const match = /listening (\S+)/.exec(chunk.toString());
      if (match) resolve({ child, url: match[1]! });
    });
  });
}

async function stampOf(url: string): Promise<string | null> {
  const response = await fetch(`${url}/api/ping`);
  if (response.status !== 200) throw new Error(`GET /api/ping answered ${response.status}`);
  return response.headers.get('daylight-release');
}

/** Polls until every server stamps `stamp`; resolves with how long it took. */
async function allStamp(stamp: string, timeoutMs = 5000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const stamps = await Promise.all(servers.map((s) => stampOf(s.url)));
    if (stamps.every((s) => s === stamp)) return Date.now() - started;
    if (Date.now() - started > timeoutMs)
      throw new Error(`stamps ${stamps.join(', ')} after ${timeoutMs} ms; wanted ${stamp}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

beforeAll(async () => {
  redisDir = await mkdtemp(path.join(tmpdir(), 'daylight-redis-'));
  redis = await startRedis({ dir: redisDir });
  root = (await sampleProject()).root;
  await writeFiles(path.join(root, 'build2'), {
    'index.html': '<!doctype html><html><head><script type="module" src="/assets/app-2.js"></script></head></html>',
    'assets/app-2.js': 'console.log("app 2");\n',
  });
  expect(await cli('publish', 'build', '--version', '1.0.0')).toMatchObject({ code: 0 });
  expect(await cli('publish', 'build2', '--version', '1.1.0')).toMatchObject({ code: 0 });
  expect(await cli('promote', '1.0.0')).toMatchObject({ code: 0 });
  servers.push(await startServer(), await startServer());
}, 30_000);

afterAll(async () => {
  for (const { child } of servers) child.kill('SIGTERM');
  await redis.stop();
  await rm(redisDir, { recursive: true, force: true });
  await removeTempDirs();
});

describe('the Redis store with two server processes', () => {
  it('gets a promote made through the CLI stamped by both servers', async () => {
    await allStamp('v="1.0.0"');
    expect(await cli('promote', '1.1.0', '--cohort', 'pilot')).toMatchObject({ code: 0 });
    for (const { url } of servers) {
      await expect
        .poll(async () =>
          (await fetch(`${url}/api/ping`, { headers: { 'x-office': 'pilot' } })).headers.get('daylight-release'),
        )
        .toBe('v="1.1.0"');
    }
    expect(await cli('promote', '1.1.0')).toMatchObject({ code: 0 });
    expect(await allStamp('v="1.1.0"')).toBeLessThan(2000);
    const history = await cli('history', '--json');
    const entries = (JSON.parse(history.stdout) as { entries: { actor: string; summary: string }[] }).entries;
    expect(entries.at(-1)).toMatchObject({ actor: 'release-bot', summary: 'promote 1.1.0 to everyone' });
  });

  it('lets one of two simultaneous promotes win and tells the other, losing nothing', async () => {
    const results = await Promise.all([
      cli('promote', '1.0.0', '--cohort', 'a'),
      cli('promote', '1.0.0', '--cohort', 'b'),
    ]);
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 1]);
    const loser = results.find((r) => r.code === 1)!;
    expect(loser.stderr).toMatch(
      /changed (while this command ran|by another command at the same moment).*nothing was changed, run the command again/,
    );
    const status = JSON.parse((await cli('status', '--json')).stdout) as { targets: { cohort: string | null }[] };
    expect(status.targets.map((t) => t.cohort).filter((c) => c === 'a' || c === 'b')).toHaveLength(1);
  });

  it('lets one of two simultaneous publishes of one version win, and its files are the ones installed', async () => {
    const builds = ['race-a', 'race-b'];
    for (const name of builds) {
      await writeFiles(path.join(root, name), {
        'index.html': `<!doctype html><html><head><script type="module" src="/assets/${name}.js"></script></head></html>`,
        [`assets/${name}.js`]: `console.log(${JSON.stringify(name)});\n`,
      });
    }
    const results = await Promise.all(builds.map((name) => cli('publish', name, '--version', '1.5.0')));
    expect(results.map((r) => r.code).sort()).toEqual([0, 1]);
    expect(results.find((r) => r.code === 1)!.stderr).toMatch(
      /another daylight command is changing the store|changed (while this command ran|by another command)/,
    );
    const winner = builds[results.findIndex((r) => r.code === 0)]!;
    const manifest = JSON.parse(await readFile(path.join(root, 'releases', '1.5.0', 'manifest.json'), 'utf8')) as {
      entry: { url: string };
    };
    expect(manifest.entry.url).toContain(`${winner}.js`);
    // Publishing the winner again is "the same content": the registry and the folder agree.
    expect((await cli('publish', winner, '--version', '1.5.0')).stdout).toMatch(
      /already published with the same content/,
    );
  });

  it('halts a cohort from code (server.halt) through Redis, and every server follows', async () => {
    expect(await cli('promote', '1.0.0', '--cohort', 'pilot')).toMatchObject({ code: 0 });
    expect(await cli('promote', '1.1.0', '--cohort', 'pilot')).toMatchObject({ code: 0 });
    const quiet = { info() {}, warn() {}, error() {} };
    const daylight = createDaylight({ config: path.join(root, 'releases.json'), redis: redis.url, logger: quiet });
    try {
      await daylight.ready;
      const result = await daylight.halt({ release: '1.1.0', cohort: 'pilot', reason: '12 failed boots' });
      expect(result).toMatchObject({
        changed: true,
        summary: expect.stringMatching(/^halt 1\.1\.0 in cohort pilot: 12 failed boots/) as unknown,
      });
    } finally {
      await daylight.close();
    }
    for (const { url } of servers) {
      await expect
        .poll(async () =>
          (await fetch(`${url}/api/ping`, { headers: { 'x-office': 'pilot' } })).headers.get('daylight-release'),
        )
        .toBe('v="1.0.0"');
    }
    const entries = (
      JSON.parse((await cli('history', '--json')).stdout) as { entries: { actor: string; action: string }[] }
    ).entries;
    expect(entries.at(-1)).toMatchObject({ actor: 'server', action: 'halt' });
    expect((await cli('status')).stdout).toMatch(/^pilot +1\.0\.0 +- +1\.1\.0 +halted 1\.1\.0: 12 failed boots$/m);
  });

  it('keeps both of two halts one server makes at the same moment (one connection, one WATCH)', async () => {
    for (const cohort of ['east', 'west']) {
      expect(await cli('promote', '1.0.0', '--cohort', cohort)).toMatchObject({ code: 0 });
      expect(await cli('promote', '1.1.0', '--cohort', cohort)).toMatchObject({ code: 0 });
    }
    const quiet = { info() {}, warn() {}, error() {} };
    const daylight = createDaylight({ config: path.join(root, 'releases.json'), redis: redis.url, logger: quiet });
    try {
      await daylight.ready;
      const results = await Promise.all(
        ['east', 'west'].map((cohort) => daylight.halt({ release: '1.1.0', cohort, reason: 'failed boots' })),
      );
      expect(results.map((r) => r.changed)).toEqual([true, true]);
      expect(new Set(results.map((r) => r.revision)).size).toBe(2);
    } finally {
      await daylight.close();
    }
    const status = (await cli('status')).stdout;
    expect(status).toMatch(/^east +1\.0\.0 +- +\S+ +halted 1\.1\.0: failed boots$/m);
    expect(status).toMatch(/^west +1\.0\.0 +- +\S+ +halted 1\.1\.0: failed boots$/m);
  });

  it('keeps stamping while Redis is down, fails no request, and picks up a change made meanwhile', async () => {
    await allStamp('v="1.1.0"');
    // Keep what Redis holds, so the Redis that comes back has it (the test runs Redis without automatic snapshots).
    const admin = new Redis(redis.url);
    await admin.save();
    admin.disconnect();

    let failures = 0;
    let answered = 0;
    let running = true;
    const stamps = new Set<string | null>();
    const hammer = (async () => {
      while (running) {
        for (const { url } of servers) {
          try {
            stamps.add(await stampOf(url));
            answered++;
          } catch {
            failures++;
          }
        }
      }
    })();

    await redis.stop();
    expect(await cli('promote', '1.0.0')).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/cannot be reached/) as unknown,
    });
    const before = answered;
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(answered - before).toBeGreaterThan(20);
    expect(stamps).toEqual(new Set(['v="1.1.0"']));

    redis = await startRedis({ port: redis.port, dir: redisDir });
    expect(await cli('rollback')).toMatchObject({ code: 0, stdout: 'done: roll back everyone from 1.1.0 to 1.0.0\n' });
    expect(await allStamp('v="1.0.0"', 5000)).toBeLessThan(5000);
    running = false;
    await hammer;
    expect(failures).toBe(0);
  }, 30_000);
});
