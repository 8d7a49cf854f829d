// Where the tests and benchmarks find a Chromium, in one place:
// $DAYLIGHT_CHROMIUM (or $CHROMIUM_PATH), then Debian's, then the one
// Playwright downloaded itself (if it ever did).
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

/** Resolves to 127.0.0.1 in the tests' Chromium; pages served under it are not a secure context. */
export const INTRANET_HOST = 'office.intranet';

/** Flags for Chromium on this kind of machine (root, no GPU, a closed network). */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  // A name for the loopback address that is not "localhost": a page there is
  // not a secure context, like an office intranet on plain http (e2e/intranet.spec.ts).
  `--host-resolver-rules=MAP ${INTRANET_HOST} 127.0.0.1`,
];

function playwrightsOwn() {
  try {
    const path = createRequire(import.meta.url)('playwright-core').chromium.executablePath();
    return existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** The Chromium executable to launch, or `undefined` when there is none. */
export function findChromium() {
  const candidates = [
    process.env.DAYLIGHT_CHROMIUM,
    process.env.CHROMIUM_PATH,
    '/usr/lib/chromium/chromium',
    '/usr/bin/chromium',
  ];
  return candidates.find((candidate) => !!candidate && existsSync(candidate)) ?? playwrightsOwn();
}
