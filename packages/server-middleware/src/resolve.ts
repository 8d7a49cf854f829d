/**
 * Which release a request gets: pins, cohorts and percentage rollouts,
 * compiled once per read of the registry into maps, so resolving a request
 * costs a few map lookups and one short hash whatever the number of releases
 * and cohorts. The rules, in order (docs/rollouts.md):
 *
 * 1. a pin of one of the request's keys (`user:ada`, `tenant:acme`), in the
 *    order of the server's `keys` option;
 * 2. the request's cohort: its rollout when the key's bucket is inside it, else
 *    its release; a cohort that has no release of its own follows everyone;
 * 3. everyone: the rollout when the bucket is inside it, else `current`.
 *
 * The floor wins over all of them: a pin, cohort release or rollout below
 * `min` is dropped when compiling and the next rule applies. A halted rollout
 * is dropped the same way, and so is a rollout of a cohort that follows
 * everyone when its release is older than everyone's. A cohort that follows
 * everyone does not inherit everyone's rollout of a release it halted.
 */
import { compareVersions } from '@daylight/protocol';
import type { Registry, TargetRules } from './registry.js';

/** Buckets per target: a rollout of `p` percent takes the buckets below `p × 100`. */
export const BUCKETS = 10_000;
/** The salt of everyone's rollouts when the registry names none. */
export const EVERYONE_SALT = '*';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/** Continues a 32-bit FNV-1a hash over the UTF-16 code units of `text`. */
function fnvUpdate(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h;
}

/** murmur3's 32-bit finaliser: FNV-1a alone leaves the last characters of similar keys in the low bits. */
function fmix32(hash: number): number {
  let h = hash;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/**
 * The bucket (0–9999) of a key in a target: FNV-1a over `salt:key`, finished
 * with fmix32, modulo 10,000. Pure and the same on every server and platform.
 * @example bucketOf('pilot', 'acme') // always the same number
 */
export function bucketOf(salt: string, key: string): number {
  return fmix32(fnvUpdate(fnvUpdate(FNV_OFFSET, `${salt}:`), key)) % BUCKETS;
}

interface CompiledRollout {
  readonly release: string;
  /** Buckets below this are in. */
  readonly threshold: number;
  readonly key: string;
  /** FNV state after `salt:`, so a request hashes only its key. */
  readonly seed: number;
}

interface CompiledTarget {
  readonly release: string | null;
  readonly rollout: CompiledRollout | undefined;
}

/** A registry compiled for {@link resolveRelease}. */
export interface Plan {
  readonly everyone: CompiledTarget;
  readonly cohorts: ReadonlyMap<string, CompiledTarget>;
  /** Pins by key name, then by value. */
  readonly pins: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** Every release the plan can resolve to. */
  readonly releases: ReadonlySet<string>;
  /** Key names the plan reads (pins and rollouts). */
  readonly keys: ReadonlySet<string>;
  /** True when nothing depends on the request: everyone gets `everyone.release`. */
  readonly uniform: boolean;
}

/** Threshold of a percentage: 12.5 → 1250 buckets. */
export function thresholdOf(percent: number): number {
  return Math.round(percent * 100);
}

/**
 * Whether a cohort's release, a rollout's or a pin's is below the floor `min` (none: nothing is): the server skips
 * it, and those clients follow the next rule. The status page, `daylight status` and the floor's summary say so.
 */
export function isBelowFloor(version: string | null | undefined, min: string | null | undefined): version is string {
  return typeof version === 'string' && typeof min === 'string' && compareVersions(version, min) < 0;
}

/**
 * `(below the floor: skipped)` for a cohort's release, a rollout's or a pin's below the floor `min`, else `undefined`:
 * the one wording of the status page and `daylight status` (each adds its own markup), so they never say it apart.
 * @example belowFloorNote('1.1.0', '1.2.0') // '(below the floor: skipped)'
 */
export function belowFloorNote(version: string | null | undefined, min: string | null | undefined): string | undefined {
  return isBelowFloor(version, min) ? '(below the floor: skipped)' : undefined;
}

function aboveFloor(version: string | null | undefined, min: string | undefined): version is string {
  return typeof version === 'string' && !isBelowFloor(version, min);
}

function compileRollout(rules: TargetRules, salt: string, min: string | undefined): CompiledRollout | undefined {
  const rollout = rules.rollout;
  if (rollout === undefined || !aboveFloor(rollout.release, min)) return undefined;
  if (rules.halted?.release === rollout.release) return undefined;
  const threshold = thresholdOf(rollout.percent);
  if (threshold <= 0) return undefined;
  return { release: rollout.release, threshold, key: rollout.key, seed: fnvUpdate(FNV_OFFSET, `${salt}:`) };
}

/** Compiles a (validated) registry. */
export function compilePlan(registry: Registry): Plan {
  const min = registry.min;
  const releases = new Set<string>();
  const keys = new Set<string>();
  const note = (target: CompiledTarget): CompiledTarget => {
    if (target.release !== null) releases.add(target.release);
    if (target.rollout !== undefined) {
      releases.add(target.rollout.release);
      keys.add(target.rollout.key);
    }
    return target;
  };
  const everyone = note({
    // `current` is never below the floor: the CLI refuses both ways of getting there.
    release: registry.current,
    rollout: compileRollout(registry, registry.salt ?? EVERYONE_SALT, min),
  });
  const cohorts = new Map<string, CompiledTarget>();
  for (const [name, cohort] of Object.entries(registry.cohorts ?? {})) {
    const own = aboveFloor(cohort.release, min) ? cohort.release : null;
    let rollout = compileRollout(cohort, cohort.salt ?? name, min);
    // A cohort that follows everyone never goes back through its own rollout: one older than everyone's
    // release (left from before a promote to everyone, which now ends it) would move clients back from it.
    if (
      own === null &&
      rollout !== undefined &&
      everyone.release !== null &&
      compareVersions(rollout.release, everyone.release) < 0
    ) {
      rollout = undefined;
    }
    if (own === null && rollout === undefined) {
      // A cohort with nothing of its own (or nothing above the floor) follows everyone — but not into a
      // release it halted: a halt sends nobody new to its release, and everyone's rollout has other buckets.
      if (everyone.rollout === undefined || cohort.halted?.release !== everyone.rollout.release) continue;
      cohorts.set(name, note({ release: everyone.release, rollout: undefined }));
      continue;
    }
    cohorts.set(name, note({ release: own ?? everyone.release, rollout }));
  }
  const pins = new Map<string, Map<string, string>>();
  for (const [key, pin] of Object.entries(registry.pins ?? {})) {
    if (!aboveFloor(pin.release, min)) continue;
    const colon = key.indexOf(':');
    const name = key.slice(0, colon);
    let byValue = pins.get(name);
    if (byValue === undefined) pins.set(name, (byValue = new Map<string, string>()));
    byValue.set(key.slice(colon + 1), pin.release);
    releases.add(pin.release);
    keys.add(name);
  }
  return {
    everyone,
    cohorts,
    pins,
    releases,
    keys,
    uniform: cohorts.size === 0 && pins.size === 0 && everyone.rollout === undefined,
  };
}

/** What a request brings to the resolution: its cohort and its keys, computed on demand. */
export interface RequestFacts {
  readonly cohort: string | undefined;
  key(name: string): string | undefined;
}

function pick(target: CompiledTarget, facts: RequestFacts): string | null {
  const rollout = target.rollout;
  if (rollout !== undefined) {
    const value = facts.key(rollout.key);
    if (value !== undefined && fmix32(fnvUpdate(rollout.seed, value)) % BUCKETS < rollout.threshold) {
      return rollout.release;
    }
  }
  return target.release;
}

/**
 * The release for a request, or `null` when nothing is promoted for it.
 * @param keyOrder the server's key names in priority order, for pins
 */
export function resolveRelease(plan: Plan, facts: RequestFacts, keyOrder: readonly string[]): string | null {
  if (plan.pins.size > 0) {
    for (const name of keyOrder) {
      const byValue = plan.pins.get(name);
      if (byValue === undefined) continue;
      const value = facts.key(name);
      const pinned = value === undefined ? undefined : byValue.get(value);
      if (pinned !== undefined) return pinned;
    }
  }
  const cohort = facts.cohort === undefined ? undefined : plan.cohorts.get(facts.cohort);
  return pick(cohort ?? plan.everyone, facts);
}

/** "pilot, beta and 3 more": the first few names of a list that may hold thousands. */
function someOf(names: readonly string[]): string {
  const shown = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
}

/**
 * What in the plan can reach no request on a server with these callbacks: cohorts without a `cohort` callback,
 * rollouts and pins by a key the server's `keys` option does not have. The CLI cannot know the server's callbacks,
 * so `daylight promote 1.3.0 --percent 50` by `tenant` succeeds even where no server reads a tenant; the server
 * says so when it loads the registry. One message per cause, naming the fix.
 */
export function unreachable(plan: Plan, hasCohort: boolean, keyNames: readonly string[]): string[] {
  const problems: string[] = [];
  if (!hasCohort && plan.cohorts.size > 0) {
    problems.push(
      `daylight: the registry gives cohort${plan.cohorts.size > 1 ? 's' : ''} ${someOf([...plan.cohorts.keys()])} a release or rollout of their own, but this server has no cohort callback, so every request gets everyone's release: give createDaylight a cohort option, such as { cohort: (req) => officeOf(req) } (docs/rollouts.md)`,
    );
  }
  const known = new Set(keyNames);
  const has = keyNames.length > 0 ? `; it has ${keyNames.join(', ')}` : '';
  const targets: [string, CompiledTarget][] = [['everyone', plan.everyone]];
  for (const [name, target] of plan.cohorts) targets.push([`cohort ${name}`, target]);
  for (const [who, { rollout }] of targets) {
    if (rollout === undefined || known.has(rollout.key)) continue;
    problems.push(
      `daylight: the rollout of ${rollout.release} to ${rollout.threshold / 100}% of ${who} is by ${rollout.key}, but this server has no keys.${rollout.key} callback, so no request is in it${has}: give createDaylight { keys: { ${rollout.key}: (req) => … } }, or roll out by a key it has (docs/rollouts.md)`,
    );
  }
  for (const [key, byValue] of plan.pins) {
    if (known.has(key)) continue;
    const pinned = someOf([...byValue.keys()].map((value) => `${key}:${value}`));
    problems.push(
      `daylight: the pin${byValue.size > 1 ? 's' : ''} ${pinned} match${byValue.size > 1 ? '' : 'es'} no request: this server has no keys.${key} callback${has}; give createDaylight { keys: { ${key}: (req) => … } } (docs/rollouts.md)`,
    );
  }
  return problems;
}
