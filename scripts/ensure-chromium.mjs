// Makes sure the end-to-end tests have a Chromium: $DAYLIGHT_CHROMIUM (or
// $CHROMIUM_PATH), Debian's /usr/lib/chromium/chromium or /usr/bin/chromium,
// or one Playwright downloaded itself. On a Debian machine with none, as
// root, it installs Debian's package; elsewhere it says how to get one.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { findChromium } from './chromium.mjs';

const found = findChromium();
if (found) {
  console.log(`chromium: ${found}`);
  process.exit(0);
}

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (existsSync('/etc/debian_version') && isRoot) {
  console.log("chromium: none found; installing Debian's package (apt-get install -y chromium)…");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium'], { stdio: 'inherit', env });
  process.exit(existsSync('/usr/bin/chromium') ? 0 : 1);
}
console.error(`chromium: no browser found for the end-to-end tests. Either
  - set DAYLIGHT_CHROMIUM to a Chromium or Chrome executable, or
  - on Debian/Ubuntu: sudo apt-get install chromium, or
  - let Playwright download its own: npx playwright install chromium`);
process.exit(1);
