// `npm start`: builds releases 1.0.0 and 1.1.0 with Vite, publishes both into a fresh release store, promotes
// 1.0.0 and serves the app. Open the page, type a note, open the report, then promote 1.1.0.
//
// Flags: --koa (serve with Koa instead of Express), --port N (default 3001).
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runCli } from '@daylight/cli';
import { buildRelease } from './build.mjs';
import { startViteAppServer } from '../server/app.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const { values } = parseArgs({
  options: { koa: { type: 'boolean', default: false }, port: { type: 'string', default: process.env.PORT ?? '3001' } },
});
const framework = values.koa ? 'koa' : 'express';
const storeDir = path.join(root, '.daylight');
const store = path.join(storeDir, 'releases.json');
const cli = (...args) => runCli([...args, '--store', store]);

await rm(storeDir, { recursive: true, force: true });
for (const version of ['1.0.0', '1.1.0']) {
  const { outDir } = await buildRelease(version);
  if ((await cli('publish', outDir, '--version', version)) !== 0) process.exit(1);
}
if ((await cli('promote', '1.0.0')) !== 0) process.exit(1);

let app;
try {
  app = await startViteAppServer({ framework, store, port: Number(values.port) });
} catch (error) {
  if (error.code !== 'EADDRINUSE') throw error;
  app = await startViteAppServer({ framework, store, port: 0 });
}
// Relative to where `npm start` was run (npm runs the script in this folder and says where it was started).
const relStore = path.relative(process.env.INIT_CWD ?? process.cwd(), store);
console.log(`
  Daylight with Vite (${framework}) — serving release 1.0.0 at ${app.url}

  1. Open ${app.url}, type a note, and press "Open the report" (a lazy chunk with its own stylesheet).
  2. Promote 1.1.0:  npx daylight promote 1.1.0 --store ${relStore}
     Within seconds the page offers 1.1.0; accept it, and the note is still there.

  Ctrl+C stops it.
`);
const stop = async () => {
  await app.close();
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
