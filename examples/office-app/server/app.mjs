// The office app's API server, on Express 5 or Koa 3, with Daylight in front.
// The same app serves both frameworks so the demo and the end-to-end tests
// can run each flow against each.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { PassThrough } from 'node:stream';
import { createDaylight } from '@daylight/server-middleware';

/**
 * In-memory sessions: sid → { user, office }. A reload keeps the cookie, so it
 * keeps the login. Two servers given the same sessions share the logins (the
 * tests run two servers behind one proxy).
 */
export function createSessions() {
  const sessions = new Map();
  const find = (cookieHeader) => {
    const match = /(?:^|;\s*)sid=([A-Za-z0-9_-]+)/.exec(cookieHeader ?? '');
    return match ? sessions.get(match[1]) : undefined;
  };
  return {
    open(user, office) {
      const sid = randomBytes(18).toString('base64url');
      sessions.set(sid, { user, office });
      return sid;
    },
    user: (cookieHeader) => find(cookieHeader)?.user,
    /** The signed-in person's office: Daylight's cohort, and the tenant key of percentage rollouts. */
    office: (cookieHeader) => find(cookieHeader)?.office,
  };
}

const newInvoiceId = () => `INV-${randomBytes(3).toString('hex').toUpperCase()}`;

/**
 * The office a login belongs to: `office` in the body, else the part after
 * "@" in the user name ("ada@pilot" signs in to the pilot office), else "main".
 */
function officeOf(body, user) {
  const given = typeof body?.office === 'string' ? body.office.trim() : '';
  const office = given || (user.includes('@') ? user.slice(user.lastIndexOf('@') + 1) : '') || 'main';
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(office) ? office : 'main';
}

const COOKIE = (sid) => `sid=${sid}; HttpOnly; SameSite=Lax; Path=/`;
const INBOX = ['Timesheets are due Friday', 'New supplier: Nordlicht GmbH', 'Office closed on the 24th'];

async function expressApp(daylight, sessions) {
  const { default: express } = await import('express');
  const { daylightExpress, daylightExpressShell, daylightExpressFloor } =
    await import('@daylight/server-middleware/express');
  const app = express();
  app.disable('x-powered-by');
  app.use(daylightExpress(daylight));
  // Clients below the registry's floor (`daylight floor 1.1.0`) get a 409 problem document.
  app.use('/api', daylightExpressFloor());
  app.use(express.json({ limit: '100kb' }));
  app.post('/api/login', (req, res) => {
    const user = typeof req.body?.user === 'string' ? req.body.user.trim() : '';
    if (!user || typeof req.body?.password !== 'string' || req.body.password === '') {
      res.status(400).json({ error: 'user and password are required' });
      return;
    }
    res.setHeader('Set-Cookie', COOKIE(sessions.open(user, officeOf(req.body, user))));
    res.json({ user });
  });
  const auth = (req, res, next) => {
    const user = sessions.user(req.headers.cookie);
    if (!user) res.status(401).json({ error: 'not signed in' });
    else {
      res.locals.user = user;
      next();
    }
  };
  app.get('/api/me', auth, (req, res) => res.json({ user: res.locals.user }));
  app.get('/api/inbox', auth, (req, res) => res.json({ messages: INBOX, serverTime: new Date().toISOString() }));
  app.post('/api/invoices', auth, async (req, res) => {
    const delay = Math.min(Number(req.query.delay ?? 0) || 0, 10_000);
    if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
    const bodyDelay = Math.min(Number(req.query.bodyDelay ?? 0) || 0, 10_000);
    if (!bodyDelay) {
      res.status(201).json({ id: newInvoiceId() });
      return;
    }
    // The head now, the body later (a large or generated answer): the request is not over until the body is.
    res.status(201).type('json').write(' ');
    await new Promise((resolve) => setTimeout(resolve, bodyDelay));
    res.end(JSON.stringify({ id: newInvoiceId() }));
  });
  app.get('/api/boom', () => {
    throw new Error('boom');
  });
  app.use('/api', (req, res) => res.status(404).json({ error: 'no such endpoint' }));
  app.use(daylightExpressShell(daylight));
  return app;
}

async function readJson(ctx, limit = 100_000) {
  let size = 0;
  const chunks = [];
  for await (const chunk of ctx.req) {
    size += chunk.length;
    if (size > limit) ctx.throw(413, 'body too large');
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch {
    ctx.throw(400, 'body is not JSON');
  }
}

async function koaApp(daylight, sessions) {
  const { default: Koa } = await import('koa');
  const { daylightKoa, daylightKoaShell, daylightKoaFloor } = await import('@daylight/server-middleware/koa');
  const app = new Koa();
  app.silent = true;
  app.use(daylightKoa(daylight));
  app.use(daylightKoaFloor());
  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/api/')) return next();
    const route = `${ctx.method} ${ctx.path}`;
    if (route === 'POST /api/login') {
      const body = await readJson(ctx);
      const user = typeof body.user === 'string' ? body.user.trim() : '';
      if (!user || typeof body.password !== 'string' || body.password === '') {
        ctx.status = 400;
        ctx.body = { error: 'user and password are required' };
        return;
      }
      ctx.set('Set-Cookie', COOKIE(sessions.open(user, officeOf(body, user))));
      ctx.body = { user };
      return;
    }
    if (route === 'GET /api/boom') throw new Error('boom');
    const user = sessions.user(ctx.get('cookie'));
    if (!user && ['GET /api/me', 'GET /api/inbox', 'POST /api/invoices'].includes(route)) {
      ctx.status = 401;
      ctx.body = { error: 'not signed in' };
      return;
    }
    if (route === 'GET /api/me') ctx.body = { user };
    else if (route === 'GET /api/inbox') ctx.body = { messages: INBOX, serverTime: new Date().toISOString() };
    else if (route === 'POST /api/invoices') {
      await readJson(ctx);
      const delay = Math.min(Number(ctx.query.delay ?? 0) || 0, 10_000);
      if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
      ctx.status = 201;
      const bodyDelay = Math.min(Number(ctx.query.bodyDelay ?? 0) || 0, 10_000);
      if (!bodyDelay) ctx.body = { id: newInvoiceId() };
      else {
        // The head now, the body later, as for Express.
        const body = new PassThrough();
        body.write(' ');
        setTimeout(() => body.end(JSON.stringify({ id: newInvoiceId() })), bodyDelay);
        ctx.type = 'json';
        ctx.body = body;
      }
    } else {
      ctx.status = 404;
      ctx.body = { error: 'no such endpoint' };
    }
  });
  app.use(daylightKoaShell(daylight));
  return app;
}

/**
 * Starts the office app on loopback.
 * @param {{ framework?: 'express' | 'koa', store: string, port?: number, host?: string, logger?: object, reports?: object, onRequest?: (req: import('node:http').IncomingMessage) => void, sessions?: ReturnType<typeof createSessions>, adminToken?: string, admins?: readonly string[], basePath?: string, retireServiceWorkers?: readonly string[], redis?: string }} options
 */
export async function startOfficeServer({
  framework = 'express',
  store,
  port = 0,
  host = '127.0.0.1',
  logger,
  reports,
  onRequest,
  sessions = createSessions(),
  adminToken,
  admins = [],
  basePath,
  retireServiceWorkers,
  redis,
}) {
  const daylight = createDaylight({
    config: store,
    ...(redis ? { redis } : {}),
    ...(basePath ? { basePath } : {}),
    ...(retireServiceWorkers ? { retireServiceWorkers } : {}),
    // The cohort is the signed-in person's office, from the server's session, never from what the page sends.
    cohort: (req) => sessions.office(req.headers.cookie),
    keys: { user: (req) => sessions.user(req.headers.cookie), tenant: (req) => sessions.office(req.headers.cookie) },
    ...(logger ? { logger } : {}),
    // Boot reports count toward an automatic halt only from signed-in people, each
    // person once per release: made-up session ids cannot halt a rollout.
    reports: { trust: (req) => sessions.user(req.headers.cookie) ?? false, ...reports },
    // The status page and census.json below /_daylight/admin/: only for requests
    // with the admin token (scripts, tests) or from a signed-in admin (a browser).
    ...(adminToken || admins.length > 0
      ? {
          authorize: (req) =>
            (adminToken !== undefined && req.headers.authorization === `Bearer ${adminToken}`) ||
            admins.includes(sessions.user(req.headers.cookie) ?? ''),
        }
      : {}),
  });
  await daylight.ready;
  const handler =
    framework === 'koa' ? (await koaApp(daylight, sessions)).callback() : await expressApp(daylight, sessions);
  const server = createServer(
    onRequest
      ? (req, res) => {
          onRequest(req);
          handler(req, res);
        }
      : handler,
  );
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const address = server.address();
  return {
    url: `http://${host}:${address.port}`,
    daylight,
    server,
    async close() {
      server.closeAllConnections?.();
      await new Promise((resolve) => server.close(resolve));
      await daylight.close();
    },
  };
}
