// A load generator of the fleet benchmark (bench/fleet.mjs), run as a worker
// thread: a share of the simulated sessions, each a browser tab running the
// Daylight client's logic against the two servers (a random server per
// request, as behind a load balancer without affinity).
//
// What a session does is what packages/client/src/client.ts and download.ts
// do, step for step, with the protocol package's own parser, writer and
// manifest validator:
//
// - every API call carries `Daylight-Client: v="<running>", s="<session>"`
//   and the office cookie; its `Daylight-Release` stamp is read by
//   `observe()`: another version than `target ?? running` that is not
//   blocked, and not already being checked, starts `check()` (one at a time);
// - `check()` is `GET {base}/release` with `Daylight-Client`; 204 or the
//   running version cancels a download in progress; an answer whose
//   `revision` is below the highest this tab saw in the last 120 s is ignored
//   (the anti-flip-flop rule); another version starts the download;
// - the download fetches the manifest (no `Daylight-Client`, as the SDK's
//   own requests), bounds and validates it, then every file in order, each
//   verified against its SHA-384 SRI hash (node:crypto); a newer download
//   supersedes it; a network failure leaves that release alone for 60 s;
// - policy `auto`: the switch waits for a safe moment — the next navigation
//   (route change), or the idle moment: `idle` after the person's last
//   activity, read again when the timer fires (as the SDK does since the
//   fleet found it did not);
// - the switch waits 100 ms for open requests (there are none: a session
//   makes its calls in sequence), counts an attempt for the target (a second
//   attempt before a healthy boot is the loop guard's refusal), and
//   navigates to `/inbox?_daylight=<target>` asking for HTML: one reload;
// - the new page reads `<meta name="daylight-release">`: on the target, it
//   has landed, checks that every release file its shell loads was verified
//   before (the browser's cache; a miss is fetched and counted), calls
//   `ready()` (a `boot` report, and the attempts are forgotten); on another
//   version it is a stale shell: the target is blocked for the tab and
//   reported.
//
// Session storage (session id, highest revision, attempts, blocked versions)
// and the browser cache (verified files) survive the reload; the page's
// state does not. Left out: the 10-minute backstop check (every session
// calls the API far more often), the hidden-tab moment, tabs coordination.
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import {
  CLIENT_HEADER,
  DEFAULT_BASE_PATH,
  MAX_MANIFEST_BYTES,
  RELEASE_HEADER,
  RELEASE_META_NAME,
  compareVersions,
  formatClientHeader,
  isVersion,
  manifestPath,
  parseReleaseHeader,
  releaseCheckPath,
  validateManifest,
} from '@daylight/protocol';

const config = workerData;
const BASE = DEFAULT_BASE_PATH;
/** The origin URLs are resolved against: the load balancer, one origin for both servers. */
const ORIGIN = 'http://fleet.test';
/** client.ts: REVISION_DWELL_MS and RETRY_AFTER; apply()'s quiet wait. */
const REVISION_DWELL_MS = 120_000;
const RETRY_AFTER_MS = 60_000;
const QUIET_MS = 100;
const RELEASE = RELEASE_HEADER.toLowerCase();
const META = new RegExp(`<meta name="${RELEASE_META_NAME}" content="([^"]*)"`);
const RELEASE_FILE = new RegExp(`(?:src|href)="(${BASE}/releases/[^"]+)"`, 'g');
const KINDS = ['page', 'api', 'check', 'manifest', 'file', 'navigation', 'report'];

const now = () => performance.timeOrigin + performance.now();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** An exponentially distributed pause with the given mean. */
const exponential = (mean) => -mean * Math.log(1 - Math.random());

const servers = config.servers.map((url) => {
  const { hostname, port } = new URL(url);
  return { hostname, port, agent: new http.Agent({ keepAlive: true, maxSockets: config.sockets }) };
});

const metrics = {
  // Every request: start (epoch ms), duration (ms), kind (index in KINDS), server, ok (1/0).
  start: [],
  ms: [],
  kind: [],
  server: [],
  ok: [],
  failures: {},
  errors: {},
  malformedStamps: 0,
  staleAnswers: 0,
  runningAnswers: 0,
  cancelledDownloads: 0,
  loopGuards: 0,
  staleShells: 0,
  cacheMisses: 0,
  bytes: 0,
  /** Per server, per stamped version: first and last arrival. */
  stamps: config.servers.map(() => ({})),
};
let inFlight = 0;

/** One request to a random server; never rejects. `ok`: a 2xx or 304 answer. */
function send(kind, method, path, headers, body) {
  const index = Math.floor(Math.random() * servers.length);
  const server = servers[index];
  const started = now();
  inFlight++;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (status, responseHeaders, bytes, error) => {
      if (settled) return;
      settled = true;
      inFlight--;
      const arrived = now();
      const ok = error === undefined && ((status >= 200 && status < 300) || status === 304);
      metrics.start.push(started);
      metrics.ms.push(arrived - started);
      metrics.kind.push(KINDS.indexOf(kind));
      metrics.server.push(index);
      metrics.ok.push(ok ? 1 : 0);
      if (bytes) metrics.bytes += bytes.length;
      if (!ok) {
        const what = `${kind} ${method} ${error?.code ?? error?.message ?? status}`;
        metrics.failures[what] = (metrics.failures[what] ?? 0) + 1;
      }
      resolve({ ok, status, headers: responseHeaders ?? {}, body: bytes, server: index, arrived });
    };
    const request = http.request(
      { host: server.hostname, port: server.port, method, path, headers, agent: server.agent },
      (response) => {
        const chunks = [];
        response.on('data', (chunk) => chunks.push(chunk));
        response.on('end', () => settle(response.statusCode, response.headers, Buffer.concat(chunks)));
        response.on('error', (error) => settle(0, undefined, undefined, error));
      },
    );
    request.setTimeout(config.timeoutMs, () => request.destroy(new Error('timeout')));
    request.on('error', (error) => settle(0, undefined, undefined, error));
    request.end(body);
  });
}

class ClientError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

let stopping = false;
let newVersion;
const background = new Set();
const track = (promise) => {
  background.add(promise);
  void promise.finally(() => background.delete(promise));
};

class Session {
  constructor(index) {
    // Tab-lived (sessionStorage, and the browser cache): survives reloads.
    this.id = randomBytes(12).toString('base64url');
    this.cookie = `office=office-${index % config.offices}`;
    this.revision = undefined;
    this.attempts = new Map();
    this.blocked = new Set();
    this.verified = new Set();
    this.record = undefined;
    // Measured.
    this.reloads = 0;
    this.reachedAt = Number.NaN;
    this.downloadAt = Number.NaN;
    this.readyAt = Number.NaN;
    this.applyAt = Number.NaN;
    this.lastActivity = now();
    this.page = 0;
    this.resetPage();
  }

  /** The page's own state, lost on every load. */
  resetPage() {
    this.page++;
    this.running = undefined;
    this.target = undefined;
    this.status = 'idle';
    this.min = undefined;
    this.pendingStamp = undefined;
    this.checking = undefined;
    this.retryAt = new Map();
    this.downloads = 0;
    this.momentDue = false;
    clearTimeout(this.momentTimer);
  }

  clientHeader() {
    return formatClientHeader({ version: this.running, session: this.id });
  }

  async run() {
    await sleep(Math.random() * config.spreadMs);
    if (stopping) return;
    if (!(await this.load('/inbox', 'page'))) return;
    while (!stopping) {
      const until = now() + exponential(config.thinkMs);
      for (;;) {
        // The idle moment came (maybe during the last action): switch now, as #moment() does.
        if (this.momentDue) {
          this.momentDue = false;
          if (this.status === 'ready') await this.apply();
          if (this.running === undefined) return;
        }
        if (stopping || now() >= until) break;
        await this.pause(until - now());
      }
      if (stopping) break;
      const roll = Math.random();
      if (roll < config.share.nav) {
        this.lastActivity = now();
        // A route change is a safe moment: the switch happens instead, and the new page loads the view.
        if (this.status === 'ready') await this.apply();
        if (this.running === undefined) return;
        const extra = Math.floor(Math.random() * 3);
        await Promise.all([
          this.api('GET', '/api/inbox'),
          ...Array.from({ length: extra }, () => this.api('GET', `/api/items/${1 + Math.floor(Math.random() * 500)}`)),
        ]);
      } else if (roll < config.share.nav + config.share.click) {
        this.lastActivity = now();
        if (Math.random() < 0.25) await this.api('POST', '/api/items', JSON.stringify({ note: 'saved', at: now() }));
        else await this.api('GET', `/api/items/${1 + Math.floor(Math.random() * 500)}`);
      } else {
        // A background refresh: not the person's activity.
        await this.api('GET', '/api/inbox');
      }
    }
  }

  pause(ms) {
    return new Promise((resolve) => {
      this.wake = () => {
        clearTimeout(this.pauseTimer);
        this.wake = undefined;
        resolve();
      };
      this.pauseTimer = setTimeout(this.wake, ms);
    });
  }

  async api(method, path, body) {
    const headers = { cookie: this.cookie, accept: 'application/json', [CLIENT_HEADER]: this.clientHeader() };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await send('api', method, path, headers, body);
    if (response.status) this.observe(response);
  }

  /** client.ts observe(): reads the stamp of an API response. */
  observe(response) {
    const value = response.headers[RELEASE];
    if (typeof value !== 'string') return;
    const stamp = parseReleaseHeader(value);
    if (!stamp) {
      metrics.malformedStamps++;
      return;
    }
    const seen = (metrics.stamps[response.server][stamp.version] ??= { first: Infinity, last: 0 });
    seen.first = Math.min(seen.first, response.arrived);
    seen.last = Math.max(seen.last, response.arrived);
    const belowFloor = stamp.min !== undefined && compareVersions(this.running, stamp.min) < 0;
    if (!belowFloor && (stamp.version === (this.target ?? this.running) || this.isBlocked(stamp.version))) return;
    if (this.pendingStamp === stamp.version) return;
    this.pendingStamp = stamp.version;
    const page = this.page;
    track(
      this.check()
        .catch(() => undefined)
        .finally(() => {
          if (this.page === page) this.pendingStamp = undefined;
        }),
    );
  }

  isBlocked(version) {
    return (this.retryAt.get(version) ?? 0) > now() || this.blocked.has(version);
  }

  /** The anti-flip-flop rule: an answer with a lower revision than one seen in the last 120 s is stale. */
  isStaleRevision(revision) {
    if (typeof revision !== 'number' || !Number.isSafeInteger(revision)) return false;
    const seen = this.revision;
    if (seen !== undefined && revision < seen.revision && now() - seen.at < REVISION_DWELL_MS) return true;
    this.revision = { revision, at: now() };
    return false;
  }

  check() {
    const page = this.page;
    this.checking ??= this.doCheck().finally(() => {
      if (this.page === page) this.checking = undefined;
    });
    return this.checking;
  }

  async doCheck() {
    const page = this.page;
    const running = this.running;
    const response = await send('check', 'GET', releaseCheckPath(BASE), {
      cookie: this.cookie,
      [CLIENT_HEADER]: this.clientHeader(),
    });
    if (this.page !== page) return false;
    if (!response.ok) throw new ClientError('network', `the release check answered ${response.status}`);
    let wanted = running;
    let stale = false;
    if (response.status !== 204) {
      const answer = JSON.parse(response.body.toString('utf8'));
      if (!isVersion(answer.version)) throw new ClientError('network', 'the release check named no version');
      stale = this.isStaleRevision(answer.revision);
      wanted = answer.version;
      this.min = isVersion(answer.min) ? answer.min : undefined;
    }
    if (stale) {
      metrics.staleAnswers++;
      return false;
    }
    if (wanted === running) {
      metrics.runningAnswers++;
      if (this.target !== undefined) {
        metrics.cancelledDownloads++;
        this.downloads++;
        clearTimeout(this.momentTimer);
        this.status = 'idle';
        this.target = undefined;
      }
      return false;
    }
    if (wanted === this.target || this.isBlocked(wanted)) return false;
    track(this.download(running, wanted));
    return true;
  }

  async download(running, version) {
    const page = this.page;
    const generation = ++this.downloads;
    const current = () => this.page === page && this.downloads === generation;
    clearTimeout(this.momentTimer);
    this.status = 'downloading';
    this.target = version;
    if (version === newVersion && Number.isNaN(this.downloadAt)) this.downloadAt = now();
    const manifestUrl = new URL(manifestPath(BASE, version), ORIGIN);
    try {
      const response = await send('manifest', 'GET', manifestUrl.pathname, { cookie: this.cookie });
      if (!current()) return;
      if (!response.ok) throw new ClientError('network', `the manifest answered ${response.status}`);
      if (Number(response.headers['content-length'] ?? 0) > MAX_MANIFEST_BYTES) {
        throw new ClientError('manifest', 'the manifest is too large');
      }
      if (response.body.length > MAX_MANIFEST_BYTES) throw new ClientError('manifest', 'the manifest is too large');
      let parsed;
      try {
        parsed = JSON.parse(response.body.toString('utf8'));
      } catch {
        throw new ClientError('manifest', 'the manifest is not JSON');
      }
      const checked = validateManifest(parsed, version);
      if (!checked.ok) throw new ClientError('manifest', checked.errors.join('; '));
      for (const asset of checked.manifest.assets) {
        const url = new URL(asset.url, manifestUrl);
        if (url.origin !== ORIGIN) throw new ClientError('origin', `${url.href} is on another origin`);
        const file = await send('file', 'GET', url.pathname, { cookie: this.cookie });
        if (!current()) return;
        if (!file.ok) throw new ClientError('network', `${url.pathname} answered ${file.status}`);
        const dash = asset.integrity.indexOf('-');
        const digest = createHash(asset.integrity.slice(0, dash)).update(file.body).digest('base64');
        if (digest !== asset.integrity.slice(dash + 1)) throw new ClientError('integrity', `${url.pathname} mismatch`);
        this.verified.add(url.pathname);
      }
      this.status = 'ready';
      if (version === newVersion) this.readyAt = now();
      this.armIdle();
    } catch (error) {
      if (!current()) return;
      this.fail(error.code ?? 'network', version);
    }
  }

  /** Policy auto: the idle moment (#arm and #due in client.ts), read again when the timer fires. */
  armIdle() {
    clearTimeout(this.momentTimer);
    this.momentTimer = setTimeout(
      () => {
        if (now() < this.lastActivity + config.idleMs) return this.armIdle();
        this.momentDue = true;
        this.wake?.();
      },
      Math.max(0, this.lastActivity + config.idleMs - now()),
    );
  }

  fail(code, version) {
    metrics.errors[code] = (metrics.errors[code] ?? 0) + 1;
    if (version !== undefined && code !== 'stale-shell' && code !== 'loop-guard') {
      this.retryAt.set(version, code === 'network' ? now() + RETRY_AFTER_MS : Infinity);
    }
    clearTimeout(this.momentTimer);
    this.status = 'error';
    this.target = undefined;
  }

  /** client.ts apply() and #go(): one navigation to the target. */
  async apply() {
    const { target, running } = this;
    if ((this.attempts.get(target) ?? 0) >= 1) {
      metrics.loopGuards++;
      this.report('loop-guard', { version: target });
      this.fail('loop-guard', target);
      return;
    }
    await sleep(QUIET_MS);
    if (target === newVersion) this.applyAt = now();
    this.attempts.set(target, (this.attempts.get(target) ?? 0) + 1);
    this.record = { from: running, to: target };
    this.status = 'applying';
    await this.load(`/inbox?_daylight=${encodeURIComponent(target)}`, 'navigation');
  }

  /** A page load: the shell, then the client's start() on the new page. False when the tab is left dead. */
  async load(path, kind) {
    let response;
    for (let attempt = 0; ; attempt++) {
      response = await send(kind, 'GET', path, { cookie: this.cookie, accept: 'text/html,application/xhtml+xml' });
      if (kind === 'navigation') this.reloads++;
      if (response.ok || attempt === 2 || stopping) break;
      // An error page: the person reloads it after a moment.
      await sleep(1000);
    }
    this.resetPage();
    const html = response.body?.toString('utf8') ?? '';
    const meta = META.exec(html)?.[1];
    if (!response.ok || !isVersion(meta)) {
      metrics.errors['dead-page'] = (metrics.errors['dead-page'] ?? 0) + 1;
      return false;
    }
    this.running = meta;
    const record = this.record;
    this.record = undefined;
    if (record === undefined) {
      this.attempts.clear();
      return true;
    }
    if (record.to !== meta) {
      metrics.staleShells++;
      this.blocked.add(record.to);
      this.report('stale-shell', { version: record.to });
      return true;
    }
    if (meta === newVersion && Number.isNaN(this.reachedAt)) this.reachedAt = now();
    // The new page loads the files its shell names; each was verified and cached before the switch.
    for (const [, file] of html.matchAll(RELEASE_FILE)) {
      if (this.verified.has(file)) continue;
      metrics.cacheMisses++;
      await send('file', 'GET', file, { cookie: this.cookie });
      this.verified.add(file);
    }
    // ready(): the boot report, and the attempts are forgotten.
    this.report('boot', { from: record.from, version: meta });
    this.attempts.clear();
    return true;
  }

  report(kind, detail) {
    const body = JSON.stringify({ kind, session: this.id, version: this.running, ...detail });
    track(
      send(
        'report',
        'POST',
        `${BASE}/reports`,
        { cookie: this.cookie, 'content-type': 'application/json', [CLIENT_HEADER]: this.clientHeader() },
        body,
      ),
    );
  }
}

const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
const sessions = Array.from({ length: config.sessions }, (_, i) => new Session(config.first + i));
const runs = sessions.map((session) => session.run());

const progress = setInterval(() => {
  const versions = {};
  for (const session of sessions) {
    const version = session.running ?? 'loading';
    versions[version] = (versions[version] ?? 0) + 1;
  }
  parentPort.postMessage({ type: 'progress', versions, requests: metrics.ms.length, inFlight });
}, 500);

parentPort.on('message', async (message) => {
  if (message.type === 'promote') newVersion = message.version;
  if (message.type !== 'stop') return;
  stopping = true;
  for (const session of sessions) {
    clearTimeout(session.momentTimer);
    session.wake?.();
  }
  await Promise.all(runs);
  while (background.size > 0) await Promise.all([...background]);
  clearInterval(progress);
  lag.disable();
  for (const server of servers) server.agent.destroy();
  parentPort.postMessage({
    type: 'done',
    kinds: KINDS,
    requests: {
      start: Float64Array.from(metrics.start),
      ms: Float64Array.from(metrics.ms),
      kind: Uint8Array.from(metrics.kind),
      server: Uint8Array.from(metrics.server),
      ok: Uint8Array.from(metrics.ok),
    },
    sessions: {
      reloads: Uint16Array.from(sessions, (s) => s.reloads),
      reachedAt: Float64Array.from(sessions, (s) => s.reachedAt),
      downloadAt: Float64Array.from(sessions, (s) => s.downloadAt),
      readyAt: Float64Array.from(sessions, (s) => s.readyAt),
      applyAt: Float64Array.from(sessions, (s) => s.applyAt),
    },
    counters: {
      failures: metrics.failures,
      errors: metrics.errors,
      malformedStamps: metrics.malformedStamps,
      staleAnswers: metrics.staleAnswers,
      runningAnswers: metrics.runningAnswers,
      cancelledDownloads: metrics.cancelledDownloads,
      loopGuards: metrics.loopGuards,
      staleShells: metrics.staleShells,
      cacheMisses: metrics.cacheMisses,
      bytes: metrics.bytes,
    },
    stamps: metrics.stamps,
    lag: { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6, mean: lag.mean / 1e6 },
  });
});
