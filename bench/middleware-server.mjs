// One server for bench/middleware.mjs, in its own process so the load
// generator does not share its event loop:
//   node bench/middleware-server.mjs <express|koa> <bare|daylight|rollout|helmet|one-header> [store]
// Prints the port on stdout, then serves GET /api/items (a small JSON body).
// `rollout` is Daylight with a cohort and a user key read from the request
// (X-Office, X-User), for a store with a rollout in progress: the release then
// depends on the request, and each response is stamped when its head is written.
// `one-header` is the least any middleware that stamps responses costs: one
// constant header set on every response, as the framework's own middleware.
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
/** What the `one-header` variant sets: the stamp Daylight sets for the `daylight` store. */
const ONE_HEADER = ['Daylight-Release', 'v="1.0.0"'];
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
  } else if (variant === 'one-header') {
    app.use((req, res, next) => {
      res.setHeader(...ONE_HEADER);
      next();
    });
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
  } else if (variant === 'one-header') {
    // As Daylight on Koa: an async middleware that sets the header once the app ran.
    app.use(async (ctx, next) => {
      await next();
      ctx.res.setHeader(...ONE_HEADER);
    });
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
