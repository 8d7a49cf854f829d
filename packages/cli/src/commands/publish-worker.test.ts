/**
 * `publish` warns about a build that has a service worker of its own at its top (vite-plugin-pwa's `sw.js`):
 * Daylight serves the build's files only below the release's folder, so the app's `register('/sw.js')` gets a
 * 404 and browsers that installed that worker keep it (e2e/service-worker-retire.spec.ts shows what follows).
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIO, removeTempDirs, tempDir, writeFiles } from '../test-support.js';
import { publish } from './publish.js';

afterEach(removeTempDirs);

const SHELL = '<!doctype html><html><head><script type="module" src="./assets/index-a1.js"></script></head></html>';

async function buildWith(extra: Record<string, string>): Promise<{ root: string; build: string; store: string }> {
  const root = await tempDir();
  const build = path.join(root, 'build');
  await writeFiles(build, { 'index.html': SHELL, 'assets/index-a1.js': 'console.log(1);', ...extra });
  return { root, build, store: path.join(root, 'store', 'releases.json') };
}

describe('publish: a build with a service worker of its own', () => {
  it.each(['sw.js', 'service-worker.js', 'serviceWorker.js', 'sw.mjs'])(
    'warns about %s, naming the server option that retires it',
    async (name) => {
      const { build, store } = await buildWith({ [name]: "self.addEventListener('fetch', () => {});" });
      const result = await publish({ store, buildDir: build, version: '1.0.0' });
      expect(result.status).toBe('published');
      expect(result.serviceWorkerProblem).toBe(
        `the build has a service worker of its own (${name}): Daylight serves a build's files only below ` +
          `/_daylight/releases/<version>/files/, not at /${name}, and browsers that installed it keep it, with the ` +
          `pages it cached. Stop building and registering it (vite-plugin-pwa: remove the plugin and its ` +
          `registerSW.js; Daylight's worker: enableServiceWorker from @daylight/client/sw), and list it on the ` +
          `server, which then answers it with a worker that removes itself: ` +
          `createDaylight({ retireServiceWorkers: ['/${name}'] }).`,
      );
    },
  );

  it('says nothing of a build without one, or of a file of that name in a subfolder', async () => {
    for (const extra of [{}, { 'assets/sw.js': 'x' }, { 'swap.js': 'x' }]) {
      const { build, store } = await buildWith(extra);
      expect((await publish({ store, buildDir: build, version: '1.0.0' })).serviceWorkerProblem).toBeUndefined();
    }
  });

  it('prints it as a warning on stderr, and publishes all the same', async () => {
    const { root, build, store } = await buildWith({ 'sw.js': 'x' });
    const io = captureIO(root, {});
    expect(await runCli(['publish', build, '--version', '1.0.0', '--store', store], io)).toBe(0);
    expect(io.err()).toContain('daylight: warning: the build has a service worker of its own (sw.js): Daylight serves');
    expect(io.out()).toMatch(/^published 1\.0\.0: 3 files/);
  });
});
