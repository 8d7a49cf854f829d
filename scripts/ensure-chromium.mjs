// Makes sure the end-to-end tests have a Chromium: $DAYLIGHT_CHROMIUM (or
// $CHROMIUM_PATH), Debian's /usr/lib/chromium/chromium or /usr/bin/chromium,
// or one Playwright downloaded itself. On a Debian machine with none, as
// root, it installs Debian's package; elsewhere it says how to get one.
import { findChromium } from './chromium.mjs';
import { installFromDebian } from './debian-install.mjs';

const found = findChromium();
if (found) {
  console.log(`chromium: ${found}`);
  process.exit(0);
}

if (installFromDebian('chromium', { recommends: true }) && findChromium()) process.exit(0);
console.error(`chromium: no browser found for the end-to-end tests. Either
  - set DAYLIGHT_CHROMIUM to a Chromium or Chrome executable, or
  - on Debian/Ubuntu: sudo apt-get install chromium, or
  - let Playwright download its own: npx playwright install chromium`);
process.exit(1);
