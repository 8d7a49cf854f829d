import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, findChromium } from './e2e/support/browser.js';
import type { Framework } from './e2e/support/fixtures.js';

const executablePath = findChromium();

export default defineConfig<object, { framework: Framework }>({
  testDir: 'e2e',
  timeout: 60_000,
  expect: { timeout: 15_000 },
  fullyParallel: true,
  workers: 2,
  retries: 0,
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['json', { outputFile: '.reports/playwright.json' }]],
  use: {
    browserName: 'chromium',
    headless: true,
    launchOptions: { args: [...CHROMIUM_ARGS], ...(executablePath ? { executablePath } : {}) },
    trace: 'retain-on-failure',
  },
  projects: [
    { name: 'express', use: { framework: 'express' } },
    // The leases run in the page alone (a 404 page of the office app's origin): no server framework in them.
    { name: 'koa', use: { framework: 'koa' }, testIgnore: /leases\.spec\.ts$/ },
  ],
});
