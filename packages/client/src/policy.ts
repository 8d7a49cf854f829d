import { changeKind, type ChangeKind, type Urgency } from '@daylight/protocol';

/**
 * What to do with a verified release: `auto` switches at the next safe
 * moment, `prompt` asks (the `downloaded` event, the banner), `force` switches
 * at the next safe moment or, at the latest, when the grace period ends.
 */
export type Policy = 'auto' | 'prompt' | 'force';

/**
 * A policy per kind of change (`downgrade` is a rollback) and per release
 * urgency (the manifest's `urgency`). The stronger of the two applies, in
 * the order `prompt` < `auto` < `force`.
 */
export type PolicyMap = Readonly<Partial<Record<Exclude<ChangeKind, 'same'> | Urgency, Policy>>>;

export const DEFAULT_POLICY: Readonly<Required<PolicyMap>> = Object.freeze({
  major: 'prompt',
  minor: 'prompt',
  patch: 'auto',
  prerelease: 'prompt',
  downgrade: 'auto',
  optional: 'prompt',
  recommended: 'prompt',
  critical: 'force',
});

const RANK: Readonly<Record<Policy, number>> = { prompt: 0, auto: 1, force: 2 };

/**
 * Refuses a key of an option object that is not one of `names`: a typo
 * (`snapshots`, `safeMoments.idel`) would otherwise be ignored, silently.
 * @throws {TypeError} naming the key and the keys there are.
 */
export function knownKeys(what: string, option: object, names: readonly string[]): void {
  for (const key of Object.keys(option)) {
    if (!names.includes(key))
      throw new TypeError(`createDaylight: ${what} has no key "${key}"; use ${names.join(', ')}`);
  }
}

/**
 * Fills a policy option field by field over the defaults.
 * @throws {TypeError} naming the key and the value when a value is not `auto`, `prompt` or `force`.
 */
export function resolvePolicy(option: Policy | PolicyMap | undefined): Readonly<Required<PolicyMap>> {
  const resolved: Record<keyof PolicyMap, Policy> = { ...DEFAULT_POLICY };
  const keys = Object.keys(DEFAULT_POLICY) as (keyof PolicyMap)[];
  if (typeof option === 'object') knownKeys('policy', option, keys);
  for (const key of keys) {
    const value: unknown = typeof option === 'object' ? option[key] : option;
    if (value === undefined) continue;
    if (!(typeof value === 'string' && value in RANK)) {
      throw new TypeError(
        `createDaylight: policy for ${key} must be "auto", "prompt" or "force", got ${JSON.stringify(value)}`,
      );
    }
    resolved[key] = value as Policy;
  }
  return Object.freeze(resolved);
}

/**
 * The policy for moving from one version to another: the stronger of the
 * change's and the urgency's. Below the floor it is always `force`; for the
 * "same" precedence (build metadata only) prompting is the safe answer.
 */
export function policyFor(
  policy: Readonly<Required<PolicyMap>>,
  from: string,
  to: string,
  urgency: Urgency = 'optional',
  belowFloor = false,
): Policy {
  if (belowFloor) return 'force';
  const kind = changeKind(from, to);
  if (kind === 'same') return 'prompt';
  const byKind = policy[kind];
  const byUrgency = policy[urgency];
  return RANK[byUrgency] > RANK[byKind] ? byUrgency : byKind;
}
