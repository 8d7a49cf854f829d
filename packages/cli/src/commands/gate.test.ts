import { createServer, type Server } from 'node:http';
import path from 'node:path';
import {
  createCensus,
  createDaylight,
  RedisCensus,
  type CensusSnapshot,
  type DaylightServer,
} from '@daylight/server-middleware';
import { daylightExpress } from '@daylight/server-middleware/express';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIO, removeTempDirs, sampleProject, startRedis } from '../test-support.js';
import { assignedBelow, gateVerdict } from './gate.js';
import { promote } from './promote.js';
import { publish } from './publish.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  await removeTempDirs();
});

const T0 = Date.UTC(2026, 10, 27, 9, 0, 0);
const HOUR = 3_600_000;

function snapshot(observingSince: number, at: number, series: [string, string, number, number][]): CensusSnapshot {
  return {
    scope: 'fleet',
    at,
    observingSince,
    standardError: 0.0081,
    timeline: [],
    series: series.map(([release, cohort, sessions, lastSeen]) => ({
      release,
      cohort,
      lastSeen,
      sessions: { '5m': sessions, '1h': sessions, '24h': sessions },
    })),
  };
}

describe('gateVerdict', () => {
  it('is safe when nothing below the version was seen during a fully observed window', () => {
    const census = snapshot(T0 - 30 * HOUR, T0, [
      ['1.4.0', 'default', 900, T0],
      ['1.3.0', 'pilot', 3, T0 - 25 * HOUR],
    ]);
    expect(gateVerdict(census, '1.4.0', 24 * HOUR)).toMatchObject({
      verdict: 'safe',
      blocking: [],
      observedMs: 24 * HOUR,
    });
  });

  it('is not safe while a release below the version was seen in the window, and says who and when', () => {
    const census = snapshot(T0 - 30 * HOUR, T0, [
      ['1.4.0', 'default', 900, T0],
      ['1.3.2', 'pilot', 12, T0 - 3 * HOUR],
      ['1.3.0-rc.1', 'default', 1, T0 - 23 * HOUR],
    ]);
    const result = gateVerdict(census, '1.4.0', 24 * HOUR);
    expect(result.verdict).toBe('not-safe');
    expect(result.blocking.map((s) => [s.release, s.cohort, s.sessions, s.lastSeen])).toEqual([
      ['1.3.2', 'pilot', 12, new Date(T0 - 3 * HOUR).toISOString()],
      ['1.3.0-rc.1', 'default', 1, new Date(T0 - 23 * HOUR).toISOString()],
    ]);
  });

  it('refuses to say safe before the census observed the whole window', () => {
    const census = snapshot(T0 - 2 * HOUR, T0, [['1.4.0', 'default', 900, T0]]);
    expect(gateVerdict(census, '1.4.0', 24 * HOUR)).toMatchObject({ verdict: 'not-enough-data', observedMs: 2 * HOUR });
  });

  it('counts "other" (past the series cap) as blocking, and lists "unknown" without blocking', () => {
    const census = snapshot(T0 - 30 * HOUR, T0, [
      ['unknown', 'default', 4, T0],
      ['other', 'other', 2, T0 - HOUR],
    ]);
    const result = gateVerdict(census, '1.4.0', 24 * HOUR);
    expect(result.verdict).toBe('not-safe');
    expect(result.blocking.map((s) => s.release)).toEqual(['other']);
    expect(result.unknown.map((s) => s.release)).toEqual(['unknown']);
    expect(gateVerdict(snapshot(T0 - 30 * HOUR, T0, [['unknown', 'default', 4, T0]]), '1.4.0', 24 * HOUR).verdict).toBe(
      'safe',
    );
  });
});

describe('assignedBelow', () => {
  it('lists every release below the version a page load can still get, and nothing else', () => {
    const published = {
      publishedAt: '2026-11-27T09:00:00.000Z',
      digest: `sha384-${'A'.repeat(64)}`,
      shell: 'index.html',
      urgency: 'optional' as const,
    };
    const rollout = (release: string) => ({ release, percent: 10, key: 'tenant', startedAt: published.publishedAt });
    const registry = {
      schema: 1 as const,
      current: '1.4.0',
      releases: Object.fromEntries(['1.3.0', '1.3.1', '1.3.2', '1.3.5', '1.4.0', '1.5.0'].map((v) => [v, published])),
      rollout: rollout('1.5.0'),
      cohorts: {
        berlin: { release: '1.3.2' },
        paris: { release: null, rollout: rollout('1.3.5') },
        oslo: {
          release: '1.4.0',
          rollout: rollout('1.3.0'),
          halted: { release: '1.3.0', at: published.publishedAt, reason: 'x' },
        },
      },
      pins: { 'tenant:acme': { release: '1.3.1', at: published.publishedAt } },
    };
    expect(assignedBelow(registry, '1.4.0')).toEqual([
      { target: 'cohort berlin', release: '1.3.2' },
      { target: 'cohort paris (rollout)', release: '1.3.5' },
      { target: 'pin tenant:acme', release: '1.3.1' },
    ]);
    expect(assignedBelow(registry, '1.3.0')).toEqual([]);
  });

  it('keeps the gate shut while anything below is assigned, however quiet the census', () => {
    const census = snapshot(T0 - 30 * HOUR, T0, [['1.4.0', 'default', 900, T0]]);
    const result = gateVerdict(census, '1.4.0', 24 * HOUR, [{ target: 'cohort berlin', release: '1.3.2' }]);
    expect(result).toMatchObject({ verdict: 'not-safe', blocking: [], assigned: [{ target: 'cohort berlin' }] });
  });
});

/** The file store's registry served by Daylight on Express (admin token `t0ken`), with `GET /api/ping`; its origin. */
async function serve(store: string): Promise<string> {
  const daylight: DaylightServer = createDaylight({
    config: store,
    watch: false,
    logger: { info() {}, warn() {}, error() {} },
    authorize: (req) => req.headers.authorization === 'Bearer t0ken',
  });
  await daylight.ready;
  const app = express();
  app.use(daylightExpress(daylight));
  app.get('/api/ping', (_req, res) => res.json({ ok: true }));
  const server: Server = createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await daylight.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

describe('daylight gate', () => {
  it('reads a server census over HTTP: not safe, not enough data, then safe once quiet', async () => {
    const { build, store, root } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.0.0' });
    await publish({ store, buildDir: build, version: '1.1.0' });
    await promote({ store, version: '1.1.0' });
    const url = await serve(store);
    const ping = (version: string, session: string) =>
      fetch(`${url}/api/ping`, { headers: { 'Daylight-Client': `v="${version}", s="${session}"` } }).then((r) =>
        r.text(),
      );
    await ping('1.0.0', 'old-tab-aaaaaa');
    await ping('1.1.0', 'new-tab-bbbbbb');

    const run = async (...args: string[]) => {
      const io = captureIO(root);
      const code = await runCli(['gate', ...args, '--server', url, '--token', 't0ken', '--store', store], io);
      return { code, out: io.out(), err: io.err() };
    };

    const statusIO = captureIO(root);
    expect(await runCli(['status', '--server', url, '--token', 't0ken', '--store', store], statusIO)).toBe(0);
    expect(statusIO.out()).toMatch(/COHORT\s+RELEASE\s+ROLLOUT[\s\S]*census \(one server\)/);
    expect(statusIO.out()).toMatch(/1\.1\.0\s+default\s+1\s+1\s+1\s+\d{4}-/);
    expect(statusIO.out()).toMatch(/1\.0\.0\s+default\s+1\s+1\s+1\s+\d{4}-/);

    const notSafe = await run('--below', '1.1.0', '--quiet-for', '1h');
    expect(notSafe.code).toBe(1);
    expect(notSafe.out).toMatch(/^not safe: sessions below 1\.1\.0 were seen in the last 1h on this server/);
    expect(notSafe.out).toMatch(/1\.0\.0\s+default\s+~1\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC/);

    const early = await run('--below', '1.0.0', '--quiet-for', '1h', '--json');
    expect(early.code).toBe(3);
    expect(JSON.parse(early.out)).toMatchObject({ verdict: 'not-enough-data', below: '1.0.0', scope: 'server' });

    // Nothing below 1.1.0 for a whole second, observed for a whole second: safe.
    let quiet = await run('--below', '1.1.0', '--quiet-for', '1s');
    const deadline = Date.now() + 5_000;
    while (quiet.code !== 0 && Date.now() < deadline) {
      await ping('1.1.0', 'new-tab-bbbbbb');
      quiet = await run('--below', '1.1.0', '--quiet-for', '1s');
    }
    expect(quiet.code).toBe(0);
    expect(quiet.out).toMatch(/^safe: no session below 1\.1\.0 was seen in the last 1s on this server/);

    const refused = await runCli(
      ['gate', '--below', '1.1.0', '--server', url, '--token', 'wrong', '--store', store],
      captureIO(root),
    );
    expect(refused).toBe(1);
  });

  it('takes the token and the store from the environment runCli is given, not from the process', async () => {
    const { build, store, root } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.0.0' });
    await promote({ store, version: '1.0.0' });
    const url = await serve(store);
    expect(process.env.DAYLIGHT_ADMIN_TOKEN).toBeUndefined();
    const env = { DAYLIGHT_ADMIN_TOKEN: 't0ken', DAYLIGHT_STORE: store };
    const status = captureIO(root, env);
    expect(await runCli(['status', '--server', url], status)).toBe(0);
    expect(status.out()).toMatch(/census \(one server\)/);
    const gate = captureIO(root, env);
    // Authorised (a refused token exits 1 with "refused"): the census answers, and it has not observed an hour yet.
    expect(await runCli(['gate', '--below', '1.0.0', '--quiet-for', '1h', '--server', url], gate)).toBe(3);
  });

  it('stays shut while a cohort is still assigned an old release, from the store or from the server', async () => {
    const { build, store, root } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.0.0' });
    await publish({ store, buildDir: build, version: '1.1.0' });
    await promote({ store, version: '1.1.0' });
    await promote({ store, version: '1.0.0', cohort: 'berlin' });
    const url = await serve(store);
    // Berlin is quiet (a weekend): the census has nothing below 1.1.0, yet Monday's first page load gets 1.0.0.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    for (const where of [store, path.join(root, 'elsewhere', 'releases.json')]) {
      const io = captureIO(root);
      const code = await runCli(
        ['gate', '--below', '1.1.0', '--quiet-for', '1s', '--server', url, '--token', 't0ken', '--store', where],
        io,
      );
      expect(code, where).toBe(1);
      expect(io.out()).toMatch(
        /^not safe: releases below 1\.1\.0 are still assigned, so a page load can start one:\n {2}cohort berlin: 1\.0\.0\n/,
      );
    }
  });

  it('shows the status without the census, and a note, when the server cannot be reached', async () => {
    const { build, store, root } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.0.0' });
    const io = captureIO(root);
    expect(await runCli(['status', '--server', 'http://127.0.0.1:1', '--store', store], io)).toBe(0);
    expect(io.out()).not.toMatch(/census/);
    expect(io.err()).toMatch(
      /daylight: note: no census: cannot reach http:\/\/127\.0\.0\.1:1\/_daylight\/admin\/census\.json/,
    );
  });

  it('says where the census is when a file store is given without --server', async () => {
    const { root } = await sampleProject();
    const io = captureIO(root);
    expect(await runCli(['gate', '--below', '1.4.0', '--store', path.join(root, 'releases.json')], io)).toBe(2);
    expect(io.err()).toMatch(/with a file store the census lives in the server: pass --server/);
  });

  it('reads the fleet census straight from a Redis store', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const { root } = await sampleProject();
    // Two servers' worth of census, written through the real Redis merge; one of them saw a 1.3.0 tab 90 minutes ago.
    const longAgo = Date.now() - 90 * 60_000;
    const old = createCensus({ now: () => longAgo });
    old.setReleases(['1.3.0', '1.4.0']);
    const oldSync = new RedisCensus(old, { redis: redis.url, now: () => longAgo });
    oldSync.start();
    old.record('1.3.0', 'pilot', 'old-tab-aaaaaa');
    await oldSync.close();
    const fresh = createCensus();
    fresh.setReleases(['1.3.0', '1.4.0']);
    const freshSync = new RedisCensus(fresh, { redis: redis.url });
    freshSync.start();
    fresh.record('1.4.0', 'pilot', 'new-tab-bbbbbb');
    await freshSync.close();

    const run = async (...args: string[]) => {
      const io = captureIO(root);
      const code = await runCli(['gate', ...args, '--store', redis.url], io);
      return { code, out: io.out() };
    };
    const twoHours = await run('--below', '1.4.0', '--quiet-for', '2h');
    expect(twoHours.code).toBe(1);
    expect(twoHours.out).toMatch(/across the fleet/);
    expect(twoHours.out).toMatch(/1\.3\.0\s+pilot\s+~1/);
    expect((await run('--below', '1.4.0', '--quiet-for', '1h')).code).toBe(0);
    expect((await run('--below', '1.3.0', '--quiet-for', '3h')).code).toBe(3); // counting for 90 minutes only
  });
});
