// One API server process on the Redis store, for the integration tests and
// the propagation benchmark: Express with Daylight in front, `GET /api/ping`,
// the cohort from the `x-office` header (a stand-in for a session lookup).
// Prints `listening <url>` on stdout once it serves.
//
//   DAYLIGHT_REDIS=redis://127.0.0.1:6379 DAYLIGHT_CONFIG=/srv/shared/releases.json node scripts/rollout-server.mjs
import express from 'express';
import { createDaylight } from '@daylight/server-middleware';
import { daylightExpress } from '@daylight/server-middleware/express';
import { serveOnLoopback } from './serve.mjs';

const quiet = { info() {}, warn() {}, error: (message) => process.stderr.write(`${message}\n`) };
const daylight = createDaylight({
  config: process.env.DAYLIGHT_CONFIG,
  redis: process.env.DAYLIGHT_REDIS,
  logger: process.env.DAYLIGHT_VERBOSE ? console : quiet,
  cohort: (req) => req.headers['x-office'],
});
await daylight.ready;
const app = express();
app.use(daylightExpress(daylight));
app.get('/api/ping', (req, res) => res.json({ ok: true, pid: process.pid }));
serveOnLoopback(app, daylight);
