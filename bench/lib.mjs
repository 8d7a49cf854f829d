// Shared by the benchmarks: the machine's description and writing one
// section of bench/RESULTS.md between its markers, leaving the others alone.
import { readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const RESULTS = path.join(ROOT, 'bench', 'RESULTS.md');

/** The installed version of a package of the workspace root. */
export async function versionOf(name) {
  return JSON.parse(await readFile(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
}

export function machine() {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, ${os.type()} ${os.release()}, Node ${process.version}`;
}

/** Replaces the section `name` of RESULTS.md (creating it at the end if missing). */
export async function writeSection(name, body) {
  let text = '';
  try {
    text = await readFile(RESULTS, 'utf8');
  } catch {
    text = '# Benchmark results\n\nEach section is rewritten by its benchmark; see bench/README.md.\n';
  }
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body.trim()}\n${end}`;
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  text = a >= 0 && b > a ? text.slice(0, a) + block + text.slice(b + end.length) : `${text.trimEnd()}\n\n${block}\n`;
  // Formatted as `npm test` checks it (prettier --check .), tables aligned.
  const prettier = await import('prettier');
  const config = (await prettier.resolveConfig(RESULTS)) ?? {};
  await writeFile(RESULTS, await prettier.format(text, { ...config, filepath: RESULTS }));
}

export function median(values) {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Stops a child process by its PID: SIGTERM, then SIGKILL when it has not
 * exited after `graceMs`. Resolves once it has exited (at once when it already had).
 * @param {import('node:child_process').ChildProcess} child
 */
export function stopChild(child, graceMs = 5000) {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = (signal) => {
      try {
        process.kill(child.pid, signal);
        return true;
      } catch {
        return false; // already gone
      }
    };
    const timer = setTimeout(() => kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (!kill('SIGTERM')) {
      clearTimeout(timer);
      resolve();
    }
  });
}

/**
 * Stops a redis-server from scripts/redis-server.mjs (`stop()`: SIGTERM by its
 * PID, then waits), and kills it by its PID when it has not exited after `graceMs`.
 * @param {{ pid: number, stop(): Promise<void> } | undefined} redis
 */
export async function stopRedis(redis, graceMs = 5000) {
  if (!redis) return;
  let timer;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([redis.stop(), late]).finally(() => clearTimeout(timer));
  if (outcome === 'late') {
    try {
      process.kill(redis.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * Runs every clean-up step in order, each even when an earlier one failed, so
 * that nothing a benchmark started is left running. A failing step is printed
 * and sets a non-zero exit code; it does not hide the error that brought the
 * benchmark here (which `finally` rethrows).
 * @param {Array<() => unknown>} steps
 */
export async function cleanUpAll(steps) {
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      console.error('clean-up step failed:', error);
      process.exitCode = 1;
    }
  }
}

/** Polls `check` (it may be async, as a page's is) every 100 ms until it holds; throws after `waitMs`. */
export async function until(what, check, waitMs) {
  const deadline = Date.now() + waitMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`gave up after ${waitMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs `daylight <args> --store <store()>` in this process, quietly; throws when it fails. */
export function quietCli(runCli, store) {
  const quiet = { stdout: { write() {} }, stderr: process.stderr };
  return async (...args) => {
    if ((await runCli([...args, '--store', store()], quiet)) !== 0)
      throw new Error(`daylight ${args.join(' ')} failed`);
  };
}

/**
 * Signs in to the office app in `page` (already at its sign-in form) and waits until the app shows the user; with
 * `worker`, also until Daylight's service worker controls the tab and has cached `running`.
 */
export async function signInOffice(page, { user, password, worker, running, waitMs }) {
  await page.locator('#user').fill(user);
  await page.locator('#password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForFunction(
    (name) => document.querySelector('[data-testid="user"]')?.textContent === `signed in as ${name}`,
    user,
    { timeout: waitMs },
  );
  if (!worker) return;
  await until(
    `the worker to control the tab and cache ${running}`,
    () =>
      page.evaluate(
        async (cache) =>
          window.navigator.serviceWorker.controller !== null && (await window.caches.keys()).includes(cache),
        `daylight-${running}`,
      ),
    waitMs,
  );
}
