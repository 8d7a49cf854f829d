import { describe, expect, it } from 'vitest';
import { createDaylight } from './client.js';
import { isDaylightError, type DaylightError } from './errors.js';

describe('createDaylight outside a browser', () => {
  it('stays inert and says why when there is no window', () => {
    const client = createDaylight({ version: '1.0.0' }).start();
    expect(client.state.status).toBe('inert');
    expect(client.state.reason).toMatch(/no browser window/);
  });

  it('does nothing until start() is called', () => {
    const client = createDaylight();
    expect(client.state.status).toBe('inert');
    expect(client.state.reason).toMatch(/call start\(\)/);
  });

  it('passes requests through its fetch wrapper untouched when inert', async () => {
    const seen: RequestInit[] = [];
    const fetch = (_input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
      seen.push(init ?? {});
      return Promise.resolve(new Response('ok', { headers: { 'daylight-release': 'v="9.9.9"' } }));
    };
    const client = createDaylight({ version: '1.0.0', fetch }).start();
    const response = await client.fetch('http://127.0.0.1:1/api');
    expect(await response.text()).toBe('ok');
    expect(new Headers(seen[0]?.headers).has('daylight-client')).toBe(false);
    expect(client.state.status).toBe('inert');
  });

  it('hands a mutating request the response its fetch gave, even one whose body was read already', async () => {
    // A test double that returns one Response for every call: its body is used from the second call on, and
    // cannot be cloned to wait for it.
    const used = new Response('{"id":1}');
    await used.text();
    const client = createDaylight({ allowedOrigins: ['http://127.0.0.1:1'], fetch: () => Promise.resolve(used) });
    const response = await client.fetch('http://127.0.0.1:1/api/invoices', { method: 'POST', body: '{}' });
    expect(response).toBe(used);
  });

  it('refuses to apply when nothing is ready, with a typed error', async () => {
    const error = await createDaylight()
      .apply()
      .catch((e: unknown) => e);
    expect(isDaylightError(error)).toBe(true);
    expect((error as DaylightError).code).toBe('not-ready');
  });
});

describe('createDaylight options', () => {
  it.each([
    [{ basePath: 'daylight' }, /basePath must start with one "\/"/],
    [{ basePath: '/daylight/' }, /basePath must start with one "\/" and not end with one/],
    [{ version: '1.0' }, /version must be a semver version such as 1.4.2, got "1.0"/],
    [{ timeout: -1 }, /timeout must be a number of milliseconds/],
    [{ checkInterval: Number.NaN }, /checkInterval \(0: off\) must be a number of milliseconds/],
    [{ allowedOrigins: ['cdn.example.com'] }, /allowedOrigins takes origins such as/],
    // Every check would abort at once, silently, and nothing would count as in flight.
    [{ timeout: 0 }, /timeout must be a number of milliseconds from 1 to 2147483647, got 0/],
    // Past the longest timer: it would fire at once.
    [{ timeout: 2 ** 31 }, /timeout must be a number of milliseconds from 1 to 2147483647/],
    // Meant as seconds: a check every 600 ms in every tab.
    [{ checkInterval: 600 }, /checkInterval \(0: off\) must be a number of milliseconds from 1000 to 2147483647/],
    // A path that starts with "//" (or "/\\") names another host: checks and reports would go there.
    [{ basePath: '//cdn.example.com/_daylight' }, /basePath must start with one "\/" and not end with one/],
    [{ basePath: '/\\cdn.example.com' }, /basePath must start with one "\/"/],
    [{ snapshot: { draft: 'x' } as never }, /snapshot must be a function, got object/],
    // false turns off a safe moment only: a timeout, an interval or a grace of Infinity would run at once.
    [{ timeout: false as never }, /timeout must be a number of milliseconds from 1 to 2147483647, got false/],
    [{ grace: false as never }, /grace must be a number of milliseconds from 0 to 2147483647, got false/],
    [{ checkInterval: false as never }, /checkInterval \(0: off\) must be a number of milliseconds/],
    // A typo would be ignored, silently: the snapshot hook never called, the person's input lost on a switch.
    [{ snapshots: () => ({}) } as never, /options has no key "snapshots"; use version, basePath, policy, .*snapshot/],
    [{ idle: 60_000 } as never, /options has no key "idle"/],
    [{ safeMoments: { idel: 1_000 } } as never, /safeMoments has no key "idel"; use navigation, hidden, idle/],
    [{ allowedOrigins: 'cdn.example.com' as never }, /allowedOrigins takes origins such as .*got "cdn.example.com"/],
  ])('rejects %j with a message that says how to fix it', (options, message) => {
    expect(() => createDaylight(options)).toThrow(message);
  });

  it('takes false for the safe moments, which turns them off', () => {
    expect(() => createDaylight({ safeMoments: { hidden: false, idle: false } })).not.toThrow();
  });

  it('accepts the limits', () => {
    for (const options of [
      { timeout: 1 },
      { timeout: 2 ** 31 - 1 },
      { checkInterval: 0 },
      { checkInterval: 1_000 },
      { basePath: '/a' },
      { basePath: '/api/_daylight' },
      { snapshot: () => ({}) },
      // One origin as a string: a list of one; any iterable of them, as before.
      { allowedOrigins: 'https://cdn.example.com' },
      { allowedOrigins: new Set(['https://cdn.example.com']) as unknown as string[] },
      { allowedOrigins: ['https://cdn.example.com', 'http://127.0.0.1:8080'] },
      { safeMoments: { navigation: false, hidden: 1_000, idle: 60_000 } },
      { policy: { major: 'prompt' as const }, reports: false, fetch: globalThis.fetch, grace: 0 },
    ]) {
      expect(() => createDaylight(options)).not.toThrow();
    }
  });

  it('recognises its errors across realms by name and code', () => {
    const foreign = Object.assign(new Error('x'), { name: 'DaylightError', code: 'integrity' });
    expect(isDaylightError(foreign)).toBe(true);
    expect(isDaylightError(new Error('x'))).toBe(false);
  });
});
