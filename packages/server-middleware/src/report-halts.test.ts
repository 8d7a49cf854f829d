/**
 * Reports from real requests halting a release through the server: which
 * target a failure counts in (everyone, or the cohort that runs the release by
 * its own assignment) decides whether the halt changes anything.
 */
import { createServer, type Server } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress } from './express.js';
import { updateRegistryFile } from './file-registry.js';
import { daylightKoa } from './koa.js';
import { promoteChange } from './registry-changes.js';
import { readRegistryFile, writeRegistryFile, type Registry } from './registry.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, listen, sampleRelease, stop, waitFor } from './test-support.js';
import type { DaylightServer } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function serve(
  registry: (base: Registry) => Registry,
  shared?: string,
  { framework = 'express', versions = ['1.0.0', '1.1.0'], logger = createTestLogger() } = {},
): Promise<{ url: string; daylight: DaylightServer; file: string }> {
  let file = shared;
  if (file === undefined) {
    const store = await createReleaseStore({ releases: versions.map((version) => sampleRelease(version)) });
    cleanups.push(() => store.cleanup());
    await writeRegistryFile(store.registryFile, registry(store.registry));
    file = store.registryFile;
  }
  const daylight = createDaylight({
    config: file,
    watch: false,
    logger,
    cohort: (req) => req.headers['x-office'] as string | undefined,
    reports: { trust: () => true, halt: { minFailures: 3, failureRate: 0.2 } },
  });
  await daylight.ready;
  await waitFor(() => daylight.stampFor({ method: 'GET', path: '/', headers: {} }), 5_000);
  cleanups.push(() => daylight.close());
  let server: Server;
  if (framework === 'koa') {
    const app = new Koa();
    app.use(daylightKoa(daylight));
    const callback = app.callback();
    server = createServer((req, res) => void callback(req, res));
  } else {
    const app = express();
    app.use(daylightExpress(daylight));
    server = createServer(app);
  }
  const url = await listen(server);
  cleanups.push(() => stop(server));
  return { url, daylight, file };
}

async function registryOf(file: string): Promise<Registry> {
  const read = await readRegistryFile(file);
  if (!read.ok) throw new Error(read.error);
  return read.registry;
}

async function failBoot(url: string, office: string, session: string, version = '1.1.0'): Promise<number> {
  const response = await fetch(`${url}/_daylight/reports`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'Sec-Fetch-Site': 'same-origin',
      'X-Office': office,
      'Daylight-Client': `v="${version}", s="${session}"`,
    },
    body: JSON.stringify({ kind: 'boot-failure', version, from: '1.0.0', session }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe('boot failures reported through the server', () => {
  it('count in everyone, and halt there, when the cohort runs the release by everyone’s rules', async () => {
    // The pilot office keeps an entry of its own (a halt left from an earlier release) but follows everyone.
    const { url, daylight, file } = await serve((base) => ({
      ...base,
      current: '1.1.0',
      previous: ['1.0.0'],
      cohorts: {
        pilot: { release: null, halted: { release: '1.0.0', at: '2026-11-01T00:00:00.000Z', reason: 'old' } },
      },
    }));
    for (const session of ['tab-aaaaaaaa', 'tab-bbbbbbbb', 'tab-cccccccc']) {
      expect(await failBoot(url, 'pilot', session)).toBe(204);
    }
    await waitFor(async () => ((await registryOf(file)).current === '1.0.0' ? true : undefined), 5_000);
    const registry = await registryOf(file);
    expect(registry.halted).toMatchObject({ release: '1.1.0' });
    expect(daylight.stampFor({ method: 'GET', path: '/', headers: { 'x-office': 'pilot' } })?.version).toBe('1.0.0');
  });

  it('count in the cohort, and halt there only, when the cohort runs the release by its own assignment', async () => {
    const { url, file } = await serve((base) => ({
      ...base,
      current: '1.0.0',
      cohorts: { pilot: { release: '1.1.0', previous: ['1.0.0'] } },
    }));
    for (const session of ['tab-aaaaaaaa', 'tab-bbbbbbbb', 'tab-cccccccc']) {
      expect(await failBoot(url, 'pilot', session)).toBe(204);
    }
    await waitFor(
      async () => ((await registryOf(file)).cohorts?.pilot?.halted !== undefined ? true : undefined),
      5_000,
    );
    const registry = await registryOf(file);
    expect(registry.cohorts?.pilot).toMatchObject({ release: '1.0.0', halted: { release: '1.1.0' } });
    expect(registry.halted).toBeUndefined();
    expect(registry.current).toBe('1.0.0');
  });

  it.each(['express', 'koa'])(
    'count in everyone, and halt there, when the cohort’s own release is below the floor (%s)',
    async (framework) => {
      // Pilot still lists 1.0.0, under the floor 1.1.0: the server skips it and pilot's tabs get everyone's 1.2.0.
      const { url, daylight, file } = await serve(
        (base) => ({
          ...base,
          current: '1.2.0',
          previous: ['1.1.0'],
          min: '1.1.0',
          cohorts: { pilot: { release: '1.0.0' } },
        }),
        undefined,
        { framework, versions: ['1.0.0', '1.1.0', '1.2.0'] },
      );
      const pilot = { method: 'GET', path: '/', headers: { 'x-office': 'pilot' } } as const;
      expect(daylight.stampFor(pilot)?.version).toBe('1.2.0');
      for (const session of ['tab-aaaaaaaa', 'tab-bbbbbbbb', 'tab-cccccccc']) {
        expect(await failBoot(url, 'pilot', session, '1.2.0')).toBe(204);
      }
      // Counted in pilot, the halt would find pilot not running 1.2.0 and change nothing; in everyone it stops 1.2.0.
      await waitFor(async () => ((await registryOf(file)).halted !== undefined ? true : undefined), 5_000);
      const registry = await registryOf(file);
      expect(registry).toMatchObject({ current: '1.1.0', halted: { release: '1.2.0' } });
      expect(registry.cohorts?.pilot).toEqual({ release: '1.0.0' });
      expect(daylight.reportCounts()).toEqual([
        expect.objectContaining({ release: '1.2.0', cohort: undefined, failures: 3, halted: true }),
      ]);
      await daylight.reload();
      expect(daylight.stampFor(pilot)?.version).toBe('1.1.0');
    },
  );

  it('that cannot halt (the release before is below the floor) say so once, and the release stays served', async () => {
    const log = createTestLogger();
    const { url, daylight, file } = await serve(
      (base) => ({ ...base, current: '1.2.0', previous: ['1.1.0'], min: '1.2.0' }),
      undefined,
      { versions: ['1.0.0', '1.1.0', '1.2.0'], logger: log },
    );
    const sessions = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((letter) => `tab-${letter.repeat(8)}`);
    for (const session of sessions.slice(0, 4)) expect(await failBoot(url, 'office', session, '1.2.0')).toBe(204);
    await waitFor(() => (log.entries.some((entry) => entry.level === 'error') ? true : undefined), 5_000);
    // Each failure after the refusal tries again (the floor may have been lowered since), and is refused again.
    for (const session of sessions.slice(4)) {
      expect(await failBoot(url, 'office', session, '1.2.0')).toBe(204);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const said = log.entries.filter((entry) => /halt/.test(entry.message)).map((entry) => entry.message);
    expect(said).toEqual([
      expect.stringMatching(/^daylight: halting 1\.2\.0: 3 of 3 switches to 1\.2\.0 failed to boot/),
      expect.stringMatching(
        /^daylight: cannot halt 1\.2\.0: version 1\.1\.0 is below the floor min 1\.2\.0: rolling back to it .*; 1\.2\.0 stays served, and later failures try again without a word more/,
      ),
    ]);
    expect(await registryOf(file)).toMatchObject({ current: '1.2.0', min: '1.2.0' });
    expect((await registryOf(file)).halted).toBeUndefined();
    expect(daylight.reportCounts()).toEqual([
      expect.objectContaining({ release: '1.2.0', failures: 8, halted: false }),
    ]);

    // The floor lowered (by hand, in the file): the next failure halts, and says so.
    await writeRegistryFile(file, { ...(await registryOf(file)), min: '1.1.0' });
    await daylight.reload();
    expect(await failBoot(url, 'office', 'tab-iiiiiiii', '1.2.0')).toBe(204);
    await waitFor(async () => ((await registryOf(file)).halted !== undefined ? true : undefined), 5_000);
    expect(await registryOf(file)).toMatchObject({ current: '1.1.0', halted: { release: '1.2.0' } });
    expect(log.entries.at(-1)?.message).toMatch(/^daylight: halted 1\.2\.0: 9 of 9 switches/);
  });

  it('start over on every server sharing the registry file once a halt recorded by one of them is lifted', async () => {
    const first = await serve((base) => ({
      ...base,
      current: '1.0.0',
      cohorts: { pilot: { release: '1.1.0', previous: ['1.0.0'] } },
    }));
    const second = await serve((registry) => registry, first.file);
    // Two failures reach the second server (minFailures is 3); the first records a halt.
    for (const session of ['tab-aaaaaaaa', 'tab-bbbbbbbb'])
      expect(await failBoot(second.url, 'pilot', session)).toBe(204);
    await first.daylight.halt({ release: '1.1.0', cohort: 'pilot', reason: 'by hand' });
    await second.daylight.reload();
    // While the halt stands, the second server shows the wave's figures and counts nothing more toward a halt.
    expect(second.daylight.reportCounts()).toEqual([expect.objectContaining({ failures: 2 })]);
    await updateRegistryFile(
      first.file,
      (registry) => promoteChange(registry, { version: '1.1.0', cohort: 'pilot', now: new Date() }),
      { actor: 'test', action: 'promote' },
    );
    await second.daylight.reload();
    // One new failure there: one of one, not three with two from the wave already halted.
    expect(await failBoot(second.url, 'pilot', 'tab-cccccccc')).toBe(204);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await registryOf(first.file)).cohorts?.pilot).toMatchObject({ release: '1.1.0' });
    expect((await registryOf(first.file)).cohorts?.pilot?.halted).toBeUndefined();
    expect(second.daylight.reportCounts()).toEqual([expect.objectContaining({ failures: 1, halted: false })]);
  });
});
