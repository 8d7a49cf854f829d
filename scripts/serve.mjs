// Shared by the one-process servers the tests and benchmarks spawn
// (scripts/rollout-server.mjs, bench/fleet-server.mjs): listen on a free
// loopback port, print `listening <url>` once serving, and on SIGTERM or
// SIGINT close the connections, the server and Daylight, then exit.
import { createServer } from 'node:http';

/**
 * @param {import('node:http').RequestListener} handler
 * @param {{ close(): Promise<void> }} daylight
 * @param {{ keepAliveTimeout?: number }} [options]
 */
export function serveOnLoopback(handler, daylight, options = {}) {
  const server = createServer(handler);
  if (options.keepAliveTimeout !== undefined) server.keepAliveTimeout = options.keepAliveTimeout;
  server.listen(0, '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`);
  });
  const stop = async () => {
    server.closeAllConnections();
    server.close();
    await daylight.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  return server;
}
