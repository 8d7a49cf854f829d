/**
 * A Daylight answer that is ready only after the response was sent, against real servers on 127.0.0.1
 * (Express 5 and 4, Koa 3 and 2). Daylight's endpoints may wait (an `authorize` or `reports.trust` callback
 * that asks a session store); meanwhile a request timeout mounted before Daylight (`connect-timeout`, or a
 * Koa middleware racing `next()`) may have answered 503. The bare app survives that; with Daylight, writing
 * the late answer threw ERR_HTTP_HEADERS_SENT into a promise nobody caught, and Node ended the process.
 */
import { createServer, type Server } from 'node:http';
import type express5 from 'express';
import type Koa3 from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress, daylightExpressShell } from './express.js';
import { daylightKoa, daylightKoaShell } from './koa.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, listen, stop, frameworks } from './test-support.js';
import type { DaylightServer } from './types.js';

/** The request timeout: the app answers 503 after this, while Daylight still waits for the callback. */
const TIMEOUT_MS = 50;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A callback that asks a slow session store. */
const slowly = async (): Promise<true> => {
  await sleep(4 * TIMEOUT_MS);
  return true;
};

function expressApp(create: typeof express5, daylight: DaylightServer): Server {
  const app = create();
  // What connect-timeout does: answer 503 once the time is up, and let the request go on.
  app.use((_req, res, next) => {
    const timer = setTimeout(() => void res.status(503).send('timed out'), TIMEOUT_MS);
    res.on('finish', () => clearTimeout(timer));
    next();
  });
  app.use(daylightExpress(daylight));
  app.get('/api/ok', (_req, res) => void res.json({ ok: true }));
  app.use(daylightExpressShell(daylight));
  return createServer(app);
}

function koaApp(KoaClass: typeof Koa3, daylight: DaylightServer): Server {
  const app = new KoaClass();
  app.silent = true;
  // A timeout as Koa apps write one: whichever comes first, the rest of the chain or the timer.
  app.use(async (ctx, next) => {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), TIMEOUT_MS)));
    const late = await Promise.race([next().then(() => false), timedOut]);
    clearTimeout(timer);
    if (late) {
      ctx.status = 503;
      ctx.body = 'timed out';
    }
  });
  app.use(daylightKoa(daylight));
  app.use(async (ctx, next) => {
    if (ctx.path === '/api/ok') ctx.body = { ok: true };
    else await next();
  });
  app.use(daylightKoaShell(daylight));
  const callback = app.callback();
  return createServer((req, res) => void callback(req, res));
}

const FRAMEWORKS = frameworks(expressApp, koaApp);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(FRAMEWORKS)('$name, a request timeout mounted before Daylight', ({ app }) => {
  it('keeps its 503 and the process when an endpoint answers after it', async () => {
    const uncaught: unknown[] = [];
    const record = (error: unknown): void => void uncaught.push(error);
    process.on('unhandledRejection', record);
    cleanups.push(() => Promise.resolve(void process.off('unhandledRejection', record)));
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    const daylight = createDaylight({
      config: store.registryFile,
      watch: false,
      logger: createTestLogger(),
      authorize: slowly,
      reports: { trust: slowly },
    });
    cleanups.push(() => daylight.close());
    await daylight.ready;
    const server = app(daylight);
    const origin = await listen(server);
    cleanups.push(() => stop(server));

    const session = 'tab-5f3a9c2e';
    const census = await fetch(`${origin}/_daylight/admin/census.json`);
    const report = await fetch(`${origin}/_daylight/reports`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'sec-fetch-site': 'same-origin',
        'daylight-client': `v="1.0.0", s="${session}"`,
      },
      body: JSON.stringify({ kind: 'boot', version: '1.0.0', session }),
    });
    expect([census.status, await census.text()]).toEqual([503, 'timed out']);
    expect([report.status, await report.text()]).toEqual([503, 'timed out']);
    await sleep(6 * TIMEOUT_MS); // the callbacks answer, and Daylight with them
    expect(uncaught).toEqual([]);
    const after = await fetch(`${origin}/api/ok`);
    expect([after.status, await after.json()]).toEqual([200, { ok: true }]);
  });
});
