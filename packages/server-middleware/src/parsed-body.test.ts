/**
 * An app whose body parser runs before Daylight, against real servers on 127.0.0.1 (Express 5 and 4 with
 * their own `express.json()` and `express.text()`; Koa 3 and 2 with a parser as koa-bodyparser writes one).
 * The parser reads the request stream, so Daylight read nothing: every report the client sends (JSON) was
 * refused 400 — no boot was counted and no failing release halted — and so was every action of the status page.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type express5 from 'express';
import type Koa3 from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress } from './express.js';
import { daylightKoa } from './koa.js';
import { readRegistryFile } from './registry.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, listen, stop, frameworks } from './test-support.js';
import type { DaylightServer } from './types.js';

type Parser = 'json' | 'text';

function expressApp(create: typeof express5, parser: Parser, daylight: DaylightServer): Server {
  const app = create();
  app.use(parser === 'json' ? create.json() : create.text({ type: '*/*' }));
  app.use(daylightExpress(daylight));
  return createServer(app);
}

/** Reads the whole request, as co-body (koa-bodyparser) does. */
async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function koaApp(KoaClass: typeof Koa3, parser: Parser, daylight: DaylightServer): Server {
  const app = new KoaClass();
  app.silent = true;
  app.use(async (ctx, next) => {
    if (ctx.method === 'POST') {
      const text = await readAll(ctx.req);
      (ctx.request as { body?: unknown }).body = parser === 'json' ? (JSON.parse(text) as unknown) : text;
    }
    await next();
  });
  app.use(daylightKoa(daylight));
  const callback = app.callback();
  return createServer((req, res) => void callback(req, res));
}

const FRAMEWORKS = frameworks(expressApp, koaApp);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe.each(FRAMEWORKS)('$name, a body parser mounted before Daylight', ({ app }) => {
  it.each(['json', 'text'] as const)('(%s) leaves reports and status page actions to Daylight', async (parser) => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    const daylight = createDaylight({
      config: store.registryFile,
      watch: false,
      logger: createTestLogger(),
      authorize: () => true,
    });
    cleanups.push(() => daylight.close());
    await daylight.ready;
    const server = app(parser, daylight);
    const origin = await listen(server);
    cleanups.push(() => stop(server));

    const session = 'tab-5f3a9c2e';
    const report = await fetch(`${origin}/_daylight/reports`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
      body: JSON.stringify({ kind: 'boot', version: '1.0.0', session }),
    });
    expect([report.status, await report.text()]).toEqual([204, '']);
    expect(daylight.reportCounts()).toMatchObject([{ release: '1.0.0', boots: 1 }]);

    const page = await fetch(`${origin}/_daylight/admin/`);
    await page.text();
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
    const action = await fetch(`${origin}/_daylight/admin/actions`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'sec-fetch-site': 'same-origin',
        'x-daylight-admin': '1',
        'x-daylight-csrf': cookie.split('=')[1]!,
        cookie,
      },
      body: JSON.stringify({ action: 'promote', version: '1.1.0' }),
    });
    expect([action.status, await action.json()]).toMatchObject([200, { changed: true }]);
    const after = await readRegistryFile(store.registryFile);
    expect(after.ok && after.registry.current).toBe('1.1.0');
  });
});
