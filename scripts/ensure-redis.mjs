// Makes sure redis-server is there for the integration tests and the
// propagation benchmark: on Debian, as root, `apt-get install redis-server`
// when it is missing; elsewhere, says how to get one. Exits 0 when found.
import { installFromDebian } from './debian-install.mjs';
import { findRedisServer } from './redis-server.mjs';

const found = findRedisServer();
if (found) {
  console.log(`redis-server: ${found}`);
  process.exit(0);
}
if (installFromDebian('redis-server') && findRedisServer()) process.exit(0);
console.error(
  'redis-server is not installed; the Redis integration tests need it. Install Redis (Debian: apt-get install redis-server), or set DAYLIGHT_REDIS_SERVER to its path.',
);
process.exit(1);
