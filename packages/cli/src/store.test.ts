/**
 * The stores tell the truth about a change: refused before anything is
 * written when it could not be recorded, reported as made (with a warning)
 * when the registry was written but its audit entry was not. And a redis://
 * store location says exactly where the keys are, or is refused.
 */
import { existsSync } from 'node:fs';
import { appendFile, mkdir, readFile, rm, symlink } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import { RedisRegistry } from '@daylight/server-middleware';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from './cli.js';
import { captureIO, removeTempDirs, sampleProject, snapshotTree, startRedis, writeFiles } from './test-support.js';
import type { TestRedis } from './test-support.js';

let redis: TestRedis;
let client: Redis;

beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
});

afterAll(async () => {
  client.disconnect();
  await redis.stop();
});

afterEach(async () => {
  vi.restoreAllMocks();
  await removeTempDirs();
});

async function run(cwd: string, ...argv: string[]) {
  const io = captureIO(cwd, { DAYLIGHT_ACTOR: 'ci' });
  const code = await runCli(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** A project with 1.0.0 and 1.1.0 published to `store` (a file, or a redis:// URL) and 1.0.0 promoted. */
async function project(store?: string) {
  const { root } = await sampleProject();
  await writeFiles(path.join(root, 'build2'), {
    'index.html': '<!doctype html><html><head><script type="module" src="/assets/app-2.js"></script></head></html>',
    'assets/app-2.js': 'console.log("app 2");\n',
  });
  const where = store === undefined ? ['--store', 'releases.json'] : ['--store', store, '--releases', root];
  const cli = (...argv: string[]) => run(root, ...argv, ...where);
  expect(await cli('publish', 'build', '--version', '1.0.0')).toMatchObject({ code: 0 });
  expect(await cli('publish', 'build2', '--version', '1.1.0')).toMatchObject({ code: 0 });
  expect(await cli('promote', '1.0.0')).toMatchObject({ code: 0 });
  return { root, cli, audit: path.join(root, 'releases.audit.jsonl') };
}

async function registryFile(root: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(path.join(root, 'releases.json'), 'utf8')) as Record<string, unknown>;
}

describe('the file store when the audit log cannot be written', () => {
  it('refuses a promote before writing anything (exit 1), naming the audit log', async () => {
    const { root, cli, audit } = await project();
    await rm(audit);
    await mkdir(audit); // a folder in the log's place: no one can append to it, root included
    const before = await snapshotTree(root);
    const result = await cli('promote', '1.1.0');
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(
      `daylight: the audit log ${audit} cannot be written (EISDIR), so the change could not be recorded; nothing was changed. Make it a file daylight can append to, then run the command again\n`,
    );
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a publish before installing its release folder', async () => {
    const { root, cli, audit } = await project();
    await rm(audit);
    await mkdir(audit);
    const before = await snapshotTree(path.join(root, 'releases'));
    expect(await cli('publish', 'build2', '--version', '1.2.0')).toMatchObject({ code: 1 });
    expect(await snapshotTree(path.join(root, 'releases'))).toEqual(before);
    expect((await registryFile(root)).releases).not.toHaveProperty(['1.2.0']);
  });

  it.skipIf(!existsSync('/dev/full'))(
    'reports a promote whose audit entry could not be appended as done (exit 0), with a warning',
    async () => {
      const { root, cli, audit } = await project();
      await rm(audit);
      await symlink('/dev/full', audit); // opens for appending, then every write fails with ENOSPC: a full disk
      const result = await cli('promote', '1.1.0');
      expect(result).toMatchObject({ code: 0, stdout: 'promoted 1.1.0 (was 1.0.0)\n' });
      expect(result.stderr).toBe(
        `daylight: warning: ${path.join(root, 'releases.json')} changed (revision 4); the audit entry could not be written: appending to ${audit} failed (ENOSPC), so "npx daylight --store releases.json history" will not list "promote 1.1.0 to everyone"; free disk space or fix that file so later changes are recorded\n`,
      );
      expect(await registryFile(root)).toMatchObject({ current: '1.1.0', revision: 4 });
    },
  );
});

describe('the Redis store', () => {
  it('names why Redis cannot be reached (ECONNREFUSED), not ioredis\'s "Connection is closed.", and changes nothing', async () => {
    // Found by a walk-through: against a Redis that was down, every command said "(Connection is closed.)".
    const { root } = await sampleProject();
    const closed = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const before = await snapshotTree(root);
    for (const argv of [['status'], ['publish', 'build', '--version', '1.0.0'], ['promote', '1.0.0']]) {
      const result = await run(root, ...argv, '--store', `redis://127.0.0.1:${closed}/0`, '--releases', root);
      expect(result).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr).toBe(
        `daylight: the Redis store redis://127.0.0.1:${closed}/0 cannot be reached (connect ECONNREFUSED 127.0.0.1:${closed}); check the URL and that Redis runs; nothing was changed\n`,
      );
    }
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a change when the audit key is not a list (exit 1), naming the key, and changes nothing', async () => {
    const { cli } = await project(`${redis.url}/0?prefix=wrongtype`);
    await client.del('wrongtype:audit');
    await client.set('wrongtype:audit', 'another program keeps a string here');
    const before = await client.get('wrongtype:registry');
    const result = await cli('promote', '1.1.0');
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      /^daylight: wrongtype:audit in redis:\/\/127\.0\.0\.1:\d+\/0 holds a string, not the list of audit entries Daylight keeps there, so the change could not be recorded; nothing was changed\. Move that value away \(RENAME wrongtype:audit <another key>\) or delete it \(DEL wrongtype:audit\), .*then try again\n$/,
    );
    expect(result.stderr).not.toContain('cannot be reached');
    expect(await client.get('wrongtype:registry')).toBe(before);
  });

  it('tells a change Redis made without its audit entry as done (exit 0), with a warning', async () => {
    const { cli } = await project(`${redis.url}/0?prefix=warned`);
    const update = Object.getOwnPropertyDescriptor(RedisRegistry.prototype, 'update')!.value as RedisRegistry['update'];
    vi.spyOn(RedisRegistry.prototype, 'update').mockImplementation(async function (this: RedisRegistry, ...args) {
      const result = await update.apply(this, args);
      const warning = `changed (revision ${result.revision}); the audit entry could not be written: LPUSH warned:audit failed (OOM)`;
      return { ...result, warning };
    });
    const result = await cli('promote', '1.1.0');
    expect(result).toMatchObject({ code: 0, stdout: 'promoted 1.1.0 (was 1.0.0)\n' });
    expect(result.stderr).toMatch(
      /^daylight: warning: redis:\/\/127\.0\.0\.1:\d+\/0 changed \(revision 4\); the audit entry could not be written: LPUSH warned:audit failed \(OOM\)\n$/,
    );
  });

  it('checks the release files under --releases: promote refuses a damaged release, status shows it, publish repairs it', async () => {
    const { root, cli } = await project(`${redis.url}/0?prefix=damaged`);
    const app = path.join(root, 'releases/1.1.0/files/assets/app-2.js');
    await appendFile(app, '/* tampered */');
    const before = await client.get('damaged:registry');

    const refused = await cli('promote', '1.1.0');
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toBe(
      `daylight: release 1.1.0 cannot be served: ${app} is 36 bytes; its manifest says 22; publish the same build again to repair it ("npx daylight --store '${redis.url}/0?prefix=damaged' --releases ${root} publish <build-dir> --version 1.1.0")\n`,
    );
    expect(await client.get('damaged:registry')).toBe(before);
    const shown = await cli('status', '--json');
    const report = JSON.parse(shown.stdout) as { releases: { version: string; problem: string | null }[] };
    expect(report.releases.find((release) => release.version === '1.1.0')?.problem).toBe(
      `${app} is 36 bytes; its manifest says 22`,
    );

    expect(await cli('publish', 'build2', '--version', '1.1.0')).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/^repaired 1\.1\.0: 2 files/) as unknown,
    });
    expect(await readFile(app, 'utf8')).toBe('console.log("app 2");\n');
    expect(await cli('promote', '1.1.0')).toMatchObject({ code: 0, stdout: 'promoted 1.1.0 (was 1.0.0)\n' });
  });
});

describe('a redis:// store location', () => {
  it('refuses an unknown parameter (exit 2) instead of writing to the default prefix', async () => {
    // Production's registry under the default prefix, in database 3.
    const { root } = await project(`${redis.url}/3`);
    const db3 = new Redis(`${redis.url}/3`);
    try {
      const production = await db3.get('daylight:registry');
      expect(production).not.toBeNull();
      const typo = await run(root, 'promote', '1.1.0', '--store', `${redis.url}/3?prefx=staging`, '--releases', root);
      expect(typo).toMatchObject({ code: 2, stdout: '' });
      expect(typo.stderr).toBe(
        `daylight: --store ${redis.url}/3?prefx=staging: unknown parameter "prefx"; a redis:// store takes prefix (and ioredis's family), such as redis://host:6379/0?prefix=staging\n`,
      );
      expect(await db3.get('daylight:registry')).toBe(production);
    } finally {
      db3.disconnect();
    }

    const secret = await run(root, 'status', '--store', 'redis://:hunter2@127.0.0.1:6379/0?tls=1&family=6');
    expect(secret.code).toBe(2);
    expect(secret.stderr).toContain('unknown parameter "tls";');
    expect(secret.stderr).not.toContain('hunter2');
  });

  it('refuses a prefix the server would refuse (exit 2)', async () => {
    const { root } = await sampleProject();
    const cases: [string, RegExp][] = [
      ['?prefix=', /prefix "" is not a key prefix the server accepts; use 1 to 64 letters, digits/],
      ['?prefix=a%20b', /prefix "a b" is not a key prefix the server accepts/],
      [`?prefix=${'x'.repeat(65)}`, /is not a key prefix the server accepts/],
      ['?prefix=a&prefix=b', /prefix is given 2 times; give it once/],
    ];
    for (const [query, message] of cases) {
      const result = await run(root, 'status', '--store', `${redis.url}/0${query}`);
      expect(result.code, query).toBe(2);
      expect(result.stderr, query).toMatch(message);
    }
    expect(await client.exists(':registry', 'a b:registry')).toBe(0);
  });

  it('refuses a database that is not an index (exit 2) instead of writing to database 0', async () => {
    const { root } = await sampleProject();
    for (const database of ['abc', '-1', '1.5', '0/x']) {
      const result = await run(root, 'status', '--store', `${redis.url}/${database}`);
      expect(result.code, database).toBe(2);
      expect(result.stderr, database).toBe(
        `daylight: --store ${redis.url}/${database}: the database ${JSON.stringify(database)} is not an index such as 0 or 3; write it after the port, such as redis://host:6379/0 (a Redis has databases 0 to 15 unless its "databases" setting says otherwise)\n`,
      );
    }
  });

  it('refuses a database Redis does not have (exit 1), and writes nothing to database 0', async () => {
    const { root, cli } = await project(`${redis.url}/0?prefix=dbtest`);
    const before = await client.get('dbtest:registry');
    const audit = await client.llen('dbtest:audit');
    const where = ['--store', `${redis.url}/99?prefix=dbtest`, '--releases', root];
    for (const command of [['promote', '1.1.0', '--cohort', 'dbtest'], ['status'], ['history']]) {
      const result = await run(root, ...command, ...where);
      expect(result, command[0]).toMatchObject({ code: 1, stdout: '' });
      expect(result.stderr, command[0]).toBe(
        `daylight: Redis at ${redis.url}/99 refused database 99 (ERR DB index is out of range); nothing was read or written there, and database 0 is not used in its place: give the URL a database Redis has (0 to 15 unless its "databases" setting says otherwise), or raise that setting; nothing was changed\n`,
      );
    }
    expect(await client.get('dbtest:registry')).toBe(before);
    expect(await client.llen('dbtest:audit')).toBe(audit);
    expect(await cli('status')).toMatchObject({ code: 0 });
  });

  it('keeps the registry and the audit log under a valid prefix', async () => {
    await project(`${redis.url}/0?prefix=staging:eu-1`);
    expect(JSON.parse((await client.get('staging:eu-1:registry'))!)).toMatchObject({ current: '1.0.0', revision: 3 });
    expect(await client.llen('staging:eu-1:audit')).toBe(3);
  });
});
