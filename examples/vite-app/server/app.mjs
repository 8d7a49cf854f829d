// The Vite example's server, on Express 5 or Koa 3: Daylight in front, one API endpoint, the shell for the rest.
import { createServer } from 'node:http';
import { createDaylight } from '@daylight/server-middleware';

async function expressApp(daylight) {
  const { default: express } = await import('express');
  const { daylightExpress, daylightExpressShell } = await import('@daylight/server-middleware/express');
  const app = express();
  app.disable('x-powered-by');
  // First: every response below gets the release stamp, and /_daylight/… (release files, checks) is served.
  app.use(daylightExpress(daylight));
  app.get('/api/time', (req, res) => res.json({ time: new Date().toISOString() }));
  app.use('/api', (req, res) => res.status(404).json({ error: 'no such endpoint' }));
  // Last: the release's index.html for every page, with its <script> and <link> pointed at the release's folder.
  app.use(daylightExpressShell(daylight));
  return app;
}

async function koaApp(daylight) {
  const { default: Koa } = await import('koa');
  const { daylightKoa, daylightKoaShell } = await import('@daylight/server-middleware/koa');
  const app = new Koa();
  app.silent = true;
  app.use(daylightKoa(daylight));
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/api/')) return next();
    if (ctx.method === 'GET' && ctx.path === '/api/time') ctx.body = { time: new Date().toISOString() };
    else {
      ctx.status = 404;
      ctx.body = { error: 'no such endpoint' };
    }
  });
  app.use(daylightKoaShell(daylight));
  return app;
}

/**
 * Starts the Vite example on loopback.
 * @param {{ framework?: 'express' | 'koa', store: string, port?: number, host?: string, logger?: object }} options
 */
export async function startViteAppServer({ framework = 'express', store, port = 0, host = '127.0.0.1', logger }) {
  const daylight = createDaylight({ config: store, ...(logger ? { logger } : {}) });
  await daylight.ready;
  const handler = framework === 'koa' ? (await koaApp(daylight)).callback() : await expressApp(daylight);
  const server = createServer(handler);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    url: `http://${host}:${server.address().port}`,
    daylight,
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      await daylight.close();
    },
  };
}
