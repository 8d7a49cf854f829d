/**
 * Mistakes made wiring the adapters, against real servers on 127.0.0.1
 * (Express 5 and 4, Koa 3 and 2): each is a TypeError that names the function
 * and the fix, thrown when the middleware is created or, for a factory mounted
 * without being called, on the first request. Never a hang, a 404 or a 500
 * from deep inside Daylight.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import express5, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import express4 from 'express4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress, daylightExpressFloor, daylightExpressShell } from './express.js';
import { daylightKoa, daylightKoaFloor, daylightKoaShell } from './koa.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, listen, stop } from './test-support.js';
import type { DaylightServer } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function promoted(): Promise<DaylightServer> {
  const store = await createReleaseStore();
  cleanups.push(() => store.cleanup());
  const daylight = createDaylight({ config: store.registryFile, watch: false, logger: createTestLogger() });
  await daylight.ready;
  cleanups.push(() => daylight.close());
  return daylight;
}

async function serve(server: Server): Promise<string> {
  const origin = await listen(server);
  cleanups.push(() => stop(server));
  return origin;
}

/** A request that gives up after 2 s: a hang is an answer of its own (`hung`). */
async function call(url: string, headers: Record<string, string> = {}) {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(2000) });
    return { status: response.status, body: await response.text() };
  } catch (error) {
    return { status: 'hung', body: (error as Error).message };
  }
}

const NAVIGATION = { accept: 'text/html' };

/** Something mounted where a Daylight middleware goes, as the app wrote it. */
type Mount = (d: DaylightServer) => unknown;

interface Framework {
  readonly name: string;
  /** An app with `first` mounted first, `/api/me`, then `last`; errors that reach the framework are collected. */
  app(first: Mount, last: Mount, daylight: DaylightServer): { server: Server; errors: Error[] };
}

const expressFramework = (name: string, createApp: typeof express5): Framework => ({
  name,
  app(first, last, daylight) {
    const errors: Error[] = [];
    const app = createApp();
    app.set('env', 'test');
    app.use(first(daylight) as RequestHandler);
    app.get('/api/me', (_req, res) => void res.json({ user: 'ada' }));
    app.use(last(daylight) as RequestHandler);
    app.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
      errors.push(error);
      res.status(500).json({ error: error.message });
    });
    return { server: createServer(app), errors };
  },
});

const koaFramework = (name: string, KoaClass: typeof Koa3): Framework => ({
  name,
  app(first, last, daylight) {
    const errors: Error[] = [];
    const app = new KoaClass();
    app.silent = true;
    app.on('error', (error: Error) => void errors.push(error));
    app.use(first(daylight) as Koa3.Middleware);
    app.use(async (ctx, next) => {
      if (ctx.path === '/api/me') ctx.body = { user: 'ada' };
      else await next();
    });
    app.use(last(daylight) as Koa3.Middleware);
    const callback = app.callback();
    return { server: createServer((req, res) => void callback(req, res)), errors };
  },
});

const EXPRESS = [expressFramework('Express 5', express5), expressFramework('Express 4', express4)];
const KOA = [koaFramework('Koa 3', Koa3), koaFramework('Koa 2', Koa2)];

const factories = [
  { name: 'daylightExpress', make: daylightExpress as (server: unknown) => unknown },
  { name: 'daylightExpressShell', make: daylightExpressShell as (server: unknown) => unknown },
  { name: 'daylightKoa', make: daylightKoa as (server: unknown) => unknown },
  { name: 'daylightKoaShell', make: daylightKoaShell as (server: unknown) => unknown },
];

describe.each(factories)('$name(server), given something else', ({ name, make }) => {
  it('throws when created, naming the function and what to pass, for anything but what createDaylight() returns', () => {
    const mount = `app.use(${name}(daylight))`;
    expect(() => make(undefined)).toThrow(
      new TypeError(`${name}(server): pass the object createDaylight() returns, got undefined`),
    );
    expect(() => make({ config: 'releases.json' })).toThrow(
      new TypeError(
        `${name}(server): pass the object createDaylight() returns, got an object with config; those are createDaylight's options: const daylight = createDaylight({ … }), then ${mount}`,
      ),
    );
    expect(() => make(createDaylight)).toThrow(
      `${name}(server): pass the object createDaylight() returns, got the function createDaylight`,
    );
    expect(() => make({})).toThrow(`${name}(server): pass the object createDaylight() returns, got an empty object`);
    expect(() => make('releases.json')).toThrow(`got "releases.json"`);
  });

  it('is created from the server createDaylight() returns', async () => {
    expect(make(await promoted())).toBeTypeOf('function');
  });
});

describe.each([...EXPRESS, ...KOA])('a factory mounted without being called on $name', (framework) => {
  const express = framework.name.startsWith('Express');
  const main = express ? daylightExpress : daylightKoa;
  const shell = express ? daylightExpressShell : daylightKoaShell;
  const floor = express ? daylightExpressFloor : daylightKoaFloor;
  const mainName = express ? 'daylightExpress' : 'daylightKoa';
  const shellName = express ? 'daylightExpressShell' : 'daylightKoaShell';

  async function start(first: Mount, last: Mount) {
    const daylight = await promoted();
    const { server, errors } = framework.app(first, last, daylight);
    return { origin: await serve(server), errors };
  }

  it(`answers every request with a 500 carrying a TypeError that says app.use(${mainName}(daylight))`, async () => {
    const { origin, errors } = await start(
      () => main,
      (d) => shell(d),
    );
    for (const target of ['/api/me', '/_daylight/release']) {
      const response = await call(`${origin}${target}`);
      expect(response.status, target).toBe(500);
    }
    expect(errors).toHaveLength(2);
    for (const error of errors) {
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(
        `${mainName} was mounted without being called: write app.use(${mainName}(daylight)), where daylight = createDaylight({ … })`,
      );
    }
  });

  it(`answers a page with a 500 carrying a TypeError that says app.use(${shellName}(daylight))`, async () => {
    const { origin, errors } = await start(
      (d) => main(d),
      () => shell,
    );
    expect((await call(`${origin}/api/me`)).status).toBe(200);
    expect((await call(`${origin}/inbox`, NAVIGATION)).status).toBe(500);
    expect(errors.map((e) => [e.constructor.name, e.message])).toContainEqual([
      'TypeError',
      `${shellName} was mounted without being called: write app.use(${shellName}(daylight)), where daylight = createDaylight({ … })`,
    ]);
  });

  it('answers with a 500 carrying a TypeError that shows how to mount the floor', async () => {
    const daylight = await promoted();
    const { server, errors } = framework.app(
      (d) => main(d),
      () => floor,
      daylight,
    );
    const origin = await serve(server);
    expect((await call(`${origin}/api/other`)).status).toBe(500);
    expect(errors[0]?.message).toMatch(
      /Floor was mounted without being called: write app\.use\(.*Floor\(\{ range: '>=1\.3\.0' \}\)\)$/,
    );
  });
});

describe.each([
  { name: 'daylightExpressFloor', floor: daylightExpressFloor as (options: unknown) => unknown, app: EXPRESS[0]! },
  { name: 'daylightKoaFloor', floor: daylightKoaFloor as (options: unknown) => unknown, app: KOA[0]! },
])('$name(options)', ({ name, floor, app }) => {
  it('refuses an unknown option when created, with the one meant: a typo would turn the floor off', () => {
    expect(() => floor({ ranges: '>=99.0.0' })).toThrow(
      new TypeError(`${name}: unknown option "ranges"; did you mean "range"?`),
    );
    expect(() => floor({ withoutclient: 'refuse' })).toThrow(
      `${name}: unknown option "withoutclient"; did you mean "withoutClient"?`,
    );
    expect(() => floor({ minimum: '1.0.0' })).toThrow(
      `${name}: unknown option "minimum"; the options are range, routes, useMin, withoutClient`,
    );
  });

  it('refuses options of the wrong shape, and the Daylight server in their place', async () => {
    expect(() => floor('>=1.3.0')).toThrow(
      `${name}(options): options must be an object such as { range: '>=1.3.0' }, got ">=1.3.0"`,
    );
    expect(() => floor({ routes: '/api/v2/' })).toThrow(
      `${name}: routes must be an object of path prefixes and ranges`,
    );
    expect(() => floor({ useMin: 'yes' })).toThrow(`${name}: useMin must be true or false, got "yes"`);
    expect(() => floor({ range: 'newest' })).toThrow(
      `${name}: range must be a semver range such as ">=1.3.0", got "newest"`,
    );
    const daylight = await promoted();
    expect(() => floor(daylight)).toThrow(`${name}(options) takes the floor's options, not the Daylight server`);
  });

  it('with a known option, refuses a client below it on a real server', async () => {
    const daylight = await promoted();
    const { server } = app.app(
      (d) => (name === 'daylightExpressFloor' ? daylightExpress(d) : daylightKoa(d)),
      () => floor({ range: '>=99.0.0' }),
      daylight,
    );
    const origin = await serve(server);
    const response = await call(`${origin}/api/other`, { 'Daylight-Client': 'v="1.0.0", s="tab-aaaaaaaa"' });
    expect(response.status).toBe(409);
  });
});

describe.skipIf(process.platform === 'win32').each([...EXPRESS, ...KOA])(
  'a page asked for before the registry has loaded on $name',
  (framework) => {
    it('is a 503 that says the registry is still loading, not that nothing is promoted; then the shell', async () => {
      const store = await createReleaseStore({ withoutRegistry: true });
      cleanups.push(() => store.cleanup());
      // A FIFO for the registry: its first read waits until the test writes it, however fast the disk.
      execFileSync('mkfifo', [store.registryFile]);
      let written = false;
      const write = async (): Promise<void> => {
        if (written) return;
        written = true;
        await writeFile(store.registryFile, JSON.stringify(store.registry));
      };
      const logger = createTestLogger();
      const daylight = createDaylight({ config: store.registryFile, watch: false, logger });
      cleanups.push(() => daylight.close());
      cleanups.push(write); // before close(), which waits for the read
      const express = framework.name.startsWith('Express');
      const { server } = framework.app(
        (d) => (express ? daylightExpress(d) : daylightKoa(d)),
        (d) => (express ? daylightExpressShell(d) : daylightKoaShell(d)),
        daylight,
      );
      const origin = await serve(server); // before `await daylight.ready`

      const loading = await fetch(`${origin}/inbox`, { headers: NAVIGATION });
      expect(loading.status).toBe(503);
      expect(loading.headers.get('retry-after')).toBe('5');
      expect(loading.headers.get('cache-control')).toBe('no-store');
      const page = await loading.text();
      expect(page).toContain('still loading');
      expect(page).not.toContain('no release yet');
      expect(logger.entries.filter((e) => e.level === 'warn').map((e) => e.message)).toEqual([
        'daylight: a page was answered 503 while the registry is still loading (its first read has not finished), not for want of a promoted release; await daylight.ready before the server listens',
      ]);
      // The API is not held up meanwhile.
      expect((await call(`${origin}/api/me`)).status).toBe(200);

      await write();
      await daylight.ready;
      const shell = await fetch(`${origin}/inbox`, { headers: NAVIGATION });
      expect(shell.status).toBe(200);
      expect(await shell.text()).toContain('<meta name="daylight-release" content="1.0.0">');
    });
  },
);
