/**
 * A server restarted while Redis cannot be reached, with an open tab that
 * switches to the release it downloaded before: with the server's copy of
 * Redis's last registry the switch lands on the release at once; without one
 * it lands on a 503 that loads itself again, and completes once Redis is back.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createSessions, startOfficeServer, type OfficeServer } from '../examples/office-app/server/app.mjs';
import { startRedis, type TestRedis } from '../packages/server-middleware/src/test-redis.js';
import { BUILDS, banner, daylight, expect, ready, servedBy, signIn, test, version, watch } from './support/fixtures.js';

const quiet = process.env.DAYLIGHT_E2E_LOG ? console : { info() {}, warn() {}, error() {} };

for (const withCopy of [true, false]) {
  test(`a switch after a restart during a Redis outage ${withCopy ? 'lands on the release, from the server’s copy of the registry' : 'without a copy lands on a 503 that completes it once Redis is back'}`, async ({
    page,
    framework,
  }) => {
    test.slow();
    const dir = await mkdtemp(path.join(tmpdir(), 'daylight-e2e-redis-'));
    let redis: TestRedis = await startRedis();
    const store = `${redis.url}/0`;
    const cli = (...args: string[]) => daylight(store, ...args, '--releases', dir);
    const sessions = createSessions(); // the restarted server knows the login, as a shared session store would
    const start = (port = 0) =>
      startOfficeServer({
        framework,
        store: path.join(dir, 'releases.json'),
        redis: store,
        sessions,
        port,
        logger: quiet,
      });
    let server: OfficeServer | undefined;
    try {
      await cli('publish', path.join(BUILDS, '1.0.0'), '--version', '1.0.0');
      await cli('publish', path.join(BUILDS, '1.1.0'), '--version', '1.1.0');
      await cli('promote', '1.0.0');
      server = await start();
      const seen = watch(page);
      await signIn(page, server.url, seen);
      await page.locator('#f-customer').fill('Nordlicht GmbH');
      await cli('promote', '1.1.0');
      await servedBy(server.url, '1.1.0');
      await ready(page, '1.1.0');
      await expect(banner(page)).toBeVisible();

      // Redis goes away, and the server restarts meanwhile on the same address.
      const registry = await keyOf(redis, 'daylight:registry');
      const port = Number(new URL(server.url).port);
      await redis.stop();
      await server.close();
      if (!withCopy) {
        for (const name of await readdir(dir)) if (name.includes('.redis-copy-')) await rm(path.join(dir, name));
      }
      server = await start(port);

      await banner(page).getByRole('button', { name: 'Update now' }).click();
      if (!withCopy) {
        // What is true, and no one has to reload: the page asks again by itself.
        await expect(page.locator('body')).toContainText('the server cannot read its list of releases');
        redis = await startRedis({ port: redis.port });
        await setKey(redis, 'daylight:registry', registry);
      }
      await expect(version(page)).toHaveText('1.1.0', { timeout: 30_000 });
      await expect(page.getByTestId('user')).toHaveText('signed in as ada');
      await expect(page.locator('#f-customer')).toHaveValue('Nordlicht GmbH');
      expect(seen.pageErrors).toEqual([]);
    } finally {
      await server?.close();
      await redis.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

async function keyOf(redis: TestRedis, key: string): Promise<string> {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    const value = await client.get(key);
    if (value === null) throw new Error(`${key} is not in Redis`);
    return value;
  } finally {
    client.disconnect();
  }
}

async function setKey(redis: TestRedis, key: string, value: string): Promise<void> {
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  try {
    await client.set(key, value);
  } finally {
    client.disconnect();
  }
}
