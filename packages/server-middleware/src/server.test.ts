import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as api from './index.js';
import { INTERNALS, type DaylightInternals } from './options.js';
import { REGISTRY_SCHEMA, releaseDir, writeRegistryFile } from './registry.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger, sampleRelease, waitFor, type ReleaseStore } from './test-support.js';
import type { DaylightRequest, DaylightServer, DaylightServerOptions } from './types.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function storeFor(options?: Parameters<typeof createReleaseStore>[0]): Promise<ReleaseStore> {
  const store = await createReleaseStore(options);
  cleanups.push(() => store.cleanup());
  return store;
}

function daylightFor(options: DaylightServerOptions, internals: DaylightInternals = {}): DaylightServer {
  const daylight = createDaylight({ ...options, [INTERNALS]: internals } as DaylightServerOptions);
  cleanups.push(() => daylight.close());
  return daylight;
}

const anyRequest: DaylightRequest = { method: 'GET', path: '/api', headers: {} };

describe('createDaylight options', () => {
  it('rejects a base path without a leading slash, naming the option and the fix', () => {
    expect(() => createDaylight({ basePath: 'daylight' })).toThrow(TypeError);
    expect(() => createDaylight({ basePath: 'daylight' })).toThrow(/basePath must start with "\/".*use "\/daylight"/);
  });

  it('rejects a base path with a trailing slash, naming the fix', () => {
    expect(() => createDaylight({ basePath: '/x/' })).toThrow(/basePath must not end with "\/".*use "\/x"/);
    expect(() => createDaylight({ basePath: '/' })).toThrow(/basePath cannot be "\/"/);
  });

  it('rejects base paths that are not plain URL paths', () => {
    for (const bad of ['/a b', '/a//b', '/a/../b', '/a?b', '']) {
      expect(() => createDaylight({ basePath: bad }), bad).toThrow(/basePath/);
    }
  });

  it('rejects an unknown option and suggests the right one', () => {
    expect(() => createDaylight({ basepath: '/x' } as DaylightServerOptions)).toThrow(
      /unknown option "basepath"; did you mean "basePath"\?/,
    );
    expect(() => createDaylight({ port: 3 } as DaylightServerOptions)).toThrow(/the options are config, basePath/);
  });

  it('rejects a bad config, watch or logger', () => {
    expect(() => createDaylight({ config: '' })).toThrow(/config must be the path of the registry file/);
    expect(() => createDaylight({ watch: 'yes' as unknown as boolean })).toThrow(/watch must be true or false/);
    expect(() => createDaylight({ logger: { info() {} } as never })).toThrow(/logger must be an object with info/);
    expect(() => createDaylight(null as never)).toThrow(/options must be an object/);
  });

  it('resolves the registry path against the working directory and defaults the base path', async () => {
    const logger = createTestLogger();
    const daylight = daylightFor({ config: 'nowhere/releases.json', watch: false, logger });
    expect(daylight.configPath).toBe(path.resolve(process.cwd(), 'nowhere/releases.json'));
    expect(daylight.basePath).toBe('/_daylight');
    await daylight.ready;
  });

  it('exports the registry helpers the CLI uses', () => {
    expect(typeof api.createDaylight).toBe('function');
    expect(typeof api.readRegistryFile).toBe('function');
    expect(typeof api.writeRegistryFile).toBe('function');
    expect(typeof api.validateRegistry).toBe('function');
    expect(typeof api.releaseDigest).toBe('function');
    expect(typeof api.readManifestFile).toBe('function');
    expect(api.emptyRegistry()).toEqual({ schema: 1, current: null, releases: {} });
    expect(api.releaseDir('/srv/releases.json', '1.0.0')).toBe(path.join('/srv', 'releases', '1.0.0'));
    expect(api.REGISTRY_SCHEMA).toBe(1);
    expect(api.DEFAULT_REGISTRY_FILE).toBe('releases.json');
  });
});

describe('the registry', () => {
  it('is read at start, and ready resolves with the stamp in place', async () => {
    const store = await storeFor({ min: '1.0.0' });
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0', min: '1.0.0' });
    expect(daylight.stats).toEqual({
      malformedClientHeaders: 0,
      stampFailures: 0,
      registryErrors: 0,
      registryReloads: 0,
      resolveFailures: 0,
      censusSeries: 0,
      censusBytes: 0,
      censusFailures: 0,
    });
    expect(Object.isFrozen(daylight.stats)).toBe(true);
    expect(logger.entries).toContainEqual({
      level: 'info',
      message: `daylight: ${store.registryFile}: current 1.0.0, min 1.0.0`,
    });
  });

  it('warns once per registry when a rollout is by a key this server does not read, and again when it changes', async () => {
    const store = await storeFor();
    const rollout = { release: '1.0.0', percent: 50, key: 'tenant', startedAt: '2026-11-27T10:00:00.000Z' };
    await writeRegistryFile(store.registryFile, { ...store.registry, revision: 2, rollout });
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger, keys: { user: () => 'ada' } });
    await daylight.ready;
    const warning = (percent: number) =>
      `daylight: the rollout of 1.0.0 to ${percent}% of everyone is by tenant, but this server has no keys.tenant callback, so no request is in it; it has user: give createDaylight { keys: { tenant: (req) => … } }, or roll out by a key it has (docs/rollouts.md)`;
    const warnings = () => logger.entries.filter((entry) => entry.level === 'warn').map((entry) => entry.message);
    expect(warnings()).toEqual([warning(50)]);
    await daylight.reload(); // the same registry: said already
    expect(warnings()).toEqual([warning(50)]);
    await writeRegistryFile(store.registryFile, {
      ...store.registry,
      revision: 3,
      rollout: { ...rollout, percent: 80 },
    });
    await daylight.reload();
    expect(warnings()).toEqual([warning(50), warning(80)]);
  });

  it('stamps nothing when the registry has no current release', async () => {
    const store = await storeFor({ current: null });
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger: createTestLogger() });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toBeUndefined();
  });

  it('keeps serving its release when the registry comes back with nothing promoted (lost, being rebuilt)', async () => {
    const store = await storeFor();
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    // As after "daylight publish" into a store that lost its registry: releases, nothing current.
    await store.promote(null);
    await daylight.reload();
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    expect(logger.entries.at(-1)).toEqual({
      level: 'error',
      message: expect.stringMatching(
        /: has no current release \(was it lost or reset\?\): run "daylight promote <version>" to serve one — still serving the last good registry \(current 1\.0\.0/,
      ) as unknown,
    });
    await store.promote('1.1.0');
    await daylight.reload();
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
  });

  it('warns clearly when the file does not exist yet, and picks it up when it appears', async () => {
    const store = await storeFor({ withoutRegistry: true });
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, logger }, { pollIntervalMs: 100 });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toBeUndefined();
    expect(logger.entries).toEqual([
      {
        level: 'warn',
        message: `daylight: ${store.registryFile} does not exist yet: run "npx daylight --store ${store.registryFile} publish <build-dir> --version X" then "npx daylight --store ${store.registryFile} promote X". Until then responses are not stamped.`,
      },
    ]);
    await store.promote('1.1.0');
    await waitFor(() => daylight.stampFor(anyRequest), 2000);
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
  });

  // Found by a walk-through: config: 'store' (the folder the CLI wrote, not its releases.json) logged only
  // "cannot be read (EISDIR)".
  it('says which file to give when config names a directory', async () => {
    const store = await storeFor();
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.dir, watch: false, logger });
    await daylight.ready;
    expect(logger.entries).toEqual([
      {
        level: 'error',
        message: `daylight: ${store.dir}: is a directory; name the registry file in it, such as ${path.join(store.dir, 'releases.json')} — no good registry read yet, so responses are not stamped`,
      },
    ]);
  });

  // Found by a walk-through: a server started after "daylight publish" but before "daylight promote" logged only
  // "current none, revision 2" while every page load got a 503, and the CLI's default store (./releases.json) is
  // not the server's when config names another file.
  it('says what to run when releases are published but none is promoted', async () => {
    const store = await storeFor({ current: null });
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, logger }, { pollIntervalMs: 100 });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toBeUndefined();
    expect(logger.entries).toEqual([
      {
        level: 'warn',
        message: `daylight: ${store.registryFile}: current none — nothing is promoted, so page loads get a 503 ("no release yet") and responses are not stamped: run "npx daylight --store ${store.registryFile} promote <version>" (published: 1.0.0, 1.1.0)`,
      },
    ]);
    await store.promote('1.1.0');
    await waitFor(() => daylight.stampFor(anyRequest), 2000);
    expect(logger.entries.at(-1)).toEqual({ level: 'info', message: `daylight: ${store.registryFile}: current 1.1.0` });
  });

  it('follows a promote through fs.watch on the directory', async () => {
    const store = await storeFor();
    const daylight = daylightFor(
      { config: store.registryFile, logger: createTestLogger() },
      { pollIntervalMs: 60_000 }, // the poll stays out of the way
    );
    await daylight.ready;
    await store.promote('1.1.0', '1.0.0');
    await waitFor(() => (daylight.stampFor(anyRequest)?.version === '1.1.0' ? true : undefined), 2000);
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0', min: '1.0.0' });
    expect(daylight.stats.registryReloads).toBeGreaterThanOrEqual(1);
  });

  it('follows a promote through the stat poll when fs.watch is not available', async () => {
    const store = await storeFor();
    const daylight = daylightFor(
      { config: store.registryFile, logger: createTestLogger() },
      { fsWatch: false, pollIntervalMs: 50 },
    );
    await daylight.ready;
    await store.promote('1.1.0');
    await waitFor(() => (daylight.stampFor(anyRequest)?.version === '1.1.0' ? true : undefined), 2000);
  });

  it('keeps the last good registry on a broken file, reporting each distinct problem once', async () => {
    const store = await storeFor();
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger });
    await daylight.ready;

    await writeFile(store.registryFile, '{ "schema": 1, ');
    await daylight.reload();
    await daylight.reload();
    await writeFile(store.registryFile, JSON.stringify({ schema: 2, current: null, releases: {} }));
    await daylight.reload();

    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    expect(daylight.stats.registryErrors).toBe(3);
    const errors = logger.entries.filter((e) => e.level === 'error').map((e) => e.message);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(
      new RegExp(
        `^daylight: ${escape(store.registryFile)}: is not valid JSON: .* — still serving the last good registry \\(current 1\\.0\\.0\\)$`,
      ),
    );
    expect(errors[1]).toBe(
      `daylight: ${store.registryFile}: "schema" must be 1, got 2 — still serving the last good registry (current 1.0.0)`,
    );

    await store.promote('1.1.0');
    await daylight.reload();
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
    expect(daylight.stats.registryReloads).toBe(1);
  });

  it('says so when a broken registry loads again, even with what it held before', async () => {
    const store = await storeFor();
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger });
    await daylight.ready;
    const good = JSON.stringify(store.registry);
    await writeFile(store.registryFile, '{ "schema": 1, ');
    await daylight.reload();
    await writeFile(store.registryFile, good);
    await daylight.reload();
    await daylight.reload(); // and once only
    expect(logger.entries.filter((e) => e.level === 'info').map((e) => e.message)).toEqual([
      `daylight: ${store.registryFile}: current 1.0.0`,
      `daylight: ${store.registryFile}: current 1.0.0 (loaded again)`,
    ]);
  });

  it('refuses a registry whose current release has no readable manifest, keeping the last good one', async () => {
    const store = await storeFor();
    await rm(path.join(releaseDir(store.registryFile, '1.1.0'), 'manifest.json'));
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger });
    await daylight.ready;
    await store.promote('1.1.0');
    await daylight.reload();
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    expect(logger.entries.at(-1)?.message).toMatch(
      /"current" is 1\.1\.0, but that release cannot be served: .*manifest\.json: does not exist — still serving the last good registry \(current 1\.0\.0\)/,
    );
  });

  it('serves the other releases when one that is not current has a broken manifest', async () => {
    const store = await storeFor();
    await writeFile(path.join(releaseDir(store.registryFile, '1.1.0'), 'manifest.json'), '{"schema":1}');
    const logger = createTestLogger();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
    expect(logger.entries.some((e) => e.level === 'error' && /release 1\.1\.0 cannot be served/.test(e.message))).toBe(
      true,
    );
    const manifest = (version: string) =>
      daylight.handle({ method: 'GET', path: `/_daylight/releases/${version}/manifest.json`, headers: {} });
    expect((await manifest('1.0.0'))?.status).toBe(200);
    expect((await manifest('1.1.0'))?.status).toBe(404);
  });

  it('picks up a release published later without a restart', async () => {
    const store = await storeFor();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger: createTestLogger() });
    await daylight.ready;
    const { writeRelease } = await import('./test-support.js');
    const published = await writeRelease(store.registryFile, sampleRelease('2.0.0'));
    store.registry = {
      schema: REGISTRY_SCHEMA,
      current: '2.0.0',
      releases: { ...store.registry.releases, '2.0.0': published },
    };
    await api.writeRegistryFile(store.registryFile, store.registry);
    await daylight.reload();
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '2.0.0' });
    const manifest = await daylight.handle({
      method: 'GET',
      path: '/_daylight/releases/2.0.0/manifest.json',
      headers: {},
    });
    expect(manifest?.status).toBe(200);
  });

  it('stops following the file after close()', async () => {
    const store = await storeFor();
    const daylight = daylightFor({ config: store.registryFile, logger: createTestLogger() }, { pollIntervalMs: 20 });
    await daylight.ready;
    await daylight.close();
    await store.promote('1.1.0');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.0.0' });
  });

  it('retries a read that failed although releases.json did not change (a release folder mounted late)', async () => {
    const store = await storeFor();
    const folder = releaseDir(store.registryFile, '1.0.0');
    await rename(folder, `${folder}.away`);
    const daylight = daylightFor({ config: store.registryFile, logger: createTestLogger() }, { pollIntervalMs: 50 });
    await daylight.ready;
    expect(daylight.stampFor(anyRequest)).toBeUndefined();
    await rename(`${folder}.away`, folder);
    expect(await waitFor(() => daylight.stampFor(anyRequest), 3000)).toEqual({ version: '1.0.0' });
  });

  it("gives a cohort everyone's release while its own cannot be loaded, and its own once it can", async () => {
    const store = await storeFor();
    await api.writeRegistryFile(store.registryFile, { ...store.registry, cohorts: { pilot: { release: '1.1.0' } } });
    const folder = releaseDir(store.registryFile, '1.1.0');
    await rename(folder, `${folder}.away`);
    const logger = createTestLogger();
    const daylight = daylightFor(
      { config: store.registryFile, logger, cohort: (req) => req.headers['x-office'] as string | undefined },
      { pollIntervalMs: 50 },
    );
    await daylight.ready;
    const pilot: DaylightRequest = {
      method: 'GET',
      path: '/',
      headers: { 'x-office': 'pilot' },
      incoming: { headers: { 'x-office': 'pilot' } } as unknown as IncomingMessage,
    };
    expect(daylight.stampFor(pilot)).toEqual({ version: '1.0.0' });
    const shell = await daylight.handleShell({ ...pilot, headers: { accept: 'text/html', 'x-office': 'pilot' } });
    expect(shell?.status).toBe(200);
    // Read again at every poll until it loads, but said once.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(logger.entries.filter((e) => /release 1\.1\.0 cannot be served/.test(e.message))).toHaveLength(1);
    expect(daylight.stats.registryReloads).toBeGreaterThan(2);
    await rename(`${folder}.away`, folder);
    expect(await waitFor(() => (daylight.stampFor(pilot)?.version === '1.1.0' ? true : undefined), 3000)).toBe(true);
  });

  it('rewrites a shell in a subfolder whose references carry a query, as the CLI read them when it published', async () => {
    const html =
      '<head><script type="module" src="main.js?v=2.2.0"></script><link rel="stylesheet" href="/app/style.css#x"></head>';
    const release = {
      version: '2.2.0',
      files: { 'app/index.html': html, 'app/main.js': 'console.log(1);\n', 'app/style.css': 'p{}\n' },
      shell: 'app/index.html',
      entry: 'app/main.js',
    };
    const store = await storeFor({ releases: [release], current: '2.2.0' });
    const daylight = daylightFor({ config: store.registryFile, logger: createTestLogger() });
    await daylight.ready;
    const answer = await daylight.handleShell({ method: 'GET', path: '/', headers: { accept: 'text/html' } });
    const body = answer?.body;
    const served = typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body).toString() : '';
    expect(served).toContain(
      '<script type="module" src="/_daylight/releases/2.2.0/files/app/main.js" integrity="sha384-',
    );
    expect(served).toContain(
      '<link rel="stylesheet" href="/_daylight/releases/2.2.0/files/app/style.css" integrity="sha384-',
    );
    expect(served).toMatch(
      /<script type="importmap">\{"integrity":\{"\/_daylight\/releases\/2\.2\.0\/files\/app\/main\.js":"sha384-/,
    );

    // importMapIntegrity: false — the same shell without the map.
    const plain = daylightFor({ config: store.registryFile, logger: createTestLogger(), importMapIntegrity: false });
    await plain.ready;
    const without = await plain.handleShell({ method: 'GET', path: '/', headers: { accept: 'text/html' } });
    expect(Buffer.from(without?.body as Uint8Array).toString()).not.toContain('importmap');
    expect(() => createDaylight({ importMapIntegrity: 'no' as unknown as boolean })).toThrow(
      /importMapIntegrity must be true or false, got "no"/,
    );
  });

  it('serves an older release for ?_daylight= (the way back), but never one that is halted', async () => {
    const store = await storeFor({ current: '1.1.0' });
    const daylight = daylightFor({ config: store.registryFile, logger: createTestLogger() }, { pollIntervalMs: 50 });
    await daylight.ready;
    const shellOf = async (): Promise<string | undefined> => {
      const url = '/inbox?_daylight=1.0.0';
      const incoming = { url, headers: { accept: 'text/html' } } as unknown as IncomingMessage;
      const answer = await daylight.handleShell({ method: 'GET', path: '/inbox', headers: incoming.headers, incoming });
      const body = answer?.body;
      const html = typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body).toString() : '';
      return /<meta name="daylight-release" content="([^"]+)">/.exec(html)?.[1];
    };
    expect(await shellOf()).toBe('1.0.0');
    const halted = { release: '1.0.0', at: new Date().toISOString(), reason: 'a security fix' };
    await api.writeRegistryFile(store.registryFile, { ...store.registry, halted });
    await waitFor(async () => ((await shellOf()) === '1.1.0' ? true : undefined), 3000);
    expect(await shellOf()).toBe('1.1.0');
  });

  it('takes over a registry lock left by a process of this host that died mid-change, never a live one', async () => {
    const store = await storeFor();
    const daylight = daylightFor({ config: store.registryFile, watch: false, logger: createTestLogger() });
    await daylight.ready;
    const lock = `${store.registryFile}.lock`;
    const since = new Date().toISOString();
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    await writeFile(lock, JSON.stringify({ pid: dead, host: hostname(), since }));
    // Halting a release nobody runs changes nothing, but takes the lock all the same.
    await expect(daylight.halt({ release: '1.1.0', reason: 'x' })).resolves.toMatchObject({ changed: false });
    expect(existsSync(lock)).toBe(false);
    await writeFile(lock, JSON.stringify({ pid: process.ppid, host: hostname(), since }));
    await expect(daylight.halt({ release: '1.1.0', reason: 'x' })).rejects.toThrow(
      new RegExp(`another writer holds .*\\(process ${process.ppid} on `),
    );
    expect(existsSync(lock)).toBe(true);
  });

  it('keeps watching when the registry directory is created only later', async () => {
    const store = await storeFor();
    const later = path.join(store.dir, 'later', 'releases.json');
    const daylight = daylightFor({ config: later, logger: createTestLogger() }, { pollIntervalMs: 50 });
    await daylight.ready;
    await mkdir(path.dirname(later));
    await api.writeRegistryFile(later, { schema: REGISTRY_SCHEMA, current: null, releases: {} });
    await waitFor(() => (daylight.stats.registryReloads > 0 ? true : undefined), 2000);
    expect(daylight.stats.registryErrors).toBe(1);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
