import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createReports, type ReportsDeps, type ReportsOptions } from './reports.js';
import { shellVersion } from './previous-shell.js';
import { REGISTRY_SCHEMA, type Registry } from './registry.js';
import type { DaylightRequest } from './types.js';

const SESSION = 'abcdefghijkl';

function post(body: string | object, headers: Record<string, string> = {}): DaylightRequest {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const incoming = Readable.from([Buffer.from(text)]) as unknown as IncomingMessage;
  return {
    method: 'POST',
    path: '/_daylight/reports',
    headers: { 'content-type': 'application/json', ...headers },
    incoming,
  };
}

function setup(options?: ReportsOptions, cohort?: string) {
  const halts: { release: string; cohort?: string; reason: string }[] = [];
  const warnings: string[] = [];
  const deps: ReportsDeps = {
    halt: (halt) => {
      halts.push(halt);
      return Promise.resolve();
    },
    logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
    cohortOf: () => cohort,
  };
  return { reports: createReports(options, deps), halts, warnings };
}

const failure = (session = SESSION) => ({ kind: 'boot-failure', version: '1.2.0', from: '1.1.0', session });
const boot = (session = SESSION) => ({ kind: 'boot', version: '1.2.0', from: '1.1.0', session });

describe('POST {base}/reports', () => {
  it('accepts a valid report with 204 and counts it per release and cohort', async () => {
    const { reports } = setup(undefined, 'pilot');
    expect((await reports.handle(post(failure()))).status).toBe(204);
    expect(reports.counts()).toEqual([
      expect.objectContaining({ release: '1.2.0', cohort: 'pilot', failures: 1, boots: 0, halted: false }),
    ]);
  });

  it.each([
    ['not JSON', '{nope', 400],
    ['an array', '[]', 400],
    ['an unknown kind', { kind: 'crash', version: '1.2.0', session: SESSION }, 400],
    ['a bad version', { kind: 'boot', version: '1.2', session: SESSION }, 400],
    ['no session', { kind: 'boot', version: '1.2.0' }, 400],
    ['a long message', { kind: 'stale-asset', version: '1.2.0', session: SESSION, message: 'x'.repeat(501) }, 400],
  ])('rejects %s', async (_name, body, status) => {
    const { reports } = setup();
    expect((await reports.handle(post(body))).status).toBe(status);
    expect(reports.counts()).toEqual([]);
  });

  it('rejects a body over the size limit with 413, also without Content-Length', async () => {
    const { reports } = setup({ maxBytes: 512 });
    const big = { ...boot(), message: 'x'.repeat(480), pad: 'y'.repeat(100) };
    expect((await reports.handle(post(big))).status).toBe(413);
    expect((await reports.handle(post(boot(), { 'content-length': '9999' }))).status).toBe(413);
  });

  it('rejects other content types and methods', async () => {
    const { reports } = setup();
    expect((await reports.handle(post(boot(), { 'content-type': 'application/x-www-form-urlencoded' }))).status).toBe(
      415,
    );
    expect((await reports.handle({ ...post(boot()), method: 'GET' })).status).toBe(405);
  });

  it('counts one boot or failure per session and release, so one tab cannot halt a rollout', async () => {
    const { reports, halts } = setup({ halt: { minFailures: 2, failureRate: 0.2 } });
    for (let i = 0; i < 5; i++) expect((await reports.handle(post(failure()))).status).toBe(204);
    expect(reports.counts()).toEqual([expect.objectContaining({ failures: 1, halted: false })]);
    expect(halts).toEqual([]);
    await reports.handle(post(failure('second-session')));
    expect(halts).toHaveLength(1);
  });

  it('lets only trusted reports count toward a halt when trust is set', async () => {
    const trusted = new Set(['trusted-tab-1', 'trusted-tab-2']);
    const { reports, halts } = setup({
      halt: { minFailures: 2, failureRate: 0.2 },
      trust: (req) => trusted.has(String(req.headers['x-test-session'])),
    });
    for (const session of ['made-up-0001', 'made-up-0002', 'made-up-0003']) {
      const request = post(failure(session));
      (request.incoming as unknown as { headers: object }).headers = { 'x-test-session': session };
      expect((await reports.handle(request)).status).toBe(204);
    }
    expect(reports.counts()).toEqual([expect.objectContaining({ failures: 0, kinds: { 'boot-failure': 3 } })]);
    expect(halts).toEqual([]);
    for (const session of trusted) {
      const request = post(failure(session));
      (request.incoming as unknown as { headers: object }).headers = { 'x-test-session': session };
      await reports.handle(request);
    }
    expect(halts).toHaveLength(1);
  });

  it('counts each person once per release when trust names them, whatever session ids they send', async () => {
    const { reports, halts } = setup({
      halt: { minFailures: 2, failureRate: 0.2 },
      trust: (req) => String(req.headers['x-test-user']),
    });
    const from = (user: string, session: string) => {
      const request = post(failure(session));
      (request.incoming as unknown as { headers: object }).headers = { 'x-test-user': user };
      return request;
    };
    // One signed-in person inventing five sessions: one failure.
    for (let i = 0; i < 5; i++) expect((await reports.handle(from('mallory', `invented-${i}-aaaa`))).status).toBe(204);
    expect(reports.counts()).toEqual([expect.objectContaining({ failures: 1, kinds: { 'boot-failure': 5 } })]);
    expect(halts).toEqual([]);
    await reports.handle(from('ada', 'ada-tab-aaaaaa'));
    expect(halts).toHaveLength(1);
  });

  it('counts a boot or a failure only for the release the server resolves for the request', async () => {
    const halts: unknown[] = [];
    const reports = createReports(
      { halt: { minFailures: 1, failureRate: 0 } },
      {
        halt: (halt) => {
          halts.push(halt);
          return Promise.resolve();
        },
        logger: { info() {}, warn() {}, error() {} },
        cohortOf: () => undefined,
        releaseFor: () => '1.1.0', // this person is served 1.1.0, not the 1.2.0 the report names
      },
    );
    expect((await reports.handle(post(failure()))).status).toBe(204);
    expect(reports.counts()).toEqual([expect.objectContaining({ release: '1.2.0', failures: 0, halted: false })]);
    expect(halts).toEqual([]);
  });

  it('refuses a report sent from another site, and counts nothing', async () => {
    const { reports } = setup({ halt: { minFailures: 1, failureRate: 0 } });
    for (const site of ['cross-site', 'same-site']) {
      expect((await reports.handle(post(failure(), { 'sec-fetch-site': site }))).status).toBe(403);
    }
    expect(reports.counts()).toEqual([]);
    expect((await reports.handle(post(failure(), { 'sec-fetch-site': 'same-origin' }))).status).toBe(204);
  });

  it('without Sec-Fetch-Site (an older browser), refuses a report whose Origin is another site or opaque', async () => {
    const { reports } = setup({ halt: { minFailures: 1, failureRate: 0 } });
    for (const origin of ['https://elsewhere.example', 'null', 'not a url']) {
      const refused = await reports.handle(post(failure(), { host: 'app.example', origin }));
      expect(refused.status, origin).toBe(403);
    }
    expect(reports.counts()).toEqual([]);
    expect((await reports.handle(post(failure(), { host: 'app.example', origin: 'https://app.example' }))).status).toBe(
      204,
    );
    // A browser that sends Sec-Fetch-Site is believed: a proxy that rewrites Host does not cost its reports.
    const behindProxy = { host: 'backend:8080', origin: 'https://app.example', 'sec-fetch-site': 'same-origin' };
    expect((await reports.handle(post(failure(), behindProxy))).status).toBe(204);
  });

  it('halts a release again when it was promoted again after its halt and fails again', async () => {
    let halted = false;
    const halts: unknown[] = [];
    const reports = createReports(
      { halt: { minFailures: 2, failureRate: 0.5 } },
      {
        halt: (halt) => {
          halts.push(halt);
          halted = true; // what server.halt() records in the registry
          return Promise.resolve();
        },
        logger: { info() {}, warn() {}, error() {} },
        cohortOf: () => undefined,
        isHalted: () => halted,
      },
    );
    for (const session of ['first-aaaaaa', 'second-aaaaa']) await reports.handle(post(failure(session)));
    await new Promise((resolve) => setImmediate(resolve));
    expect(halts).toHaveLength(1);
    halted = false; // promoted again
    // The same two tabs fail again: counted afresh, and halted again.
    for (const session of ['first-aaaaaa', 'second-aaaaa']) await reports.handle(post(failure(session)));
    expect(halts).toHaveLength(2);
  });

  it('ends a wave on a halt another server recorded, and starts over once it is lifted', async () => {
    let halted = false;
    const halts: unknown[] = [];
    const reports = createReports(
      { halt: { minFailures: 3, failureRate: 0.5 } },
      {
        halt: (halt) => {
          halts.push(halt);
          return Promise.resolve();
        },
        logger: { info() {}, warn() {}, error() {} },
        cohortOf: () => 'pilot',
        isHalted: () => halted,
      },
    );
    const registry = (halt: boolean): Registry => ({
      schema: REGISTRY_SCHEMA,
      current: '1.1.0',
      releases: {},
      cohorts: {
        pilot: {
          release: halt ? '1.1.0' : '1.2.0',
          ...(halt ? { halted: { release: '1.2.0', at: '2026-11-29T10:00:00.000Z', reason: 'elsewhere' } } : {}),
        },
      },
    });
    for (const session of ['first-aaaaaa', 'second-aaaaa']) await reports.handle(post(failure(session)));
    // Another server halted 1.2.0 in pilot: this one hears of it when it loads the registry.
    halted = true;
    reports.sync(registry(true));
    await reports.handle(post(failure('third-aaaaaa'))); // while halted: counts toward nothing
    expect(reports.counts()).toEqual([expect.objectContaining({ failures: 2, halted: false, scope: 'server' })]);
    halted = false;
    reports.sync(registry(false)); // promoted again
    expect(reports.counts()).toEqual([expect.objectContaining({ failures: 0 })]);
    await reports.handle(post(failure('fourth-aaaaa')));
    expect(halts).toEqual([]); // one of one, not three with two from the halted wave
    for (const session of ['first-aaaaaa', 'second-aaaaa']) await reports.handle(post(failure(session)));
    expect(halts).toHaveLength(1);
  });

  it('halts nothing by default, without trust or an explicit halt option', async () => {
    const { reports, halts } = setup();
    for (let i = 0; i < 20; i++) await reports.handle(post(failure(`made-up-${String(i).padStart(4, '0')}`)));
    expect(reports.counts()).toEqual([expect.objectContaining({ failures: 20, halted: false })]);
    expect(halts).toEqual([]);
  });

  it('rejects a trust option that is not a function', () => {
    expect(() => setup({ trust: true as unknown as () => boolean })).toThrow(/reports.trust must be a function/);
  });

  it('counts reports only for published releases, so made-up versions cannot grow the counts', async () => {
    const reports = createReports(undefined, {
      halt: () => Promise.resolve(),
      logger: { info() {}, warn() {}, error() {} },
      cohortOf: () => undefined,
      isRelease: (version) => version === '1.2.0',
    });
    for (let n = 0; n < 50; n++) {
      const made = { kind: 'boot', version: `0.0.${n}`, session: `session-${String(n).padStart(4, '0')}` };
      expect((await reports.handle(post(made))).status).toBe(204);
    }
    expect(reports.counts()).toEqual([]);
    await reports.handle(post(boot()));
    expect(reports.counts()).toEqual([expect.objectContaining({ release: '1.2.0', boots: 1 })]);
  });

  it('logs what a stale-asset, stale-shell, integrity or loop-guard report means, once per release in ten minutes', async () => {
    let at = 1_000_000;
    const warnings: string[] = [];
    const reports = createReports(undefined, {
      halt: () => Promise.resolve(),
      logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
      cohortOf: () => undefined,
      isRelease: (version) => version !== '9.9.9',
      now: () => at,
    });
    const send = (kind: string, version: string, session: string, message?: string) =>
      reports.handle(post({ kind, version, session, message }));
    await send('stale-asset', '1.1.0', 'session-0001', 'Failed to fetch dynamically imported module: x\nforged line');
    await send('stale-asset', '1.1.0', 'session-0002'); // the same news from another tab: not logged again
    await send('stale-shell', '1.2.0', 'session-0003');
    await send('integrity', '1.2.0', 'session-0004');
    await send('loop-guard', '1.2.0', 'session-0005');
    await send('boot', '1.2.0', 'session-0006'); // no news
    await send('stale-asset', '9.9.9', 'session-0007'); // not a published release: counted nowhere, logged nowhere
    expect(warnings).toHaveLength(4);
    expect(warnings[0]).toMatch(
      /^daylight: stale-asset report: a tab on 1\.1\.0 could not load one of its files.*daylight verify 1\.1\.0/,
    );
    // The tab's message is quoted on the same line: a browser cannot write lines of its own into the log.
    expect(warnings[0]).toContain('the tab said "Failed to fetch dynamically imported module: x\\nforged line"');
    expect(warnings.every((line) => !line.includes('\n'))).toBe(true);
    expect(warnings[1]).toMatch(
      /^daylight: stale-shell report: a switch to 1\.2\.0 landed on the page of another release/,
    );
    expect(warnings[2]).toMatch(/^daylight: integrity report: a tab's download of 1\.2\.0 did not match its manifest/);
    expect(warnings[3]).toMatch(/^daylight: loop-guard report: a tab did not switch to 1\.2\.0/);
    at += 10 * 60_000;
    await send('stale-asset', '1.1.0', 'session-0008', 'a\u2028b\u202ec');
    expect(warnings).toHaveLength(5);
    expect(warnings[4]).toContain('the tab said "a\\u2028b\\u202ec"');
  });

  it('with trust, logs only the reports it vouches for: a made-up one cannot take the line', async () => {
    const warnings: string[] = [];
    let calls = 0;
    const reports = createReports(
      { trust: () => ++calls > 1 }, // the first report is nobody's, the second a signed-in person's
      {
        halt: () => Promise.resolve(),
        logger: { info() {}, warn: (m) => warnings.push(m), error() {} },
        cohortOf: () => undefined,
      },
    );
    const stale = { kind: 'stale-asset', version: '1.1.0', session: SESSION };
    await reports.handle(post(stale));
    expect(warnings).toEqual([]);
    await reports.handle(post({ ...stale, session: 'session-0002' }));
    expect(warnings).toEqual([expect.stringMatching(/^daylight: stale-asset report: a tab on 1\.1\.0/)]);
  });

  it('rate-limits each session on its own', async () => {
    const { reports } = setup({ perMinute: 2 });
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await reports.handle(post(boot()))).status);
    expect(statuses).toEqual([204, 204, 429]);
    expect(await reports.handle(post(boot('another-session')))).toMatchObject({ status: 204 });
  });

  it('halts a release once failures reach the minimum and the rate, and only once', async () => {
    const { reports, halts, warnings } = setup({ halt: { minFailures: 3, failureRate: 0.5 } });
    await reports.handle(post(boot('session-0001')));
    await reports.handle(post(boot('session-0002')));
    await reports.handle(post(failure('session-0003')));
    await reports.handle(post(failure('session-0004')));
    expect(halts).toEqual([]); // the rate is reached (50%), the minimum (3) is not
    await reports.handle(post(failure('session-0005')));
    expect(halts).toHaveLength(1);
    expect(halts[0]?.release).toBe('1.2.0');
    expect(halts[0]?.reason).toContain('3 of 5 switches');
    expect(warnings[0]).toMatch(/halting 1\.2\.0/);
    await reports.handle(post(failure('session-0006')));
    expect(halts).toHaveLength(1);
    expect(reports.counts()[0]).toMatchObject({ failures: 4, boots: 2, halted: true });
  });

  it('does not halt when enough switches boot healthily, or when halting is off', async () => {
    const healthy = setup({ halt: { minFailures: 1, failureRate: 0.5 } });
    for (let i = 0; i < 3; i++) await healthy.reports.handle(post(boot(`session-b${i}xxxx`)));
    await healthy.reports.handle(post(failure()));
    expect(healthy.halts).toEqual([]);
    const off = setup({ halt: false });
    await off.reports.handle(post(failure()));
    expect(off.halts).toEqual([]);
  });

  it('halts in the cohort the server resolved, not one the report names', async () => {
    const { reports, halts } = setup({ halt: { minFailures: 1, failureRate: 0 } }, 'pilot');
    await reports.handle(post({ ...failure(), cohort: 'everyone' }));
    expect(halts[0]).toMatchObject({ cohort: 'pilot' });
  });

  it('rejects invalid options naming the option', () => {
    expect(() => setup({ maxBytes: 10 })).toThrow(/reports\.maxBytes must be a number from 256/);
    expect(() => setup({ halt: { failureRate: 2 } })).toThrow(/reports\.halt\.failureRate/);
  });

  it('rejects a halt option of the wrong kind instead of reading it as "halt on", without trust', () => {
    for (const halt of ['off', null, 0, true, 'false', [], new Map(), new Date(0)]) {
      expect(() => setup({ halt } as unknown as ReportsOptions), JSON.stringify(halt)).toThrow(
        /reports\.halt must be an object such as \{ minFailures: 5, failureRate: 0\.2 \} or false, got /,
      );
    }
    for (const reports of [false, null, 'off', []]) {
      expect(() => setup(reports as unknown as ReportsOptions), JSON.stringify(reports)).toThrow(
        /reports must be an object such as \{ halt: \{ minFailures: 5 \} \}, got /,
      );
    }
  });

  it('rejects unknown keys in reports and reports.halt, naming the ones there are', () => {
    expect(() => setup({ halts: false } as ReportsOptions)).toThrow(
      'unknown option reports.halts; the options are maxBytes, perMinute, halt, trust',
    );
    expect(() => setup({ halt: { minFailure: 1 } } as ReportsOptions)).toThrow(
      'unknown option reports.halt.minFailure; the options are minFailures, failureRate',
    );
  });
});

describe('the shell a switch asks for with ?_daylight', () => {
  const published = (v: string): boolean => ['1.0.0', '1.1.0', '1.2.0', '0.9.0'].includes(v);
  it('serves an older published release, the way back from a failed boot', () => {
    expect(shellVersion({ version: '1.2.0' }, '1.1.0', published)).toBe('1.1.0');
  });
  it('never serves a newer release, so the parameter cannot opt into a pilot', () => {
    expect(shellVersion({ version: '1.1.0' }, '1.2.0', published)).toBe('1.1.0');
  });
  it('never serves one below the floor or one that is not published', () => {
    expect(shellVersion({ version: '1.2.0', min: '1.0.0' }, '0.9.0', published)).toBe('1.2.0');
    expect(shellVersion({ version: '1.2.0' }, '1.0.5', published)).toBe('1.2.0');
  });
});
