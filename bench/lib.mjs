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
