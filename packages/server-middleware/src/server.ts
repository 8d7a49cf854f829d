/**
 * The framework-agnostic core: reads and watches the registry, stamps
 * responses, answers Daylight's endpoints and the shell fallback. The
 * adapters in express.ts and koa.ts only translate.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import {
  CLIENT_HEADER,
  MAX_HEADER_LENGTH,
  parseClientHeader,
  type ClientStamp,
  type ReleaseStamp,
} from '@daylight/protocol';
import {
  answerBelowBase,
  answerShell,
  textResponse,
  type EndpointContext,
  type ShellUnavailable,
} from './endpoints.js';
import { createReports, type ReportCount, type Reports } from './reports.js';
import { createAdmin, type Admin } from './admin/admin.js';
import type { CensusSnapshot } from './census/census.js';
import { ServerCensus } from './census/server-census.js';
import type { ChangeOutcome } from './registry-changes.js';
import { internalsOf, resolveOptions, type DaylightInternals, type ResolvedOptions } from './options.js';
import { updateRegistryFile } from './file-registry.js';
import { DEFAULT_REDIS_PREFIX, RECONNECTING, RedisRegistry } from './redis-registry.js';
import { oldCopyAge, RegistryCopy } from './registry-copy.js';
import { haltChange, RegistryChangeError } from './registry-changes.js';
import { checkReleaseFolder, newlyServed, repairHint } from './release-check.js';
import { cohortNamed, haltOf, readRegistryFile, releaseDir, type Registry, type RegistryRead } from './registry.js';
import { resolveRelease, unreachable } from './resolve.js';
import { Facts, labelOf, PerRequest, RequestState, type Labels, type PerRequestContext } from './per-request.js';
import { fileSignature, MISSING, watchRegistry, type RegistryWatcher } from './registry-watcher.js';
import {
  createGeneration,
  loadRelease,
  type Choice,
  loadShell,
  type Generation,
  type LoadedRelease,
  type ShellLoad,
} from './release-store.js';
import { restAfterBase } from './request-path.js';
import { answerServiceWorker } from './service-worker.js';
import { armingOf, isArmed, patchWriteHead, removeStamp, stampNow, stampOnWriteHead, type Arming } from './stamp.js';
import type {
  DaylightRequest,
  DaylightResponse,
  DaylightServer,
  DaylightServerOptions,
  DaylightState,
  DaylightStats,
  HaltOptions,
  HaltResult,
} from './types.js';

/**
 * Where `attach` keeps a response's state, so a second call returns the same
 * one: in a WeakMap, not on the response (see `armed` in stamp.ts for why).
 */
const states = new WeakMap<ServerResponse, DaylightState>();
const EMPTY_STATE: DaylightState = Object.freeze({});
const CLIENT_HEADER_LOWER = CLIENT_HEADER.toLowerCase();
/** Parsed client headers kept per generation; the cache is emptied when full. */
const CLIENT_CACHE_SIZE = 10_000;
/** Stamp failures are logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;
/** With Redis, how often the revision is polled beside pub/sub (a message missed during a reconnect). */
const REDIS_POLL_MS = 1000;

type CensusStats = 'censusSeries' | 'censusBytes' | 'censusFailures';
type Counters = { -readonly [K in Exclude<keyof DaylightStats, CensusStats>]: DaylightStats[K] };

/** The head of the problem a Redis that does not answer is logged with (the reason follows in parentheses). */
const redisUnreachable = (redis: RedisRegistry): string => `Redis ${redis.location} cannot be reached`;

/**
 * Where the copy this server serves comes from, for the log and the status page. An old one says so, with its age:
 * the fleet may have moved on since, and an operator should know before trusting what this server serves.
 */
function copyOrigin(copy: { readonly file: string; readonly savedAt: string }): string {
  const age = oldCopyAge(copy.savedAt);
  const old =
    age === undefined
      ? ''
      : ` — an old copy, ${age} old: no server on this folder has saved Redis's registry since, so the fleet may have moved on (promoted, halted or pinned)`;
  return `saved ${copy.savedAt} in ${copy.file}${old}`;
}

/**
 * Creates the Daylight server core. It reads the registry right away (see
 * `ready`) and, unless `watch` is false, follows its changes.
 *
 * @throws {TypeError} when an option is invalid; the message names it and the fix.
 * @example
 * const daylight = createDaylight({ config: 'releases.json' });
 * app.use(daylightExpress(daylight));
 */
export function createDaylight(options?: DaylightServerOptions): DaylightServer {
  return new Daylight(resolveOptions(options), internalsOf(options));
}

function describeRegistry(registry: Registry): string {
  const base = registry.current === null ? 'current none' : `current ${registry.current}`;
  const parts = [base];
  if (registry.min !== undefined) parts.push(`min ${registry.min}`);
  if (registry.rollout !== undefined) parts.push(`rollout ${registry.rollout.release} ${registry.rollout.percent}%`);
  const cohorts = Object.keys(registry.cohorts ?? {}).length;
  if (cohorts > 0) parts.push(`${cohorts} cohort${cohorts === 1 ? '' : 's'}`);
  if (registry.revision !== undefined) parts.push(`revision ${registry.revision}`);
  return parts.join(', ');
}

/** What the log says of a registry with releases but nothing current, and the command that fixes it. */
function nothingPromoted(registry: Registry, storeOption: string): string {
  const published = Object.keys(registry.releases);
  return (
    `nothing is promoted, so page loads get a 503 ("no release yet") and responses are not stamped: ` +
    `run "npx daylight ${storeOption} promote <version>" (published: ${published.length > 0 ? published.join(', ') : 'none'})`
  );
}

class Daylight implements DaylightServer {
  readonly basePath: string;
  readonly configPath: string;
  readonly ready: Promise<void>;

  readonly #options: ResolvedOptions;
  readonly #internals: DaylightInternals;
  readonly #counters: Counters = {
    malformedClientHeaders: 0,
    stampFailures: 0,
    registryErrors: 0,
    registryReloads: 0,
    resolveFailures: 0,
  };
  /** True when the app gave a `cohort` or `keys` callback: the release may differ per request. */
  readonly #perRequest: boolean;
  readonly #keyOrder: readonly string[];
  /** The app's callbacks, as {@link Facts} reads them. */
  readonly #labels: Labels;
  /** What every {@link PerRequest} shares: how it resolves, and whom it tells. */
  readonly #context: PerRequestContext;
  /** True when the census counts sessions per cohort: a request's count then waits for its cohort, after the app ran. */
  readonly #cohortCensus: boolean;
  readonly #redis: RedisRegistry | undefined;
  #redisPoll: NodeJS.Timeout | undefined;
  #lastResolveLog = Number.NEGATIVE_INFINITY;
  #generation: Generation | undefined;
  /** The write-time stamp of the current generation, shared by its responses (`#armingFor`). */
  #arming: { readonly generation: Generation; readonly arming: Arming } | undefined;
  /** Loaded releases by `version\ndigest`: manifests never change for a given digest. */
  #releases = new Map<string, LoadedRelease>();
  #watcher: RegistryWatcher | undefined;
  /** The end of the chain of registry reads; reads never overlap. */
  #tail: Promise<void> = Promise.resolve();
  #polling = false;
  /** The registry assigns a release whose files could not be loaded: the polls read it again. */
  #incomplete = false;
  /** A read that was asked for and has not started yet; later asks join it. */
  #queued: Promise<void> | undefined;
  #reads = 0;
  #lastRegistryProblem: string | undefined;
  /** Problems already reported in this generation (manifests, files, shells). */
  #reported = new Set<string>();
  #lastFailureLog = Number.NEGATIVE_INFINITY;
  #unloggedFailures = 0;
  #closed = false;
  /** Until the first read of the registry has finished: a page asked for meanwhile is told it is loading. */
  #loading = true;
  /**
   * Request states by raw `Daylight-Client` value (`null`: malformed), for the
   * current generation. A tab sends the same value on every request, so the
   * hot path parses each one once.
   */
  #clientStates = new Map<string, DaylightState | null>();
  /** The registry's text as last read from Redis: the poll reloads when Redis holds another. */
  #redisText: string | undefined;
  /** With Redis: the local copy of the last registry it gave, for a start while it cannot be reached (registry-copy.ts). */
  readonly #copy: RegistryCopy | undefined;
  /** Set while this server serves the copy, not a registry Redis gave it: the status page and the log say so. */
  #servingCopy: { readonly file: string; readonly savedAt: string } | undefined;
  /** Why the copy was not served, for the log line that says this server serves nothing. */
  #copyRefusal: string | undefined;
  /** Why this server serves no registry, while it serves none: what a page's 503 says. */
  #whyNone: ShellUnavailable = 'unreadable';

  readonly #endpoints: EndpointContext;
  /** Worker script paths asked for and not served, logged (see EndpointContext.unservedWorker). */
  readonly #unservedWorkers = new Set<string>();
  readonly #reports: Reports;
  /** Sessions per release and cohort (census/); `undefined` with `census: false`. */
  readonly #census: ServerCensus | undefined;
  readonly #admin: Admin;

  constructor(options: ResolvedOptions, internals: DaylightInternals) {
    // Now, before any request: a wrapper of res.writeHead that another middleware adds must find Daylight's.
    patchWriteHead();
    this.#options = options;
    this.#internals = internals;
    this.basePath = options.basePath;
    this.configPath = options.configPath;
    // Automatic halts go through halt() (issue #3's operation); the cohort is the server's own view of the request.
    this.#reports = createReports(options.reports, {
      halt: (halt) => this.halt(halt),
      logger: options.logger,
      // With Redis, boots and failures are counted for the whole fleet there (the registry's connection, opened later).
      redis:
        options.redis === undefined ? undefined : { client: () => this.#redis!.client(), prefix: options.redis.prefix },
      isRelease: (version) => this.#generation?.registry.releases[version] !== undefined,
      releaseFor: (req) => this.#choiceFor(this.#generation, req)?.stamp.version,
      isHalted: (release, cohort) =>
        this.#generation !== undefined && haltOf(this.#generation.registry, cohort)?.release === release,
      // A cohort runs `version` by its own assignment (its release, its rollout) or by everyone's: only the
      // first is the cohort's to halt; the others count, and halt, in everyone (a halt in a cohort that does
      // not run the release itself would change nothing, and the failures would never add up anywhere).
      cohortOf: (req, version) => {
        try {
          const cohort = req === undefined ? undefined : labelOf(options.cohort?.(req));
          const registry = this.#generation?.registry;
          const entry = cohort === undefined || registry === undefined ? undefined : cohortNamed(registry, cohort);
          return entry !== undefined && (entry.release === version || entry.rollout?.release === version)
            ? cohort
            : undefined;
        } catch {
          return undefined;
        }
      },
    });
    this.#endpoints = {
      base: options.basePath,
      shellOf: (generation, release) => this.#shellOf(generation, release),
      problem: (message) => this.#reportOnce(message),
      retired: options.retireServiceWorkers,
      unservedWorker: (path) => {
        // A few paths at most: anyone can send the header, with any path.
        if (this.#unservedWorkers.size >= 5 || this.#unservedWorkers.has(path)) return;
        this.#unservedWorkers.add(path);
        this.#options.logger.warn(
          `daylight: a browser asked for the service worker script ${path}, which this server does not serve (404). A browser that installed that worker keeps running it, and a cache-first one keeps answering with the app's index.html from before Daylight: list it in createDaylight({ retireServiceWorkers: [${JSON.stringify(path)}] }) to remove it (server README, "An app that had a service worker")`,
        );
      },
    };
    this.#perRequest = options.cohort !== undefined || options.keys.size > 0;
    this.#keyOrder = [...options.keys.keys()];
    this.#labels = {
      cohort: options.cohort,
      keyNames: this.#keyOrder,
      keyFns: [...options.keys.values()],
      onFailure: (error) => this.#resolveFailed(error),
    };
    this.#context = {
      resolve: (generation, req, client) => this.#resolveRequest(generation, req, client),
      onFailure: this.#stampFailed,
      beforeStamp: internals.beforeStamp,
    };
    if (options.redis !== undefined) {
      this.#redis = new RedisRegistry({ url: options.redis.url, prefix: options.redis.prefix, mode: 'server' });
      this.#copy = new RegistryCopy({
        configPath: options.configPath,
        url: options.redis.url,
        prefix: this.#redis.prefix,
        logger: options.logger,
        refreshMs: internals.copyRefreshMs,
      });
      if (options.watch) {
        void this.#redis
          .subscribe(() => void this.reload())
          .catch((error: unknown) => {
            this.#registryProblem(`cannot subscribe to Redis: ${(error as Error).message}`, false);
          });
        this.#redisPoll = setInterval(() => void this.#pollRedis(), internals.pollIntervalMs ?? REDIS_POLL_MS);
        this.#redisPoll.unref();
      }
    } else if (options.watch) {
      this.#watcher = watchRegistry(this.configPath, () => void this.reload(), {
        fsWatch: internals.fsWatch ?? true,
        pollIntervalMs: internals.pollIntervalMs ?? 1000,
        debounceMs: internals.debounceMs ?? 50,
      });
    }
    this.#census =
      options.census === false
        ? undefined
        : new ServerCensus({ census: options.census, redis: options.redis, logger: options.logger });
    this.#cohortCensus = this.#census !== undefined && options.cohort !== undefined;
    this.#admin = createAdmin({
      base: options.basePath,
      authorize: options.authorize,
      logger: options.logger,
      registry: () => this.#generation?.registry,
      // A problem while nothing was read yet is no stale registry: the page shows none at all then.
      registryProblem: () => this.#statusProblem(),
      census: () => this.census(),
      reports: () => this.#reports.counts(),
      change: (apply, action) => this.#applyChange(apply, action),
    });
    this.ready = this.reload().then(() => {
      this.#loading = false;
    });
  }

  get stats(): Readonly<DaylightStats> {
    const census = this.#census;
    return Object.freeze({
      ...this.#counters,
      censusSeries: census?.census.seriesCount ?? 0,
      censusBytes: census?.census.bytes ?? 0,
      censusFailures: census?.failures ?? 0,
    });
  }

  stampFor(request: DaylightRequest): ReleaseStamp | undefined {
    return this.#choiceFor(this.#generation, request.incoming)?.stamp;
  }

  async census(): Promise<CensusSnapshot | undefined> {
    return this.#census?.snapshot();
  }

  /**
   * A change from the status page, written like `halt()`: through the store, with an audit entry. A change
   * that starts sending clients to a release (a promote, a rollback, a pin) is refused, as the CLI refuses it,
   * when that release's folder is not what was published: a missing file would be a script that 404s.
   */
  async #applyChange(
    apply: (registry: Registry) => ChangeOutcome,
    action: string,
  ): Promise<{ changed: boolean; summary: string; revision: number }> {
    const checked = await this.#checkServable(apply);
    // Checked against the registry this server had; the store's may have moved on since.
    const guarded = (registry: Registry): ChangeOutcome => {
      const outcome = apply(registry);
      const unchecked = newlyServed(registry, outcome.registry).filter((version) => !checked.has(version));
      if (unchecked.length > 0) {
        throw new RegistryChangeError(
          'not-servable',
          `the registry changed while this change was checked (it now also serves ${unchecked.join(', ')}); try again`,
        );
      }
      return outcome;
    };
    const audit = { actor: 'status-page', action };
    const result =
      this.#redis !== undefined
        ? await this.#redis.update((registry) => {
            if (registry === undefined) throw new Error(`there is no registry in ${this.#redis!.location} yet`);
            return guarded(registry);
          }, audit)
        : await updateRegistryFile(this.configPath, guarded, audit);
    if (result.outcome.changed) {
      this.#options.logger.warn(`daylight: ${result.outcome.summary} (from the status page)`);
      await this.reload();
    }
    return { changed: result.outcome.changed, summary: result.outcome.summary, revision: result.revision };
  }

  /**
   * The releases `apply` would start sending clients to, each read and checked against what was published.
   * @throws {RegistryChangeError} `not-servable`, naming the first bad file and the fix.
   */
  async #checkServable(apply: (registry: Registry) => ChangeOutcome): Promise<Set<string>> {
    // The store's registry, which the change will be applied to: this server may serve an older one (a release
    // folder it lacks), and a check against that would never match the change made.
    let before: Registry | undefined;
    try {
      const read = this.#redis !== undefined ? await this.#redis.read() : await readRegistryFile(this.configPath);
      before = read.ok ? read.registry : undefined;
    } catch {
      before = undefined; // the update itself says why the store cannot be read
    }
    if (before === undefined) return new Set();
    let after: Registry;
    try {
      after = apply(before).registry;
    } catch {
      return new Set(); // refused by the model: the change itself says why
    }
    const versions = newlyServed(before, after);
    for (const version of versions) {
      const published = after.releases[version];
      if (published === undefined) continue;
      const check = await checkReleaseFolder(releaseDir(this.configPath, version), version, published, {
        depth: 'content',
      });
      if (!check.ok) {
        throw new RegistryChangeError(
          'not-servable',
          `release ${version} cannot be served: ${check.problem}; ${repairHint(version)}`,
        );
      }
    }
    return new Set(versions);
  }

  reportCounts(): readonly ReportCount[] {
    return this.#reports.counts();
  }

  async halt(options: HaltOptions): Promise<HaltResult> {
    const now = new Date();
    const apply = (registry: Registry) =>
      haltChange(registry, {
        release: options.release,
        reason: options.reason,
        now,
        ...(options.cohort === undefined ? {} : { cohort: options.cohort }),
      });
    const audit = { actor: options.actor ?? 'server', action: 'halt' };
    let result: { outcome: { changed: boolean; summary: string }; revision: number };
    if (this.#redis !== undefined) {
      result = await this.#redis.update((registry) => {
        if (registry === undefined) throw new Error(`there is no registry in ${this.#redis!.location} yet`);
        return apply(registry);
      }, audit);
    } else {
      result = await updateRegistryFile(this.configPath, apply, audit);
    }
    if (result.outcome.changed) {
      this.#options.logger.warn(`daylight: ${result.outcome.summary}`);
      await this.reload();
    }
    return { changed: result.outcome.changed, summary: result.outcome.summary, revision: result.revision };
  }

  /** True when requests may get different releases: the app resolves cohorts or keys, and the registry uses them. */
  #variesByRequest(generation: Generation): boolean {
    return this.#perRequest && !generation.plan.uniform;
  }

  /**
   * The release for a request: everyone's when the registry is uniform or the
   * app resolves nothing per request; else pins, cohort and rollout
   * (resolve.ts). A throwing callback counts as no cohort and no key.
   */
  #choiceFor(generation: Generation | undefined, req: IncomingMessage | undefined): Choice | undefined {
    if (generation === undefined) return undefined;
    if (!this.#variesByRequest(generation) || req === undefined) return generation.base;
    return this.#resolveRequest(generation, req, undefined);
  }

  /**
   * The request's release, once the app's middleware ran (a {@link PerRequest}
   * calls it then, `#choiceFor` at once), and — with `client`, when the census
   * counts per cohort — the client's count in the cohort the same callback
   * call gave.
   */
  #resolveRequest(
    generation: Generation | undefined,
    req: IncomingMessage,
    client: ClientStamp | undefined,
  ): Choice | undefined {
    const varies = generation !== undefined && this.#variesByRequest(generation);
    const count = client !== undefined && this.#cohortCensus;
    const facts = new Facts(this.#labels, req, count || (varies && generation.plan.cohorts.size > 0));
    if (count) this.#census!.count(client, facts.cohort);
    if (!varies) return generation?.base;
    const version = resolveRelease(generation.plan, facts, this.#keyOrder);
    // A release assigned here whose files could not be loaded (yet): everyone's release, never a
    // stamp for a release this server cannot serve (its shell would be a 503).
    return version === null ? undefined : (generation.choices.get(version) ?? generation.base);
  }

  #resolveFailed(error: unknown): void {
    this.#counters.resolveFailures++;
    const now = Date.now();
    if (now - this.#lastResolveLog < FAILURE_LOG_INTERVAL_MS) return;
    this.#lastResolveLog = now;
    try {
      this.#options.logger.error(
        "daylight: the cohort or keys callback threw, so the request got everyone's release (reported at most once a minute)",
        error,
      );
    } catch {
      // A throwing logger must not break the response.
    }
  }

  async #pollRedis(): Promise<void> {
    const redis = this.#redis;
    // One poll at a time: a Redis that hangs rather than fails must not pile them up.
    if (redis === undefined || this.#closed || this.#polling) return;
    this.#polling = true;
    try {
      const client = await redis.client();
      const askedAt = Date.now();
      const text = await client.get(redis.registryKey);
      // The text, not the revision: a registry set by hand (or by an older version) may keep its revision.
      if (text !== this.#redisText || this.#lastRegistryProblem !== undefined || this.#incomplete) {
        await this.reload();
      } else {
        this.#copy?.refresh(askedAt); // the registry served is Redis's, unchanged: the copy says Redis still gives it
      }
    } catch (error) {
      // Redis is down: keep serving the last registry, and say so (once, in the log and on the status page: a change
      // made meanwhile does not reach this server); the next poll or the subscription's reconnect resyncs.
      // Once per outage, with the reason the first failed reconnect gives (a poll a moment after the connection
      // closed knows none yet; the next one does).
      const reason = redis.reasonOf(error);
      const said = this.#lastRegistryProblem?.startsWith(redisUnreachable(redis)) ?? false;
      if (this.#generation !== undefined && !said && reason !== RECONNECTING) {
        this.#registryProblem(`${redisUnreachable(redis)} (${reason})`, false);
      }
    } finally {
      this.#polling = false;
    }
  }

  reload(): Promise<void> {
    if (this.#queued !== undefined) return this.#queued;
    const read = this.#tail.then(() => {
      this.#queued = undefined;
      return this.#read();
    });
    this.#queued = read;
    this.#tail = read;
    return read;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#redisPoll);
    await this.#tail;
    await this.#copy?.settled();
    await this.#redis?.close();
    await this.#census?.close();
  }

  attach(req: IncomingMessage, res: ServerResponse): DaylightState {
    const existing = states.get(res);
    if (existing !== undefined) return existing;
    // A response armed with a release of its own: a new state over the same resolution (per-request.ts says why).
    const arming = armingOf(res);
    return arming instanceof PerRequest ? new RequestState(arming, req) : this.#start(req, res, true);
  }

  begin(req: IncomingMessage, res: ServerResponse): DaylightState {
    return this.#start(req, res, false);
  }

  /**
   * The request's state, for `attach` (`arm`: the stamp goes on when the head
   * is written) and `begin` (the stamp is left to `stamp()`; the state is
   * remembered only when this fails, so that the response goes out unstamped).
   * A response whose release — or census count — waits for the app's
   * middleware gets a {@link PerRequest}: `attach` arms the head with it;
   * `begin` returns its state, which the adapter hands back to `stamp` or
   * `stampOnWrite`, and remembers nothing.
   */
  #start(req: IncomingMessage, res: ServerResponse, arm: boolean): DaylightState {
    let state = EMPTY_STATE;
    try {
      const generation = this.#generation;
      this.#internals.beforeStamp?.('attach');
      const known = req.headers[CLIENT_HEADER_LOWER] === undefined ? undefined : this.#withClient(req, generation);
      const client = known?.client;
      // Without a cohort callback, a client counts at once (cohort `default`); with one, once the app ran.
      if (client !== undefined && !this.#cohortCensus) this.#census?.count(client, undefined);
      if (
        (generation !== undefined && this.#variesByRequest(generation)) ||
        (client !== undefined && this.#cohortCensus)
      ) {
        const pending = new PerRequest(this.#context, generation, client);
        // begin() leaves it to stamp() or stampOnWrite(), which get the state back.
        if (arm) stampOnWriteHead(res, pending);
        return new RequestState(pending, req);
      }
      state = known ?? generation?.state ?? EMPTY_STATE;
      if (!arm) return state;
      if (generation?.header !== undefined) stampOnWriteHead(res, this.#armingFor(generation, generation.header));
    } catch (error) {
      this.#stampFailed(error);
    }
    states.set(res, state);
    return state;
  }

  stamp(req: IncomingMessage, res: ServerResponse, state?: DaylightState): void {
    try {
      // A response attach() saw is armed for its head; one begin() failed on goes out unstamped.
      if (res.headersSent || states.has(res) || isArmed(res)) return;
      const pending = RequestState.pendingOf(state);
      const header = (pending === undefined ? this.#choiceFor(this.#generation, req) : pending.choice(req))?.header;
      if (header === undefined) return;
      this.#internals.beforeStamp?.('write');
      stampNow(res, header);
    } catch (error) {
      removeStamp(res);
      this.#stampFailed(error);
    }
  }

  /** How to stamp a response with the generation's stamp when its head is written: one object for all its responses. */
  #armingFor(generation: Generation, header: string): Arming {
    const cached = this.#arming;
    if (cached?.generation === generation) return cached.arming;
    const arming = { stampFor: () => header, onFailure: this.#stampFailed, beforeStamp: this.#internals.beforeStamp };
    this.#arming = { generation, arming };
    return arming;
  }

  stampOnWrite(req: IncomingMessage, res: ServerResponse, state?: DaylightState): void {
    try {
      // A response attach() or an earlier call saw is armed already; one begin() failed on goes out unstamped.
      if (res.headersSent || states.has(res) || isArmed(res)) return;
      const pending = RequestState.pendingOf(state);
      if (pending !== undefined) {
        stampOnWriteHead(res, pending);
        return;
      }
      const generation = this.#generation;
      if (generation === undefined) return;
      const arming = this.#variesByRequest(generation)
        ? new PerRequest(this.#context, generation, undefined)
        : generation.header === undefined
          ? undefined
          : this.#armingFor(generation, generation.header);
      if (arming !== undefined) stampOnWriteHead(res, arming);
    } catch (error) {
      this.#stampFailed(error);
    }
  }

  async handle(request: DaylightRequest): Promise<DaylightResponse | undefined> {
    const rest = restAfterBase(request.path, this.basePath);
    if (rest === undefined) return undefined;
    try {
      if (rest === '/reports') return await this.#reports.handle(request);
      if (rest === '/admin' || rest.startsWith('/admin/')) return await this.#admin.handle(request, rest);
      if (rest === '/sw.js') return answerServiceWorker(request, rest);
      const generation = this.#generation;
      return await answerBelowBase(
        this.#endpoints,
        generation,
        request,
        rest,
        this.#choiceFor(generation, request.incoming),
      );
    } catch (error) {
      this.#options.logger.error(`daylight: could not answer ${request.method} ${request.path}`, error);
      return textResponse(request, 500, 'Internal error');
    }
  }

  async handleShell(request: DaylightRequest): Promise<DaylightResponse | undefined> {
    try {
      const generation = this.#generation;
      const loading = generation === undefined && this.#loading;
      const response = await answerShell(
        this.#endpoints,
        generation,
        request,
        () => this.#choiceFor(generation, request.incoming),
        loading ? 'loading' : this.#whyNone,
      );
      if (loading && response?.status === 503) {
        this.#reportOnce(
          'daylight: a page was answered 503 while the registry is still loading (its first read has not finished), not for want of a promoted release; await daylight.ready before the server listens',
          'warn',
        );
      }
      return response;
    } catch (error) {
      this.#options.logger.error(`daylight: could not answer ${request.method} ${request.path} with the shell`, error);
      return textResponse(request, 500, 'Internal error');
    }
  }

  /** The request's state with the client's stamp; `undefined` (and counted) when the header is malformed or sent twice. */
  #withClient(req: IncomingMessage, generation: Generation | undefined): DaylightState | undefined {
    const value = req.headers[CLIENT_HEADER_LOWER];
    // node:http joins repeated custom headers with ", ", which would still
    // parse as one dictionary (the last key wins): count the raw lines.
    // A value longer than any valid one is never cached: anyone could fill the cache with them.
    if (typeof value !== 'string' || value.length > MAX_HEADER_LENGTH || repeated(req.rawHeaders)) {
      this.#counters.malformedClientHeaders++;
      return undefined;
    }
    let state = this.#clientStates.get(value);
    if (state === undefined) {
      const client: ClientStamp | undefined = parseClientHeader(value);
      const release = generation?.stamp;
      state =
        client === undefined
          ? null
          : Object.freeze(
              release === undefined ? { client: Object.freeze(client) } : { client: Object.freeze(client), release },
            );
      if (this.#clientStates.size >= CLIENT_CACHE_SIZE) this.#clientStates.clear();
      this.#clientStates.set(value, state);
    }
    if (state === null) {
      this.#counters.malformedClientHeaders++;
      return undefined;
    }
    return state;
  }

  readonly #stampFailed = (error: unknown): void => {
    this.#counters.stampFailures++;
    this.#unloggedFailures++;
    try {
      const now = Date.now();
      if (now - this.#lastFailureLog < FAILURE_LOG_INTERVAL_MS) return;
      this.#lastFailureLog = now;
      const count = this.#unloggedFailures;
      this.#unloggedFailures = 0;
      this.#options.logger.error(
        `daylight: could not stamp a response, so it went out without Daylight-Release (${count} since the last report; reported at most once a minute)`,
        error,
      );
    } catch {
      // A throwing logger must not break the response either.
    }
  };

  #reportOnce(message: string, level: 'error' | 'warn' = 'error'): void {
    if (this.#reported.has(message)) return;
    this.#reported.add(message);
    this.#options.logger[level](message);
  }

  #shellOf(generation: Generation, release: LoadedRelease): Promise<ShellLoad> {
    let load = generation.shells.get(release.version);
    if (load === undefined) {
      load = loadShell(release, this.basePath, this.#options.importMapIntegrity).then((result) => {
        if (!result.ok) {
          generation.shells.delete(release.version); // try again on the next request
          this.#reportOnce(`daylight: ${result.error}; the shell of release ${release.version} cannot be served`);
        }
        return result;
      });
      generation.shells.set(release.version, load);
    }
    return load;
  }

  async #read(): Promise<void> {
    const initial = this.#reads++ === 0;
    try {
      let read: RegistryRead;
      let missing = false;
      let text: string | undefined;
      let askedAt = 0;
      if (this.#redis !== undefined) {
        try {
          askedAt = Date.now(); // what Redis answers is no older than this (the copy's order: registry-copy.ts)
          const answer = await this.#redis.read();
          read = answer;
          missing = 'missing' in answer;
          if ('text' in answer) text = this.#redisText = answer.text;
        } catch (error) {
          const problem = `${redisUnreachable(this.#redis)} (${this.#redis.reasonOf(error)})`;
          await this.#unusable(problem, 'unreadable');
          return;
        }
      } else {
        const signature = await fileSignature(this.configPath);
        this.#watcher?.remember(signature);
        read = await readRegistryFile(this.configPath);
        missing = signature === MISSING;
      }
      if (!read.ok) {
        await this.#unusable(read.error, missing ? 'nothing-promoted' : 'unreadable');
        return;
      }
      // Nothing promoted, after a registry that had a release for everyone: the store was lost or reset (Redis
      // flushed, the file replaced) and is being rebuilt (`publish` comes before `promote`). Taking it would answer
      // every page load with 503 until someone promotes: the last registry stays until this one has a release.
      // A server that starts meanwhile holds its copy of the last one, as a server that kept running would.
      const held = this.#generation?.registry;
      if (read.registry.current === null) {
        const lost = 'has no current release (was it lost or reset?): run "daylight promote <version>" to serve one';
        if (held?.current != null) {
          this.#registryProblem(lost, false);
          return;
        }
        if (held === undefined && (await this.#serveCopy(lost, true))) return;
      }
      const { releases, warnings, error } = await this.#loadReleases(read.registry);
      if (error !== undefined) {
        await this.#unusable(error, 'unservable');
        return;
      }
      this.#adopt(read.registry, releases, warnings, initial ? 'first' : 'again');
      // Only a registry Redis gave (never the copy itself) and this server could serve: the next start's fallback.
      if (text !== undefined) this.#copy?.save(read.registry, askedAt);
    } catch (error) {
      this.#registryProblem(`could not be loaded: ${(error as Error).message}`, false);
    }
  }

  /**
   * Makes `registry` (read and validated, its releases loaded) the one this server serves. `read`: the
   * store's first read, a later one, or the local copy (whose caller says so itself).
   */
  #adopt(
    registry: Registry,
    releases: Map<string, LoadedRelease>,
    warnings: readonly string[],
    read: 'first' | 'again' | 'copy',
  ): void {
    const previous = this.#generation;
    this.#generation = createGeneration(registry, releases);
    this.#servingCopy = undefined;
    // Some assigned release did not load: look again at the next poll, even if the registry stays the same.
    this.#incomplete = [...this.#generation.plan.releases].some((version) => !releases.has(version));
    if (this.#incomplete) this.#watcher?.remember('incomplete');
    this.#census?.setReleases(Object.keys(registry.releases));
    this.#reports.sync(registry); // a halt recorded by any server ends that wave of report counts here
    this.#clientStates = new Map();
    if (read === 'again') this.#counters.registryReloads++;
    // A registry that could not be used (unreadable, invalid, its current release unservable, Redis unreachable)
    // and now loads says so, whatever it now holds: the error logged last
    // ("still serving the last good registry") must not read as the state of things.
    const recovered = previous !== undefined && this.#lastRegistryProblem !== undefined;
    this.#lastRegistryProblem = undefined;
    // Problems are said once per registry: a re-read of the same one (every poll while a release
    // cannot be loaded) keeps what was already said, so the log does not repeat it every second.
    const same =
      previous !== undefined &&
      previous.registry.revision === registry.revision &&
      previous.header === this.#generation.header;
    if (!same) this.#reported = new Set();
    for (const warning of warnings) this.#reportOnce(warning);
    const { plan } = this.#generation;
    for (const warning of unreachable(plan, this.#options.cohort !== undefined, this.#keyOrder)) {
      this.#reportOnce(warning, 'warn');
    }
    if (read !== 'copy' && (previous?.header !== this.#generation.header || previous === undefined || recovered)) {
      const again = recovered ? ' (loaded again)' : '';
      const line = `daylight: ${this.#where()}: ${describeRegistry(registry)}${again}`;
      // Published but not promoted (a step of the quickstart skipped): every page load is a 503 until a promote.
      if (registry.current === null)
        this.#options.logger.warn(`${line} — ${nothingPromoted(registry, this.#storeOption())}`);
      else this.#options.logger.info(line);
    }
  }

  /**
   * The status page's notice: why this server serves a registry other than the store's. Nothing while it
   * serves none (the page then shows no registry at all).
   */
  #statusProblem(): string | undefined {
    const problem = this.#lastRegistryProblem;
    if (this.#generation === undefined || problem === undefined) return undefined;
    const copy = this.#servingCopy;
    return copy === undefined
      ? problem
      : `${problem}; this server started without it and serves its copy of the last registry Redis gave, ${copyOrigin(copy)}`;
  }

  /** The CLI's options that name this server's store, for the commands a log line suggests (quoted as the CLI quotes them). */
  #storeOption(): string {
    const quoted = (value: string): string =>
      /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;
    const redis = this.#redis;
    if (redis === undefined) return `--store ${quoted(this.configPath)}`;
    const prefix = redis.prefix === DEFAULT_REDIS_PREFIX ? '' : `?prefix=${redis.prefix}`;
    return `--store ${quoted(redis.location.split('?')[0] + prefix)} --releases ${quoted(path.dirname(this.configPath))}`;
  }

  /** Where the registry comes from, for messages. With Redis its file path would name a file that does not exist. */
  #where(): string {
    return this.#redis === undefined ? this.configPath : `${this.#redis.location} (${this.#redis.registryKey})`;
  }

  /**
   * The store's registry cannot be used (`problem`). A server that serves one already keeps it; one that has
   * none yet serves the copy of Redis's last registry when there is a good one, else nothing.
   */
  async #unusable(problem: string, why: Exclude<ShellUnavailable, 'loading'>): Promise<void> {
    if (this.#generation === undefined && (await this.#serveCopy(problem, false))) return;
    this.#whyNone = why;
    this.#registryProblem(problem, why === 'nothing-promoted');
  }

  /**
   * Serves the local copy of Redis's registry, validated and loaded like any registry, while the store's
   * cannot be used: only by a server that serves nothing yet, so the copy never replaces what Redis gave.
   * `needsCurrent`: only a copy with a release for everyone will do (the store has none: it was reset).
   * @returns false when there is no copy to serve (none, another store's, invalid, its current release unservable).
   */
  async #serveCopy(problem: string, needsCurrent: boolean): Promise<boolean> {
    const copy = this.#copy;
    if (copy === undefined || this.#generation !== undefined || this.#closed) return false;
    const read = await copy.read();
    if (!read.ok) {
      this.#copyRefusal = read.error;
      return false;
    }
    if (needsCurrent && read.registry.current === null) {
      this.#copyRefusal = `the copy in ${copy.file} has no current release either`;
      return false;
    }
    const loaded = await this.#loadReleases(read.registry);
    if (loaded.error !== undefined) {
      this.#copyRefusal = `the copy in ${copy.file} cannot be served: ${loaded.error}`;
      return false;
    }
    this.#adopt(read.registry, loaded.releases, loaded.warnings, 'copy');
    this.#servingCopy = { file: copy.file, savedAt: read.savedAt };
    this.#registryProblem(problem, false);
    return true;
  }

  /** Loads the manifests of every published release, reusing the cached ones. */
  async #loadReleases(
    registry: Registry,
  ): Promise<{ releases: Map<string, LoadedRelease>; warnings: string[]; error?: string }> {
    const entries = Object.entries(registry.releases);
    const loads = await Promise.all(
      entries.map(async ([version, published]) => {
        const cached = this.#releases.get(`${version}\n${published.digest}`);
        return cached === undefined
          ? loadRelease(this.configPath, version, published)
          : { ok: true as const, release: cached };
      }),
    );
    const releases = new Map<string, LoadedRelease>();
    const cache = new Map<string, LoadedRelease>();
    const warnings: string[] = [];
    for (const [i, load] of loads.entries()) {
      const version = entries[i]![0];
      if (!load.ok) {
        if (version === registry.current) {
          return {
            releases,
            warnings,
            error: `"current" is ${version}, but that release cannot be served: ${load.error}`,
          };
        }
        warnings.push(`daylight: ${load.error}; release ${version} cannot be served until this is fixed`);
        continue;
      }
      releases.set(version, load.release);
      cache.set(`${version}\n${load.release.digest}`, load.release);
      if (load.release.unservable.length > 0) {
        warnings.push(
          `daylight: the manifest of release ${version} lists files outside "files/" that cannot be served: ${load.release.unservable.slice(0, 5).join(', ')}`,
        );
      }
    }
    this.#releases = cache;
    return { releases, warnings };
  }

  #registryProblem(problem: string, missing: boolean): void {
    this.#counters.registryErrors++;
    // The file store's poll looks again next round even if releases.json stays the same: what failed may
    // be a release folder not mounted yet or a permission, fixed without touching the registry file.
    this.#watcher?.remember('read failed');
    if (problem === this.#lastRegistryProblem || this.#closed) return;
    this.#lastRegistryProblem = problem;
    const logger = this.#options.logger;
    if (this.#redis !== undefined) {
      const serving = this.#generation;
      const copy = this.#servingCopy;
      const then =
        serving === undefined
          ? `no registry read yet and no copy of one to serve (${this.#copyRefusal ?? 'not looked at'}), so responses are not stamped and pages get a 503 until then`
          : copy === undefined
            ? `still serving the last registry (${describeRegistry(serving.registry)})`
            : `serving this server's copy of its last registry instead, ${copyOrigin(copy)} (${describeRegistry(serving.registry)}), until Redis's can be used`;
      logger.error(`daylight: ${this.#where()}: ${problem} — ${then}`);
      return;
    }
    const serving = this.#generation;
    if (serving === undefined && missing) {
      logger.warn(
        `daylight: ${this.configPath} does not exist yet: run "npx daylight ${this.#storeOption()} publish <build-dir> --version X" then "npx daylight ${this.#storeOption()} promote X". Until then responses are not stamped.`,
      );
    } else if (serving === undefined) {
      logger.error(
        `daylight: ${this.configPath}: ${problem} — no good registry read yet, so responses are not stamped`,
      );
    } else {
      logger.error(
        `daylight: ${this.configPath}: ${problem} — still serving the last good registry (${describeRegistry(serving.registry)})`,
      );
    }
  }
}

/** True when the raw header lines carry `Daylight-Client` more than once. */
function repeated(rawHeaders: readonly string[]): boolean {
  let seen = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (name.length === CLIENT_HEADER_LOWER.length && name.toLowerCase() === CLIENT_HEADER_LOWER && ++seen > 1) {
      return true;
    }
  }
  return false;
}
