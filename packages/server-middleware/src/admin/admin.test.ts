import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import path from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { daylightExpress, daylightExpressShell } from '../express.js';
import { auditFileOf } from '../file-registry.js';
import { readRegistryFile, releaseDir, writeRegistryFile } from '../registry.js';
import { createDaylight } from '../server.js';
import { createReleaseStore, createTestLogger, listen, sampleRelease, stop, waitFor } from '../test-support.js';
import type { DaylightServer, DaylightServerOptions } from '../types.js';
import { CSRF_COOKIE } from './admin.js';

const TOKEN = 'admin-secret-token';
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** The office's API behind Daylight: `x-office` stands in for the signed-in tenant, set by the app's own middleware. */
async function office(
  options: Omit<DaylightServerOptions, 'config'> = {},
): Promise<{ url: string; daylight: DaylightServer; registryFile: string }> {
  const store = await createReleaseStore();
  cleanups.push(() => store.cleanup());
  const daylight = createDaylight({ config: store.registryFile, logger: createTestLogger(), watch: false, ...options });
  await daylight.ready;
  cleanups.push(() => daylight.close());
  const app = express();
  app.use(daylightExpress(daylight));
  app.use((req, _res, next) => {
    (req as IncomingMessage & { office?: string | undefined }).office = req.headers['x-office'] as string | undefined;
    next();
  });
  app.get('/api/inbox', (_req, res) => res.json({ messages: [] }));
  app.use(daylightExpressShell(daylight));
  const server: Server = createServer(app);
  const url = await listen(server);
  cleanups.push(() => stop(server));
  return { url, daylight, registryFile: store.registryFile };
}

const authorize = (req: IncomingMessage): boolean => req.headers.authorization === `Bearer ${TOKEN}`;
const admin = { authorization: `Bearer ${TOKEN}` };

async function call(url: string, session: string, version = '1.0.0', officeName?: string): Promise<Response> {
  const headers: Record<string, string> = { 'Daylight-Client': `v="${version}", s="${session}"` };
  if (officeName !== undefined) headers['x-office'] = officeName;
  const response = await fetch(`${url}/api/inbox`, { headers });
  await response.arrayBuffer();
  return response;
}

const ADMIN_PATHS = [
  '/_daylight/admin/',
  '/_daylight/admin',
  '/_daylight/admin/census.json',
  '/_daylight/admin/nothing-here',
];

describe('admin endpoints', () => {
  it('answer 403 on every admin path when authorize is not configured, and reveal nothing', async () => {
    const { url } = await office();
    await call(url, 'tab-aaaaaaaa');
    for (const path of ADMIN_PATHS) {
      const response = await fetch(`${url}${path}`, { headers: admin });
      const body = await response.text();
      expect(response.status, path).toBe(403);
      expect(body).toBe('Forbidden: the admin pages are off (configure authorize)\n');
    }
  });

  it('answer 401 with the same body on every admin path when authorize says no', async () => {
    const { url } = await office({ authorize });
    await call(url, 'tab-aaaaaaaa');
    const bodies = new Set<string>();
    for (const path of ADMIN_PATHS) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }]) {
        const response = await fetch(`${url}${path}`, { headers });
        expect(response.status, path).toBe(401);
        expect(response.headers.get('cache-control')).toBe('no-store');
        bodies.add(await response.text());
      }
    }
    expect([...bodies]).toEqual(['Unauthorized\n']);
    const action = await fetch(`${url}/_daylight/admin/actions`, { method: 'POST', body: '{"action":"rollback"}' });
    expect(action.status).toBe(401);
  });

  it('refuse when authorize throws', async () => {
    const { url } = await office({
      authorize: () => {
        throw new Error('session store down');
      },
    });
    expect((await fetch(`${url}/_daylight/admin/census.json`)).status).toBe(401);
  });

  it('serve the census of API calls per release and cohort to an authorised caller', async () => {
    const { url } = await office({ authorize, cohort: (req) => (req as IncomingMessage & { office?: string }).office });
    for (let i = 0; i < 25; i++) await call(url, `tab-${i}-pilot-x`, '1.0.0', 'pilot');
    for (let i = 0; i < 10; i++) await call(url, `tab-${i}-other-x`, '1.1.0');
    await call(url, 'tab-from-the-future', '7.7.7');
    await call(url, 'tab-aaaaaaaa-again', '1.0.0', 'pilot');
    await call(url, 'tab-aaaaaaaa-again', '1.0.0', 'pilot');

    const census = await waitFor(async () => {
      const response = await fetch(`${url}/_daylight/admin/census.json`, { headers: admin });
      const body = (await response.json()) as {
        series: { release: string; cohort: string; sessions: Record<string, number> }[];
      };
      return body.series.length === 3 ? body : undefined;
    });
    expect(census.series.map((s) => [s.release, s.cohort, s.sessions['5m']])).toEqual([
      ['1.1.0', 'default', 10],
      ['1.0.0', 'pilot', 26],
      ['unknown', 'default', 1],
    ]);
  });

  it('never lets a broken Daylight-Client header break the response or reach the census', async () => {
    const { url, daylight } = await office({ authorize });
    const response = await fetch(`${url}/api/inbox`, { headers: { 'Daylight-Client': 'v=1.0.0, s=<script>' } });
    expect(response.status).toBe(200);
    expect((await daylight.census())!.series).toEqual([]);
  });

  it('say on the status page when this server serves an older registry than the store holds, and why', async () => {
    const { url, daylight, registryFile } = await office({ authorize });
    const page = async () => (await fetch(`${url}/_daylight/admin/`, { headers: admin })).text();
    expect(await page()).not.toContain('data-testid="registry-problem"');
    const good = await readFile(registryFile, 'utf8');
    await writeFile(registryFile, '{ "schema": 1, "current": '); // cut short: a write that did not finish
    await daylight.reload();
    const html = await page();
    expect(html).toMatch(
      /<p class="bad" data-testid="registry-problem">This server serves the last registry it could use, shown below, not the store's: .+\. Changes made since \(halts, pins, the floor\) do not reach it until that is fixed\.<\/p>/,
    );
    expect(html).toContain('current <b data-testid="current">1.0.0</b>');
    await writeFile(registryFile, good);
    await daylight.reload();
    expect(await page()).not.toContain('data-testid="registry-problem"');
  });

  it('render the status page with the census and a CSRF cookie, under a strict CSP', async () => {
    const { url } = await office({ authorize });
    await call(url, 'tab-aaaaaaaa');
    const response = await fetch(`${url}/_daylight/admin/`, { headers: admin });
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'nonce-/);
    expect(response.headers.get('set-cookie')).toMatch(
      new RegExp(`^${CSRF_COOKIE}=[\\w-]{32}; Path=/_daylight/admin; HttpOnly; SameSite=Strict$`),
    );
    expect(html).toContain('data-testid="census"');
    expect(html).toContain('<svg');
    expect(html).toMatch(/<td>1\.0\.0<\/td><td>default<\/td><td>1<\/td>/);
  });
});

describe('admin actions', () => {
  async function session(url: string): Promise<{ csrf: string; cookie: string }> {
    const response = await fetch(`${url}/_daylight/admin/`, { headers: admin });
    await response.text();
    const cookie = response.headers.get('set-cookie')!.split(';')[0]!;
    return { csrf: cookie.split('=')[1]!, cookie };
  }

  function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response> {
    return fetch(`${url}/_daylight/admin/actions`, {
      method: 'POST',
      headers: { ...admin, ...headers },
      body: JSON.stringify(body),
    });
  }

  it('promote a release with the page token, and refuse cross-site requests', async () => {
    const { url, registryFile } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const good = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    const promote = { action: 'promote', version: '1.1.0' };

    const refusals: [string, Record<string, string>][] = [
      ['no custom header', { ...good, 'x-daylight-admin': '' }],
      ['a form post', { ...good, 'content-type': 'application/x-www-form-urlencoded' }],
      ['no token', { ...good, 'x-daylight-csrf': '' }],
      ['a token from elsewhere', { ...good, 'x-daylight-csrf': 'A'.repeat(32) }],
      ['no cookie', { ...good, cookie: '' }],
      ['another origin', { ...good, origin: 'https://evil.example' }],
      ['an opaque origin', { ...good, origin: 'null' }],
      ['an origin that is not a URL', { ...good, origin: 'evil' }],
      ['a cross-site fetch', { ...good, 'sec-fetch-site': 'cross-site' }],
    ];
    for (const [what, headers] of refusals) {
      const response = await post(url, headers, promote);
      expect(response.status, what).toBe(403);
      expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    }
    const before = await readRegistryFile(registryFile);
    expect(before.ok && before.registry.current).toBe('1.0.0');

    const host = new URL(url).host;
    const done = await post(url, { ...good, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }, promote);
    expect(done.status).toBe(200);
    expect(await done.json()).toMatchObject({ changed: true, summary: 'promote 1.1.0 to everyone' });
    const after = await readRegistryFile(registryFile);
    expect(after.ok && after.registry.current).toBe('1.1.0');

    // Behind a reverse proxy that rewrites Host, Origin names the public host: Sec-Fetch-Site says same-origin.
    const proxied = { ...good, origin: 'https://app.example.com', 'sec-fetch-site': 'same-origin' };
    expect((await post(url, proxied, { action: 'promote', version: '1.0.0' })).status).toBe(200);
    expect((await post(url, proxied, promote)).status).toBe(200);

    const rollback = await post(url, good, { action: 'rollback' });
    expect(await rollback.json()).toMatchObject({ changed: true });
    const back = await readRegistryFile(registryFile);
    expect(back.ok && back.registry.current).toBe('1.0.0');
  });

  it('halt from the page, and show the reason as text, not markup', async () => {
    const { url, registryFile } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    const reason = '<img src=x onerror="alert(1)">';
    await post(url, headers, { action: 'promote', version: '1.1.0' });
    const halted = await post(url, headers, { action: 'halt', release: '1.1.0', reason });
    expect(await halted.json()).toMatchObject({ changed: true });
    const after = await readRegistryFile(registryFile);
    expect(after.ok && after.registry.halted).toMatchObject({ release: '1.1.0', reason });
    expect(after.ok && after.registry.current).toBe('1.0.0'); // halting the current release rolls back
    const html = await (await fetch(`${url}/_daylight/admin/`, { headers: admin })).text();
    expect(html).not.toContain('<img');
    expect(html).toContain('&#60;img src=x onerror=&#34;alert(1)&#34;&#62;');
  });

  it('answer a refused change with a problem document and change nothing', async () => {
    const { url } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    const unknown = await post(url, headers, { action: 'promote', version: '9.9.9' });
    expect(unknown.status).toBe(409);
    expect(await unknown.json()).toMatchObject({
      type: 'https://daylight.dev/problems/admin-action-refused',
      status: 409,
    });
    const malformed = await post(url, headers, { action: 'drop-tables' });
    expect(malformed.status).toBe(400);
  });

  it('refuse to send clients to a release whose files are not what was published, as the CLI does', async () => {
    const { url, registryFile } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    const files = path.join(releaseDir(registryFile, '1.1.0'), 'files');
    const [script] = (await readdir(files, { recursive: true })).filter((name) => name.endsWith('.js'));
    const scriptFile = path.join(files, script!);
    const bytes = await readFile(scriptFile);
    await rm(scriptFile);
    const before = await readFile(registryFile, 'utf8');
    for (const action of [
      { action: 'promote', version: '1.1.0' },
      { action: 'promote', version: '1.1.0', cohort: 'pilot' },
      { action: 'promote', version: '1.1.0', percent: 10, key: 'tenant' },
    ]) {
      const refused = await post(url, headers, action);
      expect(refused.status, JSON.stringify(action)).toBe(409);
      expect(((await refused.json()) as { detail: string }).detail).toBe(
        `release 1.1.0 cannot be served: ${scriptFile} is missing; publish the same build again to repair it ("daylight publish <build-dir> --version 1.1.0")`,
      );
    }
    // Other bytes of the same size are found too.
    await writeFile(scriptFile, Buffer.alloc(bytes.length, 0x20));
    const tampered = await post(url, headers, { action: 'promote', version: '1.1.0' });
    expect(tampered.status).toBe(409);
    expect(((await tampered.json()) as { detail: string }).detail).toMatch(
      /does not match its SHA-384 in the manifest/,
    );
    expect(await readFile(registryFile, 'utf8')).toBe(before);

    await writeFile(scriptFile, bytes);
    const done = await post(url, headers, { action: 'promote', version: '1.1.0' });
    expect(done.status).toBe(200);
    // A halt reads the release it goes back to (1.0.0, sound), not the one it halts.
    await rm(scriptFile);
    const halted = await post(url, headers, { action: 'halt', release: '1.1.0', reason: 'bad' });
    expect(halted.status).toBe(200);
  });

  it('refuse a halt whose way back is damaged, as daylight halt does', async () => {
    const { url, registryFile } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    expect((await post(url, headers, { action: 'promote', version: '1.1.0' })).status).toBe(200);
    const files = path.join(releaseDir(registryFile, '1.0.0'), 'files');
    for (const name of await readdir(files, { recursive: true })) {
      if (name.endsWith('.js')) await rm(path.join(files, name));
    }
    const refused = await post(url, headers, { action: 'halt', release: '1.1.0', reason: 'bad' });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(
      /^release 1\.0\.0 cannot be served: .* is missing/,
    );
  });

  it('act from the page of a server that serves an older registry than the store (a folder it lacks)', async () => {
    const { url, daylight, registryFile } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    expect((await post(url, headers, { action: 'promote', version: '1.1.0' })).status).toBe(200);
    // Another machine publishes and promotes 1.2.0; its folder has not reached this server's disk.
    const read = await readRegistryFile(registryFile);
    if (!read.ok) throw new Error(read.error);
    const elsewhere = await createReleaseStore({ releases: [sampleRelease('1.2.0')], current: '1.2.0' });
    cleanups.push(() => elsewhere.cleanup());
    const registry = read.registry;
    await writeRegistryFile(registryFile, {
      ...registry,
      revision: (registry.revision ?? 0) + 1,
      current: '1.2.0',
      previous: [...(registry.previous ?? []), '1.1.0'],
      releases: { ...registry.releases, '1.2.0': elsewhere.registry.releases['1.2.0']! },
    });
    await daylight.reload();
    expect(await (await fetch(`${url}/_daylight/admin/`, { headers: admin })).text()).toContain(
      'data-testid="registry-problem"',
    );
    // Rolling everyone back to 1.1.0, which this server has, is what the operator can do: it works.
    const back = await post(url, headers, { action: 'rollback' });
    expect(back.status).toBe(200);
    const after = await readRegistryFile(registryFile);
    expect(after.ok && after.registry.current).toBe('1.1.0');
  });

  it('refuse a change whose audit entry cannot be written, with a problem document, and change nothing', async () => {
    const { url, registryFile } = await office({ authorize });
    const { csrf, cookie } = await session(url);
    const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
    await mkdir(auditFileOf(registryFile)); // a folder in the log's place: no one can append to it
    const before = await readFile(registryFile, 'utf8');
    const refused = await post(url, headers, { action: 'promote', version: '1.1.0' });
    expect(refused.status).toBe(503);
    expect(((await refused.json()) as { detail: string }).detail).toMatch(
      /^the audit log .* cannot be written \(EISDIR\), so the change could not be recorded; nothing was changed\./,
    );
    expect(await readFile(registryFile, 'utf8')).toBe(before);
  });

  it.skipIf(!existsSync('/dev/full'))(
    'answer a change made without its audit entry as done, and say what is missing',
    async () => {
      const { url, registryFile } = await office({ authorize });
      const { csrf, cookie } = await session(url);
      const headers = { 'content-type': 'application/json', 'x-daylight-admin': '1', 'x-daylight-csrf': csrf, cookie };
      await symlink('/dev/full', auditFileOf(registryFile)); // opens, then every write fails with ENOSPC
      const done = await post(url, headers, { action: 'promote', version: '1.1.0' });
      expect(done.status).toBe(200);
      const body = (await done.json()) as { changed: boolean; summary: string };
      expect(body.changed).toBe(true);
      // The status page shows the summary.
      expect(body.summary).toMatch(
        /^promote 1\.1\.0 to everyone \(warning: changed \(revision \d+\); the audit entry could not be written: appending to .* failed \(ENOSPC\)/,
      );
      const after = await readRegistryFile(registryFile);
      expect(after.ok && after.registry.current).toBe('1.1.0');
    },
  );
});
