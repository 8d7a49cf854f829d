/**
 * Finds a Chromium to drive: $DAYLIGHT_CHROMIUM (or $CHROMIUM_PATH), then
 * Debian's, then Playwright's own download. `scripts/ensure-chromium.mjs`
 * installs Debian's where none is found.
 */
import { existsSync } from 'node:fs';

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

export function findChromium(): string | undefined {
  const candidates = [
    process.env.DAYLIGHT_CHROMIUM,
    process.env.CHROMIUM_PATH,
    '/usr/lib/chromium/chromium',
    '/usr/bin/chromium',
  ];
  return candidates.find((candidate): candidate is string => !!candidate && existsSync(candidate));
}
