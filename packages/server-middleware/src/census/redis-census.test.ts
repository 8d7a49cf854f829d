import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createTestLogger } from '../test-support.js';
import { startRedis, useRedis } from '../test-redis.js';
import { CENSUS_RETENTION_MS, OTHER, createCensus } from './census.js';
import { HLL_STANDARD_ERROR } from './hll.js';
import { RedisCensus, readFleetCensus } from './redis-census.js';
import { sessionIds } from './test-ids.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
// The census runs on this made-up clock, Redis expires keys on the real one:
// a whole hour ahead of now keeps every bucket key alive for the test.
const T0 = Math.ceil(Date.now() / HOUR) * HOUR + HOUR;

const db = useRedis();
let at = T0;
const now = (): number => at;
const opened: RedisCensus[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((sync) => sync.close()));
  await db.client.flushall();
  at = T0;
});

/** A census standing in for one server, writing to the shared Redis. */
function serverCensus(prefix = 'daylight') {
  const census = createCensus({ now });
  census.setReleases(['1.3.0', '1.4.0']);
  const sync = new RedisCensus(census, { redis: db.server.url, prefix, now, logger: createTestLogger() });
  sync.start();
  opened.push(sync);
  return { census, sync };
}

describe('census merged through Redis', () => {
  it('counts the union of two servers within the stated error', async () => {
    const a = serverCensus();
    const b = serverCensus();
    const ids = sessionIds(30_000, 99);
    // Server A sees the first 20,000 sessions, server B the last 20,000: 10,000 on both.
    for (const id of ids.slice(0, 20_000)) a.census.record('1.3.0', 'default', id);
    for (const id of ids.slice(10_000)) b.census.record('1.3.0', 'default', id);
    await Promise.all([a.sync.flush(), b.sync.flush()]);

    const fleet = await readFleetCensus(db.client, { now });
    expect(fleet.scope).toBe('fleet');
    expect(fleet.series).toHaveLength(1);
    for (const count of Object.values(fleet.series[0]!.sessions)) {
      expect(Math.abs(count - 30_000) / 30_000).toBeLessThan(3 * HLL_STANDARD_ERROR);
    }
    expect(fleet.observingSince).toBe(T0);
  });

  it('agrees exactly with the server count when there is one server', async () => {
    const a = serverCensus();
    for (const id of sessionIds(5_000, 3)) a.census.record('1.4.0', 'pilot', id);
    await a.sync.flush();
    const local = a.census.snapshot().series[0]!;
    const fleet = (await readFleetCensus(db.client, { now })).series[0]!;
    expect(fleet).toEqual(local);
  });

  it('keeps the windows apart, remembers the last sighting per series, and the start of counting', async () => {
    const a = serverCensus();
    const b = serverCensus();
    a.census.record('1.3.0', 'default', 'old-tab-aaaaaa');
    await a.sync.flush();
    at += 10 * MINUTE;
    b.census.record('1.4.0', 'default', 'new-tab-bbbbbb');
    await Promise.all([a.sync.flush(), b.sync.flush()]);

    const fleet = await readFleetCensus(db.client, { now });
    expect(fleet.series.map((series) => [series.release, series.sessions, series.lastSeen])).toEqual([
      ['1.4.0', { '5m': 1, '1h': 1, '24h': 1 }, T0 + 10 * MINUTE],
      ['1.3.0', { '5m': 0, '1h': 1, '24h': 1 }, T0],
    ]);
    expect(fleet.observingSince).toBe(T0);
    expect(fleet.timeline.at(-1)).toEqual({ at: T0 + 10 * MINUTE, sessions: { '1.4.0': 1 } });
  });

  it('lets the bucket keys expire once their window is over', async () => {
    const a = serverCensus();
    a.census.record('1.3.0', 'default', 'old-tab-aaaaaa');
    await a.sync.flush();
    const keys = await db.client.keys('daylight:census:hll:*');
    expect(keys).toHaveLength(3);
    const deadlines = await Promise.all(keys.map((key) => db.client.pexpiretime(key)));
    for (const deadline of deadlines) {
      expect(deadline).toBeGreaterThan(T0);
      expect(deadline).toBeLessThanOrEqual(T0 + 25 * 60 * MINUTE + MINUTE);
    }
  });

  it('gives a new release its own fleet series once the old ones are 8 days quiet, and does not bring them back', async () => {
    const census = createCensus({ now, maxSeries: 3 }); // two series and (other, other)
    census.setReleases(['1.3.0', '1.4.0']);
    const sync = new RedisCensus(census, { redis: db.server.url, now, logger: createTestLogger() });
    sync.start();
    opened.push(sync);
    census.record('1.3.0', 'default', 'old-tab-aaaaaa');
    census.record('1.3.0', 'pilot', 'old-tab-bbbbbb');
    await sync.flush();

    at = T0 + CENSUS_RETENTION_MS;
    census.setReleases(['1.3.0', '1.4.0', '1.5.0']);
    census.record('1.5.0', 'default', 'new-tab-cccccc');
    await sync.flush();
    at += MINUTE;
    census.record('1.5.0', 'default', 'new-tab-dddddd');
    await sync.flush();
    const fleet = await readFleetCensus(db.client, { now });
    expect(fleet.series.map((series) => [series.release, series.cohort, series.sessions['5m']])).toEqual([
      ['1.5.0', 'default', 2],
    ]);
    expect(fleet.series.some((series) => series.release === OTHER)).toBe(false);
    expect(await db.client.zrange('daylight:census:series', '0', '-1')).toEqual(['1.5.0:default']);
  });

  it('opens no more than one connection however many flushes and reads failed while Redis was down', async () => {
    const census = createCensus({ now });
    census.setReleases(['1.3.0']);
    const port = await import('../test-redis.js').then(({ freePort }) => freePort());
    const url = `redis://127.0.0.1:${port}`;
    const sync = new RedisCensus(census, { redis: url, now, logger: createTestLogger() });
    sync.start();
    for (let i = 0; i < 5; i++) {
      census.record('1.3.0', 'default', `tab-${i}-cccccccc`);
      await sync.flush();
    }
    await expect(sync.read()).rejects.toThrow(`the census could not be read from Redis ${url}: `);

    const late = await startRedis({ port });
    const client = new Redis(late.url, { lazyConnect: true });
    try {
      await sync.flush();
      await client.connect();
      // Time for any client left reconnecting in the background (ioredis retries within 2 s) to come back.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      const clients = String(await client.call('CLIENT', 'LIST'))
        .trim()
        .split('\n');
      expect(clients).toHaveLength(2); // the census's and this test's
    } finally {
      client.disconnect();
      await sync.close();
      await late.stop();
    }
  });

  it("never counts into database 0 when Redis refuses the URL's database, and says so", async () => {
    const census = createCensus({ now });
    census.setReleases(['1.3.0']);
    const logger = createTestLogger();
    const sync = new RedisCensus(census, { redis: `${db.server.url}/99`, now, logger });
    opened.push(sync);
    census.record('1.3.0', 'default', 'tab-0-cccccccc');
    await sync.flush();
    expect(logger.entries.map((entry) => entry.message)).toEqual([
      expect.stringContaining('could not write the census to Redis: Redis at'),
    ]);
    expect(logger.entries[0]!.message).toContain('refused database 99 (ERR DB index is out of range)');
    await expect(sync.read()).rejects.toThrow('refused database 99');
    expect(await db.client.keys('*')).toEqual([]);
  });

  it('keeps what it saw while Redis is down and sends it when Redis is back', async () => {
    const census = createCensus({ now });
    census.setReleases(['1.3.0']);
    const logger = createTestLogger();
    const port = await import('../test-redis.js').then(({ freePort }) => freePort());
    const sync = new RedisCensus(census, { redis: `redis://127.0.0.1:${port}`, now, logger });
    sync.start();
    census.record('1.3.0', 'default', 'kept-tab-cccccc');
    await sync.flush();
    expect(logger.entries.some((entry) => entry.message.includes('could not write the census to Redis'))).toBe(true);

    const late = await startRedis({ port });
    try {
      await sync.flush();
      const client = new Redis(late.url, { lazyConnect: true });
      await client.connect();
      const fleet = await readFleetCensus(client, { now });
      client.disconnect();
      expect(fleet.series.map((series) => [series.release, series.sessions['5m']])).toEqual([['1.3.0', 1]]);
    } finally {
      await sync.close();
      await late.stop();
    }
  });
});
