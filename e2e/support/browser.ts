/** Re-exported for the Playwright config: see scripts/chromium.mjs. */
export { CHROMIUM_ARGS, INTRANET_HOST, findChromium } from '../../scripts/chromium.mjs';
