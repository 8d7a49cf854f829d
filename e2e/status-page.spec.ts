/**
 * The status page below /_daylight/admin/, in a real Chromium against the
 * office app on Express and on Koa: closed to a browser without the admin
 * token (and nothing leaks), open with it — rollouts, the census of a real
 * signed-in tab, the chart — and its actions work from the page but not from
 * another site.
 */
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { ADMIN_TOKEN, ADMIN_USER, ROOT, expect, signIn, test } from './support/fixtures.js';
import { passOn } from './support/two-servers.js';

const ADMIN = { Authorization: `Bearer ${ADMIN_TOKEN}` };

test('without the admin token every admin path answers 401 and shows nothing of the rollouts or the census', async ({
  page,
  office,
}) => {
  await signIn(page, office.url);
  for (const where of ['/_daylight/admin/', '/_daylight/admin/census.json']) {
    const response = await page.goto(`${office.url}${where}`);
    expect(response?.status(), where).toBe(401);
    const text = await page.locator('body').innerText();
    expect(text.trim()).toBe('Unauthorized');
    expect(text).not.toMatch(/1\.0\.0|1\.1\.0|main|default/);
  }
});

test('a signed-in admin opens the status page in the browser, as the demo shows it', async ({ page, office }) => {
  await signIn(page, office.url, undefined, ADMIN_USER);
  const response = await page.goto(`${office.url}/_daylight/admin/`);
  expect(response?.status()).toBe(200);
  await expect(page.locator('body')).toContainText('1.0.0');
  // Signing out of the admin session closes the page again.
  await page.context().clearCookies();
  expect((await page.goto(`${office.url}/_daylight/admin/`))?.status()).toBe(401);
});

test('with the admin token the page shows rollouts, the live census with its chart, and promotes from the page', async ({
  browser,
  page,
  office,
}, testInfo) => {
  // A real tab on 1.0.0, signed in to the "main" office: its API calls are counted.
  await signIn(page, office.url);
  await expect(page.getByTestId('version')).toHaveText('1.0.0');

  const admin = await browser.newContext({ extraHTTPHeaders: ADMIN, viewport: { width: 1000, height: 900 } });
  const status = await admin.newPage();
  await expect(async () => {
    await status.goto(`${office.url}/_daylight/admin/`);
    await expect(status.getByTestId('census')).toContainText('main', { timeout: 500 });
  }).toPass({ timeout: 10_000 });

  await expect(status.getByTestId('current')).toHaveText('1.0.0');
  await expect(status.getByTestId('rollouts')).toContainText('everyone');
  const row = status.getByTestId('census').locator('tr', { hasText: 'main' });
  await expect(row.locator('td').nth(0)).toHaveText('1.0.0');
  await expect(row.locator('td').nth(2)).toHaveText('1'); // one tab in the last 5 minutes
  await expect(status.getByTestId('sessions-chart').locator('polyline[data-release="1.0.0"]')).toHaveCount(1);
  await expect(status.getByTestId('sessions-chart')).toContainText('1.0.0 (1)');

  // DAYLIGHT_SCREENSHOTS=1 refreshes the picture in the docs; otherwise it goes to the test's output.
  const picture = process.env.DAYLIGHT_SCREENSHOTS
    ? path.join(ROOT, 'docs/status-page.png')
    : testInfo.outputPath('status-page.png');
  if (testInfo.project.name === 'express') await status.screenshot({ path: picture, fullPage: true });

  await status.locator('form[data-action="promote"] input[name="version"]').fill('1.1.0');
  await status.locator('form[data-action="promote"]').getByRole('button', { name: 'Promote' }).click();
  await expect(status.getByTestId('action-result')).toHaveText('promote 1.1.0 to everyone');
  await expect(status.getByTestId('current')).toHaveText('1.1.0'); // the page reloads after a change
  expect(await office.cli('status', '--json')).toContain('"current": "1.1.0"');
  await admin.close();
});

test('another site cannot act through an admin browser: no form post, no cross-origin fetch', async ({
  browser,
  office,
}) => {
  const evil: Server = createServer((_req, res) => {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(`<!doctype html><title>evil</title>
<form id="f" method="POST" enctype="text/plain" action="${office.url}/_daylight/admin/actions">
<input name='{"action":"promote","version":"1.1.0","x":"' value='"}'></form>
<p id="fetch">pending</p>
<script>
fetch(${JSON.stringify(`${office.url}/_daylight/admin/actions`)}, {
  method: 'POST', credentials: 'include',
  headers: { 'Content-Type': 'application/json', 'X-Daylight-Admin': '1' },
  body: JSON.stringify({ action: 'promote', version: '1.1.0' }),
}).then((r) => (document.getElementById('fetch').textContent = 'answered ' + r.status),
        () => (document.getElementById('fetch').textContent = 'blocked'));
</script>`);
  });
  await new Promise<void>((resolve) => evil.listen(0, '127.0.0.1', resolve));
  const evilUrl = `http://127.0.0.1:${(evil.address() as { port: number }).port}/`;
  const admin = await browser.newContext({ extraHTTPHeaders: ADMIN });
  try {
    // The admin has the page open, so the browser holds the CSRF cookie.
    const status = await admin.newPage();
    await status.goto(`${office.url}/_daylight/admin/`);
    await expect(status.getByTestId('current')).toHaveText('1.0.0');

    const attacker = await admin.newPage();
    await attacker.goto(evilUrl);
    await expect(attacker.locator('#fetch')).toHaveText('blocked');
    const [post] = await Promise.all([
      attacker.waitForResponse((response) => response.url().endsWith('/_daylight/admin/actions')),
      attacker.locator('#f').evaluate((form: HTMLFormElement) => form.submit()),
    ]);
    expect(post.status()).toBe(403);
    expect(await office.cli('status', '--json')).toContain('"current": "1.0.0"');
  } finally {
    await admin.close();
    await new Promise((resolve) => evil.close(resolve));
  }
});

test('acts from the page behind a reverse proxy that rewrites Host (nginx without proxy_set_header Host)', async ({
  browser,
  office,
}) => {
  const backend = new URL(office.url);
  const proxy: Server = createServer((req, res) => {
    req.headers.host = `backend.internal:${backend.port}`;
    passOn(req, res, office.url);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const publicUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
  const admin = await browser.newContext({ extraHTTPHeaders: ADMIN });
  try {
    const status = await admin.newPage();
    await status.goto(`${publicUrl}/_daylight/admin/`);
    await expect(status.getByTestId('current')).toHaveText('1.0.0');
    await status.locator('form[data-action="promote"] input[name="version"]').fill('1.1.0');
    await status.locator('form[data-action="promote"]').getByRole('button', { name: 'Promote' }).click();
    await expect(status.getByTestId('action-result')).toHaveText('promote 1.1.0 to everyone');
    expect(await office.cli('status', '--json')).toContain('"current": "1.1.0"');
  } finally {
    await admin.close();
    proxy.closeAllConnections();
    await new Promise((resolve) => proxy.close(resolve));
  }
});
