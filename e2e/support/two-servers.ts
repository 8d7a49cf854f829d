/**
 * Two office servers that disagree, behind one proxy, as a load balancer
 * would put them while a change propagates: each has its own copy of the
 * release store (the second one is not told about changes), both share the
 * logins. Navigations go to the first server; API calls and release checks
 * alternate between the two, each kind with its own counter, so a tab sees
 * both answers for both.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as forward, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSessions, startOfficeServer, type OfficeServer } from '../../examples/office-app/server/app.mjs';
import { startRedis } from '../../packages/server-middleware/src/test-redis.js';
import { BUILDS, daylight } from './fixtures.js';

export interface DisagreeingServers {
  readonly url: string;
  /** The store of the first server: changes go here, and only the first server sees them. */
  readonly store: string;
  /** Requests answered by the second (stale) server, as `METHOD /path`. */
  readonly staleAnswers: string[];
  /** Runs `daylight <args>` on the first server's store. */
  cli(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

/** Sends `req` on to the server at `url` and its answer back, as a reverse proxy does. */
export function passOn(req: IncomingMessage, res: ServerResponse, url: string): void {
  const upstream = new URL(url);
  const outgoing = forward(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  outgoing.on('error', () => res.destroy());
  req.pipe(outgoing);
}

export async function startDisagreeingServers(framework: 'express' | 'koa'): Promise<DisagreeingServers> {
  const dir = await mkdtemp(path.join(tmpdir(), 'daylight-e2e-two-'));
  const store = path.join(dir, 'a', 'releases.json');
  await daylight(store, 'publish', path.join(BUILDS, '1.0.0'), '--version', '1.0.0');
  await daylight(store, 'publish', path.join(BUILDS, '1.1.0'), '--version', '1.1.0');
  await daylight(store, 'promote', '1.0.0');
  await cp(path.join(dir, 'a'), path.join(dir, 'b'), { recursive: true });
  const quiet = { info() {}, warn() {}, error() {} };
  const sessions = createSessions();
  const first = await startOfficeServer({ framework, store, logger: quiet, sessions });
  const second = await startOfficeServer({
    framework,
    store: path.join(dir, 'b', 'releases.json'),
    logger: quiet,
    sessions,
  });
  const staleAnswers: string[] = [];
  const turns = new Map<string, number>();
  const proxy = createServer((req, res) => {
    const navigation = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    const kind = (req.url ?? '').startsWith('/_daylight/release') ? 'check' : 'other';
    const turn = turns.get(kind) ?? 0;
    turns.set(kind, turn + 1);
    const target = navigation || turn % 2 === 0 ? first : second;
    if (target === second) staleAnswers.push(`${req.method ?? ''} ${req.url ?? ''}`);
    passOn(req, res, target.url);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    staleAnswers,
    cli: (...args) => daylight(store, ...args),
    async close() {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      await first.close();
      await second.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The header the proxy of {@link startSharedServers} adds to each answer: `0` or `1`, the server that gave it. */
export const SERVED_BY = 'x-e2e-served-by';

export interface SharedServers {
  /** The two office servers themselves, for requests that must reach one of them. */
  readonly servers: readonly [string, string];
  /** A proxy in front of both: navigations go to the first; every other request of a session alternates between the two. */
  readonly url: string;
  /** Which server answered each request that went through the proxy, as `0 METHOD /path` or `1 METHOD /path`. */
  readonly answeredBy: string[];
  /** Runs `daylight <args>` on the Redis store both servers read. */
  cli(...args: string[]): Promise<string>;
  close(): Promise<void>;
}

/**
 * Two office servers on one Redis, as a fleet runs them: unlike {@link startDisagreeingServers}, both see every
 * change (within a second), and they share the logins. 1.0.0, 1.1.0 and `extra` builds are published, 1.0.0 is
 * everyone's release.
 */
export async function startSharedServers(
  framework: 'express' | 'koa',
  extra: Readonly<Record<string, string>> = {},
): Promise<SharedServers> {
  const dir = await mkdtemp(path.join(tmpdir(), 'daylight-e2e-shared-'));
  const redis = await startRedis();
  const store = `${redis.url}/0`;
  const cli = (...args: string[]) => daylight(store, ...args, '--releases', dir);
  const quiet = process.env.DAYLIGHT_E2E_LOG ? console : { info() {}, warn() {}, error() {} };
  const started: OfficeServer[] = [];
  let proxy: Server | undefined;
  const close = async (): Promise<void> => {
    if (proxy) {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy?.close(resolve));
    }
    for (const server of started) await server.close();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await cli('publish', path.join(BUILDS, '1.0.0'), '--version', '1.0.0');
    await cli('publish', path.join(BUILDS, '1.1.0'), '--version', '1.1.0');
    for (const [version, build] of Object.entries(extra)) await cli('publish', build, '--version', version);
    await cli('promote', '1.0.0');
    const sessions = createSessions();
    // The store is Redis; the file path says where the release folders are (beside it, as --releases put them).
    const file = path.join(dir, 'releases.json');
    for (let i = 0; i < 2; i++) {
      started.push(await startOfficeServer({ framework, store: file, redis: store, sessions, logger: quiet }));
    }
    const answeredBy: string[] = [];
    // One counter per session: with a shared one, two tabs polling in step could each land on one server only.
    const turns = new Map<string, number>();
    proxy = createServer((req, res) => {
      const navigation = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
      const who = req.headers.cookie ?? '';
      const turn = turns.get(who) ?? 0;
      turns.set(who, turn + 1);
      const index = navigation ? 0 : turn % 2;
      answeredBy.push(`${index} ${req.method ?? ''} ${req.url ?? ''}`);
      res.setHeader(SERVED_BY, String(index));
      passOn(req, res, started[index]!.url);
    });
    await new Promise<void>((resolve) => proxy?.listen(0, '127.0.0.1', resolve));
    const { port } = proxy.address() as AddressInfo;
    return {
      servers: [started[0]!.url, started[1]!.url],
      url: `http://127.0.0.1:${port}`,
      answeredBy,
      cli,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
