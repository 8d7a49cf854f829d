/**
 * The built package, as other packages and apps load it: through the
 * `exports` map, with `require()` (CommonJS) and with `import`. Builds the
 * package first when dist/ is missing or older than src/ (the build is
 * skipped when fresh so that concurrent test runs of other packages, which
 * load this dist/, are not disturbed).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createReleaseStore, type ReleaseStore } from './test-support.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = path.resolve(packageDir, '../..');
const ENTRIES = ['index', 'express', 'koa'];

function newest(dir: string): number {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(full) : statSync(full).mtimeMs);
  }
  return latest;
}

function isStale(): boolean {
  try {
    const built = Math.min(
      ...ENTRIES.flatMap((e) => [`${e}.cjs`, `${e}.js`, `${e}.d.ts`]).map(
        (f) => statSync(path.join(packageDir, 'dist', f)).mtimeMs,
      ),
    );
    return (
      built < Math.max(newest(path.join(packageDir, 'src')), statSync(path.join(packageDir, 'package.json')).mtimeMs)
    );
  } catch {
    return true; // not built
  }
}

/** Runs a script with node from the repository root, where the workspace links resolve. */
function node(args: string[], script: string): string {
  return execFileSync(process.execPath, [...args, '-e', script], { cwd: repoRoot, encoding: 'utf8' });
}

describe('the built package', () => {
  let store: ReleaseStore;

  beforeAll(async () => {
    if (isStale()) {
      execFileSync('npm', ['run', 'build', '-w', '@daylight/server-middleware'], { cwd: repoRoot, stdio: 'pipe' });
    }
    store = await createReleaseStore();
  }, 120_000);

  afterAll(async () => {
    await store.cleanup();
  });

  it('loads every entry point with require() from CommonJS, and the core works', () => {
    const script = `
      const express = require('@daylight/server-middleware/express');
      const koa = require('@daylight/server-middleware/koa');
      const core = require('@daylight/server-middleware');
      const daylight = core.createDaylight({ config: ${JSON.stringify(store.registryFile)}, watch: false, logger: { info() {}, warn() {}, error() {} } });
      daylight.ready.then(async () => {
        const handler = express.daylightExpress(daylight);
        console.log(JSON.stringify({
          express: Object.keys(express).sort(),
          koa: Object.keys(koa).sort(),
          core: typeof core.createDaylight + ',' + typeof core.writeRegistryFile,
          handlerArity: handler.length,
          stamp: daylight.stampFor({ method: 'GET', path: '/', headers: {} }),
        }));
        await daylight.close();
      });
    `;
    const result = JSON.parse(node([], script)) as Record<string, unknown>;
    expect(result).toEqual({
      express: ['daylightExpress', 'daylightExpressFloor', 'daylightExpressShell'],
      koa: ['daylightKoa', 'daylightKoaFloor', 'daylightKoaShell'],
      core: 'function,function',
      handlerArity: 3,
      stamp: { version: '1.0.0' },
    });
  });

  it('loads every entry point with import from ESM', () => {
    const script = `
      const express = await import('@daylight/server-middleware/express');
      const koa = await import('@daylight/server-middleware/koa');
      const core = await import('@daylight/server-middleware');
      console.log([typeof express.daylightExpressShell, typeof koa.daylightKoaShell, typeof core.createDaylight].join());
    `;
    expect(node(['--input-type=module'], script).trim()).toBe('function,function,function');
  });
});
