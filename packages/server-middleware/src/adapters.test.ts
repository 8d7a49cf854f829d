/**
 * The adapters against real servers: Express 5 and 4, Koa 3 and 2, each on
 * 127.0.0.1, driven over HTTP with fetch (and node:http where fetch would
 * normalise the path first).
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import express5, { type NextFunction, type Request, type Response } from 'express';
import express4 from 'express4';
import Koa3 from 'koa';
import Koa2 from 'koa2';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { daylightExpress, daylightExpressShell } from './express.js';
import { daylightKoa, daylightKoaShell } from './koa.js';
import { INTERNALS, type DaylightInternals } from './options.js';
import { releaseDir, writeRegistryFile } from './registry.js';
import { createDaylight } from './server.js';
import { isArmed } from './stamp.js';
import {
  createReleaseStore,
  createTestLogger,
  listen,
  sampleRelease,
  sri,
  stop,
  waitFor,
  type ReleaseStore,
  frameworks,
} from './test-support.js';
import type { DaylightServer, DaylightServerOptions, DaylightState } from './types.js';

interface AppError extends Error {
  teapot?: boolean;
  status?: number;
  expose?: boolean;
  headers?: Record<string, string>;
}

function denied(): AppError {
  return Object.assign(new Error('denied'), { status: 401, expose: true, headers: { 'WWW-Authenticate': 'Bearer' } });
}

/** An error that lists headers of its own for the browser, as `@koa/cors` does with `keepHeadersOnError`. */
function conflict(): AppError {
  return Object.assign(new Error('conflict'), {
    status: 409,
    expose: true,
    headers: { 'Access-Control-Expose-Headers': 'X-Conflict' },
  });
}

/** A JSON body that cannot be serialised: the framework fails while writing it. */
function circular(): Record<string, unknown> {
  const body: Record<string, unknown> = { ok: true };
  body.self = body;
  return body;
}

/** The app's own sign-in, mounted after Daylight: the office comes from the session (here a test header). */
interface SignedIn extends IncomingMessage {
  office?: string | undefined;
}

function signIn(req: IncomingMessage): void {
  const session = req.headers['x-session'];
  if (typeof session === 'string') (req as SignedIn).office = session.split('@')[1];
}

function expressApp(createApp: typeof express5, daylight: DaylightServer): Server {
  const app = createApp();
  app.set('env', 'test'); // keeps finalhandler from printing stacks
  app.use(daylightExpress(daylight));
  app.use((req, _res, next) => {
    signIn(req);
    next();
  });
  app.get('/api/ok', (_req, res) => void res.json({ ok: true }));
  app.get('/api/state', (_req, res) => void res.json(res.locals.daylight as unknown));
  app.get('/api/cors', (_req, res) => {
    res.set('Access-Control-Expose-Headers', 'X-Total-Count');
    res.json([]);
  });
  app.get('/api/throw', () => {
    throw new Error('boom');
  });
  app.get('/api/teapot', () => {
    throw Object.assign(new Error('custom'), { teapot: true });
  });
  app.get('/api/denied', () => {
    throw denied();
  });
  app.get('/api/conflict', () => {
    throw conflict();
  });
  app.get('/api/forbidden', () => {
    throw Object.assign(new Error('Forbidden'), { status: 403, expose: true });
  });
  app.get('/api/throw-string', () => {
    throw 'boom';
  });
  app.get('/api/circular', (_req, res) => void res.json(circular()));
  app.use(daylightExpressShell(daylight));
  app.use((error: AppError, _req: Request, res: Response, next: NextFunction) => {
    if (error.teapot === true) res.status(418).json({ error: 'teapot' });
    else next(error);
  });
  return createServer(app);
}

function koaApp(KoaClass: typeof Koa3, daylight: DaylightServer): Server {
  const app = new KoaClass();
  app.silent = true;
  app.use(daylightKoa(daylight));
  app.use(async (ctx, next) => {
    signIn(ctx.req);
    await next();
  });
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      if ((error as AppError).teapot !== true) throw error;
      ctx.status = 418;
      ctx.body = { error: 'teapot' };
    }
  });
  app.use(async (ctx, next) => {
    switch (ctx.path) {
      case '/api/ok':
        ctx.body = { ok: true };
        return;
      case '/api/state':
        ctx.body = ctx.state.daylight as unknown;
        return;
      case '/api/cors':
        ctx.set('Access-Control-Expose-Headers', 'X-Total-Count');
        ctx.body = [];
        return;
      case '/api/throw':
        throw new Error('boom');
      case '/api/teapot':
        throw Object.assign(new Error('custom'), { teapot: true });
      case '/api/denied':
        throw denied();
      case '/api/conflict':
        throw conflict();
      case '/api/forbidden':
        ctx.throw(403);
        return;
      case '/api/throw-string':
        throw 'boom';
      case '/api/circular':
        // Koa serialises the body after every middleware has returned.
        ctx.body = circular();
        return;
      default:
        await next();
    }
  });
  app.use(daylightKoaShell(daylight));
  const callback = app.callback();
  return createServer((req, res) => void callback(req, res));
}

const FRAMEWORKS = frameworks(expressApp, koaApp);

const NAVIGATION = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' };
const SESSION = 'q8Zk1cR2xW0a';

/** GET with the path sent exactly as written (fetch would resolve dot segments first). */
function rawGet(
  origin: string,
  target: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(origin, { path: target }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.each(FRAMEWORKS)('$name', ({ app }) => {
  let store: ReleaseStore;
  const running: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    store = await createReleaseStore({ min: '1.0.0' });
  });

  afterEach(async () => {
    for (const item of running.splice(0).reverse()) await item.close();
    await store.cleanup();
  });

  async function start(
    options: DaylightServerOptions = {},
    internals: DaylightInternals = {},
  ): Promise<{ origin: string; daylight: DaylightServer; logger: ReturnType<typeof createTestLogger> }> {
    const logger = createTestLogger();
    const daylight = createDaylight({
      config: store.registryFile,
      watch: false,
      logger,
      ...options,
      [INTERNALS]: internals,
    } as DaylightServerOptions);
    await daylight.ready;
    const server = app(daylight);
    const origin = await listen(server);
    running.push(daylight, { close: () => stop(server) });
    return { origin, daylight, logger };
  }

  const STAMP = 'v="1.0.0", min="1.0.0"';
  /** A cross-origin request: only its response lists the stamp in Access-Control-Expose-Headers. */
  const CROSS = { Origin: 'https://app.example' };

  describe('stamping', () => {
    it('stamps a successful response and exposes the header to a cross-origin request', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/ok`, { headers: CROSS });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ ok: true });
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      expect(response.headers.get('access-control-expose-headers')).toBe('Daylight-Release');
    });

    it("stamps a same-origin request (no Origin) without an expose list, and keeps the app's", async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/ok`);
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      expect(response.headers.get('access-control-expose-headers')).toBeNull();
      const cors = await fetch(`${origin}/api/cors`);
      expect(cors.headers.get('access-control-expose-headers')).toBe('X-Total-Count');
    });

    // [case, path, status, Access-Control-Expose-Headers (null: not checked)]
    it.each<[string, string, number, string | null]>([
      ["an error answered by the framework's default handler", '/api/throw', 500, 'Daylight-Release'],
      ['an error thrown with a status, such as ctx.throw(403)', '/api/forbidden', 403, 'Daylight-Release'],
      [
        'an error with its own Access-Control-Expose-Headers, merged',
        '/api/conflict',
        409,
        'X-Conflict, Daylight-Release',
      ],
      ['the 500 for a thrown value that is not an Error', '/api/throw-string', 500, null],
      ['the 500 for a body the framework cannot serialise', '/api/circular', 500, 'Daylight-Release'],
    ])('stamps %s', async (_, where, status, expose) => {
      const { origin } = await start();
      const response = await fetch(`${origin}${where}`, { headers: CROSS });
      expect(response.status).toBe(status);
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      if (expose !== null) expect(response.headers.get('access-control-expose-headers')).toBe(expose);
    });

    it("keeps an error's own headers beside the stamp in the default handler", async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/denied`);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(response.headers.get('daylight-release')).toBe(STAMP);
    });

    it("stamps the response written by the app's own error handler", async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/teapot`);
      expect(response.status).toBe(418);
      expect(await response.json()).toEqual({ error: 'teapot' });
      expect(response.headers.get('daylight-release')).toBe(STAMP);
    });

    it('stamps a 404 for a route nobody answers, and does not send the shell to an API client', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/nope`, { headers: { accept: 'application/json' } });
      expect(response.status).toBe(404);
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      // The framework's own 404 (Express writes a small HTML page of its own), not the app's shell.
      expect(await response.text()).not.toContain('daylight-release');
    });

    it("merges the stamp into the app's Access-Control-Expose-Headers", async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/cors`, { headers: CROSS });
      expect(response.headers.get('access-control-expose-headers')).toBe('X-Total-Count, Daylight-Release');
    });

    it('gives the app the parsed client stamp and the release', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/api/state`, {
        headers: { 'Daylight-Client': `v="0.9.0", s="${SESSION}"` },
      });
      expect(await response.json()).toEqual({
        client: { version: '0.9.0', session: SESSION },
        release: { version: '1.0.0', min: '1.0.0' },
      });
    });

    it('ignores and counts a malformed client header, and the request still succeeds', async () => {
      const { origin, daylight } = await start();
      const response = await fetch(`${origin}/api/state`, { headers: { 'Daylight-Client': 'v="one", s="x"' } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ release: { version: '1.0.0', min: '1.0.0' } });
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      expect(daylight.stats.malformedClientHeaders).toBe(1);
    });

    for (const phase of ['attach', 'write', 'both'] as const) {
      it(`fails open: when stamping throws (${phase}), the API response goes out unstamped`, async () => {
        const { origin, daylight, logger } = await start(
          {},
          {
            beforeStamp: (at) => {
              if (phase === 'both' || at === phase) throw new Error('injected');
            },
          },
        );
        const response = await fetch(`${origin}/api/ok`);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ ok: true });
        expect(response.headers.get('daylight-release')).toBeNull();
        expect(daylight.stats.stampFailures).toBe(1);
        expect(logger.entries.filter((e) => e.level === 'error')).toHaveLength(1);
      });
    }
  });

  describe('stamping per cohort', () => {
    it("stamps the release of the cohort the app's own middleware signed in, on success and on errors", async () => {
      const { origin, daylight } = await start({ cohort: (req) => (req as SignedIn).office });
      await writeRegistryFile(store.registryFile, { ...store.registry, cohorts: { pilot: { release: '1.1.0' } } });
      await daylight.reload();
      const pilot = { 'x-session': 'ann@pilot', ...CROSS };
      for (const route of ['/api/ok', '/api/throw', '/api/forbidden', '/api/circular', '/api/nope']) {
        const response = await fetch(`${origin}${route}`, { headers: { ...pilot, accept: 'application/json' } });
        expect([route, response.headers.get('daylight-release')]).toEqual([route, 'v="1.1.0", min="1.0.0"']);
        expect(response.headers.get('access-control-expose-headers')).toBe('Daylight-Release');
      }
      const other = await fetch(`${origin}/api/ok`, { headers: { 'x-session': 'bob@berlin' } });
      expect(other.headers.get('daylight-release')).toBe(STAMP);
      const cors = await fetch(`${origin}/api/cors`, { headers: pilot });
      expect(cors.headers.get('access-control-expose-headers')).toBe('X-Total-Count, Daylight-Release');
    });
  });

  describe('endpoints', () => {
    it('answers the release check, uncached and stamped', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/_daylight/release`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      expect(await response.json()).toEqual({ version: '1.0.0', min: '1.0.0' });
    });

    it('answers the release check with 204 when nothing is promoted', async () => {
      await store.promote(null);
      const { origin } = await start();
      const response = await fetch(`${origin}/_daylight/release`);
      expect(response.status).toBe(204);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('daylight-release')).toBeNull();
    });

    it('serves a manifest with no-cache and an ETag that revalidates', async () => {
      const { origin } = await start();
      const url = `${origin}/_daylight/releases/1.1.0/manifest.json`;
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      const onDisk = await readFile(path.join(releaseDir(store.registryFile, '1.1.0'), 'manifest.json'), 'utf8');
      expect(await response.text()).toBe(onDisk);
      const etag = response.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);
      const again = await fetch(url, { headers: { 'If-None-Match': etag } });
      expect(again.status).toBe(304);
      expect(again.headers.get('daylight-release')).toBe(STAMP);
    });

    it('serves a release file, immutable, typed, sized, with its integrity as ETag', async () => {
      const { origin } = await start();
      const file = 'assets/app-1-1-0.js';
      const bytes = await readFile(path.join(releaseDir(store.registryFile, '1.1.0'), 'files', file));
      const url = `${origin}/_daylight/releases/1.1.0/files/${file}`;
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(response.headers.get('content-length')).toBe(String(bytes.length));
      expect(response.headers.get('etag')).toBe(`"${sri(bytes)}"`);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);

      const head = await fetch(url, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
      expect(await head.text()).toBe('');

      const revalidated = await fetch(url, { headers: { 'If-None-Match': `"${sri(bytes)}"` } });
      expect(revalidated.status).toBe(304);
    });

    it("serves the release's raw shell and other file types", async () => {
      const { origin } = await start();
      const shell = await fetch(`${origin}/_daylight/releases/1.0.0/files/index.html`);
      expect(shell.status).toBe(200);
      expect(shell.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await shell.text()).not.toContain('daylight-release');
      // Not a page to open: a pilot's raw shell must not boot for anyone who knows its URL.
      expect(shell.headers.get('content-security-policy')).toBe('sandbox');
      const svg = await fetch(`${origin}/_daylight/releases/1.0.0/files/assets/logo.svg`);
      expect(svg.headers.get('content-type')).toBe('image/svg+xml');
      const icon = await fetch(`${origin}/_daylight/releases/1.0.0/files/favicon.ico`);
      expect(icon.headers.get('content-type')).toBe('image/x-icon');
    });

    it('streams a file of several megabytes', async () => {
      const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
      const release = sampleRelease('3.0.0');
      const bigStore = await createReleaseStore({
        releases: [{ ...release, files: { ...release.files, 'assets/big.wasm': big } }],
        current: '3.0.0',
      });
      try {
        const logger = createTestLogger();
        const daylight = createDaylight({ config: bigStore.registryFile, watch: false, logger });
        await daylight.ready;
        const server = app(daylight);
        const origin = await listen(server);
        running.push(daylight, { close: () => stop(server) });
        const response = await fetch(`${origin}/_daylight/releases/3.0.0/files/assets/big.wasm`);
        expect(response.headers.get('content-type')).toBe('application/wasm');
        expect(response.headers.get('content-length')).toBe(String(big.length));
        expect(Buffer.from(await response.arrayBuffer()).equals(Buffer.from(big))).toBe(true);
      } finally {
        for (const item of running.splice(0).reverse()) await item.close();
        await bigStore.cleanup();
      }
    });

    it('refuses a file changed on disk after publish, uncached, and serves it again once it is repaired', async () => {
      const { origin, logger } = await start();
      const file = path.join(releaseDir(store.registryFile, '1.1.0'), 'files', 'assets/app-1-1-0.js');
      const url = `${origin}/_daylight/releases/1.1.0/files/assets/app-1-1-0.js`;
      const good = await readFile(file);
      expect((await fetch(url)).status).toBe(200);

      // The same size, other bytes: only the hash tells (a size check alone would serve it).
      const bad = Buffer.from(good);
      bad[0] = bad[0] === 0x2f ? 0x2a : 0x2f;
      await writeFile(file, bad);
      for (const response of await Promise.all([fetch(url), fetch(url), fetch(url)])) {
        expect(response.status).toBe(500);
        // A year-long `immutable` entry of bad bytes is what this prevents: nothing here may be kept.
        expect(response.headers.get('cache-control')).toBe('no-store');
        expect(response.headers.get('etag')).toBeNull();
        expect(await response.text()).toBe('This file does not match the manifest of release 1.1.0\n');
      }
      const lines = logger.entries.filter((entry) => entry.message.includes('does not match the manifest'));
      expect(lines).toHaveLength(1);
      expect(lines[0]!.message).toContain(`${file} does not match the manifest of release 1.1.0`);
      expect(lines[0]!.message).toContain('daylight verify 1.1.0');
      expect(lines[0]!.message).toContain('daylight publish <build-dir> --version 1.1.0');

      // Longer or shorter is refused without reading it.
      await writeFile(file, Buffer.concat([good, Buffer.from('\n')]));
      expect((await fetch(url)).status).toBe(500);

      await writeFile(file, good);
      const repaired = await fetch(url);
      expect(repaired.status).toBe(200);
      expect(Buffer.from(await repaired.arrayBuffer()).equals(good)).toBe(true);
      // A file still revalidates by its ETag without being read.
      expect((await fetch(url, { headers: { 'If-None-Match': `"${sri(good)}"` } })).status).toBe(304);
    });

    it('answers 404 no-store in plain text, stamped, for anything it does not know below the base path', async () => {
      const { origin } = await start();
      for (const target of [
        '/_daylight/releases/1.0.0/files/assets/missing.js',
        '/_daylight/releases/9.9.9/manifest.json',
        '/_daylight/releases/9.9.9/files/assets/vendor.js',
        '/_daylight/releases/1.0.0/manifest.json/x',
        '/_daylight/nope',
        '/_daylight',
      ]) {
        const response = await fetch(`${origin}${target}`, { headers: NAVIGATION });
        expect(response.status, target).toBe(404);
        expect(response.headers.get('cache-control'), target).toBe('no-store');
        expect(response.headers.get('content-type'), target).toBe('text/plain; charset=utf-8');
        expect(response.headers.get('daylight-release'), target).toBe(STAMP);
        expect(await response.text(), target).toBe('Not found\n');
      }
    });

    it('answers 405 to other methods below the base path', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/_daylight/release`, { method: 'POST' });
      expect(response.status).toBe(405);
      expect(response.headers.get('allow')).toBe('GET, HEAD');
      expect(response.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses every path traversal attempt', async () => {
      const { origin } = await start();
      for (const target of [
        '/_daylight/releases/1.0.0/files/..%2f..%2freleases.json',
        '/_daylight/releases/1.0.0/files/..%2F..%2F..%2Freleases.json',
        '/_daylight/releases/1.0.0/files/..%5c..%5creleases.json',
        '/_daylight/releases/1.0.0/files/%2e%2e/%2e%2e/releases.json',
        '/_daylight/releases/1.0.0/files/../manifest.json',
        '/_daylight/releases/1.0.0/files/assets/..%2f..%2fmanifest.json',
        '/_daylight/releases/1.0.0/files/assets%2fvendor.js%00.png',
        '/_daylight/releases/..%2f..%2f/files/releases.json',
        '/_daylight/releases/1.0.0/files//etc/passwd',
      ]) {
        const response = await rawGet(origin, target);
        expect(response.status, target).toBe(404);
        expect(response.body, target).toBe('Not found\n');
        expect(response.headers['cache-control'], target).toBe('no-store');
      }
    });
  });

  describe('the shell', () => {
    it('serves the current release shell to a navigation, rewritten and verified', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/reports/2024`, { headers: NAVIGATION });
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(response.headers.get('cache-control')).toBe('no-cache');
      expect(response.headers.get('daylight-release')).toBe(STAMP);
      const html = await response.text();
      expect(html).toContain('<head data-build="x"><meta name="daylight-release" content="1.0.0">');
      const files = path.join(releaseDir(store.registryFile, '1.0.0'), 'files');
      const app = await readFile(path.join(files, 'assets/app-1-0-0.js'));
      const css = await readFile(path.join(files, 'assets/style-1-0-0.css'));
      const vendor = await readFile(path.join(files, 'assets/vendor.js'));
      expect(html).toContain(
        `<script type="module" crossorigin src="/_daylight/releases/1.0.0/files/assets/app-1-0-0.js" integrity="${sri(app)}"></script>`,
      );
      expect(html).toContain(
        `<link rel="stylesheet" href="/_daylight/releases/1.0.0/files/assets/style-1-0-0.css" integrity="${sri(css)}">`,
      );
      expect(html).toContain(
        `<link rel="modulepreload" crossorigin href="/_daylight/releases/1.0.0/files/assets/vendor.js" integrity="${sri(vendor)}" />`,
      );
      expect(html).toContain('<link rel="icon" href="/_daylight/releases/1.0.0/files/favicon.ico" />');
      expect(html).toContain('<link rel="stylesheet" href="https://cdn.example.com/fonts.css">');
      expect(html).toContain(`window.x = '<script src="/assets/vendor.js">'`);
    });

    it('revalidates the shell with its ETag, and answers HEAD', async () => {
      const { origin } = await start();
      const first = await fetch(`${origin}/`, { headers: NAVIGATION });
      const etag = first.headers.get('etag')!;
      expect(etag).toMatch(/^".+"$/);
      const again = await fetch(`${origin}/`, { headers: { ...NAVIGATION, 'If-None-Match': etag } });
      expect(again.status).toBe(304);
      expect(again.headers.get('etag')).toBe(etag);
      expect(again.headers.get('daylight-release')).toBe(STAMP);
      const head = await fetch(`${origin}/somewhere`, { method: 'HEAD', headers: NAVIGATION });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(first.headers.get('content-length'));
    });

    it('answers a path with a file extension with 404 no-store, never the HTML', async () => {
      const { origin } = await start();
      const response = await fetch(`${origin}/assets/old-chunk.js`, { headers: NAVIGATION });
      expect(response.status).toBe(404);
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('content-type')).toBe('text/plain; charset=utf-8');
      expect(response.headers.get('daylight-release')).toBe(STAMP);
    });

    it('answers 503 with Retry-After while nothing is promoted', async () => {
      await store.promote(null);
      const { origin } = await start();
      const response = await fetch(`${origin}/`, { headers: NAVIGATION });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('30');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.text()).toContain('no release yet');
    });
  });

  describe('following the registry', () => {
    it('switches the stamp and the shell after a promote, without a restart', async () => {
      const { origin } = await start({ watch: true });
      await store.promote('1.1.0', '1.0.0');
      const stamp = await waitFor(async () => {
        const value = (await fetch(`${origin}/api/ok`)).headers.get('daylight-release');
        return value === 'v="1.1.0", min="1.0.0"' ? value : undefined;
      }, 2500);
      expect(stamp).toBe('v="1.1.0", min="1.0.0"');
      const html = await (await fetch(`${origin}/`, { headers: NAVIGATION })).text();
      expect(html).toContain('<meta name="daylight-release" content="1.1.0">');
      expect(html).toContain('/_daylight/releases/1.1.0/files/assets/app-1-1-0.js');
      const check: unknown = await (await fetch(`${origin}/_daylight/release`)).json();
      expect(check).toEqual({ version: '1.1.0', min: '1.0.0' });
    });

    it('logs an invalid registry file by name and problem, and keeps serving the last good stamp', async () => {
      const { origin, logger, daylight } = await start({ watch: true });
      await writeFile(store.registryFile, JSON.stringify({ schema: 1, current: '7.0.0', releases: {} }));
      const report = await waitFor(() => logger.entries.find((e) => e.level === 'error'), 2500);
      expect(report.message).toBe(
        `daylight: ${store.registryFile}: "current" is 7.0.0, which is not in "releases"; publish it first — still serving the last good registry (current 1.0.0, min 1.0.0)`,
      );
      expect(daylight.stats.registryErrors).toBeGreaterThanOrEqual(1);
      const response = await fetch(`${origin}/api/ok`);
      expect(response.headers.get('daylight-release')).toBe(STAMP);
    });
  });
});

describe.each([
  { name: 'Koa 3', KoaClass: Koa3 },
  { name: 'Koa 2', KoaClass: Koa2 },
])('$name with the error handler mounted before Daylight', ({ KoaClass }) => {
  let store: ReleaseStore;
  let daylight: DaylightServer;
  let server: Server;
  let origin: string;

  beforeEach(async () => {
    store = await createReleaseStore({ min: '1.0.0' });
    daylight = createDaylight({ config: store.registryFile, watch: false, logger: createTestLogger() });
    await daylight.ready;
    const app = new KoaClass();
    app.silent = true;
    // The usual Koa layout: the app's error handler first, so it also catches Daylight's errors.
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch (error) {
        ctx.status = (error as AppError).status ?? 500;
        ctx.body = { error: (error as Error).message };
      }
    });
    app.use(daylightKoa(daylight));
    app.use((ctx) => {
      if (ctx.path === '/api/forbidden') ctx.throw(403, 'no entry');
      if (ctx.path === '/api/circular') ctx.body = circular();
      if (ctx.path === '/api/ok') ctx.body = { ok: true };
    });
    const callback = app.callback();
    server = createServer((req, res) => void callback(req, res));
    origin = await listen(server);
  });

  afterEach(async () => {
    await stop(server);
    await daylight.close();
    await store.cleanup();
  });

  it('stamps the answer of that error handler', async () => {
    const response = await fetch(`${origin}/api/forbidden`, { headers: { Origin: 'https://app.example' } });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'no entry' });
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
    expect(response.headers.get('access-control-expose-headers')).toBe('Daylight-Release');
  });

  it("stamps Koa's answer to a body that fails once every middleware returned", async () => {
    const response = await fetch(`${origin}/api/circular`);
    expect(response.status).toBe(500);
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
  });

  it('arms no stamp for the head on the way through (the cheap path)', async () => {
    let wrapped: boolean | undefined;
    server.prependListener('request', (_req, res: ServerResponse) => {
      res.once('finish', () => (wrapped = isArmed(res)));
    });
    const response = await fetch(`${origin}/api/ok`);
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
    await waitFor(() => wrapped);
    expect(wrapped).toBe(false);
  });
});

describe.each([
  { name: 'Express 5', createApp: express5 },
  { name: 'Express 4', createApp: express4 },
])('$name: when the stamp goes on', ({ createApp }) => {
  let store: ReleaseStore;
  let daylight: DaylightServer;
  const running: { close(): Promise<void> }[] = [];

  afterEach(async () => {
    for (const item of running.splice(0).reverse()) await item.close();
    await store.cleanup();
  });

  /** An app whose handler reports whether the stamp is already on the response when it runs, or armed for its head. */
  async function start(options: DaylightServerOptions = {}): Promise<string> {
    store = await createReleaseStore({ min: '1.0.0' });
    daylight = createDaylight({
      config: store.registryFile,
      watch: false,
      logger: createTestLogger(),
      ...options,
    });
    await daylight.ready;
    const app = createApp();
    app.use(daylightExpress(daylight));
    app.get('/api/seen', (_req, res) => {
      res.json({ early: res.getHeader('Daylight-Release') ?? null, armed: isArmed(res) });
    });
    const server = createServer(app);
    const origin = await listen(server);
    running.push(daylight, { close: () => stop(server) });
    return origin;
  }

  it('stamps a same-origin request before the app runs (one setHeader, nothing armed)', async () => {
    const origin = await start();
    const response = await fetch(`${origin}/api/seen`);
    expect(await response.json()).toEqual({ early: 'v="1.0.0", min="1.0.0"', armed: false });
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
  });

  it('stamps a cross-origin request when the head is written, to join the expose list', async () => {
    const origin = await start();
    const response = await fetch(`${origin}/api/seen`, { headers: { Origin: 'https://app.example' } });
    expect(await response.json()).toEqual({ early: null, armed: true });
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
    expect(response.headers.get('access-control-expose-headers')).toBe('Daylight-Release');
  });

  it('resolves a per-cohort release when the head is written, after the app signed in', async () => {
    const origin = await start({ cohort: (req) => (req.headers['x-office'] as string | undefined) ?? 'default' });
    await writeRegistryFile(store.registryFile, { ...store.registry, cohorts: { pilot: { release: '1.1.0' } } });
    await daylight.reload();
    const response = await fetch(`${origin}/api/seen`, { headers: { 'x-office': 'pilot' } });
    expect(await response.json()).toEqual({ early: null, armed: true });
    expect(response.headers.get('daylight-release')).toBe('v="1.1.0", min="1.0.0"');
  });
});

describe.each([
  { name: 'Koa 3', KoaClass: Koa3 },
  { name: 'Koa 2', KoaClass: Koa2 },
])('$name: a release per request', ({ KoaClass }) => {
  it('is resolved once the app signed in, with nothing armed for the head, and on an error handled before Daylight', async () => {
    const store = await createReleaseStore({ min: '1.0.0' });
    const daylight = createDaylight({
      config: store.registryFile,
      watch: false,
      logger: createTestLogger(),
      cohort: (req) => (req as SignedIn).office,
    });
    const app = new KoaClass();
    app.silent = true;
    app.use(async (ctx, next) => {
      try {
        await next();
      } catch {
        ctx.status = 403;
        ctx.body = { error: 'no entry' };
      }
    });
    app.use(daylightKoa(daylight));
    // The sign-in runs after Daylight, as an app's own middleware does.
    app.use(async (ctx, next) => {
      signIn(ctx.req);
      await next();
    });
    app.use((ctx) => {
      if (ctx.path === '/api/forbidden') ctx.throw(403);
      const state = (ctx.state as { daylight: DaylightState }).daylight;
      ctx.body = { state: JSON.parse(JSON.stringify(state)) as unknown, armed: isArmed(ctx.res) };
    });
    const callback = app.callback();
    const server = createServer((req, res) => void callback(req, res));
    try {
      await daylight.ready;
      await writeRegistryFile(store.registryFile, { ...store.registry, cohorts: { pilot: { release: '1.1.0' } } });
      await daylight.reload();
      const origin = await listen(server);
      const pilot = { 'x-session': 'ann@pilot', 'daylight-client': 'v="1.0.0", s="tab-aaaaaaaa"' };
      const ok = await fetch(`${origin}/api/ok`, { headers: pilot });
      expect(await ok.json()).toEqual({
        state: { client: { version: '1.0.0', session: 'tab-aaaaaaaa' }, release: { version: '1.1.0', min: '1.0.0' } },
        armed: false,
      });
      expect(ok.headers.get('daylight-release')).toBe('v="1.1.0", min="1.0.0"');
      const forbidden = await fetch(`${origin}/api/forbidden`, { headers: pilot });
      expect(forbidden.status).toBe(403);
      expect(forbidden.headers.get('daylight-release')).toBe('v="1.1.0", min="1.0.0"');
      const other = await fetch(`${origin}/api/ok`, { headers: { 'x-session': 'bob@berlin' } });
      expect(other.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
      // The census counted the pilot's tab in its cohort, once the app had signed it in.
      const census = (await daylight.census())!;
      expect(census.series.map((s) => [s.release, s.cohort, s.sessions['5m']])).toEqual([['1.0.0', 'pilot', 1]]);
    } finally {
      await stop(server);
      await daylight.close();
      await store.cleanup();
    }
  });
});
