/**
 * Daylight's service worker (`GET {base}/sw.js`), for the client's optional
 * service worker mode (`@daylight/client/sw`, docs/switching.md).
 *
 * The worker is plain JavaScript with no imports (no workbox runtime): it
 * derives the base path from its own URL, so one script serves any base.
 *
 * - `daylight-<version>` caches hold a release's files, each fetched by the
 *   worker and checked against the manifest's SRI hash before it is stored
 *   (never unverified bytes), plus the shell for a switch's target. Under a
 *   base path other than `/_daylight` they are `daylight-<base>@<version>`:
 *   another app on the origin, with its own base, keeps its own caches.
 * - `{base}/releases/<v>/files/…`: cache-first for versions it holds, then
 *   the same file verified in another version's cache (the hash `<v>`'s
 *   manifest names: a release that changed one file downloads one), the
 *   network otherwise. Nothing else is answered from a cache except a
 *   navigation whose network request failed (then a cached shell). A missing
 *   JS file is never answered with HTML.
 * - Tabs report the version they run (and a switch's target); a version's
 *   cache is deleted only when no open tab runs it or is switching to it.
 */
import type { DaylightRequest, DaylightResponse } from './types.js';

/**
 * The worker's source. Bump `WORKER_REVISION` in it with every change: the
 * browser compares the script byte for byte to decide that it changed.
 */
export const SERVICE_WORKER_SOURCE = String.raw`/* Daylight service worker. Served by @daylight/server-middleware at {base}/sw.js. */
'use strict';
var WORKER_REVISION = 5;
var META_CACHE = 'daylight-meta';
var BASE = new URL(self.location.href).pathname.replace(/\/sw\.js$/, '');
// Two apps on one origin (two base paths) may ship the same version numbers, and each worker deletes the caches
// of versions its own tabs no longer run: each app's caches carry its base path (the default one keeps its names).
var PREFIX = BASE === '/_daylight' ? 'daylight-' : 'daylight-' + BASE + '@';
var TABS_KEY = BASE + '/__sw/tabs';
var FILE_ROUTE = /^\/releases\/([^/]+)\/files\/(.+)$/;
var MANIFEST_ROUTE = /^\/releases\/([^/]+)\/manifest\.json$/;
var VERSION = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;
var ALGORITHMS = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };
var META_TAG = /<meta name="daylight-release" content="([^"]+)">/;
/** Stored with each file the worker verified: the SRI hash its bytes matched (never a server's header). */
var VERIFIED = 'X-Daylight-Verified';
/** How long the worker keeps a manifest a page read, for the file requests that follow it. */
var MANIFEST_TTL_MS = 60000;
/** How long a file request waits for that manifest before it goes to the network. */
var MANIFEST_WAIT_MS = 2000;

/** Precaches in progress, by version: a second request for one waits for the first. */
var inflight = new Map();
/** version -> { at, hashes: Promise<Map<file URL, SRI hash>> }: manifests pages read, seen on their way. */
var manifests = new Map();
/** The cached versions as last listed (see versionsFor); dropped when this worker creates or deletes a cache. */
var listed;
/**
 * clientId -> { version, target, previous }, mirrored in the meta cache (a worker is stopped and restarted at
 * will). "previous": the release a page that a switch just landed on came from, until it calls ready().
 */
var tabs;
/**
 * The release a tab last reported running (a page a switch landed on only once it called ready(); a page loaded
 * afresh when it starts): an offline reload's shell.
 */
var last;
/**
 * Open windows that have not reported, by id: when the worker first saw each. Saved with the tabs: the browser
 * stops an idle worker within a minute, and a restarted one must not start that minute over.
 */
var strangers = new Map();
/** A window that has not reported within this is no Daylight tab: another app on the origin, a help page. */
var STRANGER_GRACE_MS = 60000;

function safeDecode(text) {
  try {
    return decodeURIComponent(text);
  } catch (error) {
    return '';
  }
}
function cacheName(version) {
  return PREFIX + version;
}
/** A release's cache, which opening may create. */
async function openRelease(version) {
  var cache = await caches.open(cacheName(version));
  listed = undefined;
  return cache;
}
/** The list is dropped once the deletion is over: one taken while it was under way may still name the cache. */
function deleteRelease(version) {
  return caches.delete(cacheName(version)).finally(function () {
    listed = undefined;
  });
}
/** The URL of a release's file as pages ask for it: the version percent-encoded (a '+' of build metadata is %2B). */
function releaseUrl(version, rest) {
  return new URL(BASE + '/releases/' + encodeURIComponent(version) + rest, self.location.href).href;
}
function shellKey(version) {
  return new URL(BASE + '/releases/' + version + '/__shell', self.location.href).href;
}
function doneKey(version) {
  return new URL(BASE + '/releases/' + version + '/__complete', self.location.href).href;
}

/** SemVer 2.0.0 precedence (§11), to pick the newest cached version: 1.0.0-rc.10 is above rc.9. */
function compare(a, b) {
  var x = VERSION.exec(a), y = VERSION.exec(b);
  if (!x || !y) return 0;
  for (var i = 1; i <= 3; i++) {
    var d = Number(x[i]) - Number(y[i]);
    if (d !== 0) return d;
  }
  if (x[4] === y[4]) return 0;
  if (x[4] === undefined) return 1;
  if (y[4] === undefined) return -1;
  var p = x[4].split('.'), q = y[4].split('.');
  for (var j = 0; j < p.length && j < q.length; j++) {
    if (p[j] === q[j]) continue;
    var m = /^\d+$/.test(p[j]), n = /^\d+$/.test(q[j]);
    // Numeric identifiers compare numerically and rank below alphanumeric ones; others in ASCII order.
    if (m && n) return Number(p[j]) - Number(q[j]);
    if (m || n) return m ? -1 : 1;
    return p[j] < q[j] ? -1 : 1;
  }
  return p.length - q.length;
}

async function loadTabs() {
  if (tabs) return tabs;
  var stored = {};
  try {
    var hit = await caches.match(TABS_KEY, { cacheName: META_CACHE });
    if (hit) stored = await hit.json();
  } catch (error) {
    stored = {};
  }
  if (!tabs) {
    // (Revision 2 stored the tabs alone.)
    tabs = new Map(Object.entries(stored.tabs || (stored.last ? {} : stored)));
    last = last || stored.last;
    strangers = new Map(Object.entries(stored.strangers || {}));
  }
  return tabs;
}

/**
 * Best effort: with the origin's storage full the record stays in memory (it is lost only if the browser
 * stops the worker meanwhile), and a caller's reply and cleanup never depend on it.
 */
async function saveTabs() {
  try {
    var cache = await caches.open(META_CACHE);
    await cache.put(TABS_KEY, new Response(JSON.stringify({ tabs: Object.fromEntries(tabs), last: last, strangers: Object.fromEntries(strangers) }), {
      headers: { 'Content-Type': 'application/json' },
    }));
  } catch (error) {
    // Kept in memory.
  }
}

function toBase64(buffer) {
  var binary = '';
  var bytes = new Uint8Array(buffer);
  for (var i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Resolves with the body when it matches the SRI hash; rejects otherwise. */
async function verified(url, integrity) {
  var dash = integrity.indexOf('-');
  var algorithm = ALGORITHMS[integrity.slice(0, dash)];
  if (!algorithm) throw new Error(url + ': unsupported integrity ' + integrity);
  // The page's verified download put the file in the HTTP cache (it is served immutable).
  var response = await fetch(url, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(url + ' answered HTTP ' + response.status);
  var body = await response.arrayBuffer();
  var digest = toBase64(await crypto.subtle.digest(algorithm, body));
  if (digest !== integrity.slice(dash + 1)) throw new Error(url + ' does not match its integrity hash');
  var headers = { 'Content-Type': response.headers.get('Content-Type') || 'application/octet-stream' };
  headers[VERIFIED] = integrity;
  return new Response(body, { status: 200, headers: headers });
}

/** A release's manifest, fetched (revalidated) from the server. */
async function readManifest(version) {
  var url = releaseUrl(version, '/manifest.json');
  var response = await fetch(url, { cache: 'no-cache', credentials: 'same-origin' });
  if (!response.ok) throw new Error(url + ' answered HTTP ' + response.status);
  return manifestOf(version, url, await response.json());
}

function manifestOf(version, url, manifest) {
  if (!manifest || manifest.version !== version || !Array.isArray(manifest.assets)) {
    throw new Error(url + ' is not the manifest of ' + version);
  }
  return { url: url, assets: manifest.assets };
}

/**
 * Keeps the SRI hash of each file of a version, by URL (without its query), from a manifest a page fetched
 * through the worker (body: a promise of its JSON): the client reads the manifest of a release before its files,
 * so their requests find it here. Kept a minute (published versions never change).
 */
function remember(version, url, body) {
  var now = Date.now();
  manifests.forEach(function (entry, key) {
    if (now - entry.at > MANIFEST_TTL_MS) manifests.delete(key);
  });
  var hashes = body.then(function (json) {
    var manifest = manifestOf(version, url, json);
    var byUrl = new Map();
    manifest.assets.forEach(function (asset) {
      var file = new URL(asset && asset.url, manifest.url);
      byUrl.set(file.origin + file.pathname, String(asset.integrity));
    });
    return byUrl;
  });
  var entry = { at: now, hashes: hashes };
  hashes.catch(function () {
    if (manifests.get(version) === entry) manifests.delete(version);
  });
  manifests.set(version, entry);
}

/**
 * The same file in another release's cache, or undefined: the same path in the release (bundlers name files by
 * their content) and the SRI hash the worker stored when it verified those bytes equal to the one this release's
 * manifest names. So a release that changed one file of a hundred costs one download, and a URL is never
 * answered with bytes other than the ones its own release names.
 */
async function sameFileCached(version, href, integrity, cached) {
  var url = new URL(href);
  var route = FILE_ROUTE.exec(url.pathname.slice(BASE.length));
  if (url.origin !== self.location.origin || !route) return undefined;
  var others = (cached || (await cachedVersions())).filter(function (v) { return v !== version; }).reverse();
  for (var other of others) {
    var hit = await caches.match(releaseUrl(other, '/files/' + route[2]), { cacheName: cacheName(other) });
    if (hit && hit.headers.get(VERIFIED) === integrity) return hit;
  }
  return undefined;
}

/**
 * For a file request the version's own cache missed: the same verified file of another release, if the worker
 * saw the version's manifest go by (never a request of its own: a slow server must not hold the file) and
 * another release is cached.
 */
async function reusedFile(version, url) {
  var entry = manifests.get(version);
  if (!entry || Date.now() - entry.at > MANIFEST_TTL_MS) return undefined;
  var timer;
  var late = new Promise(function (resolve) {
    timer = setTimeout(resolve, MANIFEST_WAIT_MS);
  });
  var hashes = await Promise.race([entry.hashes, late]).finally(function () {
    clearTimeout(timer);
  });
  var integrity = hashes && hashes.get(url.origin + url.pathname);
  return integrity === undefined ? undefined : sameFileCached(version, url.href, integrity, await versionsFor());
}

/**
 * The cached versions to look for a release's missed files in, listed once (a page asks for a release's files
 * together: listing the origin's caches for each cost one listing per file), and again once this worker created or
 * deleted a cache since. A cache deleted by someone else (a page's reset()) may still be named: caches.match by
 * that name finds nothing then, so it never answers. A worker restarted lists afresh.
 */
function versionsFor() {
  if (!listed) {
    var versions = cachedVersions();
    listed = versions;
    // A listing that failed is not kept: the next file lists again.
    versions.catch(function () {
      if (listed === versions) listed = undefined;
    });
  }
  return listed;
}

/**
 * Caches every file of a release, each verified against the manifest. With
 * shellUrl, also the shell that URL answers (it must carry the version's
 * meta tag; its scripts carry integrity, so the browser checks them again).
 */
async function precache(version, shellUrl) {
  var name = cacheName(version);
  if (!(await caches.match(doneKey(version), { cacheName: name }))) {
    var manifest = await readManifest(version);
    var cache = await openRelease(version);
    var cached = await cachedVersions();
    for (var asset of manifest.assets) {
      var url = new URL(asset.url, manifest.url);
      // Files on other origins (allowedOrigins) are left to the HTTP cache.
      if (url.origin !== self.location.origin) continue;
      if (await cache.match(url.href)) continue;
      var integrity = String(asset.integrity);
      var same = await sameFileCached(version, url.href, integrity, cached);
      await cache.put(url.href, same || (await verified(url.href, integrity)));
    }
    await cache.put(doneKey(version), new Response(String(manifest.assets.length)));
  }
  if (shellUrl) {
    // The release's cache exists by now (made above, or it holds the done mark): opening it changes no list.
    var shellCache = await caches.open(name);
    if (!(await shellCache.match(shellKey(version)))) {
      var target = new URL(shellUrl, self.location.href);
      if (target.origin !== self.location.origin) throw new Error('the shell must be on this origin');
      var shell = await fetch(target.href, {
        cache: 'no-cache',
        credentials: 'same-origin',
        headers: { Accept: 'text/html' },
      });
      var type = shell.headers.get('Content-Type') || '';
      var html = shell.ok && type.indexOf('text/html') === 0 ? await shell.text() : '';
      var meta = META_TAG.exec(html);
      if (!meta || meta[1] !== version) throw new Error(target.href + ' did not answer the shell of ' + version);
      await shellCache.put(shellKey(version), new Response(html, {
        headers: { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' },
      }));
    }
  }
}

function precacheOnce(version, shellUrl) {
  var key = version + ' ' + (shellUrl || '');
  var pending = inflight.get(key);
  if (!pending) {
    pending = precache(version, shellUrl).finally(function () {
      inflight.delete(key);
    });
    inflight.set(key, pending);
  }
  return pending;
}

async function cachedVersions() {
  var names = await caches.keys();
  return names
    .filter(function (n) { return n.indexOf(PREFIX) === 0 && VERSION.test(n.slice(PREFIX.length)); })
    .map(function (n) { return n.slice(PREFIX.length); })
    .sort(compare);
}

/**
 * Deletes the cache of every version that no open tab runs, is switching to
 * or may go back to ("previous"), except the newest and the last one run
 * healthily (the offline fallbacks for a new navigation). Tabs that have not
 * reported yet make it keep everything this time — for a minute at most, and
 * not for Daylight's own pages (the status page): a same-origin window that
 * never reports would otherwise keep every release ever cached.
 */
async function cleanup() {
  var known = await loadTabs();
  var open = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  var ids = new Set(open.map(function (c) { return c.id; }));
  var changed = false;
  for (var id of Array.from(known.keys())) {
    if (!ids.has(id)) {
      known.delete(id);
      changed = true;
    }
  }
  strangers.forEach(function (_, id) {
    if (ids.has(id) && !known.has(id)) return;
    strangers.delete(id);
    changed = true;
  });
  var now = Date.now();
  var waiting = open.filter(function (c) {
    if (known.has(c.id) || new URL(c.url).pathname.indexOf(BASE + '/') === 0) return false;
    if (!strangers.has(c.id)) {
      strangers.set(c.id, now);
      changed = true;
    }
    return now - strangers.get(c.id) < STRANGER_GRACE_MS;
  });
  if (changed) await saveTabs();
  if (waiting.length > 0) return;
  var keep = new Set();
  known.forEach(function (tab) {
    if (tab.version) keep.add(tab.version);
    if (tab.target) keep.add(tab.target);
    if (tab.previous) keep.add(tab.previous);
  });
  inflight.forEach(function (_, key) { keep.add(key.split(' ')[0]); });
  var versions = await cachedVersions();
  if (versions.length > 0) keep.add(versions[versions.length - 1]);
  if (last) keep.add(last);
  await Promise.all(versions.filter(function (v) { return !keep.has(v); }).map(function (v) {
    return deleteRelease(v);
  }));
}

/** The shell for a navigation the network could not answer. */
async function fallbackShell(url) {
  var asked = url.searchParams.get('_daylight');
  // A switch or a way back asks for one version: any other's shell would land the tab on the wrong release
  // (on a way back, on the one that just failed to boot), so without that version's shell the navigation fails.
  if (asked !== null) return VERSION.test(asked) ? caches.match(shellKey(asked), { cacheName: cacheName(asked) }) : undefined;
  var known = await loadTabs();
  var targets = [];
  known.forEach(function (tab) { if (tab.target) targets.push(tab.target); });
  // What tabs last ran healthily first: the newest cached or targeted release may be one that failed to boot.
  var candidates = last ? [last] : [];
  candidates.push.apply(candidates, targets.sort(compare).reverse());
  candidates.push.apply(candidates, (await cachedVersions()).reverse());
  for (var version of candidates) {
    var hit = await caches.match(shellKey(version), { cacheName: cacheName(version) });
    if (hit) return hit;
  }
  return undefined;
}

// skipWaiting and claim are safe here, unlike in an app's own precaching
// worker (DIM#11809, observ-ing/core#683): this worker never answers a URL
// with bytes other than the ones its version names. Every release file has
// its version in its URL and is answered cache-first from that version's own
// cache, else with the same verified bytes another version's cache holds
// (the hash its manifest names), else from the network; navigations go to
// the network first, and no cache is deleted
// while an open tab runs or targets its version. A new worker taking over a
// page mid-session therefore serves that page exactly what the old one did:
// there is no waiting worker to get stuck (w3c/ServiceWorker#1238) and no
// reload is ever tied to the worker's lifecycle; the client's switch is its
// own navigation.
self.addEventListener('install', function () {
  self.skipWaiting();
});

self.addEventListener('activate', function (event) {
  event.waitUntil(self.clients.claim().then(cleanup));
});

self.addEventListener('message', function (event) {
  var data = event.data || {};
  var port = event.ports && event.ports[0];
  var source = event.source;
  var replied = false;
  var reply = function (message) {
    if (port && !replied) port.postMessage(message);
    replied = true;
  };
  var text = function (error) {
    return String(error && error.message ? error.message : error);
  };
  var work = (async function () {
    if (data.type === 'daylight:status') {
      reply({ ok: true, versions: await cachedVersions(), revision: WORKER_REVISION });
      return;
    }
    if (data.type !== 'daylight:running' && data.type !== 'daylight:precache') return;
    if (typeof data.version !== 'string' || !VERSION.test(data.version) || !source) {
      reply({ ok: false, error: 'a version such as 1.4.2 is needed' });
      return;
    }
    var known = await loadTabs();
    var tab = known.get(source.id) || {};
    if (data.type === 'daylight:running') {
      // "previous" stays until the page reports again without it (after ready()): its watchdog may go back.
      var previous = typeof data.previous === 'string' && VERSION.test(data.previous) && data.previous !== data.version
        ? data.previous : undefined;
      known.set(source.id, {
        version: data.version,
        target: tab.target === data.version ? undefined : tab.target,
        previous: previous,
      });
      if (!previous) last = data.version;
    } else {
      known.set(source.id, { version: tab.version, target: data.version, previous: tab.previous });
    }
    await saveTabs();
    try {
      if (data.type === 'daylight:precache') await precacheOnce(data.version, data.shell);
      else if (data.precache) {
        await precacheOnce(data.version);
        // The running release's shell, for an offline reload or a way back to it. The server may no longer
        // serve it (a release below the floor): the files alone still serve the open tab.
        if (data.shell) await precacheOnce(data.version, data.shell).catch(function () {});
      }
      reply({ ok: true, versions: await cachedVersions() });
    } catch (error) {
      try {
        // A download that failed leaves nothing of the release behind — unless the release was complete
        // before (only its shell failed now), or another tab runs it: those files are verified, and in use.
        var name = cacheName(data.version);
        var inUse = false;
        known.forEach(function (other, id) {
          if (id !== source.id && [other.version, other.target, other.previous].indexOf(data.version) !== -1) inUse = true;
        });
        if (!inUse && !(await caches.match(doneKey(data.version), { cacheName: name }))) await deleteRelease(data.version);
      } finally {
        reply({ ok: false, error: text(error) });
      }
    } finally {
      // Also after a failure: deleting what no tab needs may be what makes room.
      await cleanup();
    }
  })();
  // Whatever failed, the page gets an answer (else it waits for its whole timeout) with the real error.
  event.waitUntil(work.catch(function (error) {
    reply({ ok: false, error: text(error) });
  }));
});

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.method !== 'GET') return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    // Network first: the server decides which shell a navigation gets; only
    // a failed network (not an HTTP error) falls back to a cached shell — and,
    // for a switch or a way back (?_daylight=<v>), a proxy's 502/503/504 with
    // the server behind it down: the person would land on the proxy's error
    // page, though <v>'s shell is cached.
    var fallback = function (otherwise) {
      return fallbackShell(url).catch(function () {}).then(function (shell) {
        return shell || otherwise();
      });
    };
    event.respondWith(fetch(request).then(function (response) {
      if (!url.searchParams.has('_daylight') || response.status < 502 || response.status > 504) return response;
      return fallback(function () { return response; });
    }, function (error) {
      return fallback(function () { throw error; });
    }));
    return;
  }
  if (url.pathname.indexOf(BASE + '/releases/') !== 0) return;
  var manifest = MANIFEST_ROUTE.exec(url.pathname.slice(BASE.length));
  if (manifest) {
    var of = safeDecode(manifest[1]);
    if (!VERSION.test(of)) return;
    // Passed on untouched; a copy is read for the file requests that follow (the same file of another release).
    event.respondWith(fetch(request).then(function (response) {
      if (response.ok) {
        try {
          remember(of, url.origin + url.pathname, response.clone().json());
        } catch (error) {
          // A body the copy cannot be made of: the files come from the network.
        }
      }
      return response;
    }));
    return;
  }
  var route = FILE_ROUTE.exec(url.pathname.slice(BASE.length));
  if (!route) return;
  var version = safeDecode(route[1]);
  if (!VERSION.test(version)) return;
  // A Cache API that fails (storage evicted or corrupt) must not fail the file: the network may have it.
  var cached = caches.match(url.origin + url.pathname, { cacheName: cacheName(version) }).catch(function () {});
  event.respondWith(cached.then(function (hit) {
    // Not cached for its version (a download under way): the same verified file of another release, if any.
    return hit || reusedFile(version, url).catch(function () {});
  }).then(function (hit) {
    return hit || fetch(request);
  }));
});
`;

const SOURCE = Buffer.from(SERVICE_WORKER_SOURCE, 'utf8');

/**
 * What the shell handler answers for a path of `retireServiceWorkers`: a worker that replaces the app's earlier
 * one (the browser's update check installs it, since its bytes differ) and retires it. Navigations go to the
 * network (Daylight's shell), and the pages they open are the new app's; every other page it controls is the
 * old app's, loaded before it took over, and keeps getting its files (scripts, styles, images: never fetch/XHR)
 * from the old caches, as before, so an old tab's lazy chunk still loads. Once only new pages are open, it
 * deletes the origin's caches but Daylight's own and unregisters. It reloads no page.
 */
export const RETIRING_WORKER_SOURCE = String.raw`/* Retired by Daylight (@daylight/server-middleware, retireServiceWorkers). */
'use strict';
// The pages opened by a navigation through this worker (the new app's), kept where a restarted worker finds
// them: the browser stops idle workers at will.
var PAGES_CACHE = 'daylight-retired';
var PAGES_KEY = new URL('/__daylight-retired-pages', self.location.href).href;
var newPages;

function pagesOfNewApp() {
  if (newPages) return Promise.resolve(newPages);
  return caches.open(PAGES_CACHE).then(function (cache) {
    return cache.match(PAGES_KEY);
  }).then(function (hit) {
    return hit ? hit.json() : [];
  }).catch(function () {
    return [];
  }).then(function (ids) {
    newPages = newPages || ids;
    return newPages;
  });
}

function opened(id) {
  return pagesOfNewApp().then(function (ids) {
    ids.push(id);
    return caches.open(PAGES_CACHE).then(function (cache) {
      return cache.put(PAGES_KEY, new Response(JSON.stringify(ids)));
    });
  }).catch(function () {});
}

/** The check in flight: every request asks for it (no event says a page closed), one runs at a time. */
var finishing;

/** Once no page of the old app is open: the old caches deleted, and this worker gone. */
function finishIfDone() {
  if (!finishing) finishing = checkFinished().finally(function () { finishing = undefined; });
  return finishing;
}

function checkFinished() {
  return Promise.all([pagesOfNewApp(), self.clients.matchAll({ type: 'window' })])
    .then(function (found) {
      var old = found[1].filter(function (page) { return found[0].indexOf(page.id) === -1; });
      if (found[1].length === 0 || old.length > 0) return undefined;
      return caches.keys().then(function (names) {
        return Promise.all(names.filter(function (name) {
          return name.indexOf('daylight-') !== 0 || name === PAGES_CACHE;
        }).map(function (name) {
          return caches.delete(name);
        }));
      }).then(function () {
        return self.registration.unregister();
      });
    })
    .catch(function () {});
}

self.addEventListener('install', function () {
  self.skipWaiting();
});

self.addEventListener('fetch', function (event) {
  var request = event.request;
  if (request.mode === 'navigate') {
    // To the network, as without a worker: the page it opens is the new app's.
    if (event.resultingClientId) event.waitUntil(opened(event.resultingClientId));
    return;
  }
  event.waitUntil(finishIfDone());
  // Fetch/XHR (never a cached API answer) and other methods: the network.
  if (request.method !== 'GET' || request.destination === '') return;
  var clientId = event.clientId;
  event.respondWith(pagesOfNewApp().then(function (ids) {
    if (ids.indexOf(clientId) !== -1) return fetch(request);
    return caches.match(request).catch(function () {}).then(function (hit) {
      return hit || fetch(request);
    });
  }));
});
`;

const RETIRING = Buffer.from(RETIRING_WORKER_SOURCE, 'utf8');

/**
 * A worker script: `no-cache`, so that the browser's update check sees a new one at once, and allowed to control
 * the whole origin (`/`; a retired worker may have had that scope).
 */
function workerScript(request: DaylightRequest, body: Buffer): DaylightResponse {
  const headers = {
    'Content-Type': 'text/javascript; charset=utf-8',
    'Content-Length': String(body.length),
    'Cache-Control': 'no-cache',
    'Service-Worker-Allowed': '/',
    'X-Content-Type-Options': 'nosniff',
  };
  return request.method === 'HEAD' ? { status: 200, headers } : { status: 200, headers, body };
}

/** What the shell handler answers for a path of `retireServiceWorkers`: the retiring worker. */
export function answerRetiredWorker(request: DaylightRequest): DaylightResponse {
  return workerScript(request, RETIRING);
}

/**
 * `GET {base}/sw.js`: the worker, `no-cache` so the browser's update check
 * sees a new one at once, allowed to control the whole origin (`/`).
 * `undefined` for any other path below the base.
 */
export function answerServiceWorker(request: DaylightRequest, rest: string): DaylightResponse | undefined {
  if (rest !== '/sw.js') return undefined;
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    return {
      status: 405,
      headers: { Allow: 'GET, HEAD', 'Cache-Control': 'no-store', 'Content-Type': 'text/plain; charset=utf-8' },
      body: 'Method not allowed\n',
    };
  }
  return workerScript(request, SOURCE);
}
