import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { INTERNALS } from './options.js';
import { RedisRegistry } from './redis-registry.js';
import { createDaylight } from './server.js';
import { useRedis } from './test-redis.js';
import { createReleaseStore, createTestLogger, waitFor } from './test-support.js';
import type { DaylightRequest, DaylightServerOptions } from './types.js';

const db = useRedis();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `promise`, or the string `still waiting` when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'still waiting'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'still waiting'>((resolve) => (timer = setTimeout(() => resolve('still waiting'), ms)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Freezes the Redis server (its sockets stay open: commands are sent and never answered) while `body` runs. */
async function whileStopped(body: () => Promise<void>): Promise<void> {
  process.kill(db.server.pid, 'SIGSTOP');
  try {
    await body();
  } finally {
    process.kill(db.server.pid, 'SIGCONT');
  }
}

describe('the Redis registry in server mode', () => {
  it('fails a read and a change within the command timeout when Redis stops answering, and works again after', async () => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    await db.client.set('timeout:registry', JSON.stringify({ ...store.registry, revision: 1 }));
    const registry = new RedisRegistry({
      url: db.server.url,
      prefix: 'timeout',
      mode: 'server',
      connectTimeoutMs: 200,
    });
    cleanups.push(() => registry.close());
    expect(await registry.read()).toMatchObject({ ok: true, registry: { current: '1.0.0', revision: 1 } });

    await whileStopped(async () => {
      const read = registry.read();
      const change = registry.update((current) => ({ registry: current!, changed: false, summary: 'nothing' }), {
        actor: 'test',
        action: 'noop',
      });
      // A hanging connection fails each command after connectTimeoutMs (200 ms); 3 s only bounds a hang.
      await expect(within(read, 3000)).rejects.toThrow('Command timed out');
      await expect(within(change, 3000)).rejects.toThrow('Command timed out');
    });
    expect(await registry.read()).toMatchObject({ ok: true, registry: { current: '1.0.0', revision: 1 } });
  });
});

describe('a server on the Redis store', () => {
  it('polls a Redis that stopped answering one read at a time, not one more every interval', async () => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    await db.client.set('polls:registry', JSON.stringify({ ...store.registry, revision: 1 }));
    const daylight = createDaylight({
      config: store.registryFile,
      redis: { url: db.server.url, prefix: 'polls' },
      census: false,
      logger: createTestLogger(),
      [INTERNALS]: { pollIntervalMs: 20 },
    } as DaylightServerOptions);
    cleanups.push(() => daylight.close());
    await daylight.ready;
    const anyRequest: DaylightRequest = { method: 'GET', path: '/api', headers: {} };
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });

    // Every poll reads the registry's revision with a GET of polls:registry.
    const get = vi.spyOn(Redis.prototype, 'get');
    const polls = () => get.mock.calls.filter(([key]) => key === 'polls:registry').length;
    await waitFor(() => (polls() >= 2 ? true : undefined));
    let sent = 0;
    await whileStopped(async () => {
      const before = polls();
      // 20 poll intervals, well within the 2 s a command waits before it fails.
      await sleep(400);
      sent = polls() - before;
    });
    expect(sent).toBeLessThanOrEqual(1);
    // Once Redis answers, the poll in flight ends and the next ones go out again.
    const after = polls();
    await waitFor(() => (polls() >= after + 2 ? true : undefined));
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
  });
});
