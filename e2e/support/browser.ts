/** Re-exported for the Playwright config: see scripts/chromium.mjs. */
export { CHROMIUM_ARGS, findChromium } from '../../scripts/chromium.mjs';
