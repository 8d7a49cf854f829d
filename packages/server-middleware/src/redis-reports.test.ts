/**
 * Boot reports counted for the whole fleet through a real Redis: two servers
 * share one Redis (registry and counts), and the halting decision is the
 * fleet's; a halt recorded by either server ends the wave on both; with Redis
 * gone, reports are still answered and counted on each server.
 */
import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { promoteChange } from './registry-changes.js';
import { RedisRegistry } from './redis-registry.js';
import { LATE_WINDOW_S, RedisReportCounts } from './redis-reports.js';
import type { Registry } from './registry.js';
import { createDaylight } from './server.js';
import { startRedis, useRedis } from './test-redis.js';
import { createReleaseStore, createTestLogger, sampleRelease, waitFor } from './test-support.js';
import type { DaylightRequest, DaylightServer } from './types.js';

const db = useRedis();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The pilot office runs 1.1.0 by its own assignment; everyone else 1.0.0. */
const pilotOn110 = (base: Registry): Registry => ({
  ...base,
  revision: 1,
  current: '1.0.0',
  cohorts: { pilot: { release: '1.1.0', previous: ['1.0.0'] } },
});

async function fleet(
  url: string,
  prefix: string,
  servers = 2,
  { rules = pilotOn110, versions = ['1.0.0', '1.1.0'], lastWatches = true } = {},
): Promise<{ daylights: DaylightServer[]; logs: ReturnType<typeof createTestLogger>[] }> {
  const store = await createReleaseStore({ releases: versions.map((version) => sampleRelease(version)) });
  cleanups.push(() => store.cleanup());
  const registry = new RedisRegistry({ url, prefix });
  cleanups.push(() => registry.close());
  await (await registry.client()).set(`${prefix}:registry`, JSON.stringify(rules(store.registry)));
  const daylights: DaylightServer[] = [];
  const logs: ReturnType<typeof createTestLogger>[] = [];
  for (let i = 0; i < servers; i++) {
    const logger = createTestLogger();
    const daylight = createDaylight({
      config: store.registryFile,
      redis: { url, prefix },
      // `lastWatches: false`: the last server reads the registry only when told to (a server that is behind).
      watch: lastWatches || i < servers - 1,
      census: false,
      logger,
      cohort: (req) => req.headers['x-office'] as string | undefined,
      // Each signed-in person counts once per release: the default halt, 5 failures and 20 %.
      reports: { trust: (req) => (req.headers['x-user'] as string | undefined) ?? false },
    });
    cleanups.push(() => daylight.close());
    await daylight.ready;
    daylights.push(daylight);
    logs.push(logger);
  }
  return { daylights, logs };
}

/** A boot report from a tab of the pilot office, sent straight to `daylight.handle`. */
function report(kind: 'boot' | 'boot-failure', user: string, version = '1.1.0'): DaylightRequest {
  const session = `tab-${user.padEnd(8, 'x')}`;
  const headers = {
    'content-type': 'application/json',
    'sec-fetch-site': 'same-origin',
    'x-office': 'pilot',
    'x-user': user,
    'daylight-client': `v="${version}", s="${session}"`,
  };
  const body = JSON.stringify({ kind, version, from: '1.0.0', session });
  const incoming = Object.assign(Readable.from([Buffer.from(body)]), { headers }) as unknown as IncomingMessage;
  return { method: 'POST', path: '/_daylight/reports', headers, incoming };
}

/** Waits (a second at most, without failing) for the fleet's count of failures to reach `failures`. */
async function settle(prefix: string, failures: string): Promise<void> {
  const key = `${prefix}:reports:1.1.0:pilot`;
  await waitFor(async () => ((await db.client.hget(key, 'failures')) === failures ? true : undefined), 1_000).catch(
    () => undefined,
  );
}

async function registryIn(prefix: string): Promise<Registry> {
  return JSON.parse((await db.client.get(`${prefix}:registry`))!) as Registry;
}

const pilotServes = (daylight: DaylightServer, version: string) => {
  const headers = { 'x-office': 'pilot' };
  const incoming = { headers } as unknown as IncomingMessage;
  return waitFor(
    () => (daylight.stampFor({ method: 'GET', path: '/', headers, incoming })?.version === version ? true : undefined),
    5_000,
  );
};

describe('boot reports counted through Redis', () => {
  it('halts at the fleet-wide threshold when the failures alternate between two servers', async () => {
    const { daylights } = await fleet(db.server.url, 'alternate');
    const [a, b] = daylights as [DaylightServer, DaylightServer];
    // Four trusted failures, two on each server: below minFailures (5) everywhere.
    for (let i = 1; i <= 4; i++) {
      expect((await (i % 2 === 1 ? a : b).handle(report('boot-failure', `user-${i}`)))?.status).toBe(204);
    }
    await settle('alternate', '4');
    // The first person again, on the other server: each person counts once, fleet-wide.
    await b.handle(report('boot-failure', 'user-1'));
    await sleep(200);
    expect((await registryIn('alternate')).cohorts?.pilot?.halted).toBeUndefined();

    // The fifth person, on server B (which has seen two of them itself): the fleet's five halt the release.
    expect((await b.handle(report('boot-failure', 'user-5')))?.status).toBe(204);
    const halted = await waitFor(async () => (await registryIn('alternate')).cohorts?.pilot?.halted, 5_000);
    expect(halted).toMatchObject({ release: '1.1.0' });
    expect(halted.reason).toContain('5 of 5 switches to 1.1.0 in cohort pilot failed to boot');
    await pilotServes(a, '1.0.0');
    await pilotServes(b, '1.0.0');
    expect(await db.client.hget('alternate:reports:1.1.0:pilot', 'cleared')).toBe(halted.at);
    // The halted wave's figures stay on show while the halt stands: the fleet's, as B last read them.
    expect(b.reportCounts()).toEqual([
      expect.objectContaining({ release: '1.1.0', cohort: 'pilot', failures: 5, halted: true, scope: 'fleet' }),
    ]);
  });

  it("shows every server the fleet's figures of what the registry gives out, reported to it or not", async () => {
    const { daylights } = await fleet(db.server.url, 'rows');
    const [a, b] = daylights as [DaylightServer, DaylightServer];
    for (const user of ['user-1', 'user-2', 'user-3']) await a.handle(report('boot', user));
    await a.handle(report('boot-failure', 'user-4'));
    await waitFor(async () => ((await db.client.hget('rows:reports:1.1.0:pilot', 'boots')) === '3' ? true : undefined));
    // B had no report at all: its status page had no row; now it has the fleet's, and none of its own kinds.
    const rows = await waitFor(() => (b.reportCounts().length > 0 ? b.reportCounts() : undefined), 5_000);
    expect(rows).toEqual([
      { release: '1.1.0', cohort: 'pilot', boots: 3, failures: 1, kinds: {}, halted: false, scope: 'fleet' },
    ]);
    // Everyone's 1.0.0, which nobody reported, gets no row.
    expect(a.reportCounts().map((row) => `${row.release} ${row.cohort ?? '*'}`)).toEqual(['1.1.0 pilot']);
    // A report B receives later counts there as usual, on the same row.
    await b.handle(report('boot', 'user-5'));
    const after = await waitFor(() => b.reportCounts().find((row) => row.boots === 4), 5_000);
    expect(after).toMatchObject({ release: '1.1.0', cohort: 'pilot', failures: 1, kinds: { boot: 1 } });
  });

  it('starts every server over after a halt recorded by one of them, once the release is promoted again', async () => {
    const { daylights } = await fleet(db.server.url, 'again');
    const [a, b] = daylights as [DaylightServer, DaylightServer];
    for (let i = 1; i <= 4; i++) await b.handle(report('boot-failure', `user-${i}`));
    await settle('again', '4');
    // Server A records the halt (an operator, or A's own counts); B never calls halt() itself.
    expect(await a.halt({ release: '1.1.0', cohort: 'pilot', reason: 'by hand' })).toMatchObject({ changed: true });
    await pilotServes(b, '1.0.0');
    expect(b.reportCounts()).toEqual([expect.objectContaining({ failures: 4, halted: false })]);
    const registry = new RedisRegistry({ url: db.server.url, prefix: 'again' });
    cleanups.push(() => registry.close());
    const promoted = await registry.update(
      (current) => promoteChange(current!, { version: '1.1.0', cohort: 'pilot', now: new Date() }),
      { actor: 'test', action: 'promote' },
    );
    expect(promoted.outcome.changed).toBe(true);
    await pilotServes(a, '1.1.0');
    await pilotServes(b, '1.1.0');

    // One new failure on B: one of one, not "5 of 5" with four from the wave already handled.
    expect((await b.handle(report('boot-failure', 'user-9')))?.status).toBe(204);
    await settle('again', '1');
    await sleep(300);
    expect((await registryIn('again')).cohorts?.pilot?.halted).toBeUndefined();
    expect(await db.client.hget('again:reports:1.1.0:pilot', 'failures')).toBe('1');
    expect(b.reportCounts()).toEqual([expect.objectContaining({ failures: 1, halted: false })]);
    // The new wave halts on its own five, wherever they were reported.
    for (let i = 10; i <= 13; i++) await (i % 2 === 0 ? a : b).handle(report('boot-failure', `user-${i}`));
    const halted = await waitFor(async () => (await registryIn('again')).cohorts?.pilot?.halted, 5_000);
    expect(halted.reason).toContain('5 of 5 switches');
  });

  it('keeps a late report, counted by a server that had not seen the halt, out of the wave after it', async () => {
    const { daylights } = await fleet(db.server.url, 'late', 2, { lastWatches: false });
    const [a, b] = daylights as [DaylightServer, DaylightServer];
    for (let i = 1; i <= 4; i++) await a.handle(report('boot-failure', `user-${i}`));
    await settle('late', '4');
    await a.halt({ release: '1.1.0', cohort: 'pilot', reason: 'by hand' });
    await waitFor(async () => ((await db.client.hget('late:reports:1.1.0:pilot', 'cleared')) ? true : undefined));
    const registry = new RedisRegistry({ url: db.server.url, prefix: 'late' });
    cleanups.push(() => registry.close());
    await registry.update(
      (current) => promoteChange(current!, { version: '1.1.0', cohort: 'pilot', now: new Date() }),
      {
        actor: 'test',
        action: 'promote',
      },
    );
    await pilotServes(a, '1.1.0');

    // B still serves the registry from before the halt: a tab that booted then reports its failure there, late.
    expect((await b.handle(report('boot-failure', 'user-5')))?.status).toBe(204);
    await sleep(300);
    expect(await db.client.hget('late:reports:1.1.0:pilot', 'failures')).toBeNull();
    // The new wave halts on five failures of its own, not on four and the late one; that person counts in it too.
    for (let i = 10; i <= 13; i++) await a.handle(report('boot-failure', `user-${i}`));
    await settle('late', '4');
    await sleep(300);
    expect((await registryIn('late')).cohorts?.pilot?.halted).toBeUndefined();
    // B catches up (it never sees the halt) and counts that person's failure in the new wave, the fifth.
    await b.reload();
    await b.handle(report('boot-failure', 'user-5'));
    const halted = await waitFor(async () => (await registryIn('late')).cohorts?.pilot?.halted, 5_000);
    expect(halted.reason).toContain('5 of 5 switches');
  });

  it('takes a lower revision for a late report only for ten minutes after the clear (then: a rebuilt store)', async () => {
    const counts = new RedisReportCounts({ client: () => Promise.resolve(db.client), prefix: 'window' });
    await counts.clear('1.1.0', 'pilot', { at: '2026-11-29T10:00:00.000Z', revision: 40 });
    expect(await counts.count('1.1.0', 'pilot', 'person a', 'boot-failure', 39)).toMatchObject({ late: true });
    expect(await counts.count('1.1.0', 'pilot', 'person b', 'boot-failure', 41)).toMatchObject({ failures: 1 });
    const [now] = await db.client.time();
    await db.client.hset('window:reports:1.1.0:pilot', 'sinceAt', Number(now) - LATE_WINDOW_S);
    expect(await counts.count('1.1.0', 'pilot', 'person a', 'boot-failure', 2)).toEqual({
      added: true,
      late: false,
      boots: 0,
      failures: 2,
    });
  });

  it('counts the fleet’s failures of a cohort whose own release is below the floor in everyone, and halts there', async () => {
    // Pilot lists 1.0.0, under the floor 1.1.0: its tabs get everyone's 1.2.0, and a halt of 1.2.0 in pilot would do nothing.
    const { daylights } = await fleet(db.server.url, 'floor', 2, {
      rules: (base) => ({
        ...base,
        revision: 1,
        current: '1.2.0',
        previous: ['1.1.0'],
        min: '1.1.0',
        cohorts: { pilot: { release: '1.0.0' } },
      }),
      versions: ['1.0.0', '1.1.0', '1.2.0'],
    });
    const [a, b] = daylights as [DaylightServer, DaylightServer];
    await pilotServes(a, '1.2.0');
    for (let i = 1; i <= 5; i++) await (i % 2 === 1 ? a : b).handle(report('boot-failure', `user-${i}`, '1.2.0'));
    const halted = await waitFor(async () => (await registryIn('floor')).halted, 5_000);
    expect(halted.reason).toContain('5 of 5 switches to 1.2.0 failed to boot');
    expect(await db.client.exists('floor:reports:1.2.0:pilot')).toBe(0);
    expect(await db.client.hget('floor:reports:1.2.0:*', 'cleared')).toBe(halted.at);
    const registry = await registryIn('floor');
    expect(registry).toMatchObject({ current: '1.1.0', cohorts: { pilot: { release: '1.0.0' } } });
    expect(registry.cohorts?.pilot?.halted).toBeUndefined();
    await pilotServes(a, '1.1.0');
    await pilotServes(b, '1.1.0');
  });

  it('still answers 204 with Redis gone, and counts on each server', async () => {
    const own = await startRedis();
    cleanups.push(() => own.stop());
    const { daylights, logs } = await fleet(own.url, 'gone', 1);
    const [a] = daylights as [DaylightServer];
    const log = logs[0]!;
    await a.handle(report('boot', 'user-0'));
    await waitFor(() => (a.reportCounts()[0]?.scope === 'fleet' ? true : undefined));
    await own.stop();

    for (let i = 1; i <= 5; i++) {
      const started = Date.now();
      expect((await a.handle(report('boot-failure', `user-${i}`)))?.status).toBe(204);
      expect(Date.now() - started).toBeLessThan(500);
    }
    // Decided on this server's own counts: 5 of 6 reach the threshold, and the halt is tried (the store is down too).
    await waitFor(() =>
      log.entries.some((entry) => entry.message.includes('could not halt 1.1.0')) ? true : undefined,
    );
    expect(log.entries.some((entry) => entry.message.includes('halting 1.1.0 in cohort pilot: 5 of 6 switches'))).toBe(
      true,
    );
    expect(a.reportCounts()).toEqual([
      expect.objectContaining({ release: '1.1.0', cohort: 'pilot', boots: 1, failures: 5, scope: 'server' }),
    ]);
    const warnings = log.entries.filter((entry) => entry.message.includes('could not count boot reports in Redis'));
    expect(warnings).toHaveLength(1); // once, not once per report
  });
});
