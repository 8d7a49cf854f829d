/**
 * The framework-agnostic core: reads and watches the registry, stamps
 * responses, answers Daylight's endpoints and the shell fallback. The
 * adapters in express.ts and koa.ts only translate.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CLIENT_HEADER, parseClientHeader, type ClientStamp, type ReleaseStamp } from '@daylight/protocol';
import { answerBelowBase, answerShell, textResponse, type EndpointContext } from './endpoints.js';
import { internalsOf, resolveOptions, type DaylightInternals, type ResolvedOptions } from './options.js';
import { readRegistryFile, type Registry } from './registry.js';
import { fileSignature, MISSING, watchRegistry, type RegistryWatcher } from './registry-watcher.js';
import {
  createGeneration,
  loadRelease,
  loadShell,
  type Generation,
  type LoadedRelease,
  type ShellLoad,
} from './release-store.js';
import { restAfterBase } from './request-path.js';
import { stampOnWriteHead } from './stamp.js';
import type {
  DaylightRequest,
  DaylightResponse,
  DaylightServer,
  DaylightServerOptions,
  DaylightState,
  DaylightStats,
} from './types.js';

/** Where `attach` keeps a response's state, so a second call returns the same one. */
const STATE = Symbol('daylight.state');
const EMPTY_STATE: DaylightState = Object.freeze({});
const CLIENT_HEADER_LOWER = CLIENT_HEADER.toLowerCase();
/** Parsed client headers kept per generation; the cache is emptied when full. */
const CLIENT_CACHE_SIZE = 10_000;
/** Stamp failures are logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 60_000;

type Counters = { -readonly [K in keyof DaylightStats]: DaylightStats[K] };

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
  if (registry.current === null) return 'current none';
  return registry.min === undefined
    ? `current ${registry.current}`
    : `current ${registry.current}, min ${registry.min}`;
}

class Daylight implements DaylightServer {
  readonly basePath: string;
  readonly configPath: string;
  readonly ready: Promise<void>;

  readonly #options: ResolvedOptions;
  readonly #internals: DaylightInternals;
  readonly #counters: Counters = { malformedClientHeaders: 0, stampFailures: 0, registryErrors: 0, registryReloads: 0 };
  #generation: Generation | undefined;
  /** Loaded releases by `version\ndigest`: manifests never change for a given digest. */
  #releases = new Map<string, LoadedRelease>();
  #watcher: RegistryWatcher | undefined;
  /** The end of the chain of registry reads; reads never overlap. */
  #tail: Promise<void> = Promise.resolve();
  /** A read that was asked for and has not started yet; later asks join it. */
  #queued: Promise<void> | undefined;
  #reads = 0;
  #lastRegistryProblem: string | undefined;
  /** Problems already reported in this generation (manifests, files, shells). */
  #reported = new Set<string>();
  #lastFailureLog = Number.NEGATIVE_INFINITY;
  #unloggedFailures = 0;
  #closed = false;
  /**
   * Request states by raw `Daylight-Client` value (`null`: malformed), for the
   * current generation. A tab sends the same value on every request, so the
   * hot path parses each one once.
   */
  #clientStates = new Map<string, DaylightState | null>();

  readonly #endpoints: EndpointContext;

  constructor(options: ResolvedOptions, internals: DaylightInternals) {
    this.#options = options;
    this.#internals = internals;
    this.basePath = options.basePath;
    this.configPath = options.configPath;
    this.#endpoints = {
      base: options.basePath,
      shellOf: (generation, release) => this.#shellOf(generation, release),
      problem: (message) => this.#reportOnce(message),
    };
    if (options.watch) {
      this.#watcher = watchRegistry(this.configPath, () => void this.reload(), {
        fsWatch: internals.fsWatch ?? true,
        pollIntervalMs: internals.pollIntervalMs ?? 1000,
        debounceMs: internals.debounceMs ?? 50,
      });
    }
    this.ready = this.reload();
  }

  get stats(): Readonly<DaylightStats> {
    return Object.freeze({ ...this.#counters });
  }

  stampFor(_request: DaylightRequest): ReleaseStamp | undefined {
    return this.#generation?.stamp;
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
    await this.#tail;
  }

  attach(req: IncomingMessage, res: ServerResponse): DaylightState {
    const holder = res as ServerResponse & { [STATE]?: DaylightState };
    const existing = holder[STATE];
    if (existing !== undefined) return existing;
    let state = EMPTY_STATE;
    try {
      const generation = this.#generation;
      const beforeStamp = this.#internals.beforeStamp;
      if (beforeStamp !== undefined) beforeStamp('attach');
      if (generation !== undefined) {
        if (generation.header !== undefined) {
          stampOnWriteHead(res, generation.header, this.#stampFailed, beforeStamp);
        }
        state = generation.state;
      }
      if (req.headers[CLIENT_HEADER_LOWER] !== undefined) state = this.#withClient(req, generation, state);
    } catch (error) {
      this.#stampFailed(error);
    }
    holder[STATE] = state;
    return state;
  }

  async handle(request: DaylightRequest): Promise<DaylightResponse | undefined> {
    const rest = restAfterBase(request.path, this.basePath);
    if (rest === undefined) return undefined;
    try {
      return await answerBelowBase(this.#endpoints, this.#generation, request, rest);
    } catch (error) {
      this.#options.logger.error(`daylight: could not answer ${request.method} ${request.path}`, error);
      return textResponse(request, 500, 'Internal error');
    }
  }

  async handleShell(request: DaylightRequest): Promise<DaylightResponse | undefined> {
    try {
      return await answerShell(this.#endpoints, this.#generation, request);
    } catch (error) {
      this.#options.logger.error(`daylight: could not answer ${request.method} ${request.path} with the shell`, error);
      return textResponse(request, 500, 'Internal error');
    }
  }

  /** The request's state with the client's stamp; `base` (and counted) when the header is malformed or sent twice. */
  #withClient(req: IncomingMessage, generation: Generation | undefined, base: DaylightState): DaylightState {
    const value = req.headers[CLIENT_HEADER_LOWER];
    // node:http joins repeated custom headers with ", ", which would still
    // parse as one dictionary (the last key wins): count the raw lines.
    if (typeof value !== 'string' || repeated(req.rawHeaders)) {
      this.#counters.malformedClientHeaders++;
      return base;
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
      return base;
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

  #reportOnce(message: string): void {
    if (this.#reported.has(message)) return;
    this.#reported.add(message);
    this.#options.logger.error(message);
  }

  #shellOf(generation: Generation, release: LoadedRelease): Promise<ShellLoad> {
    let load = generation.shells.get(release.version);
    if (load === undefined) {
      load = loadShell(release, this.basePath).then((result) => {
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
      const signature = await fileSignature(this.configPath);
      this.#watcher?.remember(signature);
      const read = await readRegistryFile(this.configPath);
      if (!read.ok) {
        this.#registryProblem(read.error, signature === MISSING);
        return;
      }
      const { releases, warnings, error } = await this.#loadReleases(read.registry);
      if (error !== undefined) {
        this.#registryProblem(error, false);
        return;
      }
      const previous = this.#generation;
      this.#generation = createGeneration(read.registry, releases);
      this.#clientStates = new Map();
      if (!initial) this.#counters.registryReloads++;
      this.#lastRegistryProblem = undefined;
      this.#reported = new Set();
      for (const warning of warnings) this.#reportOnce(warning);
      if (previous?.header !== this.#generation.header || previous === undefined) {
        this.#options.logger.info(`daylight: ${this.configPath}: ${describeRegistry(read.registry)}`);
      }
    } catch (error) {
      this.#registryProblem(`could not be loaded: ${(error as Error).message}`, false);
    }
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
    if (problem === this.#lastRegistryProblem || this.#closed) return;
    this.#lastRegistryProblem = problem;
    const logger = this.#options.logger;
    const serving = this.#generation;
    if (serving === undefined && missing) {
      logger.warn(
        `daylight: ${this.configPath} does not exist yet: run "daylight publish <build-dir> --version X" then "daylight promote X". Until then responses are not stamped.`,
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
