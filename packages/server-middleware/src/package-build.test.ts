/**
 * The built packages, as other packages and apps load them. First this
 * package through the `exports` map, with `require()` (CommonJS) and with
 * `import`; then all four packages as `npm pack` makes them, unpacked into a
 * temporary node_modules and type-checked and loaded from CommonJS and ESM
 * consumers. The dist/ folders are the ones vitest's global setup
 * (scripts/build-stale.mjs) left: it rebuilds a package whose dist/ is missing
 * a file its package.json names or is older than its sources, once, before any
 * test runs; this file builds nothing itself.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// dist/ is fresh: vitest's global setup (scripts/build-stale.mjs) built what was older than its sources.
import { isStale, pointedAt } from '../../../scripts/build-stale.mjs';
import { createReleaseStore, type ReleaseStore } from './test-support.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = path.resolve(packageDir, '../..');
/** Every published package, in build order (a package's types need its dependencies' dist/). */
const PACKAGES = ['protocol', 'server-middleware', 'client', 'cli'];

/** Runs a script with node from the repository root, where the workspace links resolve. */
function node(args: string[], script: string): string {
  return execFileSync(process.execPath, [...args, '-e', script], { cwd: repoRoot, encoding: 'utf8' });
}

describe("the global setup's staleness check", () => {
  it('rebuilds for a source file or package.json newer than dist/, not for a test file or test-support', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'daylight-stale-'));
    try {
      const at = (file: string, seconds: number): void => {
        const full = path.join(dir, file);
        mkdirSync(path.dirname(full), { recursive: true });
        if (!existsSync(full)) writeFileSync(full, file.endsWith('.json') ? '{"exports":"./dist/index.js"}' : '');
        utimesSync(full, seconds, seconds);
      };
      at('package.json', 1_000);
      at('src/index.ts', 1_000);
      expect(isStale(dir), 'no dist/').toBe(true);
      at('dist/index.js', 2_000);
      expect(isStale(dir)).toBe(false);
      at('src/index.test.ts', 3_000);
      at('src/test-support.ts', 3_000);
      expect(isStale(dir), 'a test file changed').toBe(false);
      at('src/index.ts', 3_000);
      expect(isStale(dir), 'a source file changed').toBe(true);
      at('src/index.ts', 1_000);
      at('package.json', 3_000);
      expect(isStale(dir), 'package.json changed').toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the built package', () => {
  let store: ReleaseStore;

  beforeAll(async () => {
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

  it("loads the browser client's every entry point in plain Node (server-side rendering), inert there", () => {
    // workbox-window is CommonJS to Node: /sw imported it by name and failed to load before it was loaded lazily.
    const script = `
      const { createDaylight } = await import('@daylight/client');
      const entries = ['banner', 'tabs', 'watchdog', 'recovery', 'sw'];
      const loaded = await Promise.all(entries.map(async (n) => Object.keys(await import('@daylight/client/' + n)).length > 0));
      const client = createDaylight({ version: '1.0.0' }).start();
      const { enableServiceWorker } = await import('@daylight/client/sw');
      const worker = enableServiceWorker(client);
      console.log(JSON.stringify({ loaded, status: client.state.status, mode: worker.mode, reason: worker.reason, ready: await worker.ready }));
    `;
    expect(JSON.parse(node(['--input-type=module'], script))).toEqual({
      loaded: [true, true, true, true, true],
      status: 'inert',
      mode: 'none',
      reason: 'no browser window here',
    });
  });
});

/** A consumer's CommonJS file: every entry point of the packages that load with require(). */
const CJS_CONSUMER = `
import { compareVersions } from '@daylight/protocol';
import { createDaylight } from '@daylight/server-middleware';
import { daylightExpress } from '@daylight/server-middleware/express';
import { daylightKoa } from '@daylight/server-middleware/koa';
import { runCli } from '@daylight/cli';

// Each call is wrong on purpose: the types must be real ones, not any.
// @ts-expect-error a number is no version string
compareVersions(1, '1.0.0');
// @ts-expect-error a number is no options object
void createDaylight(1);
// @ts-expect-error a number is no server
daylightExpress(1);
// @ts-expect-error a number is no server
daylightKoa(1);
// @ts-expect-error a number is no argument list
void runCli(1);
`;

/** A consumer's ESM file: the same, and the browser client's entry points. */
const ESM_CONSUMER = `${CJS_CONSUMER}
import { createDaylight as createClient } from '@daylight/client';
import { mountBanner } from '@daylight/client/banner';
import { coordinateTabs } from '@daylight/client/tabs';
import { watchBoot } from '@daylight/client/watchdog';
import { recoverChunkErrors } from '@daylight/client/recovery';
import { enableServiceWorker } from '@daylight/client/sw';

// @ts-expect-error a number is no options object
createClient(1);
// @ts-expect-error a number is no client
mountBanner(1);
// @ts-expect-error a number is no client
coordinateTabs(1);
// @ts-expect-error a number is no client
watchBoot(1);
// @ts-expect-error a number is no client
recoverChunkErrors(1);
// @ts-expect-error a number is no client
enableServiceWorker(1);
`;

const CONSUMER_TSCONFIG = {
  compilerOptions: {
    module: 'node16',
    moduleResolution: 'node16',
    target: 'es2022',
    lib: ['es2022', 'dom', 'dom.iterable'],
    types: ['node'],
    strict: true,
    noEmit: true,
    // Not the consumer's concern, and @types/koa trips over content-disposition's own types.
    skipLibCheck: true,
  },
  files: ['consumer.cts', 'consumer.mts'],
};

/** Loads every entry point from CommonJS at run time; the CLI reads its own version from its package.json. */
const CJS_RUNTIME = `
const loaded = ['@daylight/protocol', '@daylight/server-middleware', '@daylight/server-middleware/express',
  '@daylight/server-middleware/koa', '@daylight/cli'].map((name) => Object.keys(require(name)).length > 0);
let out = '';
require('@daylight/cli').runCli(['--version'], { stdout: { write: (s) => { out += s; return true; } } })
  .then((code) => console.log(JSON.stringify({ loaded, code, version: out.trim() })));
`;

describe('the packed tarballs', () => {
  let temporary: string;
  let packs: { name: string; filename: string; files: { path: string }[] }[];

  beforeAll(() => {
    temporary = mkdtempSync(path.join(tmpdir(), 'daylight-pack-'));
    const workspaces = PACKAGES.flatMap((name) => ['-w', `packages/${name}`]);
    const json = execFileSync('npm', ['pack', ...workspaces, '--pack-destination', temporary, '--json'], {
      cwd: repoRoot,
      encoding: 'utf8',
    });
    packs = JSON.parse(json) as typeof packs;
    // A consumer: the tarballs unpacked into its node_modules, everything else linked from the repository's.
    const modules = path.join(temporary, 'consumer', 'node_modules');
    mkdirSync(path.join(modules, '@daylight'), { recursive: true });
    for (const entry of readdirSync(path.join(repoRoot, 'node_modules'))) {
      if (entry === '@daylight' || entry.startsWith('.')) continue;
      symlinkSync(path.join(repoRoot, 'node_modules', entry), path.join(modules, entry));
    }
    for (const pack of packs) {
      const target = path.join(modules, pack.name);
      mkdirSync(target);
      execFileSync('tar', ['-xzf', path.join(temporary, pack.filename), '-C', target, '--strip-components=1']);
    }
    const consumer = path.join(temporary, 'consumer');
    writeFileSync(path.join(consumer, 'package.json'), '{ "private": true }\n');
    writeFileSync(path.join(consumer, 'tsconfig.json'), JSON.stringify(CONSUMER_TSCONFIG));
    writeFileSync(path.join(consumer, 'consumer.cts'), CJS_CONSUMER);
    writeFileSync(path.join(consumer, 'consumer.mts'), ESM_CONSUMER);
  }, 120_000);

  afterAll(() => {
    if (temporary) rmSync(temporary, { recursive: true, force: true });
  });

  it('each holds LICENSE, README.md, package.json and dist/', () => {
    expect(packs.map((p) => p.name).sort()).toEqual(PACKAGES.map((name) => `@daylight/${name}`).sort());
    for (const pack of packs) {
      const files = pack.files.map((f) => f.path);
      const top = [...new Set(files.map((f) => f.split('/')[0]))].sort();
      expect({ name: pack.name, top }).toEqual({
        name: pack.name,
        top: ['LICENSE', 'README.md', 'dist', 'package.json'],
      });
      // Every file the package.json points at is in the tarball.
      const manifest = JSON.parse(
        readFileSync(path.join(temporary, 'consumer', 'node_modules', pack.name, 'package.json'), 'utf8'),
      ) as Record<string, unknown>;
      for (const file of pointedAt(manifest)) expect(files, pack.name).toContain(file.slice(2));
    }
  });

  it('type-checks from a CommonJS consumer (.cts, module node16) and an ESM one (.mts)', () => {
    const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    let output: string;
    try {
      output = execFileSync(process.execPath, [tsc, '-p', '.', '--listFiles'], {
        cwd: path.join(temporary, 'consumer'),
        encoding: 'utf8',
      });
    } catch (error) {
      const { stdout } = error as { stdout: string };
      throw new Error(
        stdout
          .split('\n')
          .filter((line) => line.includes('error TS'))
          .join('\n'),
      );
    }
    // CommonJS got the .d.cts declarations, ESM the .d.ts ones.
    const used = output.split('\n').map((line) => line.split('/node_modules/')[1]);
    for (const entry of ['protocol/dist/index', 'server-middleware/dist/express', 'cli/dist/index']) {
      expect(used).toContain(`@daylight/${entry}.d.cts`);
      expect(used).toContain(`@daylight/${entry}.d.ts`);
    }
    expect(used).toContain('@daylight/client/dist/sw.d.ts');
  }, 60_000);

  it('loads every entry point from CommonJS and ESM', () => {
    const consumer = path.join(temporary, 'consumer');
    const run = (args: string[], script: string): string =>
      execFileSync(process.execPath, [...args, '-e', script], { cwd: consumer, encoding: 'utf8' });
    expect(JSON.parse(run([], CJS_RUNTIME))).toEqual({
      loaded: [true, true, true, true, true],
      code: 0,
      // The version the packed CLI was built as, which the release bumps.
      version: (
        JSON.parse(readFileSync(path.join(repoRoot, 'packages/cli/package.json'), 'utf8')) as { version: string }
      ).version,
    });
    const esm = `
      const names = ['protocol', 'server-middleware', 'server-middleware/express', 'server-middleware/koa', 'cli'];
      const loaded = await Promise.all(names.map(async (n) => Object.keys(await import('@daylight/' + n)).length > 0));
      console.log(JSON.stringify(loaded));
    `;
    expect(JSON.parse(run(['--input-type=module'], esm))).toEqual([true, true, true, true, true]);
  });
});
