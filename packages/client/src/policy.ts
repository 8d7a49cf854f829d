import { changeKind, type ChangeKind } from '@daylight/protocol';

/** What to do with a verified release. */
export type Policy = 'auto' | 'prompt';

/** The kinds of change a policy can be set for; `downgrade` is a rollback. */
export type PolicyMap = Readonly<Partial<Record<Exclude<ChangeKind, 'same'>, Policy>>>;

export const DEFAULT_POLICY: Readonly<Required<PolicyMap>> = Object.freeze({
  major: 'prompt',
  minor: 'prompt',
  patch: 'auto',
  prerelease: 'prompt',
  downgrade: 'auto',
});

/**
 * Fills a policy option field by field over the defaults.
 * @throws {TypeError} naming the kind and the value when a value is not `auto` or `prompt`.
 */
export function resolvePolicy(option: Policy | PolicyMap | undefined): Readonly<Required<PolicyMap>> {
  const resolved: Record<keyof PolicyMap, Policy> = { ...DEFAULT_POLICY };
  for (const kind of Object.keys(DEFAULT_POLICY) as (keyof PolicyMap)[]) {
    const value: unknown = typeof option === 'object' ? option[kind] : option;
    if (value === undefined) continue;
    if (value !== 'auto' && value !== 'prompt') {
      throw new TypeError(
        `createDaylight: policy for ${kind} must be "auto" or "prompt", got ${JSON.stringify(value)}`,
      );
    }
    resolved[kind] = value;
  }
  return Object.freeze(resolved);
}

/** The policy for moving from one version to another; prompting is the safe answer for "same". */
export function policyFor(policy: Readonly<Required<PolicyMap>>, from: string, to: string): Policy {
  const kind = changeKind(from, to);
  return kind === 'same' ? 'prompt' : policy[kind];
}
