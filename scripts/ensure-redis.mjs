// Makes sure redis-server is there for the integration tests and the
// propagation benchmark: on Debian, as root, `apt-get install redis-server`
// when it is missing; elsewhere, says how to get one. Exits 0 when found.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findRedisServer } from './redis-server.mjs';

const found = findRedisServer();
if (found) {
  console.log(`redis-server: ${found}`);
  process.exit(0);
}
const debian = existsSync('/etc/debian_version');
const root = typeof process.getuid === 'function' && process.getuid() === 0;
if (debian && root) {
  console.log("redis-server is missing; installing Debian's redis-server package");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const ok =
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env }).status === 0 &&
    spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'redis-server'], { stdio: 'inherit', env })
      .status === 0;
  if (ok && findRedisServer()) process.exit(0);
}
console.error(
  'redis-server is not installed; the Redis integration tests need it. Install Redis (Debian: apt-get install redis-server), or set DAYLIGHT_REDIS_SERVER to its path.',
);
process.exit(1);
