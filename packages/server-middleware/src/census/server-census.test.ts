import { createServer, type Server } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress } from '../express.js';
import { createDaylight } from '../server.js';
import { createReleaseStore, createTestLogger, listen, stop, waitFor } from '../test-support.js';
import { startRedis } from '../test-redis.js';
import type { DaylightServer, DaylightServerOptions } from '../types.js';
import { HLL_STANDARD_ERROR } from './hll.js';
import { ServerCensus } from './server-census.js';
import { sessionIds } from './test-ids.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(options: DaylightServerOptions): Promise<{ url: string; daylight: DaylightServer }> {
  const daylight = createDaylight({ logger: createTestLogger(), ...options });
  await daylight.ready;
  // Until the registry is read, no version is a published release yet (all "unknown").
  await waitFor(() => daylight.stampFor({ method: 'GET', path: '/', headers: {} }), 5_000);
  cleanups.push(() => daylight.close());
  const app = express();
  app.use(daylightExpress(daylight));
  app.get('/api/ping', (_req, res) => res.json({ ok: true }));
  const server: Server = createServer(app);
  const url = await listen(server);
  cleanups.push(() => stop(server));
  return { url, daylight };
}

async function ping(url: string, version: string, session: string): Promise<number> {
  const response = await fetch(`${url}/api/ping`, { headers: { 'Daylight-Client': `v="${version}", s="${session}"` } });
  await response.arrayBuffer();
  return response.status;
}

/** Sends requests a few at a time. */
async function pingAll(url: string, version: string, sessions: readonly string[]): Promise<void> {
  for (let i = 0; i < sessions.length; i += 50) {
    const statuses = await Promise.all(sessions.slice(i, i + 50).map((session) => ping(url, version, session)));
    expect(statuses.every((status) => status === 200)).toBe(true);
  }
}

describe('the census of a server', () => {
  it('counts API calls at once on the file store, with unpublished versions as "unknown"', async () => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    const { url, daylight } = await serve({ config: store.registryFile, watch: false });
    await pingAll(url, '1.0.0', sessionIds(300, 1));
    const oneSeries = daylight.stats;
    expect(oneSeries).toMatchObject({ censusSeries: 1, censusFailures: 0 });
    expect(oneSeries.censusBytes).toBeGreaterThan(0);
    await ping(url, '0.0.1-dev', 'dev-build-tab-x');
    expect(daylight.stats.censusSeries).toBe(2);
    expect(daylight.stats.censusBytes).toBeGreaterThan(oneSeries.censusBytes);
    const census = (await daylight.census())!;
    expect(census.scope).toBe('server');
    expect(census.series.map((s) => [s.release, s.cohort, s.sessions['5m']])).toEqual([
      ['1.0.0', 'default', 300],
      ['unknown', 'default', 1],
    ]);
  });

  it('fails open: a census that throws is counted, never thrown into the request', () => {
    const census = new ServerCensus({
      census: { maxSeries: 256, flushIntervalMs: 5000 },
      redis: undefined,
      logger: createTestLogger(),
    });
    census.census.recordHash = () => {
      throw new Error('broken sketch');
    };
    expect(() => census.count({ version: '1.0.0', session: 'tab-aaaaaaaa' }, undefined)).not.toThrow();
    expect(census.failures).toBe(1);
  });

  it('is off with census: false', async () => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    const { url, daylight } = await serve({ config: store.registryFile, watch: false, census: false });
    expect(await ping(url, '1.0.0', 'some-tab-aaaa')).toBe(200);
    expect(await daylight.census()).toBeUndefined();
    expect(daylight.stats).toMatchObject({ censusSeries: 0, censusBytes: 0, censusFailures: 0 });
  });

  it('rejects a bad census option, naming it', () => {
    expect(() => createDaylight({ census: { maxSeries: 1 } })).toThrow(/census\.maxSeries must be a whole number/);
    expect(() => createDaylight({ census: { flushEvery: 5 } as never })).toThrow(/unknown option census\.flushEvery/);
    expect(() => createDaylight({ authorize: 'yes' as never })).toThrow(/authorize must be a function/);
  });

  it('merges two servers through a real Redis: either one sees the union', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    const client = new Redis(redis.url, { lazyConnect: true });
    await client.connect();
    cleanups.push(() => Promise.resolve(client.disconnect()));
    await client.set('daylight:registry', JSON.stringify({ ...store.registry, revision: 1 }));

    const options = { config: store.registryFile, redis: redis.url, census: { flushIntervalMs: 200 } };
    const one = await serve(options);
    const two = await serve(options);
    const ids = sessionIds(3_000, 77);
    // Server one sees 2,000 tabs on 1.0.0, server two the last 2,000: 1,000 on both.
    await pingAll(one.url, '1.0.0', ids.slice(0, 2_000));
    await pingAll(two.url, '1.0.0', ids.slice(1_000));
    await pingAll(two.url, '1.1.0', ids.slice(0, 10));

    const fleet = await waitFor(async () => {
      const census = await one.daylight.census();
      return census?.series.length === 2 ? census : undefined;
    }, 5_000);
    expect(fleet.scope).toBe('fleet');
    const old = fleet.series.find((s) => s.release === '1.0.0')!;
    expect(Math.abs(old.sessions['1h'] - 3_000) / 3_000).toBeLessThan(3 * HLL_STANDARD_ERROR);
    expect(fleet.series.find((s) => s.release === '1.1.0')!.sessions['5m']).toBe(10);
    // The other server answers with the same union.
    expect((await two.daylight.census())!.series).toEqual(
      fleet.series.map((s) => ({ ...s, lastSeen: expect.any(Number) as number })),
    );
  });
});
