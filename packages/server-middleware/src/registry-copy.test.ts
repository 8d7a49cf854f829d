import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { INTERNALS, type DaylightInternals } from './options.js';
import { copyPathFor, RegistryCopy, storeOf } from './registry-copy.js';
import type { Registry } from './registry.js';
import { createDaylight } from './server.js';
import { startRedis, type TestRedis } from './test-redis.js';
import { createReleaseStore, createTestLogger, waitFor, type ReleaseStore } from './test-support.js';
import type { DaylightRequest, DaylightResponse, DaylightServer, DaylightServerOptions } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const anyRequest: DaylightRequest = { method: 'GET', path: '/api/inbox', headers: {} };
const navigation = (path = '/inbox'): DaylightRequest => ({ method: 'GET', path, headers: { accept: 'text/html' } });

/** A Redis of this test's own, so that it can be stopped and started again on the same port. */
async function redisFor(): Promise<TestRedis> {
  const redis = await startRedis();
  cleanups.push(() => redis.stop());
  return redis;
}

/** A release store and a Redis of this test's own, both removed after it. */
async function storeAndRedis(): Promise<{ store: ReleaseStore; redis: TestRedis }> {
  const store = await createReleaseStore();
  cleanups.push(() => store.cleanup());
  return { store, redis: await redisFor() };
}

async function setRegistry(redis: TestRedis, key: string, registry: Registry): Promise<void> {
  const { Redis } = await import('ioredis');
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  await client.set(key, JSON.stringify(registry));
  client.disconnect();
}

async function serverOn(
  store: ReleaseStore,
  redis: DaylightServerOptions['redis'],
  internals: DaylightInternals = {},
): Promise<{ daylight: DaylightServer; logger: ReturnType<typeof createTestLogger> }> {
  const logger = createTestLogger();
  const daylight = createDaylight({
    config: store.registryFile,
    redis,
    census: false,
    logger,
    authorize: () => true,
    [INTERNALS]: { pollIntervalMs: 50, ...internals },
  } as DaylightServerOptions);
  cleanups.push(() => daylight.close());
  await daylight.ready;
  return { daylight, logger };
}

/** Runs a server while Redis holds `registry`, so that it saves its copy; closes it (its save done). */
async function runOnce(store: ReleaseStore, redis: TestRedis, registry: Registry, prefix = 'daylight'): Promise<void> {
  await setRegistry(redis, `${prefix}:registry`, registry);
  const { daylight } = await serverOn(store, { url: redis.url, prefix });
  expect(daylight.stampFor(anyRequest)?.version).toBe(registry.current);
  await daylight.close();
}

/** The HTML a shell or admin answer carries. */
function bodyOf(response: DaylightResponse | undefined): string {
  if (!Buffer.isBuffer(response?.body)) throw new Error(`expected a body of bytes, got ${typeof response?.body}`);
  return response.body.toString('utf8');
}

/** The status page's HTML. */
async function statusPageOf(daylight: DaylightServer): Promise<string> {
  const incoming = { headers: {}, socket: {} } as IncomingMessage;
  return bodyOf(
    await daylight.handle({ method: 'GET', path: '/_daylight/admin/', headers: { accept: 'text/html' }, incoming }),
  );
}

/** When the copy in `file` says it was saved. */
async function savedAtOf(file: string): Promise<string> {
  return (JSON.parse(await readFile(file, 'utf8')) as { savedAt: string }).savedAt;
}

const messages = (logger: ReturnType<typeof createTestLogger>, level: 'info' | 'warn' | 'error') =>
  logger.entries.filter((entry) => entry.level === level).map((entry) => entry.message);

describe('a server that starts while Redis cannot be reached', () => {
  it('serves the copy of the registry the last run saved, says so, and takes Redis’s as soon as it answers', async () => {
    const { store, redis } = await storeAndRedis();
    await runOnce(store, redis, { ...store.registry, current: '1.0.0', revision: 3 });
    const copy = copyPathFor(store.registryFile, redis.url, 'daylight');
    expect(JSON.parse(await readFile(copy, 'utf8'))).toMatchObject({
      daylight: 'redis-registry-copy',
      store: `redis://127.0.0.1:${redis.port}/0`,
      prefix: 'daylight',
      registry: { current: '1.0.0', revision: 3 },
    });

    await redis.stop();
    const { daylight, logger } = await serverOn(store, redis.url);
    // Stamps, the release check and the shell: as before the restart.
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    const shell = await daylight.handleShell(navigation());
    expect(shell?.status).toBe(200);
    expect(bodyOf(shell)).toContain('<meta name="daylight-release" content="1.0.0">');
    expect(messages(logger, 'error')).toEqual([
      expect.stringMatching(
        /^daylight: redis:\/\/127\.0\.0\.1:\d+ \(daylight:registry\): Redis .* cannot be reached \(.*\) — serving this server's copy of its last registry instead, saved \d{4}-\d\d-\d\dT.* in .*releases\.redis-copy-[0-9a-f]{12}\.json \(current 1\.0\.0, revision 3\), until Redis's can be used$/,
      ),
    ]);
    expect(messages(logger, 'info')).toEqual([]); // no line that reads as if Redis had answered
    // The status page's notice: this server serves a copy, not the store's registry.
    const status = await daylight.handle({
      method: 'GET',
      path: '/_daylight/admin/',
      headers: { accept: 'text/html' },
      incoming: { headers: {}, socket: {} } as IncomingMessage,
    });
    expect(bodyOf(status)).toMatch(
      /This server serves the last registry it could use, shown below, not the store's: Redis .* cannot be reached .*; this server started without it and serves its copy of the last registry Redis gave, saved .* in .*releases\.redis-copy-/,
    );

    // Redis is back, with a newer registry: taken within a poll, said, and saved as the next copy.
    const again = await startRedis({ port: redis.port });
    cleanups.push(() => again.stop());
    await setRegistry(again, 'daylight:registry', { ...store.registry, current: '1.1.0', revision: 4 });
    await waitFor(() => (daylight.stampFor(anyRequest)?.version === '1.1.0' ? true : undefined), 5000);
    expect(messages(logger, 'info')).toEqual([
      expect.stringMatching(/\(daylight:registry\): current 1\.1\.0, revision 4 \(loaded again\)$/),
    ]);
    await waitFor(async () => {
      const saved = JSON.parse(await readFile(copy, 'utf8')) as { registry: Registry };
      return saved.registry.current === '1.1.0' ? true : undefined;
    });
  }, 20_000);

  it('says a copy saved long ago is old, and how old, in the log and on the status page, and serves it all the same', async () => {
    const { store, redis } = await storeAndRedis();
    await runOnce(store, redis, { ...store.registry, current: '1.0.0', revision: 3 });
    await redis.stop();
    const file = copyPathFor(store.registryFile, redis.url, 'daylight');
    const startWithCopyAged = async (hours: number) => {
      const copy = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
      await writeFile(
        file,
        JSON.stringify({ ...copy, savedAt: new Date(Date.now() - hours * 3_600_000).toISOString() }),
      );
      const { daylight, logger } = await serverOn(store, redis.url);
      expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' }); // no page at all would be worse
      return { daylight, errors: messages(logger, 'error'), status: await statusPageOf(daylight) };
    };

    const young = await startWithCopyAged(23);
    expect(young.errors).toEqual([expect.not.stringContaining('old copy')]);
    expect(young.status).not.toContain('old copy');
    await young.daylight.close();

    const day = await startWithCopyAged(30);
    expect(day.errors).toEqual([
      expect.stringMatching(
        /— serving this server's copy of its last registry instead, saved \S+ in .*\.json — an old copy, 30h old: no server on this folder has saved Redis's registry since, so the fleet may have moved on \(promoted, halted or pinned\) \(current 1\.0\.0, revision 3\), until Redis's can be used$/,
      ),
    ]);
    expect(day.status).toMatch(
      /serves its copy of the last registry Redis gave, saved \S+ in .*\.json — an old copy, 30h old:/,
    );
    await day.daylight.close();

    const { daylight, errors, status } = await startWithCopyAged(3 * 24 + 5);
    expect(errors).toEqual([expect.stringContaining('— an old copy, 3d 5h old:')]);
    expect(status).toContain('— an old copy, 3d 5h old:');

    // Redis answers with the same registry: the copy is dated by that answer, no longer old.
    const again = await startRedis({ port: redis.port });
    cleanups.push(() => again.stop());
    await setRegistry(again, 'daylight:registry', { ...store.registry, current: '1.0.0', revision: 3 });
    await waitFor(async () => (Date.now() - Date.parse(await savedAtOf(file)) < 60_000 ? true : undefined), 5000);
    expect(await statusPageOf(daylight)).not.toContain('old copy');
  }, 30_000);

  it('never takes the copy over a registry Redis gave it, even one with a lower revision', async () => {
    const { store, redis } = await storeAndRedis();
    await runOnce(store, redis, { ...store.registry, current: '1.1.0', revision: 9 });

    // The store was rebuilt (its revision starts again): Redis's registry is the truth, whatever the copy says.
    await setRegistry(redis, 'daylight:registry', { ...store.registry, current: '1.0.0', revision: 1 });
    const { daylight } = await serverOn(store, redis.url);
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    await redis.stop();
    await daylight.reload(); // a read while Redis is away keeps what Redis gave
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    const saved = JSON.parse(await readFile(copyPathFor(store.registryFile, redis.url, 'daylight'), 'utf8')) as {
      registry: Registry;
    };
    expect(saved.registry).toMatchObject({ current: '1.0.0', revision: 1 });
  }, 20_000);

  it('holds the copy, as a running server holds its registry, when Redis answers with nothing promoted (reset)', async () => {
    const { store, redis } = await storeAndRedis();
    await runOnce(store, redis, { ...store.registry, current: '1.0.0', revision: 5 });
    // Redis lost its keys while this server was down; the store is being rebuilt: published, not yet promoted.
    await setRegistry(redis, 'daylight:registry', { ...store.registry, current: null, revision: 1 });
    const { daylight, logger } = await serverOn(store, redis.url);
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    expect(messages(logger, 'error')).toEqual([
      expect.stringMatching(/has no current release \(was it lost or reset\?\).* — serving this server's copy/),
    ]);
    await setRegistry(redis, 'daylight:registry', { ...store.registry, current: '1.1.0', revision: 2 });
    await waitFor(() => (daylight.stampFor(anyRequest)?.version === '1.1.0' ? true : undefined), 5000);
  }, 20_000);

  it('takes no copy of another prefix or database, nor one that does not validate', async () => {
    const { store, redis } = await storeAndRedis();
    await runOnce(store, redis, { ...store.registry, revision: 1 }, 'staging');
    await redis.stop();

    const pages: string[] = [];
    const refusedWith = async (option: DaylightServerOptions['redis']): Promise<string[]> => {
      const { daylight, logger } = await serverOn(store, option);
      expect(daylight.stampFor(anyRequest)).toBeUndefined();
      const page = await daylight.handleShell(navigation());
      expect(page?.status).toBe(503);
      pages.push(bodyOf(page));
      await daylight.close();
      return messages(logger, 'error');
    };
    expect(await refusedWith({ url: redis.url, prefix: 'production' })).toEqual([
      expect.stringMatching(/no registry read yet and no copy of one to serve \(there is no copy in .*\)/),
    ]);
    expect(await refusedWith({ url: `${redis.url}/1`, prefix: 'staging' })).toEqual([
      expect.stringMatching(/no copy of one to serve \(there is no copy in /),
    ]);
    // The staging copy put where production's would be (a folder copied from another set-up).
    const production = copyPathFor(store.registryFile, redis.url, 'production');
    await copyFile(copyPathFor(store.registryFile, redis.url, 'staging'), production);
    expect(await refusedWith({ url: redis.url, prefix: 'production' })).toEqual([
      expect.stringMatching(
        /\(.* is not a copy of the registry of redis:\/\/127\.0\.0\.1:\d+\/0 with the prefix "production"\)/,
      ),
    ]);
    // Its own name and store, but a registry that does not validate.
    const copy = JSON.parse(await readFile(production, 'utf8')) as Record<string, unknown>;
    await writeFile(
      production,
      JSON.stringify({ ...copy, prefix: 'production', registry: { ...store.registry, current: '9.9.9' } }),
    );
    expect(await refusedWith({ url: redis.url, prefix: 'production' })).toEqual([
      expect.stringMatching(/\(the copy in .* is invalid: "current" is 9\.9\.9, which is not in "releases"/),
    ]);
    for (const page of pages) expect(page).not.toContain('no release yet');
  }, 30_000);
});

describe("reading the copy's file", () => {
  it('is named by the store as the redis option reads it: one database, however its URL writes it', () => {
    expect(storeOf('redis://:secret@10.0.0.5')).toBe('redis://10.0.0.5:6379/0');
    expect(storeOf('redis://10.0.0.5:6380/03?family=4')).toBe('redis://10.0.0.5:6380/3');
    expect(copyPathFor('/srv/releases.json', 'redis://10.0.0.5/03', 'daylight')).toBe(
      copyPathFor('/srv/releases.json', 'redis://10.0.0.5:6379/3', 'daylight'),
    );
  });

  it('names the file and what is wrong with it: missing, not readable, not JSON', async () => {
    const folder = await mkdtemp(path.join(tmpdir(), 'daylight-copy-'));
    cleanups.push(() => rm(folder, { recursive: true, force: true }));
    const copy = new RegistryCopy({
      configPath: path.join(folder, 'releases.json'),
      url: 'redis://127.0.0.1:6379/0',
      prefix: 'daylight',
      logger: createTestLogger(),
    });
    expect(await copy.read()).toEqual({ ok: false, error: `there is no copy in ${copy.file}` });
    await mkdir(copy.file);
    expect(await copy.read()).toEqual({ ok: false, error: `the copy in ${copy.file} cannot be read (EISDIR)` });
    await rm(copy.file, { recursive: true });
    await writeFile(copy.file, '{"daylight":');
    expect(await copy.read()).toEqual({
      ok: false,
      error: expect.stringMatching(/^the copy in .* is not valid JSON: /) as unknown,
    });
  });
});

describe('a page while this server has no registry to serve', () => {
  it('says the release list cannot be read, not that nothing was released, and loads itself again', async () => {
    const { store, redis } = await storeAndRedis();
    await redis.stop();
    const { daylight } = await serverOn(store, redis.url);

    // A switch that landed here (`/?_daylight=1.1.0`) completes by itself once the server recovers.
    const page = await daylight.handleShell(navigation('/'));
    expect(page?.status).toBe(503);
    expect(page?.headers).toMatchObject({ 'Retry-After': '10', 'Cache-Control': 'no-store' });
    const body = bodyOf(page);
    expect(body).toContain('the server cannot read its list of releases');
    expect(body).toContain('<meta http-equiv="refresh" content="10">');
    expect(body).not.toContain('<script'); // a CSP the app sends would block it

    const again = await startRedis({ port: redis.port });
    cleanups.push(() => again.stop());
    await setRegistry(again, 'daylight:registry', { ...store.registry, current: '1.1.0', revision: 2 });
    await waitFor(() => (daylight.stampFor(anyRequest)?.version === '1.1.0' ? true : undefined), 5000);
    expect((await daylight.handleShell(navigation('/')))?.status).toBe(200);
  }, 20_000);

  it('keeps "no release yet" for a store that holds no registry, and loads itself again too', async () => {
    const { store, redis } = await storeAndRedis();
    const { daylight } = await serverOn(store, redis.url);
    const page = await daylight.handleShell(navigation());
    expect(page?.status).toBe(503);
    expect(page?.headers).toMatchObject({ 'Retry-After': '30' });
    expect(bodyOf(page)).toContain('This app has no release yet. Please try again in a minute.');
    expect(bodyOf(page)).toContain('<meta http-equiv="refresh" content="30">');
  });
});

describe('a running server while Redis is away', () => {
  it('says so once, in the log and on the status page, keeps serving, and says when Redis answers again', async () => {
    const { store, redis } = await storeAndRedis();
    await setRegistry(redis, 'daylight:registry', { ...store.registry, current: '1.0.0', revision: 1 });
    const { daylight, logger } = await serverOn(store, redis.url);
    const statusPage = async (): Promise<string> =>
      bodyOf(
        await daylight.handle({
          method: 'GET',
          path: '/_daylight/admin/',
          headers: { accept: 'text/html' },
          incoming: { headers: {}, socket: {} } as IncomingMessage,
        }),
      );
    expect(await statusPage()).not.toContain('data-testid="registry-problem"');

    await redis.stop();
    // Polled every 50 ms here: one line, however many polls fail, naming why rather than ioredis's "Stream isn't…".
    await waitFor(() => (messages(logger, 'error').length > 0 ? true : undefined), 5000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(messages(logger, 'error')).toEqual([
      expect.stringMatching(
        /^daylight: redis:\/\/127\.0\.0\.1:\d+ \(daylight:registry\): Redis .* cannot be reached \(.*ECONNREFUSED.*\) — still serving the last registry \(current 1\.0\.0, revision 1\)$/,
      ),
    ]);
    expect(await statusPage()).toMatch(/data-testid="registry-problem">.*Redis .* cannot be reached/);
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });

    const again = await startRedis({ port: redis.port });
    cleanups.push(() => again.stop());
    await setRegistry(again, 'daylight:registry', { ...store.registry, current: '1.0.0', revision: 1 });
    await waitFor(() => (messages(logger, 'info').some((m) => m.endsWith('(loaded again)')) ? true : undefined), 5000);
    expect(await statusPage()).not.toContain('data-testid="registry-problem"');
  }, 20_000);
});

describe('saving the copy', () => {
  it('goes on without it when the folder cannot take it, and says so once', async () => {
    const { store, redis } = await storeAndRedis();
    // A folder where the copy should go: the rename fails, as on a read-only mount (the tests run as root,
    // which a mode would not stop).
    await mkdir(copyPathFor(store.registryFile, redis.url, 'daylight'));
    await setRegistry(redis, 'daylight:registry', { ...store.registry, revision: 1 });
    const { daylight, logger } = await serverOn(store, redis.url);
    await setRegistry(redis, 'daylight:registry', { ...store.registry, current: '1.1.0', revision: 2 });
    await waitFor(() => (daylight.stampFor(anyRequest)?.version === '1.1.0' ? true : undefined));
    await daylight.close(); // its saves are done
    expect(messages(logger, 'warn')).toEqual([
      expect.stringMatching(
        /^daylight: could not save the copy of the Redis registry to .*releases\.redis-copy-[0-9a-f]{12}\.json \(.*\); this server goes on without it, but if it restarts while Redis cannot be reached it will have no registry to serve\. Let the server write to .* to keep the copy \(said once\)$/,
      ),
    ]);
    expect(messages(logger, 'error')).toEqual([]);
  });

  it('never replaces a later copy that another server saved after this one read Redis', async () => {
    const { store, redis } = await storeAndRedis();
    const file = copyPathFor(store.registryFile, redis.url, 'daylight');
    const savedRegistry = async (): Promise<Registry> =>
      (JSON.parse(await readFile(file, 'utf8')) as { registry: Registry }).registry;
    const copyOf = () =>
      new RegistryCopy({
        configPath: store.registryFile,
        url: redis.url,
        prefix: 'daylight',
        logger: createTestLogger(),
      });

    // A server reads revision 11 from Redis and is slow to write it; meanwhile another server on the same folder
    // takes revision 12 and saves it.
    const askedAt = Date.now();
    await runOnce(store, redis, { ...store.registry, current: '1.1.0', revision: 12 });
    const slow = copyOf();
    slow.save({ ...store.registry, current: '1.0.0', revision: 11 }, askedAt);
    await slow.settled();
    expect(await savedRegistry()).toMatchObject({ current: '1.1.0', revision: 12 });
    // A server that starts while Redis is down serves the later one.
    await redis.stop();
    const { daylight } = await serverOn(store, redis.url);
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });

    // Still written over: a registry Redis gave after the copy was saved (the store was rebuilt), one without a
    // revision (an older store), the same revision, and a copy that is not valid.
    const write = async (registry: Registry): Promise<Registry> => {
      const copy = copyOf();
      copy.save(registry, Date.now());
      await copy.settled();
      return savedRegistry();
    };
    expect(await write({ ...store.registry, current: '1.0.0', revision: 1 })).toMatchObject({ revision: 1 });
    await write({ ...store.registry, current: '1.1.0', revision: 12 });
    const { revision: _, ...unnumbered } = { ...store.registry, current: '1.0.0', revision: 0 };
    expect(await write(unnumbered)).toEqual(unnumbered);
    expect(await write({ ...store.registry, current: '1.1.0', revision: 12 })).toMatchObject({ revision: 12 });
    expect(await write({ ...store.registry, current: '1.0.0', revision: 12 })).toMatchObject({ current: '1.0.0' });
    await writeFile(file, '{"daylight": "redis-registry-copy", "registry": ');
    expect(await write({ ...store.registry, current: '1.1.0', revision: 3 })).toMatchObject({ revision: 3 });
  }, 20_000);

  it('writes an unchanged registry again while Redis gives it, so the copy says when Redis last gave it', async () => {
    const { store, redis } = await storeAndRedis();
    await setRegistry(redis, 'daylight:registry', { ...store.registry, current: '1.0.0', revision: 1 });
    await serverOn(store, redis.url, { copyRefreshMs: 300 }); // an hour, but for this test
    const file = copyPathFor(store.registryFile, redis.url, 'daylight');
    const first = await waitFor(() => savedAtOf(file).catch(() => undefined));
    await waitFor(async () => ((await savedAtOf(file)) > first ? true : undefined), 5000);
    const saved = JSON.parse(await readFile(file, 'utf8')) as { registry: Registry };
    expect(saved.registry).toMatchObject({ current: '1.0.0', revision: 1 });
  }, 20_000);
});
