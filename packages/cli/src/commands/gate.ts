/**
 * `daylight gate --below 1.4.0 --quiet-for 24h`: may the contract step of a
 * migration run — has no session below a version been seen for that long,
 * across the fleet? (docs/migrations.md)
 */
import { compareVersions, isVersion } from '@daylight/protocol';
import {
  CENSUS_WINDOWS,
  CENSUS_RETENTION_MS,
  OTHER,
  UNKNOWN_RELEASE,
  formatDuration,
  type CensusSnapshot,
  type CensusWindow,
  type Registry,
  type TargetRules,
} from '@daylight/server-middleware';
import { formatTimestamp, table } from '../format.js';
import { DaylightCliError } from '../errors.js';
import { formatSeen, parseDuration, readCensus, readServedRegistry, type CensusSourceOptions } from '../census.js';
import type { ReleaseStore } from '../store.js';
import { checkVersion } from '../versions.js';
import { CENSUS_FLAGS } from './census-section.js';
import { stringFlag, type CommandSpec } from './command.js';

/** Exit status: no session below the version was seen in the whole window. */
export const GATE_SAFE = 0;
/** Exit status: sessions below the version were seen in the window (or the census cannot be read). */
export const GATE_NOT_SAFE = 1;
/** Exit status: nothing below the version was seen, but the census has not observed the whole window yet. */
export const GATE_NOT_ENOUGH_DATA = 3;

export interface GateOptions extends CensusSourceOptions {
  /** Sessions running a release below this version block the gate. */
  readonly below: string;
  /** How long nothing below it must have been seen, in milliseconds. */
  readonly quietForMs: number;
}

/** A series that keeps the gate shut (or, for `unknown`, a note). */
export interface GateSighting {
  readonly release: string;
  readonly cohort: string;
  /** Estimated distinct sessions in {@link GateResult.countWindow}. */
  readonly sessions: number;
  /** ISO time of the last request. */
  readonly lastSeen: string;
}

/** A release below the gate's version that a page load can still be given. */
export interface GateAssignment {
  /** `everyone`, `cohort berlin`, `pin tenant:acme`; `… (rollout)` for a rollout's release. */
  readonly target: string;
  readonly release: string;
}

export interface GateResult {
  readonly verdict: 'safe' | 'not-safe' | 'not-enough-data';
  /**
   * Releases below `below` the registry still hands out (everyone's, a
   * cohort's, a rollout's that is not halted, a pin's): any of them keeps the
   * gate shut, however quiet the census, since the next page load can start one.
   */
  readonly assigned: readonly GateAssignment[];
  readonly below: string;
  readonly quietForMs: number;
  /** `server` or `fleet`. */
  readonly scope: CensusSnapshot['scope'];
  /** When the census started counting (ISO). */
  readonly observingSince: string;
  /** How much of the window the census has observed, in milliseconds (at most `quietForMs`). */
  readonly observedMs: number;
  /** The census window the session counts are for. */
  readonly countWindow: CensusWindow;
  /** Releases below `below` (and `other`, whose releases are unknown) seen in the window. */
  readonly blocking: readonly GateSighting[];
  /** Sessions of versions that are not published releases, seen in the window: reported, not blocking. */
  readonly unknown: readonly GateSighting[];
  readonly standardError: number;
}

function countWindowFor(quietForMs: number): CensusWindow {
  return quietForMs <= CENSUS_WINDOWS['5m'] ? '5m' : quietForMs <= CENSUS_WINDOWS['1h'] ? '1h' : '24h';
}

/** The releases below `below` that `registry` still hands out. */
export function assignedBelow(registry: Registry, below: string): GateAssignment[] {
  const assigned: GateAssignment[] = [];
  const add = (target: string, release: string | null | undefined): void => {
    if (typeof release === 'string' && isVersion(release) && compareVersions(release, below) < 0) {
      assigned.push({ target, release });
    }
  };
  const target = (name: string, release: string | null | undefined, rules: TargetRules): void => {
    add(name, release);
    const rollout = rules.rollout;
    if (rollout !== undefined && rules.halted?.release !== rollout.release) add(`${name} (rollout)`, rollout.release);
  };
  target('everyone', registry.current, registry);
  for (const [name, cohort] of Object.entries(registry.cohorts ?? {})) target(`cohort ${name}`, cohort.release, cohort);
  for (const [key, pin] of Object.entries(registry.pins ?? {})) add(`pin ${key}`, pin.release);
  return assigned;
}

/**
 * The gate's answer for a census and the releases the registry still hands
 * out. A series blocks when its release is below `below` — or is `other`
 * (past the series cap, release unknown) — and it was last seen inside the
 * window; so does any release below `below` still assigned. With nothing
 * blocking, the answer is `safe` only when the census has counted for the
 * whole window.
 */
export function gateVerdict(
  snapshot: CensusSnapshot,
  below: string,
  quietForMs: number,
  assigned: readonly GateAssignment[] = [],
): GateResult {
  const from = snapshot.at - quietForMs;
  const countWindow = countWindowFor(quietForMs);
  const sighting = (series: CensusSnapshot['series'][number]): GateSighting => ({
    release: series.release,
    cohort: series.cohort,
    sessions: series.sessions[countWindow],
    lastSeen: new Date(series.lastSeen).toISOString(),
  });
  const inWindow = snapshot.series.filter((series) => series.lastSeen >= from);
  const blocking = inWindow
    .filter(
      (series) => series.release === OTHER || (isVersion(series.release) && compareVersions(series.release, below) < 0),
    )
    .map(sighting);
  const unknown = inWindow.filter((series) => series.release === UNKNOWN_RELEASE).map(sighting);
  const observedMs = Math.min(quietForMs, Math.max(0, snapshot.at - snapshot.observingSince));
  return {
    verdict:
      blocking.length > 0 || assigned.length > 0 ? 'not-safe' : observedMs < quietForMs ? 'not-enough-data' : 'safe',
    assigned,
    below,
    quietForMs,
    scope: snapshot.scope,
    observingSince: new Date(snapshot.observingSince).toISOString(),
    observedMs,
    countWindow,
    blocking,
    unknown,
    standardError: snapshot.standardError,
  };
}

/**
 * Reads the census and the registry, and answers. The registry comes from
 * the store; when there is none where the store points (the CLI runs away
 * from the servers) and `server` is given, from the server that serves it.
 * @throws {DaylightCliError} when the census or the registry cannot be read.
 */
export async function gate(options: GateOptions & { readonly registry: ReleaseStore }): Promise<GateResult> {
  const below = checkVersion(options.below, '--below');
  const snapshot = await options.registry.read();
  const registry = snapshot.exists
    ? snapshot.registry
    : options.server === undefined
      ? undefined
      : await readServedRegistry({ ...options, server: options.server });
  const assigned = registry === undefined ? [] : assignedBelow(registry, below);
  return gateVerdict(await readCensus(options), below, options.quietForMs, assigned);
}

function describe(result: GateResult): string {
  const window = formatDuration(result.quietForMs);
  const where = result.scope === 'fleet' ? 'across the fleet' : 'on this server';
  const coverage = `data for ${formatDuration(result.observedMs)} of the ${window} window (counting since ${formatTimestamp(result.observingSince)})`;
  if (result.verdict === 'not-safe' && result.blocking.length === 0) {
    return [
      `not safe: releases below ${result.below} are still assigned, so a page load can start one:`,
      ...result.assigned.map((a) => `  ${a.target}: ${a.release}`),
      'Promote, roll out or unpin past them first (daylight status shows them).',
    ].join('\n');
  }
  if (result.verdict === 'not-safe') {
    const rows = result.blocking.map((s) => [
      s.release,
      s.cohort,
      `~${s.sessions}`,
      formatSeen(Date.parse(s.lastSeen), Date.now()),
    ]);
    return [
      `not safe: sessions below ${result.below} were seen in the last ${window} ${where}; ${coverage}`,
      '',
      table([['RELEASE', 'COHORT', `SESSIONS (${result.countWindow})`, 'LAST SEEN'], ...rows], new Set([2])),
      ...(result.assigned.length === 0
        ? []
        : ['', `and still assigned: ${result.assigned.map((a) => `${a.target} ${a.release}`).join(', ')}`]),
    ].join('\n');
  }
  if (result.verdict === 'not-enough-data') {
    const ready = Date.parse(result.observingSince) + result.quietForMs;
    return [
      `not enough data: no session below ${result.below} was seen ${where}, but the census has ${coverage}.`,
      `It cannot say "safe" before ${formatTimestamp(new Date(ready).toISOString())}; run the gate again then.`,
    ].join('\n');
  }
  return `safe: no session below ${result.below} was seen in the last ${window} ${where}; ${coverage}`;
}

export const gateCommand: CommandSpec = {
  name: 'gate',
  summary: 'exit 0 only when no session below a version was seen for a while (the contract step of a migration)',
  usage: 'daylight gate --below <version> [--quiet-for 24h] [--server <url> --token <token>]',
  description: [
    'Reads the census: from Redis with a redis:// store, else from a server (--server, --token or $DAYLIGHT_ADMIN_TOKEN).',
    'Exit codes: 0 safe (nothing below the version seen in the whole window), 1 not safe (it prints who is still there)',
    'or the census cannot be read, 3 not enough data (nothing seen, but the census has not observed the whole window).',
    'Sessions of versions that are not published releases ("unknown") are listed but do not block. A release below',
    'the version that the registry still assigns (to everyone, a cohort, a rollout or a pin) blocks, however quiet.',
  ].join('\n'),
  flags: {
    below: {
      type: 'string',
      value: '<version>',
      description: 'sessions on a release below this version block the gate (required)',
    },
    'quiet-for': {
      type: 'string',
      value: '<duration>',
      description: 'how long nothing below it must have been seen: 30m, 24h, 7d (default 24h)',
    },
    ...CENSUS_FLAGS,
  },
  positionals: [],
  requiredPositionals: 0,
  async run(args, context) {
    const below = stringFlag(args, 'below');
    if (below === undefined)
      throw new DaylightCliError(
        'usage',
        'gate needs --below <version>, such as: daylight gate --below 1.4.0 --quiet-for 24h',
      );
    const quietForMs = parseDuration(stringFlag(args, 'quiet-for') ?? '24h', '--quiet-for');
    if (quietForMs > CENSUS_RETENTION_MS - CENSUS_WINDOWS['24h']) {
      throw new DaylightCliError(
        'invalid-option',
        `--quiet-for ${stringFlag(args, 'quiet-for')} is longer than the census remembers; use at most 7d`,
      );
    }
    const result = await gate({
      below,
      quietForMs,
      registry: context.store,
      store: context.storeArgument ?? (context.env.DAYLIGHT_STORE || undefined),
      server: stringFlag(args, 'server'),
      token: stringFlag(args, 'token') ?? (context.env.DAYLIGHT_ADMIN_TOKEN || undefined),
      basePath: stringFlag(args, 'base-path'),
      signal: context.signal,
    });
    const warnings = result.unknown.map(
      (s) =>
        `~${s.sessions} session(s) of versions that are not published releases were seen in cohort ${s.cohort} (last ${formatTimestamp(s.lastSeen)}); they do not block the gate`,
    );
    return {
      text: describe(result),
      json: result,
      warnings,
      exitCode:
        result.verdict === 'safe' ? GATE_SAFE : result.verdict === 'not-safe' ? GATE_NOT_SAFE : GATE_NOT_ENOUGH_DATA,
    };
  },
};
