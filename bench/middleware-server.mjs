// One server for bench/middleware.mjs, in its own process so the load
// generator does not share its event loop:
//   node bench/middleware-server.mjs <express|koa> <bare|daylight|rollout|helmet> [store]
// Prints the port on stdout, then serves GET /api/items (a small JSON body).
// `rollout` is Daylight with a cohort and a user key read from the request
// (X-Office, X-User), for a store with a rollout in progress: the release then
// depends on the request, and each response is stamped when its head is written.
import { createServer } from 'node:http';

const [framework, variant, store] = process.argv.slice(2);
const quiet = { info() {}, warn: console.warn, error: console.error };
const daylightOptions = {
  config: store,
  watch: false,
  logger: quiet,
  ...(variant === 'rollout' && {
    cohort: (req) => req.headers['x-office'],
    keys: { user: (req) => req.headers['x-user'] },
  }),
};
/** Daylight's server for the `daylight` and `rollout` variants, loaded. */
async function daylightServer() {
  const { createDaylight } = await import('@daylight/server-middleware');
  const daylight = createDaylight(daylightOptions);
  await daylight.ready;
  return daylight;
}
const BODY = {
  items: [
    { id: 1, name: 'desk' },
    { id: 2, name: 'lamp' },
  ],
  total: 2,
};

async function expressHandler() {
  const { default: express } = await import('express');
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  if (variant === 'daylight' || variant === 'rollout') {
    const { daylightExpress } = await import('@daylight/server-middleware/express');
    app.use(daylightExpress(await daylightServer()));
  } else if (variant === 'helmet') {
    const { default: helmet } = await import('helmet');
    app.use(helmet());
  }
  app.get('/api/items', (req, res) => res.json(BODY));
  return app;
}

async function koaHandler() {
  const { default: Koa } = await import('koa');
  const app = new Koa();
  if (variant === 'daylight' || variant === 'rollout') {
    const { daylightKoa } = await import('@daylight/server-middleware/koa');
    app.use(daylightKoa(await daylightServer()));
  } else if (variant === 'helmet') {
    const { default: helmet } = await import('helmet');
    const middleware = helmet();
    app.use((ctx, next) =>
      new Promise((resolve, reject) => middleware(ctx.req, ctx.res, (err) => (err ? reject(err) : resolve()))).then(
        next,
      ),
    );
  }
  app.use((ctx) => {
    if (ctx.path === '/api/items') ctx.body = BODY;
  });
  return app.callback();
}

const handler = framework === 'koa' ? await koaHandler() : await expressHandler();
const server = createServer(handler);
server.keepAliveTimeout = 65_000;
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
