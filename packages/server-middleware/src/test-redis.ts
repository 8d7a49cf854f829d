/**
 * A real Redis for tests: `redis-server` on a free loopback port, no
 * persistence, stopped by its PID. Not exported from the package.
 *
 * @example
 * const redis = await startRedis();
 * // … redis.url is redis://127.0.0.1:PORT
 * await redis.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';

/** Where the tests look for the server binary (`$REDIS_SERVER` first). */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:PORT` */
  readonly url: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s) and waits for it to exit. */
  stop(): Promise<void>;
}

/** A port that was free a moment ago. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('freePort: no port');
  return address.port;
}

/** Answers when a `PING` on the port gets `+PONG`. */
async function pings(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString('latin1').startsWith('+PONG')));
  });
}

/** Starts a Redis server and resolves once it answers PING (within `timeoutMs`). */
export async function startRedis(
  options: { readonly port?: number; readonly timeoutMs?: number } = {},
): Promise<TestRedis> {
  if (!existsSync(REDIS_SERVER)) {
    throw new Error(`startRedis: ${REDIS_SERVER} does not exist; install redis-server or set REDIS_SERVER`);
  }
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(
    REDIS_SERVER,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + (options.timeoutMs ?? 5000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`startRedis: redis-server exited (${child.exitCode}): ${stderr}`);
    if (await pings(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`startRedis: redis-server did not answer on port ${port}: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const pid = child.pid!;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    pid,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (child.exitCode === null) process.kill(pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * A Redis server for the tests of one file, with a connected client: started
 * before the file's tests (`beforeAll`), stopped after them. Read `server`
 * and `client` inside the tests.
 */
export function useRedis(): { readonly server: TestRedis; readonly client: Redis } {
  let server: TestRedis | undefined;
  let client: Redis | undefined;
  beforeAll(async () => {
    server = await startRedis();
    client = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
  });
  afterAll(async () => {
    client?.disconnect();
    await server?.stop();
  });
  return {
    get server() {
      return server!;
    },
    get client() {
      return client!;
    },
  };
}
