/**
 * The commands of cohorts and rollouts besides promote: rollback, halt, pin,
 * unpin, floor and history. Each is a plain function that returns a result,
 * and a {@link CommandSpec} that prints it. The model: docs/rollouts.md.
 */
import {
  floorChange,
  haltChange,
  pinChange,
  rollbackChange,
  type AuditEntry,
  type ChangeOutcome,
} from '@daylight/server-middleware';
import { DaylightCliError } from '../errors.js';
import { formatTimestamp, table } from '../format.js';
import { resolveStore, type ReleaseStore } from '../store.js';
import { checkVersion } from '../versions.js';
import { changeRegistry } from './change.js';
import {
  commandPrefix,
  optional,
  shellWord,
  stringFlag,
  versionOrClear,
  withCommandPrefix,
  type CommandSpec,
  type CommandContext,
} from './command.js';

interface StoreOptions {
  /** The registry file (resolved against `cwd`), or an opened store. */
  readonly store: string | ReleaseStore;
  /** @default process.cwd() */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

/** What a change command did. */
export interface ChangeResult {
  readonly status: 'changed' | 'unchanged';
  /** One line, as written to the audit log. */
  readonly summary: string;
  /** The registry's revision afterwards (`null` for a store that never counted). */
  readonly revision: number | null;
  readonly store: string;
}

async function run(
  options: StoreOptions,
  action: string,
  apply: Parameters<typeof changeRegistry>[2],
): Promise<ChangeResult> {
  const store = resolveStore(options.store, options.cwd);
  const outcome: ChangeOutcome = await changeRegistry(store, action, apply, options.signal);
  const after = outcome.changed ? await store.read() : undefined;
  return {
    status: outcome.changed ? 'changed' : 'unchanged',
    summary: outcome.summary,
    revision: after?.registry.revision ?? null,
    store: store.location,
  };
}

/**
 * The change told in one line, its hints (`"daylight rollback"`) pasteable as the CLI was run; without `ctx` (a halt,
 * whose summary holds the user's reason) the summary is printed as written.
 */
function printed(result: ChangeResult, ctx?: CommandContext): { text: string; json: ChangeResult } {
  const summary = ctx === undefined ? result.summary : withCommandPrefix(result.summary, commandPrefix(ctx));
  return {
    text: result.status === 'changed' ? `done: ${summary}` : `${summary}; nothing changed`,
    json: result,
  };
}

export interface RollbackOptions extends StoreOptions {
  /** @default everyone */
  readonly cohort?: string;
}

/** Rolls a cohort (or everyone) back: cancels a rollout in progress, else returns to the previous release. */
export function rollback(options: RollbackOptions): Promise<ChangeResult> {
  return run(options, 'rollback', (registry) =>
    rollbackChange(registry, { now: new Date(), ...optional('cohort', options.cohort) }),
  );
}

export interface HaltOptions extends StoreOptions {
  readonly release: string;
  /** @default everyone */
  readonly cohort?: string;
  readonly reason?: string;
}

/** Stops a release in a cohort (or for everyone): its rollout halts, or the target rolls back from it. */
export function halt(options: HaltOptions): Promise<ChangeResult> {
  const release = checkVersion(options.release, 'release');
  return run(options, 'halt', (registry) =>
    haltChange(registry, {
      release,
      reason: options.reason ?? 'halted by hand',
      now: new Date(),
      ...optional('cohort', options.cohort),
    }),
  );
}

export interface PinOptions extends StoreOptions {
  /** `tenant`, `user`… */
  readonly key: string;
  readonly value: string;
  /** `null` unpins. */
  readonly release: string | null;
  readonly note?: string;
}

/** Holds one tenant or user on a release, or (with `release: null`) lets it go. */
export function pin(options: PinOptions): Promise<ChangeResult> {
  const release = options.release === null ? null : checkVersion(options.release, 'release');
  return run(options, release === null ? 'unpin' : 'pin', (registry) =>
    pinChange(registry, {
      key: options.key,
      value: options.value,
      release,
      now: new Date(),
      ...optional('note', options.note),
    }),
  );
}

export interface FloorOptions extends StoreOptions {
  /** `null` removes the floor. */
  readonly min: string | null;
  /** Allow a lower floor than the current one, or none. @default false */
  readonly lower?: boolean;
}

/** Sets the floor `min`; lowering or clearing it must be asked for. */
export function floor(options: FloorOptions): Promise<ChangeResult> {
  const min = options.min === null ? null : checkVersion(options.min, 'floor');
  return run(options, 'floor', (registry) => floorChange(registry, { min, lower: options.lower === true }));
}

export interface HistoryOptions extends StoreOptions {
  /** @default 20 */
  readonly limit?: number;
}

/** The audit log, oldest first. */
export async function history(options: HistoryOptions): Promise<{ store: string; entries: AuditEntry[] }> {
  const store = resolveStore(options.store, options.cwd);
  return { store: store.location, entries: await store.history(options.limit ?? 20) };
}

function context(ctx: CommandContext): StoreOptions {
  return { store: ctx.store, cwd: ctx.cwd, ...optional('signal', ctx.signal) };
}

const cohortFlag = { type: 'string', value: '<name>', description: 'the cohort (default: everyone)' } as const;

export const rollbackCommand: CommandSpec = {
  name: 'rollback',
  summary: 'roll a cohort (or everyone) back to its previous release',
  usage: 'daylight rollback [--cohort <name>]',
  description: [
    'Cancels a rollout in progress in the target; else returns the target to the release it',
    'ran before. Clients follow a rollback like any other change, once.',
  ].join('\n'),
  flags: { cohort: cohortFlag },
  positionals: [],
  requiredPositionals: 0,
  async run(args, ctx) {
    return printed(await rollback({ ...context(ctx), ...optional('cohort', stringFlag(args, 'cohort')) }), ctx);
  },
};

export const haltCommand: CommandSpec = {
  name: 'halt',
  summary: "stop a release's rollout in a cohort (or everyone)",
  usage: 'daylight halt <version> [--cohort <name>] [--reason <text>]',
  description: [
    'A rollout of <version> stops sending clients to it (promote it again to resume); a target',
    'that runs it fully goes back to its previous release. The halt shows in "daylight status".',
  ].join('\n'),
  flags: {
    cohort: cohortFlag,
    reason: { type: 'string', value: '<text>', description: 'why, for the audit log and status' },
  },
  positionals: ['<version>'],
  requiredPositionals: 1,
  async run(args, ctx) {
    // Printed without ctx: the summary holds the reason as the user wrote it.
    return printed(
      await halt({
        ...context(ctx),
        release: args.positionals[0]!,
        ...optional('cohort', stringFlag(args, 'cohort')),
        ...optional('reason', stringFlag(args, 'reason')),
      }),
    );
  },
};

function keyAndValue(
  args: { values: Readonly<Record<string, unknown>> },
  value: string,
): { key: string; value: string } {
  const key = typeof args.values.key === 'string' ? args.values.key : 'tenant';
  return { key, value };
}

export const pinCommand: CommandSpec = {
  name: 'pin',
  summary: 'hold one tenant or user on a release',
  usage: 'daylight pin <value> <version> [--key tenant|user] [--note <text>]',
  description:
    'A pin wins over cohorts and rollouts (not over the floor). --key says what <value> is (default: tenant).',
  flags: {
    key: { type: 'string', value: '<name>', description: 'what the value is: tenant, user… (default: tenant)' },
    note: { type: 'string', value: '<text>', description: 'why, shown by status' },
  },
  positionals: ['<value>', '<version>'],
  requiredPositionals: 2,
  async run(args, ctx) {
    return printed(
      await pin({
        ...context(ctx),
        ...keyAndValue(args, args.positionals[0]!),
        release: args.positionals[1]!,
        ...optional('note', stringFlag(args, 'note')),
      }),
      ctx,
    );
  },
};

export const unpinCommand: CommandSpec = {
  name: 'unpin',
  summary: 'let a pinned tenant or user follow its cohort again',
  usage: 'daylight unpin <value> [--key tenant|user]',
  description: 'Removes the pin of <value> (default key: tenant).',
  flags: {
    key: { type: 'string', value: '<name>', description: 'what the value is: tenant, user… (default: tenant)' },
  },
  positionals: ['<value>'],
  requiredPositionals: 1,
  async run(args, ctx) {
    const { key, value } = keyAndValue(args, args.positionals[0]!);
    const result = await pin({ ...context(ctx), key, value, release: null });
    if (result.status === 'changed') return printed(result, ctx);
    // The value is literal (a tenant may be called "office:acme"), but status shows pins as
    // key:value, and a user who pastes that name means the pin it names: say how to remove it.
    const [, otherKey, rest] = /^([^:]+):(.+)$/s.exec(value) ?? [];
    const { registry } = await ctx.store.read();
    if (otherKey === undefined || rest === undefined || !Object.hasOwn(registry.pins ?? {}, value)) {
      return printed(result, ctx);
    }
    const command = `${commandPrefix(ctx)} unpin ${shellWord(rest)} --key ${otherKey}`;
    return {
      ...printed(result, ctx),
      warnings: [`${value} is the pin of ${otherKey} ${rest}; to remove it, run "${command}"`],
    };
  },
};

export const floorCommand: CommandSpec = {
  name: 'floor',
  summary: 'set the floor (the oldest client version the API serves); lowering or clearing it needs --lower',
  usage: 'daylight floor <version> [--lower] | daylight floor --clear --lower',
  description: [
    'Clients below the floor are told to update at once. A later release never lowers the',
    "floor; lowering or clearing it takes --lower. A floor above everyone's release is refused.",
  ].join('\n'),
  flags: {
    lower: { type: 'boolean', description: 'allow a floor below the current one, or none' },
    clear: { type: 'boolean', description: 'remove the floor (with --lower)' },
  },
  positionals: ['<version>'],
  requiredPositionals: 0,
  async run(args, ctx) {
    const min = versionOrClear(args, 'floor');
    return printed(await floor({ ...context(ctx), min, lower: args.values.lower === true }), ctx);
  },
};

export const historyCommand: CommandSpec = {
  name: 'history',
  summary: 'show the audit log: every change, when and by whom',
  usage: 'daylight history [--limit <n>]',
  description:
    'Oldest first. Who is --actor, $DAYLIGHT_ACTOR or $USER of the command that made the change, else unknown.',
  flags: { limit: { type: 'string', value: '<n>', description: 'how many entries (default: 20)' } },
  positionals: [],
  requiredPositionals: 0,
  async run(args, ctx) {
    const limitText = stringFlag(args, 'limit');
    const limit = limitText === undefined ? 20 : Number(limitText);
    if (!Number.isSafeInteger(limit) || limit < 1) {
      throw new DaylightCliError(
        'invalid-option',
        `--limit ${JSON.stringify(limitText)} must be a whole number ≥ 1, such as --limit 50`,
      );
    }
    const result = await history({ ...context(ctx), limit });
    if (result.entries.length === 0) return { text: 'no changes recorded yet', json: result };
    const rows = result.entries.map((e) => [String(e.revision), formatTimestamp(e.at), e.actor, e.summary]);
    return { text: table([['REV', 'WHEN', 'WHO', 'WHAT'], ...rows]), json: result };
  },
};
