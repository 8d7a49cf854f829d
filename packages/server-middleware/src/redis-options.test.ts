/**
 * The server's `redis` option points where the CLI's `--store` points with
 * the same string — the URL's `?prefix=` and database included — or is
 * refused at once; a database Redis refuses is never database 0; and a change
 * from the status page while Redis is away says so in words.
 */
import { createServer, type IncomingMessage } from 'node:http';
import express from 'express';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress } from './express.js';
import { createDaylight } from './server.js';
import { startRedis, useRedis } from './test-redis.js';
import { createReleaseStore, createTestLogger, listen, stop } from './test-support.js';
import type { DaylightRequest, DaylightServer, DaylightServerOptions } from './types.js';

const db = useRedis();
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const anyRequest: DaylightRequest = { method: 'GET', path: '/api', headers: {} };

/** A release store on disk, and `registry` with `current` set, as Redis would hold it. */
async function releases(current: string): Promise<{ config: string; text: string }> {
  const store = await createReleaseStore();
  cleanups.push(() => store.cleanup());
  return { config: store.registryFile, text: JSON.stringify({ ...store.registry, current, revision: 1 }) };
}

async function server(options: DaylightServerOptions): Promise<DaylightServer> {
  const daylight = createDaylight({ census: false, logger: createTestLogger(), ...options });
  cleanups.push(() => daylight.close());
  await daylight.ready;
  return daylight;
}

/** A client of database `index` of the test Redis. */
function database(index: number): Redis {
  const client = new Redis(`${db.server.url}/${index}`);
  cleanups.push(() => Promise.resolve(client.disconnect()));
  return client;
}

describe("the redis option's URL", () => {
  it('takes ?prefix= as the CLI does: a staging server does not serve the default prefix', async () => {
    const { config, text } = await releases('1.1.0');
    await db.client.set('staging:registry', text);
    await db.client.set('daylight:registry', text.replace('"current":"1.1.0"', '"current":"1.0.0"'));
    const logger = createTestLogger();
    const daylight = await server({ config, redis: `${db.server.url}/0?prefix=staging`, logger });
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
    const said = logger.entries.filter((entry) => entry.level === 'info').map((entry) => entry.message);
    expect(said).toEqual([expect.stringMatching(/^daylight: redis:\/\/127\.0\.0\.1:\d+\/0 \(staging:registry\): /)]);
  });

  it('takes the prefix from the URL or the object, the same in both, and refuses two that differ', async () => {
    const { config, text } = await releases('1.1.0');
    await db.client.set('both:registry', text);
    const same = await server({ config, redis: { url: `${db.server.url}/0?prefix=both`, prefix: 'both' } });
    expect(same.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
    expect(() =>
      createDaylight({ config, redis: { url: `${db.server.url}/0?prefix=staging`, prefix: 'prod' } }),
    ).toThrow(
      `createDaylight: redis ${db.server.url}/0?prefix=staging: the URL says prefix "staging" and the prefix option "prod"; give the prefix in one place`,
    );
  });

  it("refuses at once what it would otherwise drop, with the CLI's words", () => {
    const url = db.server.url;
    const refused: [unknown, string][] = [
      [{ url, prefx: 'staging' }, 'createDaylight: redis has no option "prefx"; did you mean "prefix"?'],
      [
        `${url}/0?prefx=staging`,
        `createDaylight: redis ${url}/0?prefx=staging: unknown parameter "prefx"; a redis:// store takes prefix (and ioredis's family), such as redis://host:6379/0?prefix=staging`,
      ],
      [`${url}/0?prefix=`, `createDaylight: redis ${url}/0?prefix=: prefix "" is not a key prefix the server accepts`],
      [`${url}/0?prefix=a&prefix=b`, 'prefix is given 2 times; give it once'],
      [
        `${url}/abc`,
        `createDaylight: redis ${url}/abc: the database "abc" is not an index such as 0 or 3; write it after the port`,
      ],
      [`${url}/-1`, 'the database "-1" is not an index'],
      [`${url}/1.5`, 'the database "1.5" is not an index'],
      ['redis://:hunter2@127.0.0.1:6379/x', 'redis://:***@127.0.0.1:6379/x: the database "x"'],
      // Not a URL at all: nothing before the last @ is shown, a password with / in it included.
      ['redis://:pa/ss:wd@[bad/0', 'createDaylight: redis redis://***@[bad/0 is not a valid URL'],
      [`${url}/0?family=5`, 'family is the IP family to connect with, once: 0, 4 or 6'],
      [6379, 'createDaylight: redis must be a URL such as "redis://127.0.0.1:6379/0" or { url, prefix }, got 6379'],
      // Another scheme, its password hidden as everywhere else.
      [
        'http://:hunter2@127.0.0.1:6379/0',
        'createDaylight: redis http://:***@127.0.0.1:6379/0 is not a redis:// or rediss:// URL; write a Redis store as redis://host:6379/0',
      ],
      ['redis:/0', 'createDaylight: redis redis:/0 is not a redis:// or rediss:// URL'],
      [{ url, prefix: 5 }, 'createDaylight: redis.prefix must be a short key prefix such as "daylight", got 5'],
      [
        { url, prefix: 'a b' },
        `createDaylight: redis ${url}: prefix "a b" is not a key prefix the server accepts; use 1 to 64`,
      ],
    ];
    for (const [redis, message] of refused) {
      expect(() => createDaylight({ config: 'releases.json', redis } as DaylightServerOptions), String(redis)).toThrow(
        message,
      );
    }
  });
});

describe("ioredis's family in the URL", () => {
  it('is passed on (a host whose private network wants ?family=0), and the prefix beside it is read', async () => {
    const { config, text } = await releases('1.1.0');
    await db.client.set('family:registry', text);
    const daylight = await server({ config, redis: `${db.server.url}/0?family=4&prefix=family` });
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
  });
});

describe('a database Redis does not have', () => {
  it('is read: database 3 of the URL, not database 0', async () => {
    const { config, text } = await releases('1.1.0');
    await database(3).set('daylight:registry', text);
    const daylight = await server({ config, redis: `${db.server.url}/3` });
    expect(daylight.stampFor(anyRequest)).toEqual({ version: '1.1.0' });
  });

  it('is never database 0: the server logs why, stamps nothing and changes nothing', async () => {
    const { config, text } = await releases('1.1.0');
    await db.client.set('db99:registry', text);
    const logger = createTestLogger();
    const daylight = await server({ config, redis: { url: `${db.server.url}/99`, prefix: 'db99' }, logger });
    expect(daylight.stampFor(anyRequest)).toBeUndefined();
    const errors = logger.entries.filter((entry) => entry.level === 'error').map((entry) => entry.message);
    expect(errors).toEqual([
      expect.stringMatching(
        /refused database 99 \(ERR DB index is out of range\); nothing was read or written there, and database 0 is not used in its place: give the URL a database Redis has/,
      ),
    ]);
    await expect(daylight.halt({ release: '1.1.0', reason: 'test' })).rejects.toThrow('refused database 99');
    expect(await db.client.get('db99:registry')).toBe(text);
    expect(await db.client.exists('db99:audit')).toBe(0);
  });
});

describe('a status-page action while Redis is away', () => {
  it('answers 503 with a detail that says Redis cannot be reached and nothing was changed', async () => {
    const own = await startRedis();
    cleanups.push(() => own.stop());
    const { config, text } = await releases('1.0.0');
    const client = new Redis(own.url);
    await client.set('daylight:registry', text);
    client.disconnect();
    const token = 'Bearer admin';
    const daylight = await server({
      config,
      redis: own.url,
      authorize: (req: IncomingMessage) => req.headers.authorization === token,
      logger: createTestLogger(),
    });
    const app = express();
    app.use(daylightExpress(daylight));
    const http = createServer(app);
    const url = await listen(http);
    cleanups.push(() => stop(http));
    const page = await fetch(`${url}/_daylight/admin/`, { headers: { authorization: token } });
    await page.text();
    const cookie = page.headers.get('set-cookie')!.split(';')[0]!;

    await own.stop();
    const answer = await fetch(`${url}/_daylight/admin/actions`, {
      method: 'POST',
      headers: {
        authorization: token,
        'content-type': 'application/json',
        'x-daylight-admin': '1',
        'x-daylight-csrf': cookie.split('=')[1]!,
        cookie,
      },
      body: JSON.stringify({ action: 'promote', version: '1.1.0' }),
    });
    expect(answer.status).toBe(503);
    const { detail } = (await answer.json()) as { detail: string };
    expect(detail).toMatch(
      new RegExp(
        `^Redis redis://127\\.0\\.0\\.1:${own.port}/? cannot be reached \\((connect ECONNREFUSED|not connected)[^)]*\\); nothing was changed: check that Redis runs and the URL is right, then try again$`,
      ),
    );
    expect(detail).not.toContain('enableOfflineQueue');
  });
});
