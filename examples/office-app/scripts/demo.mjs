// `npm run demo`: builds releases 1.0.0 and 1.1.0 of the office app, publishes
// both into a fresh release store, promotes 1.0.0, and serves the app. Open
// the URL, sign in, type into the invoice, then promote 1.1.0 (press Enter
// here, or run the printed command) and watch the tab switch.
//
// Flags: --koa (serve with Koa instead of Express), --port N (default 3000).
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCli } from '@daylight/cli';
import { buildRelease } from './build.mjs';
import { startOfficeServer } from '../server/app.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: { koa: { type: 'boolean', default: false }, port: { type: 'string', default: process.env.PORT ?? '3000' } },
});
const framework = values.koa ? 'koa' : 'express';
const storeDir = path.join(root, '.daylight');
const store = path.join(storeDir, 'releases.json');
const cli = (...args) => runCli([...args, '--store', store]);

await rm(storeDir, { recursive: true, force: true });
for (const version of ['1.0.0', '1.1.0']) {
  const dir = path.join(root, 'builds', version);
  if (!existsSync(path.join(dir, 'index.html'))) await buildRelease(version);
  if ((await cli('publish', dir, '--version', version, '--notes', `Office Desk ${version}`)) !== 0) process.exit(1);
}
if ((await cli('promote', '1.0.0')) !== 0) process.exit(1);

let app;
try {
  app = await startOfficeServer({ framework, store, port: Number(values.port), admins: ['ops@hq'] });
} catch (error) {
  if (error.code !== 'EADDRINUSE') throw error;
  app = await startOfficeServer({ framework, store, port: 0, admins: ['ops@hq'] });
}

const relStore = path.relative(process.cwd(), store);
console.log(`
  Daylight demo (${framework}) — serving release 1.0.0 at ${app.url}

  1. Open ${app.url} and sign in with any user name and password.
  2. Type something into the invoice form (leave it unsaved).
  3. Promote 1.1.0 while the page is open:
       press Enter here, or run: npx daylight promote 1.1.0 --store ${relStore}
     The next API call notices, the 2.3 MB release downloads and is verified
     in the background, and a prompt offers the switch. Accept it: you stay
     signed in, your typing comes back, and the header turns green.
  4. Roll back with: npx daylight promote 1.0.0 --store ${relStore}

  Pilot office first (docs/rollouts.md). Your office is the part after "@" in
  the user name: sign in as ada@pilot in one window and bob@berlin in another
  (a private window keeps the logins apart), then run, one at a time:
       npx daylight promote 1.1.0 --cohort pilot --store ${relStore}          only ada's tab is offered 1.1.0
       npx daylight promote 1.1.0 --percent 50 --key user --store ${relStore}  half of everyone else, by user
       npx daylight promote 1.1.0 --store ${relStore}                        everyone
       npx daylight rollback --store ${relStore}                             everyone back to 1.0.0, once
       npx daylight rollback --cohort pilot --store ${relStore}              the pilot office too
       npx daylight status --store ${relStore}                               cohorts, rollouts, halts
       npx daylight history --store ${relStore}                              who changed what, when

  The status page: sign in as ops@hq and open ${app.url}/_daylight/admin/
  (live sessions per release and cohort, the rollouts, the floor).

  Ctrl+C stops the demo.
`);

let next = '1.1.0';
if (process.stdin.isTTY) {
  const lines = readline.createInterface({ input: process.stdin });
  lines.on('line', async () => {
    await cli('promote', next);
    next = next === '1.1.0' ? '1.0.0' : '1.1.0';
    console.log(`  (press Enter again to promote ${next})`);
  });
}

const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
