// Client size: @daylight/client's core (detection, verified download,
// policies, guards) bundled and minified with esbuild, ky and workbox-window
// external, then gzipped (level 9); the banner separately; and workbox-window
// measured the same way in the same run as the reference point.
//
//   node bench/size.mjs           measure and write bench/RESULTS.md
//   node bench/size.mjs --check   also exit 1 when the core is over budget
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { machine, writeSection } from './lib.mjs';

/** The core's budget, minified and gzipped, in bytes (issue #6: 4 kB). */
export const CORE_BUDGET = 4096;
const require = createRequire(import.meta.url);

async function measure(contents, external = ['ky', 'workbox-window']) {
  const result = await build({
    stdin: { contents, resolveDir: process.cwd(), loader: 'js' },
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    write: false,
    external,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  return { min: code.byteLength, gzip: gzipSync(code, { level: 9 }).byteLength };
}

const rows = [
  ['@daylight/client (core)', await measure("export * from '@daylight/client';")],
  ['@daylight/client/banner', await measure("export * from '@daylight/client/banner';")],
  ['@daylight/client/tabs', await measure("export * from '@daylight/client/tabs';")],
  ['@daylight/client/watchdog', await measure("export * from '@daylight/client/watchdog';")],
  ['@daylight/client/recovery', await measure("export * from '@daylight/client/recovery';")],
  ['@daylight/client/sw', await measure("export * from '@daylight/client/sw';")],
  [
    `workbox-window ${require('workbox-window/package.json').version} (reference)`,
    await measure("export * from 'workbox-window';", []),
  ],
];
const core = rows[0][1];
const table = rows.map(
  ([name, size]) => `| ${name} | ${size.min.toLocaleString('en')} | ${size.gzip.toLocaleString('en')} |`,
);
const verdict =
  core.gzip <= CORE_BUDGET
    ? `within the ${CORE_BUDGET.toLocaleString('en')} B budget (${CORE_BUDGET - core.gzip} B to spare)`
    : `OVER the ${CORE_BUDGET.toLocaleString('en')} B budget by ${core.gzip - CORE_BUDGET} B`;

console.log(['| bundle | minified B | gzip -9 B |', '| --- | ---: | ---: |', ...table].join('\n'));
console.log(`core: ${verdict}`);

if (!process.argv.includes('--check') || process.env.DAYLIGHT_WRITE_RESULTS) {
  await writeSection(
    'size',
    `## Client size

\`npm run bench:size\` — esbuild (minify, ESM, es2022), ky and workbox-window external, gzip level 9.
Measured ${new Date().toISOString().slice(0, 10)} on ${machine()}.

| bundle | minified B | gzip -9 B |
| --- | ---: | ---: |
${table.join('\n')}

Core ${verdict}. The budget is not enforced in CI yet: \`node bench/size.mjs --check\` exits 1 above it, and \`npm test\` will run it once the core fits (it does not today).`,
  );
}
if (process.argv.includes('--check') && core.gzip > CORE_BUDGET) process.exit(1);
