/**
 * Serving per request: a real Express app on 127.0.0.1 whose cohort and keys
 * come from request headers set by the test (standing in for a session
 * lookup). Each request is stamped, checked and served the shell of its own
 * release; `halt()` writes the store and is followed at once.
 */
import { createServer, type Server } from 'node:http';
import { readFile } from 'node:fs/promises';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { daylightExpress, daylightExpressShell } from './express.js';
import { readAuditFile } from './file-registry.js';
import { writeRegistryFile, type Registry } from './registry.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, listen, stop, type ReleaseStore } from './test-support.js';
import type { DaylightServer } from './types.js';

let store: ReleaseStore;
let daylight: DaylightServer;
let server: Server;
let url: string;
const logger = createTestLogger();

function header(req: { headers: Record<string, string | string[] | undefined> }, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}

async function setRegistry(extra: Partial<Registry>): Promise<void> {
  await writeRegistryFile(store.registryFile, { ...store.registry, ...extra });
  await daylight.reload();
}

async function get(path: string, office?: string, tenant?: string, accept = 'application/json') {
  const headers: Record<string, string> = { accept };
  if (office !== undefined) headers['x-office'] = office;
  if (tenant !== undefined) headers['x-tenant'] = tenant;
  return fetch(`${url}${path}`, { headers });
}

beforeEach(async () => {
  store = await createReleaseStore();
  daylight = createDaylight({
    config: store.registryFile,
    watch: false,
    logger,
    cohort: (req) => {
      if (header(req, 'x-office') === 'explode') throw new Error('session store down');
      return header(req, 'x-office');
    },
    keys: {
      tenant: (req) => header(req, 'x-tenant'),
      // A numeric id, as an app's user table has them.
      user: (req) => (header(req, 'x-user') === undefined ? undefined : Number(header(req, 'x-user'))),
    },
  });
  await daylight.ready;
  const app = express();
  app.use(daylightExpress(daylight));
  app.get('/api/me', (_req, res) => {
    res.json({ release: (res.locals.daylight as { release?: { version: string } }).release?.version });
  });
  app.use(daylightExpressShell(daylight));
  server = createServer(app);
  url = await listen(server);
});

afterEach(async () => {
  await stop(server);
  await daylight.close();
  await store.cleanup();
});

describe('serving per cohort', () => {
  it('stamps, confirms and serves the shell of each cohort’s own release', async () => {
    await setRegistry({ revision: 7, cohorts: { pilot: { release: '1.1.0' } } });

    const pilot = await get('/api/me', 'pilot');
    expect(pilot.headers.get('daylight-release')).toBe('v="1.1.0"');
    expect(await pilot.json()).toEqual({ release: '1.1.0' });
    const berlin = await get('/api/me', 'berlin');
    expect(berlin.headers.get('daylight-release')).toBe('v="1.0.0"');

    expect(await (await get('/_daylight/release', 'pilot')).json()).toEqual({ version: '1.1.0', revision: 7 });
    expect(await (await get('/_daylight/release')).json()).toEqual({ version: '1.0.0', revision: 7 });

    const pilotShell = await (await get('/invoices', 'pilot', undefined, 'text/html')).text();
    expect(pilotShell).toContain('<meta name="daylight-release" content="1.1.0">');
    const otherShell = await (await get('/invoices', 'berlin', undefined, 'text/html')).text();
    expect(otherShell).toContain('<meta name="daylight-release" content="1.0.0">');
  });

  it('rolls out by the tenant key and lets a pin win', async () => {
    await setRegistry({
      rollout: { release: '1.1.0', percent: 100, key: 'tenant', startedAt: '2026-11-27T10:00:00.000Z' },
      pins: { 'tenant:acme': { release: '1.0.0', at: '2026-11-27T10:00:00.000Z' } },
    });
    expect((await get('/api/me', undefined, 'globex')).headers.get('daylight-release')).toBe('v="1.1.0"');
    expect((await get('/api/me', undefined, 'acme')).headers.get('daylight-release')).toBe('v="1.0.0"');
    expect((await get('/api/me')).headers.get('daylight-release')).toBe('v="1.0.0"');
  });

  it('matches a pin and hashes a rollout by a key whose callback returns a number, as its decimal string', async () => {
    await setRegistry({ pins: { 'user:42': { release: '1.1.0', at: '2026-11-27T10:00:00.000Z' } } });
    const as = async (user: string) =>
      (await fetch(`${url}/api/me`, { headers: { 'x-user': user } })).headers.get('daylight-release');
    expect(await as('42')).toBe('v="1.1.0"');
    expect(await as('43')).toBe('v="1.0.0"');
    await setRegistry({
      rollout: { release: '1.1.0', percent: 100, key: 'user', startedAt: '2026-11-27T10:00:00.000Z' },
    });
    expect(await as('7')).toBe('v="1.1.0"');
    expect(daylight.stats.resolveFailures).toBe(0);
  });

  it("gives a request whose cohort callback throws everyone's release, and counts it", async () => {
    await setRegistry({ cohorts: { pilot: { release: '1.1.0' } } });
    const response = await get('/api/me', 'explode');
    expect(response.status).toBe(200);
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0"');
    expect(daylight.stats.resolveFailures).toBe(1);
  });

  it('counts a cohort callback that throws also when everyone has the same release, and still counts the tab', async () => {
    // No cohort in the registry: the release does not depend on the request, but the census counts cohorts.
    const response = await fetch(`${url}/api/me`, {
      headers: { 'x-office': 'explode', 'daylight-client': 'v="1.0.0", s="tab-explode1"' },
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0"');
    expect(daylight.stats.resolveFailures).toBe(1);
    const census = (await daylight.census())!;
    expect(census.series.map((s) => [s.release, s.cohort, s.sessions['5m']])).toEqual([['1.0.0', 'default', 1]]);
  });

  it('halts a cohort’s release through the store, records it, and follows it at once', async () => {
    await setRegistry({ revision: 3, cohorts: { pilot: { release: '1.1.0', previous: ['1.0.0'] } } });
    const result = await daylight.halt({ release: '1.1.0', cohort: 'pilot', reason: '12 failed boots' });
    expect(result).toMatchObject({ changed: true, revision: 4 });
    expect((await get('/api/me', 'pilot')).headers.get('daylight-release')).toBe('v="1.0.0"');
    const written = JSON.parse(await readFile(store.registryFile, 'utf8')) as Registry;
    expect(written.cohorts?.pilot).toMatchObject({
      release: '1.0.0',
      halted: { release: '1.1.0', reason: '12 failed boots' },
    });
    expect((await readAuditFile(store.registryFile)).at(-1)).toMatchObject({
      actor: 'server',
      action: 'halt',
      revision: 4,
    });
    expect(await daylight.halt({ release: '1.1.0', cohort: 'pilot', reason: 'again' })).toMatchObject({
      changed: false,
    });
    await expect(daylight.halt({ release: '1.1.0', cohort: 'nowhere', reason: 'x' })).rejects.toThrow(/cohort nowhere/);
  });
});
