/**
 * A release that depends on the request (`cohort`, `keys`): what
 * `resolveRelease` reads about one request, and the object that carries one
 * response's release from `attach` to the moment it is first needed. Plain
 * classes, a few small objects per request and no closure or Map.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClientStamp, ReleaseStamp } from '@daylight/protocol';
import type { Choice, Generation } from './release-store.js';
import type { RequestFacts } from './resolve.js';
import type { Arming, BeforeStamp } from './stamp.js';
import type { DaylightState } from './types.js';

/** A `cohort` or `keys` callback: what the app reads from a request. */
export type RequestLabel = (req: IncomingMessage) => string | number | undefined | null;

/** The app's callbacks, in the plan's key order, and whom to tell when one throws. */
export interface Labels {
  readonly cohort: RequestLabel | undefined;
  readonly keyNames: readonly string[];
  readonly keyFns: readonly RequestLabel[];
  /** Called once per request however many of its callbacks throw. */
  readonly onFailure: (error: unknown) => void;
}

/**
 * What a `cohort` or `keys` callback returned, as the label rules match: a
 * string as it is, a finite number (a numeric user id) as its decimal string,
 * anything else (and `''`) as none.
 */
export function labelOf(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
}

const UNREAD = Symbol('unread');

/**
 * One request's facts: the cohort read at once when asked for, each key the
 * first time `resolveRelease` reads it, and never again. A callback that
 * throws counts as no label (everyone's rules apply).
 */
export class Facts implements RequestFacts {
  readonly cohort: string | undefined;
  readonly #labels: Labels;
  readonly #req: IncomingMessage;
  #failed = false;
  #values: (string | undefined | typeof UNREAD)[] | undefined;

  constructor(labels: Labels, req: IncomingMessage, withCohort: boolean) {
    this.#labels = labels;
    this.#req = req;
    this.cohort = withCohort && labels.cohort !== undefined ? this.#call(labels.cohort) : undefined;
  }

  key(name: string): string | undefined {
    const labels = this.#labels;
    const index = labels.keyNames.indexOf(name);
    if (index === -1) return undefined;
    const values = (this.#values ??= new Array<string | undefined | typeof UNREAD>(labels.keyNames.length).fill(
      UNREAD,
    ));
    const value = values[index];
    if (value !== UNREAD) return value;
    return (values[index] = this.#call(labels.keyFns[index]!));
  }

  #call(fn: RequestLabel): string | undefined {
    try {
      return labelOf(fn(this.#req));
    } catch (error) {
      if (!this.#failed) {
        this.#failed = true;
        this.#labels.onFailure(error);
      }
      return undefined;
    }
  }
}

/** What every {@link PerRequest} of a server shares. */
export interface PerRequestContext {
  /** The request's release, resolved now; counts the client in the census when it waited for the cohort. */
  readonly resolve: (
    generation: Generation | undefined,
    req: IncomingMessage,
    client: ClientStamp | undefined,
  ) => Choice | undefined;
  readonly onFailure: (error: unknown) => void;
  readonly beforeStamp: BeforeStamp | undefined;
}

/**
 * One response whose release (or census count) waits for the app's
 * middleware — its sign-in — to have run: resolved once, when first needed,
 * when the app reads `state.release` or when the head is written (it is the
 * response's {@link Arming}). It holds neither the request nor the response:
 * it is kept in a WeakMap keyed by the response, and a value there that
 * reaches its key made every request cost ~50,000 more instructions in V8's
 * garbage collector (docs/decisions.md).
 */
export class PerRequest implements Arming {
  readonly client: ClientStamp | undefined;
  readonly onFailure: (error: unknown) => void;
  readonly beforeStamp: BeforeStamp | undefined;
  readonly #context: PerRequestContext;
  readonly #generation: Generation | undefined;
  /** `null` until resolved. */
  #choice: Choice | undefined | null = null;

  constructor(context: PerRequestContext, generation: Generation | undefined, client: ClientStamp | undefined) {
    this.#context = context;
    this.onFailure = context.onFailure;
    this.beforeStamp = context.beforeStamp;
    this.#generation = generation;
    this.client = client;
  }

  /**
   * The registry's `min`, which every release carries, known without resolving: for the floor, which must not
   * resolve before the app's sign-in. With nothing promoted for everyone, none: a request outside the pilots has no
   * release to switch to, and must not be refused (a pilot's own stamp still carries `min` and forces its switch).
   */
  get min(): string | undefined {
    const generation = this.#generation;
    return generation?.base === undefined ? undefined : generation.registry.min;
  }

  stampFor(res: ServerResponse): string | undefined {
    return this.choice(res.req)?.header;
  }

  choice(req: IncomingMessage): Choice | undefined {
    if (this.#choice === null) this.#choice = this.#context.resolve(this.#generation, req, this.client);
    return this.#choice;
  }
}

/**
 * The state the app sees for a {@link PerRequest} response: the client's
 * stamp and `release`, a getter on the prototype that resolves. One class for
 * every such state — an object literal with a getter of its own gets a hidden
 * class of its own, which cost ~49,000 instructions per request. `release` is
 * not an own property, so `{ ...state }` leaves it out; `JSON.stringify`
 * (`res.json(state)`) includes it.
 */
export class RequestState implements DaylightState {
  declare readonly client?: ClientStamp;
  readonly #pending: PerRequest;
  readonly #req: IncomingMessage;

  constructor(pending: PerRequest, req: IncomingMessage) {
    if (pending.client !== undefined) (this as { client?: ClientStamp }).client = pending.client;
    this.#pending = pending;
    this.#req = req;
    Object.freeze(this);
  }

  get release(): ReleaseStamp | undefined {
    return this.#pending.choice(this.#req)?.stamp;
  }

  /** The resolution behind `state`, when it is a state of this kind (adapters pass back what `begin` gave them). */
  static pendingOf(state: unknown): PerRequest | undefined {
    return state instanceof RequestState ? state.#pending : undefined;
  }

  toJSON(): DaylightState {
    const release = this.release;
    const client = this.client;
    return client === undefined ? { release } : { client, release };
  }
}
