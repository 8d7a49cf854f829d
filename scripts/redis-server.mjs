// A throwaway redis-server for the tests and benchmarks: found on disk,
// started on a free loopback port without persistence, stopped by its PID.
//
//   const redis = await startRedis();   // { url, port, pid, stop(), restart() }
//
// Where it looks: $DAYLIGHT_REDIS_SERVER, then /usr/bin/redis-server,
// /usr/local/bin/redis-server, then every folder of $PATH.
// scripts/ensure-redis.mjs installs it on Debian when it is missing.
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import path from 'node:path';

/** The path of a runnable redis-server, or undefined. */
export function findRedisServer() {
  const candidates = [
    process.env.DAYLIGHT_REDIS_SERVER,
    '/usr/bin/redis-server',
    '/usr/local/bin/redis-server',
    ...(process.env.PATH ?? '').split(path.delimiter).map((dir) => dir && path.join(dir, 'redis-server')),
  ];
  for (const candidate of candidates) {
    if (!candidate) continue;
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // next
    }
  }
  return undefined;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function waitForPort(port, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const open = await new Promise((resolve) => {
      const socket = createConnection({ host: '127.0.0.1', port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on port ${port} within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Starts redis-server on 127.0.0.1 (a free port unless `port` is given),
 * without snapshots or an append-only file.
 * @param {{ port?: number, dir?: string }} [options] `dir`: where an explicit SAVE writes dump.rdb, and a restart reads it
 */
export async function startRedis(options = {}) {
  const binary = findRedisServer();
  if (!binary) {
    throw new Error(
      'redis-server is not installed: run "node scripts/ensure-redis.mjs" (Debian, as root), install Redis, or set DAYLIGHT_REDIS_SERVER',
    );
  }
  const port = options.port ?? (await freePort());
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (options.dir) args.push('--dir', options.dir);
  const child = spawn(binary, args, { stdio: 'ignore' });
  await waitForPort(port, child, 5000);
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    await exited;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: child.pid,
    stop,
    /** Stops it and starts another on the same port (and dir). */
    async restart() {
      await stop();
      return startRedis({ ...options, port });
    },
  };
}
