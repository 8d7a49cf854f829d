// `npm test`: everything CI checks, in order, and one summary line at the end.
//
//   1. a browser for the end-to-end tests (scripts/ensure-chromium.mjs), and
//      redis-server for the Redis integration tests (scripts/ensure-redis.mjs)
//   2. build every package and the demo's releases
//   3. static checks: ESLint, Prettier, TypeScript, the client's size
//      (bench/size.mjs --check); each counts as one check
//   4. unit and integration tests (vitest)
//   5. end-to-end tests in Chromium (Playwright)
//
// Every runner runs even when an earlier one failed, so the summary is whole.
// The last line reads `N passed, N failed, N skipped` summed over all runners.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';

const REPORTS = '.reports';
rmSync(REPORTS, { recursive: true, force: true });
mkdirSync(REPORTS, { recursive: true });

const rows = [];
const total = { passed: 0, failed: 0, skipped: 0 };

function run(command, args) {
  console.log(`\n$ ${command} ${args.join(' ')}`);
  return spawnSync(command, args, { stdio: 'inherit', env: process.env }).status === 0;
}

function count(name, passed, failed, skipped = 0) {
  rows.push({ name, passed, failed, skipped });
  total.passed += passed;
  total.failed += failed;
  total.skipped += skipped;
}

function readJson(file) {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

if (!run(process.execPath, ['scripts/ensure-chromium.mjs'])) {
  console.log('\nno browser for the end-to-end tests (see the message above)');
}
if (!run(process.execPath, ['scripts/ensure-redis.mjs'])) {
  console.log('\nno redis-server for the Redis integration tests (see the message above)');
}
if (!run('npm', ['run', 'build', '--silent'])) {
  console.log('\nthe build failed; nothing else can run\n0 passed, 1 failed');
  process.exit(1);
}

const checks = [
  ['eslint', 'npx', ['eslint', '.']],
  ['prettier', 'npx', ['prettier', '--check', '.']],
  ['typescript', 'npm', ['run', 'typecheck', '--silent']],
  ['client size', process.execPath, ['bench/size.mjs', '--check']],
];
for (const [name, command, args] of checks) {
  const ok = run(command, args);
  count(name, ok ? 1 : 0, ok ? 0 : 1);
}

run('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile=${REPORTS}/vitest.json`]);
const vitest = readJson(`${REPORTS}/vitest.json`);
if (vitest) {
  count(
    'vitest',
    vitest.numPassedTests,
    vitest.numFailedTests + (vitest.numFailedTestSuites > 0 && vitest.numFailedTests === 0 ? 1 : 0),
    vitest.numPendingTests + vitest.numTodoTests,
  );
} else {
  count('vitest (did not report)', 0, 1);
}

run('npx', ['playwright', 'test']);
const playwright = readJson(`${REPORTS}/playwright.json`);
if (playwright?.stats) {
  const { expected, unexpected, flaky, skipped } = playwright.stats;
  count('playwright', expected + flaky, unexpected, skipped);
} else {
  count('playwright (did not report)', 0, 1);
}

console.log('\nrunner                       passed  failed  skipped');
for (const row of rows) {
  console.log(
    `${row.name.padEnd(28)} ${String(row.passed).padStart(6)}  ${String(row.failed).padStart(6)}  ${String(row.skipped).padStart(7)}`,
  );
}
console.log(`\n${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exit(total.failed === 0 ? 0 : 1);
