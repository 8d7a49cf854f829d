/**
 * Header fields an app passes to `writeHead` itself, against real Express 5 and 4, Koa 3 and 2 on 127.0.0.1:
 * node:http 20 applies an array of fields with `setHeader` once any header was set before — Daylight's stamp
 * was — so a proxy's `res.writeHead(status, upstream.rawHeaders)` lost one `Set-Cookie` of two (a sign-in lost)
 * and `[name, value]` pairs threw (a 500). And Daylight's wrapper of `writeHead` must be in place before another
 * middleware's wrapper (`on-headers`: morgan, compression, express-session) captures node's own.
 */
import { execFile } from 'node:child_process';
import { createServer, type ServerResponse, type Server } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type express5 from 'express';
import type Koa3 from 'koa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { daylightExpress } from './express.js';
import { daylightKoa } from './koa.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, listen, stop, type ReleaseStore, frameworks } from './test-support.js';
import type { DaylightServer } from './types.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** What an upstream answered, as a proxy passes it on: a flat array, two cookies among it. */
const RAW = ['Content-Type', 'application/json', 'Set-Cookie', 'session=abc; HttpOnly', 'Set-Cookie', 'csrf=xyz'];
const PAIRS = [
  ['Content-Type', 'application/json'],
  ['Set-Cookie', 'session=abc; HttpOnly'],
  ['Set-Cookie', 'csrf=xyz'],
];

/** Writes the head with `fields`, then the body: now, or (Koa, `ctx.respond = false`) after the middleware returned. */
function write(res: ServerResponse, fields: unknown): void {
  (res.writeHead as (status: number, fields: unknown) => ServerResponse).call(res, 200, fields).end('{"ok":true}');
}

/** Fields node:http refuses (an odd-length array): the app answers 500 with node's error code itself. */
const ODD = ['X-A', '1', 'X-B'];
function writeOrFail(res: ServerResponse, fields: unknown): void {
  try {
    write(res, fields);
  } catch (error) {
    res.statusCode = 500;
    res.end(JSON.stringify({ code: (error as NodeJS.ErrnoException).code }));
  }
}

function expressApp(create: typeof express5, daylight: DaylightServer): Server {
  const app = create();
  app.use(daylightExpress(daylight));
  app.get('/raw', (_req, res) => write(res, RAW));
  app.get('/pairs', (_req, res) => write(res, PAIRS));
  app.get('/expose', (_req, res) => write(res, { 'Access-Control-Expose-Headers': 'X-Total' }));
  app.get('/odd', (_req, res) => writeOrFail(res, ODD));
  return createServer(app);
}

function koaApp(Koa: typeof Koa3, daylight: DaylightServer): Server {
  const app = new Koa();
  app.silent = true;
  app.use(daylightKoa(daylight));
  app.use((ctx) => {
    const fields = {
      '/raw': RAW,
      '/pairs': PAIRS,
      '/expose': { 'Access-Control-Expose-Headers': 'X-Total' },
      '/odd': ODD,
    }[ctx.path];
    if (fields === undefined) return;
    // The app answers itself, after its middleware returned (a proxy waiting for its upstream).
    ctx.respond = false;
    setTimeout(() => writeOrFail(ctx.res, fields), 5);
  });
  const callback = app.callback();
  return createServer((req, res) => void callback(req, res));
}

const FRAMEWORKS = frameworks(expressApp, koaApp);

let store: ReleaseStore;
beforeEach(async () => {
  store = await createReleaseStore();
});
afterEach(async () => {
  await store.cleanup();
});

describe.each(FRAMEWORKS)('$name: fields the app passes to writeHead', ({ app }) => {
  let origin: string;
  let close: () => Promise<void>;
  beforeEach(async () => {
    const daylight = createDaylight({ config: store.registryFile, logger: createTestLogger() });
    await daylight.ready;
    const server = app(daylight);
    origin = await listen(server);
    close = async () => {
      await stop(server);
      await daylight.close();
    };
  });
  afterEach(() => close());

  for (const [route, what] of [
    ['/raw', 'a flat array'],
    ['/pairs', '[name, value] pairs'],
  ] as const) {
    for (const cross of [false, true]) {
      it(`keeps both cookies of ${what}, ${cross ? 'cross-origin' : 'same-origin'}, and stamps the response`, async () => {
        const response = await fetch(origin + route, cross ? { headers: { origin: 'https://other.example' } } : {});
        expect(response.status).toBe(200);
        expect(response.headers.getSetCookie()).toEqual(['session=abc; HttpOnly', 'csrf=xyz']);
        expect(response.headers.get('content-type')).toBe('application/json');
        expect(response.headers.get('daylight-release')).toBe('v="1.0.0"');
        expect(await response.json()).toEqual({ ok: true });
      });
    }
  }

  it('changes no header when node:http refuses the fields, and node answers with its own error', async () => {
    const response = await fetch(`${origin}/odd`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(response.headers.get('x-a')).toBeNull();
  });

  it('merges an expose list passed to writeHead with the stamp', async () => {
    const response = await fetch(`${origin}/expose`, { headers: { origin: 'https://other.example' } });
    expect(response.headers.get('access-control-expose-headers')).toBe('X-Total, Daylight-Release');
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0"');
  });
});

describe('a wrapper of res.writeHead mounted before Daylight (on-headers)', () => {
  it('calls through to Daylight from the first response of the process on', async () => {
    // A process of its own: in this one, an earlier test installed the wrapper already.
    const script = `
      import { createServer } from 'node:http';
      import express from 'express';
      import { createDaylight } from '@daylight/server-middleware';
      import { daylightExpress } from '@daylight/server-middleware/express';
      const daylight = createDaylight({ config: process.env.STORE, logger: { info() {}, warn() {}, error() {} } });
      await daylight.ready;
      const app = express();
      // As on-headers does (morgan, compression, express-session): wraps the response's writeHead, mounted first.
      app.use((req, res, next) => {
        const inner = res.writeHead;
        res.writeHead = function (...args) { return inner.apply(this, args); };
        next();
      });
      app.use(daylightExpress(daylight));
      app.get('/api', (req, res) => res.json({ ok: true }));
      const server = createServer(app).listen(0, '127.0.0.1', async () => {
        const seen = [];
        for (let i = 0; i < 2; i++) {
          const response = await fetch('http://127.0.0.1:' + server.address().port + '/api', { headers: { origin: 'https://other.example' } });
          seen.push(response.headers.get('daylight-release'));
        }
        console.log(JSON.stringify(seen));
        server.close();
        await daylight.close();
      });
    `;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, STORE: store.registryFile },
    });
    expect(JSON.parse(stdout)).toEqual(['v="1.0.0"', 'v="1.0.0"']);
  });
});
