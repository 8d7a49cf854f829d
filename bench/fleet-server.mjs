// One API server of the fleet benchmark (bench/fleet.mjs), in its own process:
// Express 5 or Koa 3 with Daylight in front, the registry and the census in
// Redis, a small JSON API, and the SPA shell fallback last.
//
//   FLEET_REDIS=redis://127.0.0.1:6379 FLEET_CONFIG=/tmp/x/releases.json \
//   FLEET_ADMIN=<token> node bench/fleet-server.mjs <express|koa>
//
// The cohort is the office in the `office` cookie (a stand-in for a session
// lookup; a browser sends the cookie on every request, navigations included).
// `GET /fleet/stats` answers what the benchmark reads about this process:
// memory, CPU, Daylight's counters (the census's series and register bytes
// among them), and the boot reports. Prints `listening <url>` once it serves.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createDaylight } from '@daylight/server-middleware';
import { serveOnLoopback } from '../scripts/serve.mjs';

const framework = process.argv[2] ?? 'express';
const adminToken = process.env.FLEET_ADMIN ?? '';
const logged = { warn: 0, error: 0 };
const logger = {
  info() {},
  warn(message) {
    logged.warn++;
    process.stderr.write(`[${framework}] ${message}\n`);
  },
  error(message, error) {
    logged.error++;
    process.stderr.write(`[${framework}] ${message}${error ? ` ${String(error)}` : ''}\n`);
  },
};

/** The office from the `office` cookie: the request's cohort. */
function officeOf(req) {
  const match = /(?:^|;\s*)office=([A-Za-z0-9_-]{1,64})/.exec(req.headers.cookie ?? '');
  return match ? match[1] : undefined;
}

const daylight = createDaylight({
  config: process.env.FLEET_CONFIG,
  redis: process.env.FLEET_REDIS,
  logger,
  cohort: officeOf,
  authorize: (req) => adminToken !== '' && req.headers['x-fleet-admin'] === adminToken,
});
await daylight.ready;

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
function stats(gc) {
  if (gc && typeof globalThis.gc === 'function') globalThis.gc();
  return {
    framework,
    pid: process.pid,
    memory: process.memoryUsage(),
    cpu: process.cpuUsage(),
    census: { bytes: daylight.stats.censusBytes, series: daylight.stats.censusSeries },
    daylight: daylight.stats,
    reports: daylight.reportCounts(),
    logged,
    lag: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
  };
}

const INBOX = ['Timesheets are due Friday', 'New supplier: Nordlicht GmbH', 'Office closed on the 24th'];
let nextId = 1;
const item = (id) => ({ id, title: `Invoice ${id}`, amount: (id * 37) % 1000, status: id % 3 === 0 ? 'paid' : 'open' });

async function expressApp() {
  const { default: express } = await import('express');
  const { daylightExpress, daylightExpressShell } = await import('@daylight/server-middleware/express');
  const app = express();
  app.disable('x-powered-by');
  app.use(daylightExpress(daylight));
  app.get('/fleet/stats', (req, res) => res.json(stats(req.query.gc === '1')));
  app.use(express.json({ limit: '16kb' }));
  app.get('/api/inbox', (req, res) => res.json({ messages: INBOX, serverTime: new Date().toISOString() }));
  app.get('/api/items/:id', (req, res) => res.json(item(Number(req.params.id) || 0)));
  app.post('/api/items', (req, res) => res.status(201).json({ id: nextId++, saved: typeof req.body === 'object' }));
  app.use('/api', (req, res) => res.status(404).json({ error: 'no such endpoint' }));
  app.use(daylightExpressShell(daylight));
  return app;
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function koaApp() {
  const { default: Koa } = await import('koa');
  const { daylightKoa, daylightKoaShell } = await import('@daylight/server-middleware/koa');
  const app = new Koa();
  app.silent = true;
  app.use(daylightKoa(daylight));
  app.use(async (ctx, next) => {
    if (ctx.path === '/fleet/stats') {
      ctx.body = stats(ctx.query.gc === '1');
      return;
    }
    if (!ctx.path.startsWith('/api/')) return next();
    const id = /^\/api\/items\/(\d+)$/.exec(ctx.path)?.[1];
    if (ctx.method === 'GET' && ctx.path === '/api/inbox') {
      ctx.body = { messages: INBOX, serverTime: new Date().toISOString() };
    } else if (ctx.method === 'GET' && id !== undefined) {
      ctx.body = item(Number(id));
    } else if (ctx.method === 'POST' && ctx.path === '/api/items') {
      const body = await readBody(ctx.req);
      ctx.status = 201;
      ctx.body = { id: nextId++, saved: body.startsWith('{') };
    } else {
      ctx.status = 404;
      ctx.body = { error: 'no such endpoint' };
    }
  });
  app.use(daylightKoaShell(daylight));
  return app.callback();
}

const handler = framework === 'koa' ? await koaApp() : await expressApp();
serveOnLoopback(handler, daylight, { keepAliveTimeout: 60_000 });
