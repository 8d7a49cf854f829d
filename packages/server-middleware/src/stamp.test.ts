import {
  createServer,
  IncomingMessage,
  request as httpRequest,
  ServerResponse,
  type IncomingHttpHeaders,
  type Server,
} from 'node:http';
import { connect, createServer as createHttp2Server } from 'node:http2';
import { Socket } from 'node:net';
import { MAX_HEADER_LENGTH } from '@daylight/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INTERNALS, type DaylightInternals } from './options.js';
import { writeRegistryFile } from './registry.js';
import { createDaylight } from './server.js';
import { stampOnWriteHead } from './stamp.js';
import { createReleaseStore, createTestLogger, listen, stop, type ReleaseStore } from './test-support.js';
import type { DaylightServer, DaylightServerOptions, DaylightState } from './types.js';

type Handler = (req: IncomingMessage, res: ServerResponse, state: DaylightState) => void;

let store: ReleaseStore;
let servers: { close(): Promise<void> }[] = [];

beforeEach(async () => {
  store = await createReleaseStore({ min: '1.0.0' });
});

afterEach(async () => {
  for (const s of servers) await s.close();
  servers = [];
  await store.cleanup();
});

async function start(
  handler: Handler,
  options: DaylightServerOptions = {},
  internals: DaylightInternals = {},
): Promise<{ origin: string; daylight: DaylightServer }> {
  const daylight = createDaylight({
    config: store.registryFile,
    watch: false,
    ...options,
    [INTERNALS]: internals,
  } as DaylightServerOptions);
  await daylight.ready;
  const server = createServer((req, res) => handler(req, res, daylight.attach(req, res)));
  const origin = await listen(server);
  servers.push({ close: () => stop(server) }, daylight);
  return { origin, daylight };
}

/** A raw request, so that header lines can repeat (fetch would join them). */
function rawGet(origin: string, headers: [string, string][]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // With an array of raw lines node:http adds no Host of its own.
    const flat = [['Host', new URL(origin).host], ...headers].flat();
    const req = httpRequest(`${origin}/`, { headers: flat }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A cross-origin request: only its response lists the stamp in Access-Control-Expose-Headers. */
const CROSS = { headers: { Origin: 'https://app.example' } };

describe('stamping a node:http response', () => {
  it('adds Daylight-Release and exposes it to a cross-origin request when the response is written', async () => {
    const { origin } = await start((_req, res) => res.end('ok'));
    const response = await fetch(origin, CROSS);
    expect(await response.text()).toBe('ok');
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
    expect(response.headers.get('access-control-expose-headers')).toBe('Daylight-Release');
  });

  it('adds no expose list for a same-origin request (no Origin header): the browser reads none', async () => {
    const { origin } = await start((_req, res) => res.end('ok'));
    const response = await fetch(origin);
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
    expect(response.headers.get('access-control-expose-headers')).toBeNull();
  });

  it('merges with an expose list passed to writeHead as an object', async () => {
    const { origin } = await start((_req, res) => {
      res.setHeader('X-Early', '1');
      res.writeHead(200, { 'Access-Control-Expose-Headers': 'X-Total-Count' }).end();
    });
    const response = await fetch(origin, CROSS);
    expect(response.headers.get('access-control-expose-headers')).toBe('X-Total-Count, Daylight-Release');
    expect(response.headers.get('x-early')).toBe('1');
  });

  it('merges with an expose list passed to writeHead as a flat array, with a status message', async () => {
    const { origin } = await start((_req, res) => {
      res.writeHead(201, 'Made', ['Access-Control-Expose-Headers', 'X-A', 'X-Twice', 'a', 'X-Twice', 'b']).end();
    });
    const response = await fetch(origin, CROSS);
    expect(response.status).toBe(201);
    expect(response.statusText).toBe('Made');
    expect(response.headers.get('access-control-expose-headers')).toBe('X-A, Daylight-Release');
    expect(response.headers.get('x-twice')).toBe('a, b');
  });

  it('merges with an expose list passed to writeHead after an undefined status message, as node:http reads it', async () => {
    const { origin } = await start((_req, res) => {
      res.writeHead(200, undefined, { 'Access-Control-Expose-Headers': 'X-A' }).end();
    });
    const response = await fetch(origin, CROSS);
    expect(response.status).toBe(200);
    expect(response.headers.get('access-control-expose-headers')).toBe('X-A, Daylight-Release');
  });

  it('does not list Daylight-Release twice, whatever its case', async () => {
    const { origin } = await start((_req, res) => {
      res.setHeader('Access-Control-Expose-Headers', ['X-A', 'daylight-release']);
      res.end();
    });
    const response = await fetch(origin, CROSS);
    expect(response.headers.get('access-control-expose-headers')).toBe('X-A, daylight-release');
  });

  it('stamps nothing when no release is promoted', async () => {
    await store.promote(null);
    const { origin } = await start((_req, res) => res.end('ok'));
    const response = await fetch(origin, CROSS);
    expect(response.headers.get('daylight-release')).toBeNull();
    expect(response.headers.get('access-control-expose-headers')).toBeNull();
  });

  it('hands the parsed client stamp to the app', async () => {
    const { origin } = await start((_req, res, state) => res.end(JSON.stringify(state)));
    const response = await fetch(origin, { headers: { 'Daylight-Client': 'v="1.0.0", s="q8Zk1cR2xW0a"' } });
    expect(await response.json()).toEqual({
      client: { version: '1.0.0', session: 'q8Zk1cR2xW0a' },
      release: { version: '1.0.0', min: '1.0.0' },
    });
  });

  it('ignores and counts a malformed client header, and one sent twice', async () => {
    const { origin, daylight } = await start((_req, res, state) => res.end(JSON.stringify(state)));
    const garbage = await rawGet(origin, [['Daylight-Client', 'v=1.0.0']]);
    expect(garbage.status).toBe(200);
    expect(JSON.parse(garbage.body)).toEqual({ release: { version: '1.0.0', min: '1.0.0' } });
    const twice = await rawGet(origin, [
      ['Daylight-Client', 'v="1.0.0", s="q8Zk1cR2xW0a"'],
      ['Daylight-Client', 'v="1.1.0", s="q8Zk1cR2xW0a"'],
    ]);
    expect(JSON.parse(twice.body)).toEqual({ release: { version: '1.0.0', min: '1.0.0' } });
    expect(daylight.stats.malformedClientHeaders).toBe(2);
  });

  it('counts every malformed header, also a value seen before', async () => {
    const { origin, daylight } = await start((_req, res) => res.end());
    for (let i = 0; i < 3; i++) await fetch(origin, { headers: { 'Daylight-Client': 'v="1.0.0", s="short"' } });
    expect(daylight.stats.malformedClientHeaders).toBe(3);
  });

  it('does not cache client header values longer than any valid one, so a flood of them keeps a tab parsed', async () => {
    const states: DaylightState[] = [];
    const { origin, daylight } = await start((_req, res, state) => {
      states.push(state);
      res.end();
    });
    const tab = { 'Daylight-Client': 'v="1.0.0", s="q8Zk1cR2xW0a"' };
    await fetch(origin, { headers: tab });
    // As many distinct over-long values as the cache of parsed headers holds (10,000), attached in-process:
    // cached, they would fill it and empty it, and the tab's header would be parsed again.
    const flood = 10_000;
    for (let i = 0; i < flood; i++) {
      const value = `v="1.0.0", s="q8Zk1cR2xW0a", n="${'x'.repeat(MAX_HEADER_LENGTH)}${i}"`;
      const req = new IncomingMessage(new Socket());
      req.headers = { 'daylight-client': value };
      req.rawHeaders = ['Daylight-Client', value];
      expect(daylight.attach(req, new ServerResponse(req))).toEqual({ release: { version: '1.0.0', min: '1.0.0' } });
    }
    expect(daylight.stats.malformedClientHeaders).toBe(flood);
    await fetch(origin, { headers: tab });
    expect(states[1]).toEqual({
      client: { version: '1.0.0', session: 'q8Zk1cR2xW0a' },
      release: { version: '1.0.0', min: '1.0.0' },
    });
    // The cache hands a tab the state it parsed before, the same object: its entry survived the flood.
    expect(states[1]).toBe(states[0]);
  });

  it('pairs a client seen before with the release of the registry read since', async () => {
    const { origin, daylight } = await start((_req, res, state) => res.end(JSON.stringify(state)));
    const headers = { 'Daylight-Client': `v="1.0.0", s="q8Zk1cR2xW0a"` };
    expect(await (await fetch(origin, { headers })).json()).toMatchObject({ release: { version: '1.0.0' } });
    await store.promote('1.1.0');
    await daylight.reload();
    expect(await (await fetch(origin, { headers })).json()).toEqual({
      client: { version: '1.0.0', session: 'q8Zk1cR2xW0a' },
      release: { version: '1.1.0' },
    });
  });

  it('adds nothing to the response object: state and the write-time stamp live in WeakMaps', async () => {
    let added: Promise<(string | symbol)[]> | undefined;
    const { origin } = await start((_req, res) => {
      added = new Promise((resolve) =>
        res.once('finish', () =>
          resolve(Reflect.ownKeys(res).filter((key) => key === 'writeHead' || String(key).includes('daylight'))),
        ),
      );
      res.end('ok');
    });
    const response = await fetch(origin, CROSS);
    expect(response.headers.get('daylight-release')).toBe('v="1.0.0", min="1.0.0"');
    expect(await added).toEqual([]);
  });

  it('merges with an expose list that another wrapper of res.writeHead sets (as on-headers does)', async () => {
    const { origin } = await start((_req, res) => {
      // eslint-disable-next-line @typescript-eslint/unbound-method -- called with its receiver below
      const inner = res.writeHead as (...args: unknown[]) => ServerResponse;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        this.setHeader('Access-Control-Expose-Headers', 'X-Late');
        return inner.apply(this, args);
      };
      res.end('ok');
    });
    const response = await fetch(origin, CROSS);
    expect(response.headers.get('access-control-expose-headers')).toBe('X-Late, Daylight-Release');
  });

  it('returns the same state when attached twice to one response', async () => {
    const { origin, daylight } = await start((req, res, state) => res.end(String(daylight.attach(req, res) === state)));
    expect(await (await fetch(origin)).text()).toBe('true');
  });

  it('attached twice with a release per request, arms once and resolves once: the two states read the same release', async () => {
    let calls = 0;
    const cohort = (req: IncomingMessage): string | undefined => {
      calls++;
      return req.headers['x-office'] as string | undefined;
    };
    const { origin, daylight } = await start(
      (req, res, state) => {
        const again = daylight.attach(req, res);
        res.setHeader('Content-Type', 'application/json');
        res.end(
          JSON.stringify({ first: state.release?.version, second: again.release?.version, same: again === state }),
        );
      },
      { cohort },
    );
    await writeRegistryFile(store.registryFile, { ...store.registry, cohorts: { pilot: { release: '1.1.0' } } });
    await daylight.reload();
    const response = await fetch(origin, { headers: { 'x-office': 'pilot' } });
    expect(await response.json()).toEqual({ first: '1.1.0', second: '1.1.0', same: false });
    expect(response.headers.get('daylight-release')).toBe('v="1.1.0", min="1.0.0"');
    expect(calls).toBe(1);
  });
});

describe('failing open', () => {
  for (const phase of ['attach', 'write'] as const) {
    it(`sends the response unstamped when stamping fails at ${phase}, counts it and logs once a minute`, async () => {
      const logger = createTestLogger();
      const { origin, daylight } = await start(
        (_req, res) => {
          res.setHeader('Content-Type', 'application/json');
          res.end('{"ok":true}');
        },
        { logger },
        {
          beforeStamp: (at) => {
            if (at === phase) throw new Error(`injected at ${at}`);
          },
        },
      );
      for (let i = 0; i < 3; i++) {
        const response = await fetch(origin);
        expect(response.status).toBe(200);
        expect(await response.json()).toEqual({ ok: true });
        expect(response.headers.get('daylight-release')).toBeNull();
      }
      expect(daylight.stats.stampFailures).toBe(3);
      const reports = logger.entries.filter((e) => e.level === 'error');
      expect(reports).toHaveLength(1);
      expect(reports[0]!.message).toMatch(/could not stamp a response/);
      expect((reports[0]!.error as Error).message).toBe(`injected at ${phase}`);
    });
  }

  it('still sends the response when the logger throws too', async () => {
    const logger = createTestLogger();
    logger.error = () => {
      throw new Error('logger down');
    };
    const { origin, daylight } = await start(
      (_req, res) => res.end('fine'),
      { logger },
      {
        beforeStamp: () => {
          throw new Error('injected');
        },
      },
    );
    const response = await fetch(origin);
    expect(await response.text()).toBe('fine');
    expect(daylight.stats.stampFailures).toBe(1);
  });
});

describe('stamping an HTTP/2 compatibility response', () => {
  it('wraps its writeHead: node:http2 responses are not node:http ServerResponses', async () => {
    const failures: unknown[] = [];
    const server = createHttp2Server((_req, res) => {
      stampOnWriteHead(res as unknown as ServerResponse, {
        stampFor: () => 'v="1.0.0"',
        onFailure: (error) => failures.push(error),
        beforeStamp: undefined,
      });
      res.end('ok');
    });
    const origin = await listen(server as unknown as Server);
    servers.push({ close: () => new Promise((done) => server.close(() => done())) });
    const session = connect(origin);
    try {
      const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
        const stream = session.request({ ':path': '/', origin: 'https://app.example' });
        stream.on('response', resolve).on('error', reject);
        stream.resume();
      });
      expect(headers['daylight-release']).toBe('v="1.0.0"');
      expect(headers['access-control-expose-headers']).toBe('Daylight-Release');
      expect(failures).toEqual([]);
    } finally {
      session.close();
    }
  });
});
