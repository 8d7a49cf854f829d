import { createServer, type IncomingMessage, type Server } from 'node:http';
import express from 'express';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress } from '../express.js';
import { daylightKoa } from '../koa.js';
import { createDaylight } from '../server.js';
import { writeRegistryFile } from '../registry.js';
import { createReleaseStore, createTestLogger, listen, sampleRelease, stop } from '../test-support.js';
import type { DaylightServer } from '../types.js';
import { daylightExpressFloor } from './express-floor.js';
import { createFloor, type FloorOptions } from './floor.js';
import { daylightKoaFloor } from './koa-floor.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const frameworks = {
  express(daylight: DaylightServer, options: FloorOptions): Server {
    const app = express();
    app.use(daylightExpress(daylight));
    app.use('/api', daylightExpressFloor(options));
    app.get('/api/v1/inbox', (_req, res) => res.json({ ok: true }));
    app.get('/api/v2/inbox', (_req, res) => res.json({ ok: true }));
    return createServer(app);
  },
  koa(daylight: DaylightServer, options: FloorOptions): Server {
    const app = new Koa();
    app.use(daylightKoa(daylight));
    app.use(daylightKoaFloor(options));
    app.use((ctx) => {
      if (ctx.path.startsWith('/api/')) ctx.body = { ok: true };
    });
    const handle = app.callback();
    return createServer((req, res) => void handle(req, res));
  },
};

describe.each(Object.entries(frameworks))('the compatibility floor on %s', (_name, build) => {
  async function api(options: FloorOptions) {
    const store = await createReleaseStore({
      releases: [sampleRelease('1.0.0'), sampleRelease('1.3.0'), sampleRelease('2.0.0')],
      current: '1.3.0',
      min: '1.3.0',
    });
    cleanups.push(() => store.cleanup());
    const daylight = createDaylight({ config: store.registryFile, watch: false, logger: createTestLogger() });
    await daylight.ready;
    cleanups.push(() => daylight.close());
    const server = build(daylight, options);
    const url = await listen(server);
    cleanups.push(() => stop(server));
    return async (path: string, version?: string, method = 'GET') => {
      const headers: Record<string, string> =
        version === undefined ? {} : { 'Daylight-Client': `v="${version}", s="tab-aaaaaaaa"` };
      const response = await fetch(`${url}${path}`, { headers, method });
      const type = response.headers.get('content-type') ?? '';
      const body = (type.includes('json') ? await response.json() : await response.text()) as Record<string, unknown>;
      return { status: response.status, type, stamp: response.headers.get('daylight-release'), body };
    };
  }

  it('refuses a client below the registry floor with a problem document, still stamped', async () => {
    const call = await api({});
    const refused = await call('/api/v1/inbox', '1.0.0');
    expect(refused.status).toBe(409);
    expect(refused.type).toMatch(/^application\/problem\+json/);
    expect(refused.stamp).toBe('v="1.3.0", min="1.3.0"');
    expect(refused.body).toEqual({
      type: 'https://daylight.dev/problems/client-too-old',
      title: 'This version of the app is too old for the API',
      status: 409,
      detail: 'version 1.0.0 is below 1.3.0, the oldest version the API serves; switch to 1.3.0',
      instance: '/api/v1/inbox',
      release: '1.3.0',
      version: '1.0.0',
      required: '>=1.3.0',
    });
    expect((await call('/api/v1/inbox', '1.3.0')).status).toBe(200);
  });

  it('leaves requests without the Daylight header alone unless told to refuse them', async () => {
    const lenient = await api({});
    expect((await lenient('/api/v1/inbox')).status).toBe(200);
    const strict = await api({ withoutClient: 'refuse' });
    const refused = await strict('/api/v1/inbox');
    expect(refused.status).toBe(409);
    expect(refused.body.type).toBe('https://daylight.dev/problems/client-required');
    // A CORS preflight never carries the header (a CORS middleware mounted after Daylight answers it).
    expect((await strict('/api/v1/inbox', undefined, 'OPTIONS')).status).not.toBe(409);
  });

  it('applies the longest route prefix, and tells too old from unsupported', async () => {
    const call = await api({ range: '>=1.3.0 <3', routes: { '/api/v2/': '>=2.0.0' } });
    expect((await call('/api/v1/inbox', '1.3.0')).status).toBe(200);
    const v2 = await call('/api/v2/inbox', '1.3.0');
    expect(v2.status).toBe(409);
    expect(v2.body).toMatchObject({ type: 'https://daylight.dev/problems/client-too-old', required: '>=2.0.0' });
    expect((await call('/api/v2/inbox', '2.0.0')).status).toBe(200);
    // Express routes /API/V2/inbox to the handler of /api/v2/inbox: the v2 range holds whatever the case.
    expect((await call('/API/V2/inbox', '1.3.0')).body).toMatchObject({
      required: '>=2.0.0',
      instance: '/API/V2/inbox',
    });
    const future = await call('/api/v1/inbox', '3.1.0');
    expect(future.body).toMatchObject({
      type: 'https://daylight.dev/problems/client-unsupported',
      required: '>=1.3.0 <3',
    });
  });

  it('serves a client newer than its release after a rollback, as long as it is inside the floor', async () => {
    const call = await api({ range: '>=1.3.0 <3' });
    const newer = await call('/api/v1/inbox', '2.0.0');
    expect(newer.status).toBe(200);
    expect(newer.stamp).toBe('v="1.3.0", min="1.3.0"'); // it is told to go back to 1.3.0, and served meanwhile
  });
});

describe('createFloor', () => {
  it('refuses a range that is not semver at construction, naming it', () => {
    expect(() => createFloor({ range: 'newest' })).toThrow(
      /range must be a semver range such as ">=1\.3\.0", got "newest"/,
    );
    expect(() => createFloor({ routes: { api: '>=1' } })).toThrow(/routes keys are path prefixes/);
    expect(() => createFloor({ routes: { '/api/': '>=1.0.0', '/API/': '>=2.0.0' } })).toThrow(
      'daylight floor: routes "/api/" and "/API/" differ only in case, and prefixes match whatever the case; keep one',
    );
  });
});

describe.each(['express', 'koa'])('the floor on %s, mounted before the app signs in', (name) => {
  /** A server with a `cohort` option whose app signs in after the floor; `call` asks as the pilot or as anyone. */
  async function signedInAfterFloor(registry: { current: string | null; min: string }) {
    const store = await createReleaseStore({ current: registry.current, min: registry.min });
    cleanups.push(() => store.cleanup());
    await writeRegistryFile(store.registryFile, { ...store.registry, cohorts: { pilot: { release: '1.1.0' } } });
    const daylight = createDaylight({
      config: store.registryFile,
      watch: false,
      logger: createTestLogger(),
      cohort: (req) => (req as { office?: string }).office,
    });
    await daylight.ready;
    cleanups.push(() => daylight.close());
    const signIn = (req: IncomingMessage): void => {
      (req as { office?: string | undefined }).office = req.headers['x-office'] as string | undefined;
    };
    let server: Server;
    if (name === 'express') {
      const app = express();
      app.use(daylightExpress(daylight));
      app.use('/api', daylightExpressFloor({ range: '<2' }));
      app.use((req, _res, next) => {
        signIn(req);
        next();
      });
      app.get('/api/inbox', (_req, res) => res.json({ ok: true }));
      server = createServer(app);
    } else {
      const app = new Koa();
      app.use(daylightKoa(daylight));
      app.use(daylightKoaFloor({ range: '<2' }));
      app.use(async (ctx, next) => {
        signIn(ctx.req);
        await next();
      });
      app.use((ctx) => {
        ctx.body = { ok: true };
      });
      const handle = app.callback();
      server = createServer((req, res) => void handle(req, res));
    }
    const url = await listen(server);
    cleanups.push(() => stop(server));
    const call = (version: string, office = 'pilot') =>
      fetch(`${url}/api/inbox`, {
        headers: { 'x-office': office, 'Daylight-Client': `v="${version}", s="tab-aaaaaaaa"` },
      });
    return { daylight, call };
  }

  it('passes a request without resolving its release: the release and the census wait for the sign-in', async () => {
    const { daylight, call } = await signedInAfterFloor({ current: '1.0.0', min: '1.0.0' });
    const passed = await call('1.0.0');
    expect(passed.status).toBe(200);
    expect(passed.headers.get('daylight-release')).toBe('v="1.1.0", min="1.0.0"');
    const census = (await daylight.census())!;
    expect(census.series.map((s) => [s.release, s.cohort, s.sessions['5m']])).toEqual([['1.0.0', 'pilot', 1]]);
    // A refused request never reaches the sign-in: it is stamped with what the server knows without it.
    const refused = await call('2.0.0');
    expect(refused.status).toBe(409);
    expect(refused.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
  });

  it('refuses no one for being below min while nothing is promoted for everyone: outside the pilot, there is nowhere to go', async () => {
    const { call } = await signedInAfterFloor({ current: null, min: '1.1.0' });
    const outside = await call('1.0.0', 'berlin');
    expect(outside.status).toBe(200);
    expect(outside.headers.get('daylight-release')).toBeNull();
    // The pilot's own stamp carries min, which makes its client switch.
    const pilot = await call('1.0.0');
    expect(pilot.status).toBe(200);
    expect(pilot.headers.get('daylight-release')).toBe('v="1.1.0", min="1.1.0"');
  });
});
