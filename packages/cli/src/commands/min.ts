import { floorChange } from '@daylight/server-middleware';
import { resolveStore, type ReleaseStore } from '../store.js';
import { checkVersion } from '../versions.js';
import { changeRegistry } from './change.js';
import { optional, versionOrClear, type CommandSpec } from './command.js';

export interface SetMinOptions {
  /** The registry file (resolved against `cwd`), or an opened store. */
  readonly store: string | ReleaseStore;
  /** The oldest client version the API still serves, or `null` to remove the floor. */
  readonly min: string | null;
  /** Allow a floor below the current one, or removing it (as `daylight floor --lower`). @default false */
  readonly lower?: boolean;
  /** @default process.cwd() */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

export interface SetMinResult {
  readonly status: 'set' | 'cleared' | 'unchanged';
  /** The floor after the command. */
  readonly min: string | null;
  /** The floor before it. */
  readonly previous: string | null;
  /** The registry file. */
  readonly store: string;
}

/**
 * Sets or clears the registry's floor `min`: clients below it are told the
 * API no longer serves them and must update.
 *
 * A floor above the current release is refused: clients would be sent to a
 * release that cannot satisfy it. A floor below the current floor, or none,
 * is refused unless `lower` is set, as `daylight floor` does: lowering or
 * clearing it lets clients back that the API had stopped serving. The floor
 * does not have to be a published version.
 *
 * @throws {DaylightCliError} `invalid-option`, `registry`, `conflict` or `io`; the store is unchanged.
 */
export async function setMin(options: SetMinOptions): Promise<SetMinResult> {
  const min = options.min === null ? null : checkVersion(options.min, 'min');
  const store = resolveStore(options.store, options.cwd);
  // The same rules as "daylight floor": one model function decides, so the two never drift apart.
  const outcome = await changeRegistry(
    store,
    'floor',
    (registry) => floorChange(registry, { min, lower: options.lower === true }),
    options.signal,
  );
  const previous = outcome.before.min ?? null;
  const status = !outcome.changed ? 'unchanged' : min === null ? 'cleared' : 'set';
  return { status, min, previous, store: store.location };
}

export const minCommand: CommandSpec = {
  name: 'min',
  summary: 'set or clear the floor: the oldest client version the API still serves',
  usage: 'daylight min <version> [--lower] | daylight min --clear --lower',
  description: [
    'Clients below the floor are told to update at once (a required update).',
    'A floor above the current release is refused; lowering or clearing the floor takes --lower.',
  ].join('\n'),
  flags: {
    clear: { type: 'boolean', description: 'remove the floor (with --lower)' },
    lower: { type: 'boolean', description: 'allow a floor below the current one, or none' },
  },
  positionals: ['<version>'],
  requiredPositionals: 0,
  async run(args, context) {
    const result = await setMin({
      store: context.store,
      min: versionOrClear(args, 'min'),
      lower: args.values.lower === true,
      cwd: context.cwd,
      ...optional('signal', context.signal),
    });
    const text =
      result.status === 'unchanged'
        ? result.min === null
          ? 'no floor is set; nothing changed'
          : `min is already ${result.min}; nothing changed`
        : result.status === 'cleared'
          ? `cleared min (was ${result.previous})`
          : `set min ${result.min} (was ${result.previous ?? 'none'})`;
    return { text, json: result };
  },
};
