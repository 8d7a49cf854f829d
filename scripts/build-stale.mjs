// Vitest's global setup: before any test file runs, builds each package whose dist/ is missing or older than
// its sources. Tests that run the built code (the CLI's dist/bin.js, the packed tarballs, the CLI's tests that
// import @daylight/server-middleware through its exports) then see the sources as they are, and no test
// rebuilds a package (tsup --clean empties dist/) while another one reads it.
// `npm test` builds everything first, so there this finds nothing to do.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
/** In build order: a package's types need its dependencies' dist/. */
const PACKAGES = ['protocol', 'server-middleware', 'client', 'cli'];

/** Test files and test helpers are not built into dist/: editing them makes nothing stale. */
const NOT_BUILT = /(\.test\.[cm]?ts|test-support\.ts)$/;

function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) latest = Math.max(latest, newest(full));
    else if (!NOT_BUILT.test(entry.name)) latest = Math.max(latest, statSync(full).mtimeMs);
  }
  return latest;
}

/** The dist/ files a package.json points at: `exports`, `bin`, `main`, `module`, `types`. */
export function pointedAt(manifest) {
  const found = new Set();
  const walk = (value) => {
    if (typeof value === 'string') {
      if (value.startsWith('./dist/')) found.add(value);
    } else if (value && typeof value === 'object') {
      Object.values(value).forEach(walk);
    }
  };
  walk([manifest.exports, manifest.bin, manifest.main, manifest.module, manifest.types]);
  return [...found];
}

/** True when a file the package points at is missing, or older than a source file or the package.json. */
export function isStale(dir) {
  const manifestFile = path.join(dir, 'package.json');
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
  try {
    const built = Math.min(...pointedAt(manifest).map((file) => statSync(path.join(dir, file)).mtimeMs));
    return built < Math.max(newest(path.join(dir, 'src')), statSync(manifestFile).mtimeMs);
  } catch {
    return true; // not built
  }
}

export default function setup() {
  // A package rebuilt makes the ones that depend on it stale too: build everything after the first stale one.
  const first = PACKAGES.findIndex((name) => isStale(path.join(root, 'packages', name)));
  if (first === -1) return;
  for (const name of PACKAGES.slice(first)) {
    console.log(`vitest: building @daylight/${name} (its dist/ is missing or older than its sources)`);
    try {
      execFileSync('npm', ['run', 'build', '-w', `@daylight/${name}`], { cwd: root, stdio: 'pipe' });
    } catch (error) {
      // A build that fails (a type error, say) must not stop every test: the tests that need dist/ fail and say
      // why, the others run. The compiler's output is printed here once.
      const output = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim();
      console.error(`vitest: building @daylight/${name} failed; tests that run its dist/ will fail\n${output}`);
      return;
    }
  }
}
