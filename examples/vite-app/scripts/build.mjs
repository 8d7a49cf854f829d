// Builds releases of the Vite example: `node scripts/build.mjs 1.0.0 1.1.0` writes builds/1.0.0/ and
// builds/1.1.0/ with Vite's own build (vite.config.mjs), each an index.html and hashed assets: the folder
// `daylight publish` takes. The version is baked into the bundle, so two releases differ in their bytes.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/**
 * Builds one release with vite.config.mjs.
 * @param {string} version
 * @param {{ outDir?: string, base?: string }} [options] `base` overrides the config's (the tests build with '/'
 *   to show what `daylight publish` says about it).
 */
export async function buildRelease(version, { outDir = path.join(root, 'builds', version), base } = {}) {
  await build({
    root,
    configFile: path.join(root, 'vite.config.mjs'),
    logLevel: 'warn',
    define: { __BUILD__: JSON.stringify(version) },
    ...(base === undefined ? {} : { base }),
    build: { outDir, emptyOutDir: true },
  });
  return { outDir };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const versions = process.argv.slice(2);
  if (versions.length === 0) {
    console.error('usage: node scripts/build.mjs <version> [<version> …]');
    process.exit(2);
  }
  for (const version of versions)
    console.log(`built ${path.relative(process.cwd(), (await buildRelease(version)).outDir)}`);
}
