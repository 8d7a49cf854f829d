import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { INTERNALS } from './options.js';
import { RedisRegistry } from './redis-registry.js';
import type { Registry } from './registry.js';
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
  it('names Redis, not a file that does not exist, when it says what it serves', async () => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    await db.client.set('named:registry', JSON.stringify({ ...store.registry, revision: 1 }));
    const logger = createTestLogger();
    const daylight = createDaylight({
      config: store.registryFile,
      redis: { url: db.server.url, prefix: 'named' },
      census: false,
      logger,
    });
    cleanups.push(() => daylight.close());
    await daylight.ready;
    const said = logger.entries.filter((entry) => entry.level === 'info').map((entry) => entry.message);
    expect(said).toEqual([
      expect.stringMatching(/^daylight: redis:\/\/127\.0\.0\.1:\d+\S* \(named:registry\): current 1\.0\.0/),
    ]);
  });

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

describe('a server polling the Redis store', () => {
  it('follows a registry set by hand without a new revision or an announcement', async () => {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    await db.client.set('byhand:registry', JSON.stringify({ ...store.registry, revision: 7 }));
    const get = vi.spyOn(Redis.prototype, 'get');
    const polls = () => get.mock.calls.filter(([key]) => key === 'byhand:registry').length;
    const daylight = createDaylight({
      config: store.registryFile,
      redis: { url: db.server.url, prefix: 'byhand' },
      census: false,
      logger: createTestLogger(),
      [INTERNALS]: { pollIntervalMs: 50 },
    } as DaylightServerOptions);
    cleanups.push(() => daylight.close());
    await daylight.ready;
    const anyRequest: DaylightRequest = { method: 'GET', path: '/api', headers: {} };
    const serves = (version: string) =>
      waitFor(() => (daylight.stampFor(anyRequest)?.version === version ? true : undefined), 3000);
    // Past start-up (the subscription's first connection reloads once): from here on only the poll can tell.
    await waitFor(() => (polls() >= 4 ? true : undefined));
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    // The same revision, and no PUBLISH.
    await db.client.set('byhand:registry', JSON.stringify({ ...store.registry, current: '1.1.0', revision: 7 }));
    await serves('1.1.0');
    // Registries without a revision at all (an older version's, or written by hand), one after the other.
    await db.client.set('byhand:registry', JSON.stringify({ ...store.registry, current: '1.0.0' }));
    await serves('1.0.0');
    await db.client.set('byhand:registry', JSON.stringify({ ...store.registry, current: '1.1.0' }));
    await serves('1.1.0');
  });
});

describe('a change through the Redis registry', () => {
  const promote = (registry: Registry | undefined) => ({
    registry: { ...registry!, current: '1.1.0' },
    changed: true,
    summary: 'promote 1.1.0 to everyone',
  });

  /** A registry under `prefix` at revision 1, and a client subscribed to its channel that records every message. */
  async function prepare(prefix: string): Promise<{ registry: RedisRegistry; published: string[] }> {
    const store = await createReleaseStore();
    cleanups.push(() => store.cleanup());
    await db.client.set(`${prefix}:registry`, JSON.stringify({ ...store.registry, revision: 1 }));
    const listener = new Redis(db.server.url, { lazyConnect: true });
    await listener.connect();
    cleanups.push(() => Promise.resolve(listener.disconnect()));
    const published: string[] = [];
    listener.on('message', (_channel: string, message: string) => published.push(message));
    await listener.subscribe(`${prefix}:changes`);
    const registry = new RedisRegistry({ url: db.server.url, prefix });
    cleanups.push(() => registry.close());
    return { registry, published };
  }

  async function stored(prefix: string): Promise<Registry> {
    return JSON.parse((await db.client.get(`${prefix}:registry`))!) as Registry;
  }

  it('refuses it before writing anything when the audit key is not a list, naming the key and the fix', async () => {
    const { registry, published } = await prepare('wrongtype');
    await db.client.set('wrongtype:audit', 'something else keeps a string here');
    const apply = vi.fn(promote);

    const refusal = registry.update(apply, { actor: 'test', action: 'promote' }, 1);
    await expect(refusal).rejects.toMatchObject({ name: 'RegistryRefusedError' });
    await expect(refusal).rejects.toThrow(
      /wrongtype:audit in .* holds a string, not the list of audit entries .*; nothing was changed\. .*DEL wrongtype:audit/,
    );
    // Redis would have run the SET and refused only the LPUSH: the registry must be as it was.
    expect(await stored('wrongtype')).toMatchObject({ current: '1.0.0', revision: 1 });
    expect(apply).not.toHaveBeenCalled();
    await sleep(100);
    expect(published).toEqual([]);
    expect(await db.client.get('wrongtype:audit')).toBe('something else keeps a string here');
  });

  it('reports a change whose audit entry failed inside EXEC as made, with a warning, not as nothing changed', async () => {
    const { registry, published } = await prepare('partial');
    await db.client.set('partial:elsewhere', 'a string');
    const redis = await registry.client();
    const multi = redis.multi.bind(redis) as () => ReturnType<Redis['multi']>;
    // Make the LPUSH fail at EXEC time, after the checks, as a key of the wrong type would:
    // Redis runs the other commands of the MULTI all the same.
    vi.spyOn(redis, 'multi').mockImplementation(() => {
      const transaction = multi();
      const lpush = transaction.lpush.bind(transaction);
      transaction.lpush = ((_key: string, value: string) => lpush('partial:elsewhere', value)) as never;
      return transaction;
    });

    const result = await registry.update(promote, { actor: 'test', action: 'promote' }, 1);
    expect(result.revision).toBe(2);
    expect(result.warning).toMatch(
      /^changed \(revision 2\); the audit entry could not be written: LPUSH partial:audit failed \(WRONGTYPE .*\), so the audit log will not list "promote 1\.1\.0 to everyone"/,
    );
    // The server's halt() and status-page actions pass on only the summary: it carries the warning.
    expect(result.outcome.summary).toBe(`promote 1.1.0 to everyone (warning: ${result.warning!})`);
    expect(await stored('partial')).toMatchObject({ current: '1.1.0', revision: 2 });
    await waitFor(() => (published.length > 0 ? true : undefined));
    expect(published).toEqual(['2']);
  });

  it('refuses a key prefix the server would refuse', () => {
    for (const prefix of ['', 'with space', 'x'.repeat(65), 'a/b']) {
      expect(() => new RedisRegistry({ url: db.server.url, prefix })).toThrow(
        /RedisRegistry: prefix must be 1 to 64 letters, digits, .* such as "daylight"; got/,
      );
    }
    expect(new RedisRegistry({ url: db.server.url, prefix: 'staging:eu-1.app_x' }).prefix).toBe('staging:eu-1.app_x');
  });
});
