/**
 * `publish` warns about a build whose lazy-chunk loader computes URLs from an absolute base: the shell is
 * rewritten to the release's folder, but Vite's preload helper and webpack's chunk loader are not, so with base
 * `/` what they load at run time (a lazy chunk's stylesheet; with webpack, the chunk) would not load. (e2e/vite.spec.ts shows it with Vite's own build.)
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir, writeFiles } from '../test-support.js';
import { publish } from './publish.js';

afterEach(removeTempDirs);

const shell = (src: string): string =>
  `<!doctype html><html><head><script type="module" crossorigin src="${src}"></script></head><body></body></html>`;
// What Vite 8 and webpack 5 put into a minified build that loads lazy chunks.
const VITE_HELPER =
  'const __vite__mapDeps=(i,m=__vite__mapDeps,d=(m.f||(m.f=["assets/report-b2.js","assets/report-c3.css"])))=>i.map(i=>d[i]);';
const WEBPACK_RUNTIME =
  'var a=new Error;n.l(o,(t=>{a.message="Loading chunk "+e+" failed.\\n("+r+": "+i+")",a.name="ChunkLoadError"}))';

/** What publish says of the build's base: `[]`, or the one warning. */
async function warningsFor(files: Record<string, string>): Promise<readonly string[]> {
  const root = await tempDir();
  const build = path.join(root, 'build');
  await writeFiles(build, files);
  const result = await publish({ store: path.join(root, 'store', 'releases.json'), buildDir: build, version: '1.0.0' });
  expect(result.warnings).toEqual([]);
  return result.baseProblem === undefined ? [] : [result.baseProblem];
}

describe('publish: a lazy-chunk loader with an absolute base', () => {
  it("warns about a Vite build made with base '/', naming the fix", async () => {
    const warnings = await warningsFor({
      'index.html': shell('/assets/index-a1.js'),
      'assets/index-a1.js': `${VITE_HELPER}import("./report-b2.js");`,
      'assets/report-b2.js': 'export const r=1;',
    });
    expect(warnings).toEqual([
      "index.html loads /assets/index-a1.js by an absolute path: the build was made with base '/', and " +
        "assets/index-a1.js is Vite's loader of lazy chunks, which computes their URLs from that base at run time: " +
        "a lazy chunk's stylesheet and the modules it preloads would be asked for at /assets/…, outside the " +
        "release's folder, and fail. Build with base: './' in vite.config.",
    ]);
  });

  it("names webpack's fix for a webpack build with publicPath '/'", async () => {
    const warnings = await warningsFor({
      'index.html': shell('/main.js'),
      'main.js': 'console.log(1)',
      'runtime.js': WEBPACK_RUNTIME,
    });
    expect(warnings.join()).toMatch(/runtime\.js is webpack's loader of lazy chunks.*output\.publicPath: 'auto'/);
  });

  it('warns about a build whose stylesheet names another build file by an absolute path (an image, a font)', async () => {
    const warnings = await warningsFor({
      'index.html': shell('/assets/index-a1.js'),
      'assets/index-a1.js': 'document.body.className="x";',
      'assets/index-c3.css': '#x{background:url(/assets/big-d4.svg)}',
      'assets/big-d4.svg': '<svg/>',
    });
    expect(warnings).toEqual([
      "index.html loads /assets/index-a1.js by an absolute path: the build was made with base '/', and " +
        'assets/index-c3.css names /assets/big-d4.svg by that path (an image, a font, a CSS url()): it would be ' +
        "asked for outside the release's folder, and fail. Build with a relative base (Vite: base: './'; webpack: " +
        "output.publicPath: 'auto').",
    ]);
  });

  it('says nothing of an absolute path to something that is not a file of the build (an API route)', async () => {
    const warnings = await warningsFor({
      'index.html': shell('/assets/index-a1.js'),
      'assets/index-a1.js': 'fetch("/assets/report.json");fetch("/api/inbox")',
    });
    expect(warnings).toEqual([]);
  });

  it("says nothing of a Vite build made with base './'", async () => {
    const warnings = await warningsFor({
      'index.html': shell('./assets/index-a1.js'),
      'assets/index-a1.js': `${VITE_HELPER}import("./report-b2.js");`,
    });
    expect(warnings).toEqual([]);
  });

  it('says nothing of an absolute path without a lazy-chunk loader (esbuild imports chunks relatively)', async () => {
    const warnings = await warningsFor({
      'index.html': shell('/assets/app.js'),
      'assets/app.js': 'import("./chunk-x.js");',
      'assets/chunk-x.js': 'export const x=1;',
    });
    expect(warnings).toEqual([]);
  });

  it("says nothing of an esbuild app that bundles Daylight's recovery, which names Vite's and webpack's errors", async () => {
    const recovery = await readFile(fileURLToPath(import.meta.resolve('@daylight/client/recovery')), 'utf8');
    expect(recovery).toMatch(/vite:preloadError/);
    expect(recovery).toMatch(/ChunkLoadError/);
    const warnings = await warningsFor({
      'index.html': shell('/assets/app.js'),
      'assets/app.js': recovery,
    });
    expect(warnings).toEqual([]);
  });

  it('says nothing of a script from another host (//cdn…), which is not a file of the build', async () => {
    const warnings = await warningsFor({
      'index.html': `${shell('//cdn.example/vendor.js')}${shell('./app.js')}`,
      'app.js': VITE_HELPER,
    });
    expect(warnings).toEqual([]);
  });
});
