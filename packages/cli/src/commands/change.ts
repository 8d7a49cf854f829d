/**
 * Shared by the commands that change the registry: read it, compute the
 * change with the model's pure functions (@daylight/server-middleware), and
 * write it through the store, which checks that nobody wrote in between and
 * records the change in the audit log.
 */
import {
  isRegistryChangeError,
  type ChangeOutcome,
  type Registry,
  type RegistryChangeErrorCode,
} from '@daylight/server-middleware';
import { DaylightCliError, type DaylightCliErrorCode } from '../errors.js';
import { readExisting, type ReleaseStore } from '../store.js';
import { newlyServed, requireServable } from '../verify.js';

/**
 * Only `invalid` is a wrong command line (exit 2); every other refusal depends on what the
 * registry holds (exit 1), as the README's exit codes say.
 */
const CODES: Record<RegistryChangeErrorCode, DaylightCliErrorCode> = {
  'not-published': 'not-published',
  'unknown-cohort': 'unknown-cohort',
  invalid: 'invalid-option',
  'below-floor': 'conflict',
  'nothing-to-roll-back': 'conflict',
  'older-release': 'conflict',
  'rollout-key': 'conflict',
  'limit-reached': 'conflict',
  // (The status page's refusal; the CLI refuses a damaged release itself, with the same message and code.)
  'not-servable': 'release',
};

/** The model's refusal as the CLI's error; anything else unchanged. */
export function cliErrorOf(error: unknown): unknown {
  // 'conflict' for a code CODES does not own (one from a newer copy of the model): a refusal all the same.
  if (isRegistryChangeError(error)) {
    return new DaylightCliError(Object.hasOwn(CODES, error.code) ? CODES[error.code] : 'conflict', error.message);
  }
  return error;
}

/** Runs a model function, turning its refusal into a {@link DaylightCliError}. */
export function compute(apply: () => ChangeOutcome): ChangeOutcome {
  try {
    return apply();
  } catch (error) {
    throw cliErrorOf(error);
  }
}

/**
 * Reads the registry, computes the change, and writes it when it changes anything. A change that starts
 * sending clients to a release (see {@link newlyServed}) is refused when that release's folder is damaged.
 * @throws {DaylightCliError} the model's refusal, `release`, `registry`, `conflict` or `io`; the store is unchanged.
 */
export async function changeRegistry(
  store: ReleaseStore,
  action: string,
  apply: (registry: Registry) => ChangeOutcome,
  signal?: AbortSignal,
): Promise<ChangeOutcome & { readonly before: Registry }> {
  const snapshot = await readExisting(store);
  signal?.throwIfAborted();
  const outcome = compute(() => apply(snapshot.registry));
  if (outcome.changed) {
    // A rollback, a halt that rolls back, a pin: whatever starts sending clients to a release checks its files.
    for (const version of newlyServed(snapshot.registry, outcome.registry)) {
      await requireServable(store, snapshot.registry, version, signal);
    }
    await store.update(snapshot, () => Promise.resolve(outcome.registry), { action, summary: outcome.summary });
  }
  return { ...outcome, before: snapshot.registry };
}
