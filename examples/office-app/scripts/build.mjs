// Builds the demo's releases: `node scripts/build.mjs 1.0.0 1.1.0` writes
// builds/1.0.0/ and builds/1.1.0/, each an index.html and hashed assets, the
// way a real bundler's output looks. The same version always builds to the
// same bytes, so publishing it again is a no-op.
import { createHash } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

/** Looks of each release; anything else builds as the plain look. */
const FLAVOURS = {
  '1.0.0': { accent: '#1f4e8c', title: 'Office Desk', notesField: false },
  '1.1.0': { accent: '#1e7a46', title: 'Office Desk — now with invoice notes', notesField: true },
};

/**
 * About 2.2 MB of deterministic, incompressible-looking data: the stand-in
 * for the large compiled bundle offices download today.
 */
function atlas(bytes) {
  const chunks = [];
  let seed = createHash('sha256').update('daylight-atlas').digest();
  let size = 0;
  while (size < bytes) {
    seed = createHash('sha256').update(seed).digest();
    const line = seed.toString('base64');
    chunks.push(line);
    size += line.length;
  }
  return chunks.join('');
}

/** An esbuild plugin that swaps src/atlas.ts for `bytes` of generated data, in memory. */
function atlasPlugin(bytes) {
  return {
    name: 'atlas',
    setup(build) {
      build.onLoad({ filter: /[\\/]src[\\/]atlas\.ts$/ }, () => ({
        contents: `export const ATLAS = ${JSON.stringify(atlas(bytes))};`,
        loader: 'js',
      }));
    },
  };
}

/**
 * Builds one release of the office app.
 * @param {string} version
 * @param {{ outDir?: string, broken?: boolean, atlasBytes?: number }} [options]
 *   `broken`: the release throws during boot, before `ready()`;
 *   `atlasBytes`: size of the bundled reference data (default 2.3 MB).
 */
export async function buildRelease(
  version,
  { outDir = path.join(root, 'builds', version), broken = false, atlasBytes = 2_300_000 } = {},
) {
  const flavour = FLAVOURS[version] ?? { accent: '#6b3fa0', title: `Office Desk ${version}`, notesField: true };
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { app: path.join(root, 'src', 'main.ts') },
    bundle: true,
    splitting: true,
    format: 'esm',
    minify: true,
    target: 'es2022',
    outdir: path.join(outDir, 'assets'),
    entryNames: '[name]-[hash]',
    chunkNames: 'chunk-[hash]',
    metafile: true,
    legalComments: 'none',
    define: {
      __APP_VERSION__: JSON.stringify(version),
      __APP_FLAVOUR__: JSON.stringify(flavour),
      __APP_BROKEN__: JSON.stringify(broken),
    },
    logLevel: 'warning',
    plugins: [atlasPlugin(atlasBytes)],
  });
  const entry = Object.entries(result.metafile.outputs).find(([, output]) => output.entryPoint)?.[0];
  const entryPath = path.relative(outDir, path.resolve(entry)).split(path.sep).join('/');
  const html = `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <meta name="viewport" content="width=device-width, initial-scale=1" />
    <title>${flavour.title}</title>
    <link rel="stylesheet" href="./assets/style.css" />
  </head>
  <body style="--accent: ${flavour.accent}">
    <div id="app">Loading…</div>
    <script type="module" src="./${entryPath}"></script>
  </body>
</html>
`;
  await writeFile(path.join(outDir, 'index.html'), html);
  await writeFile(path.join(outDir, 'assets', 'style.css'), STYLE);
  return { outDir, entry: entryPath };
}

const STYLE = `body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f6f4}
header{background:var(--accent);color:#fff;padding:.8rem 1.2rem;display:flex;gap:1rem;align-items:baseline;flex-wrap:wrap}
header h1{font-size:1.2rem;margin:0}
.badge{background:#fff3;border-radius:1rem;padding:.1rem .6rem;font-weight:600}
main{max-width:56rem;margin:1rem auto;padding:0 1rem;display:grid;gap:1rem;grid-template-columns:2fr 1fr}
section{background:#fff;border:1px solid #ddd;border-radius:.5rem;padding:1rem}
label{display:block;margin:.4rem 0 .1rem;font-weight:600}
input,textarea,select{width:100%;box-sizing:border-box;padding:.35rem;font:inherit}
button{font:inherit;padding:.4rem .9rem;margin:.6rem .4rem 0 0}
nav a{color:#fff;margin-right:.8rem}
#daylight-status{font-size:.85rem;opacity:.9}
[data-daylight-banner]{position:fixed;right:1rem;bottom:1rem;background:#fff;border:2px solid var(--accent);border-radius:.5rem;padding:.6rem 1rem;box-shadow:0 4px 16px #0003}
[data-daylight-banner] p{margin:0}
.saved{color:#1e7a46}
`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const versions = process.argv.slice(2);
  if (versions.length === 0) {
    console.error('usage: node scripts/build.mjs <version> [<version> …]');
    process.exit(2);
  }
  for (const version of versions) {
    const { outDir, entry } = await buildRelease(version);
    console.log(`built ${version} → ${path.relative(process.cwd(), outDir)} (entry ${entry})`);
  }
}
