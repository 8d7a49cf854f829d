import { cohortNamed, promoteChange } from '@daylight/server-middleware';
import { DaylightCliError } from '../errors.js';
import { readExisting, resolveStore, type ReleaseStore } from '../store.js';
import { requireServable } from '../verify.js';
import { checkVersion, requirePublished } from '../versions.js';
import { compute } from './change.js';
import { commandPrefix, optional, stringFlag, withCommandPrefix, type CommandSpec } from './command.js';

export interface PromoteOptions {
  /** The registry file (resolved against `cwd`), or an opened store. */
  readonly store: string | ReleaseStore;
  /** A published version. */
  readonly version: string;
  /** The cohort to promote to. @default everyone */
  readonly cohort?: string;
  /** A share of the target, 0–100; 100 (the default) assigns the release to the whole target. */
  readonly percent?: number;
  /** The request key a percentage hashes: `tenant`, `user`… @default the running rollout's, else `tenant` */
  readonly key?: string;
  /** @default process.cwd() */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

export interface PromoteResult {
  /** `unchanged` when the version was already the target's release (or rollout at that percentage). */
  readonly status: 'promoted' | 'unchanged';
  readonly version: string;
  /** The target's release before the command; `null` when none was (a cohort that followed everyone). */
  readonly previous: string | null;
  /** The cohort, or `null` for everyone. */
  readonly cohort: string | null;
  /** 100 for a full promote. */
  readonly percent: number;
  /** What changed, as written to the audit log. */
  readonly summary: string;
  /** The store's location. */
  readonly store: string;
  /**
   * The cohorts the registry named before the command, when `cohort` was not one of them (a new cohort, or a
   * typo: `pliot` for `pilot`); `null` for everyone or a cohort it knew.
   */
  readonly newCohortAmong: readonly string[] | null;
}

/**
 * Promotes a published release: to everyone or to a cohort, fully or to a
 * percentage of it (see docs/rollouts.md for the rules).
 *
 * Refused when the version is not published, when its folder is missing or
 * damaged (every file is read and checked against the manifest: there, with
 * its size and its SHA-384; the server could not serve it otherwise), when it
 * is below the floor `min` (every client on it would be told to update at
 * once), or when the percentage is outside 0–100.
 *
 * @throws {DaylightCliError} `invalid-option`, `registry`, `not-published`, `release`, `conflict` or `io`; the store is unchanged.
 */
export async function promote(options: PromoteOptions): Promise<PromoteResult> {
  const version = checkVersion(options.version, 'version');
  const store = resolveStore(options.store, options.cwd);
  const snapshot = await readExisting(store);
  options.signal?.throwIfAborted();
  const { registry } = snapshot;
  requirePublished(registry, version);
  const cohort = options.cohort;
  const percent = options.percent ?? 100;
  const now = new Date();
  const outcome = compute(() =>
    promoteChange(registry, {
      version,
      percent,
      now,
      ...optional('cohort', cohort),
      ...optional('key', options.key),
    }),
  );
  const named = cohort === undefined ? undefined : cohortNamed(registry, cohort);
  const previous = cohort === undefined ? registry.current : (named?.release ?? null);
  const base = {
    version,
    previous,
    cohort: cohort ?? null,
    percent,
    summary: outcome.summary,
    store: store.location,
    newCohortAmong: cohort === undefined || named !== undefined ? null : Object.keys(registry.cohorts ?? {}).sort(),
  };
  if (!outcome.changed) return { ...base, status: 'unchanged' };
  // Every file, read and hashed: a release with a file missing or changed would be served with a broken shell.
  await requireServable(store, registry, version, options.signal);
  await store.update(snapshot, () => Promise.resolve(outcome.registry), {
    action: 'promote',
    summary: outcome.summary,
  });
  return { ...base, status: 'promoted' };
}

/** Digits, then at most two decimals: `10`, `12.5`, `33.33`. */
const PERCENT_TEXT = /^\d{1,3}(\.\d{1,2})?$/;

/** Parses `--percent`: a number from 0 to 100 with at most two decimals (a trailing `%` is allowed). */
export function parsePercent(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim().replace(/%$/, '');
  // The decimals are counted in the text: in floating point, 33.3 × 100 is not a whole number.
  const percent = PERCENT_TEXT.test(text) ? Number(text) : Number.NaN;
  if (!(percent >= 0 && percent <= 100)) {
    throw new DaylightCliError(
      'invalid-option',
      `--percent ${JSON.stringify(value)} is not a percentage from 0 to 100 (at most two decimals), such as --percent 10`,
    );
  }
  return percent;
}

export const promoteCommand: CommandSpec = {
  name: 'promote',
  summary: 'promote a published release: to everyone or a cohort, fully or to a percentage',
  usage: 'daylight promote <version> [--cohort <name>] [--percent <0-100>] [--key <name>]',
  description: [
    'Without options, makes <version> the release everyone runs. --cohort gives it to one',
    "cohort only (the server resolves each request's cohort). --percent rolls it out to that",
    'share of the target, chosen by a hash of the request key (--key, default tenant): growing',
    'the percentage keeps everyone who was in. Servers pick the change up within a second.',
  ].join('\n'),
  flags: {
    cohort: { type: 'string', value: '<name>', description: 'promote to this cohort only (default: everyone)' },
    percent: { type: 'string', value: '<0-100>', description: 'roll out to this share of the target (default: 100)' },
    key: {
      type: 'string',
      value: '<name>',
      description: 'the request key the percentage hashes: tenant, user… (default: tenant)',
    },
  },
  positionals: ['<version>'],
  requiredPositionals: 1,
  async run(args, context) {
    const cohort = stringFlag(args, 'cohort');
    const key = stringFlag(args, 'key');
    const result = await promote({
      store: context.store,
      version: args.positionals[0]!,
      cwd: context.cwd,
      ...optional('cohort', cohort),
      ...optional('percent', parsePercent(stringFlag(args, 'percent'))),
      ...optional('key', key),
      ...optional('signal', context.signal),
    });
    // What the change did besides (a rollout that goes on or ends, cohort rollouts it ended), after the summary's
    // head; "(was …)" goes between them, so it reads as the release before, not the rollout's.
    const where = result.cohort === null ? 'everyone' : `cohort ${result.cohort}`;
    const head = `promote ${result.version} to ${where}`;
    const besides = result.summary.startsWith(head) ? result.summary.slice(head.length) : '';
    // Everyone's release is "current" in the CLI's words, whatever the percentage asked for.
    const already = `${result.version} is already the release of everyone`;
    const was =
      result.cohort === null
        ? `promoted ${result.version} (was ${result.previous ?? 'none'})`
        : `promoted ${result.version} to ${where} (was ${result.previous ?? `everyone's release`})`;
    const text =
      result.status === 'unchanged'
        ? `${result.summary.replace(already, `${result.version} is already current`)}; nothing changed`
        : result.percent === 100
          ? `${was}${besides}`
          : result.summary;
    const told = text.replace(/^promote /, 'promoted ').replace(/^roll out /, 'rolled out ');
    // A cohort the registry did not know: new, or a typo that gives the real cohort nothing.
    const among = result.newCohortAmong;
    const warnings =
      among === null || result.status === 'unchanged'
        ? []
        : [
            `cohort ${result.cohort} is new (the registry had ${among.length === 0 ? 'no cohorts' : `cohorts ${among.join(', ')}`}): its release reaches the requests your server's cohort callback names "${result.cohort}", and no other`,
          ];
    return { text: withCommandPrefix(told, commandPrefix(context)), json: result, warnings };
  },
};
