/**
 * Two office servers that disagree, behind one proxy, as a load balancer
 * would put them while a change propagates: each has its own copy of the
 * release store (the second one is not told about changes), both share the
 * logins. Navigations go to the first server; API calls and release checks
 * alternate between the two, each kind with its own counter, so a tab sees
 * both answers for both.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createSessions, startOfficeServer } from '../../examples/office-app/server/app.mjs';
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
