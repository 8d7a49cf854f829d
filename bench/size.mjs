// Client size: @daylight/client's core (detection, verified download,
// policies, guards) bundled and minified with esbuild, ky and workbox-window
// external, then gzipped (level 9); the banner separately; and workbox-window
// measured the same way in the same run as the reference point.
//
//   node bench/size.mjs           measure and write bench/RESULTS.md
//   node bench/size.mjs --check   measure only; exit 1 when the core is above
//                                 its ceiling (npm test runs this)
//
// The budget for the core is 4 kB. The core does not fit it yet
// (RESULTS.md says by how much and why), so CI enforces a ceiling instead:
// the size the core has today, which may only move down until it meets the
// budget, and then the budget itself.
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { machine, writeSection } from './lib.mjs';

/** The core's budget, minified and gzipped, in bytes (issue #6: 4 kB). */
export const CORE_BUDGET = 4096;
/**
 * What CI enforces until the core fits the budget: its size and 100 B for fixes. It only moves down, except
 * for a fix of a non-negotiable (a reload loop, a lost request), by the bytes measured, written down in
 * docs/decisions.md — twice so far: 7,732 → 7,911 B for the review fixes of 2026-11-27, and 7,911 → 7,942 B for
 * the watchdog's way back waiting for requests in flight (the same day), then down to 7,941 B when that wait and
 * the switch's became one, and to 7,912 B when stop() took its listeners off with one AbortSignal; a third
 * time that evening, 7,912 → 8,001 B, for ten fixes of a review (a way back that held every request for good, a
 * switch after stop() or a rollback, a navigation left pending after a timeout, options that failed silently); a
 * fourth on 2026-11-28, 8,001 → 8,005 B: an upload through `fetch` that outlasted `timeout` was cut by a switch;
 * then down to 7,979 B (a shorter semver comparison in @daylight/protocol); a fifth the same day, 7,979 → 7,996 B:
 * two apps on one origin shared the list of versions that did not boot; a sixth the same day, 7,996 → 8,028 B: a
 * late ready() deleted the way back's record (the snapshot lost), a way back asked for during a switch navigated
 * alongside it, and `false` was taken for timeout, grace and checkInterval; down to 8,022 B when ready() came to
 * keep the record only while a switch from the page is leaving (status `applying`), which also reads less; a seventh
 * (2026-11-29), 8,022 → 8,043 B: a ready() called before start() deleted the switch record, and the snapshot with it;
 * an eighth the same day, 8,043 → 8,094 B: a switch cut a save whose answer's body was still arriving; a ninth,
 * 8,094 → 8,183 B: a typo in an option's name (`snapshots`) was ignored, and the input it should have kept was lost;
 * 8,185 B: the eighth's clone of a response threw (failing the request) when the app's `fetch` gave a used body;
 * 8,198 B: it waited for a body that streams for good with no limit (a switch hung, and every request it held); a
 * tenth (2026-11-29), 8,198 → 8,238 B: below a raised floor, a save refused by the API waited out `grace` (60 s)
 * before the forced switch, every save in it refused too (a walk of an office day); then down to 8,045 B
 * (2026-11-29): the same behaviour in 193 B less (single-use variables inlined, one below() for the floor, a
 * shorter semver comparison; docs/decisions.md); 8,038 B when a stamp the check does not confirm stopped asking
 * again on every response (docs/decisions.md, "Confirm before acting on a stamp"); an eleventh (2026-11-29),
 * 8,038 → 8,095 B: a file damaged once on its way was kept by the browser's HTTP cache, and every later load of
 * the release in that browser stopped at "Loading…" — the download now fetches the files once more past the cache;
 * then 8,094 B (2026-11-30): the switch reloads its entry so that Back stays on the new release (+7 B), paid for by
 * three shorter messages; 8,093 B the same day: a page that stayed got back the URL read before the switch, over
 * the route the person had moved to since (the parameter is now taken off the URL the page is at); 8,099 B the same
 * day (+6 B): an app's pushState while the switch's reload was pending made the switch give up while the reload went
 * on, and the page left without its record (the input lost); the switch now stops the reload there too; 8,116 B
 * (+17 B): that stop cut a long poll in flight on a page that stayed, and it is now made only when the URL moved.
 */
export const CORE_CEILING = 8_116;
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
  [
    '… of which @daylight/protocol',
    await measure(
      "export { readReleaseStamp, clientStamp, checkManifest, isVersion, compareVersions, changeKind } from '@daylight/protocol';",
    ),
  ],
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
const enforced = core.gzip <= CORE_BUDGET ? CORE_BUDGET : CORE_CEILING;
const verdict =
  core.gzip <= CORE_BUDGET
    ? `within the ${CORE_BUDGET.toLocaleString('en')} B budget (${CORE_BUDGET - core.gzip} B to spare)`
    : `OVER the ${CORE_BUDGET.toLocaleString('en')} B budget by ${(core.gzip - CORE_BUDGET).toLocaleString('en')} B; CI holds it under its ${CORE_CEILING.toLocaleString('en')} B ceiling`;

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

Core ${verdict}. \`npm test\` runs \`node bench/size.mjs --check\`, which fails above ${enforced.toLocaleString('en')} B.

What the core holds: detection (the fetch wrapper, response stamps, the release check with its anti-flip-flop rule, the
backstop timer), the verified download (manifest check, streaming SHA digests, progress, the \`integrity\` fallback),
policies (per kind and urgency, the floor, force with a grace period, the navigation/hidden/idle safe moments), guards
(mutating requests, \`block()\`, focus, requests held during the switch, the loop guard and the stale-shell check), the
snapshot handed across the switch, reports, and the hooks the tabs, watchdog and service-worker parts plug into.
What limits it: code rather than messages, spread over every part — docs/decisions.md ("CI enforces a size ceiling")
has the ledger, each part's marginal cost. An experiment that removed every error message, the ky hooks, the
watchdog's \`revert()\`, the floor's 409 handling and reports still measured 6.6 kB; the protocol part (strict semver,
the RFC 9651 reader, the manifest check) is the line above. Reaching 4 kB means taking behaviours the design asks for
out of the core, and we decided against it (docs/decisions.md, the end of the ledger): the budget is missed.`,
  );
}
if (process.argv.includes('--check') && core.gzip > enforced) {
  console.error(`core: ${core.gzip} B is above the ${enforced} B that CI allows`);
  process.exit(1);
}
