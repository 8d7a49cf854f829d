import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Builds the packages whose dist/ is older than their sources, once, before any test runs.
    globalSetup: ['scripts/build-stale.mjs'],
    include: ['packages/*/src/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
