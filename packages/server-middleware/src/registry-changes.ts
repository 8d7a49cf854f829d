/**
 * The changes a release engineer (or the server, for a halt) makes to the
 * registry, as pure functions: registry in, registry out, or a
 * {@link RegistryChangeError} that says what is wrong and how to fix it.
 * Stores apply them atomically (file lock or Redis transaction) and record
 * each in the audit log. The model: docs/rollouts.md.
 */
import { compareVersions, isVersion } from '@daylight/protocol';
import {
  COHORT_NAME,
  KEY_NAME,
  MAX_COHORTS,
  cohortNamed,
  isPercent,
  type Cohort,
  type Halt,
  type Pin,
  type Registry,
  type Rollout,
  type TargetRules,
} from './registry.js';
import { isBelowFloor } from './resolve.js';

/** How many earlier releases a target remembers for `rollback`. */
export const PREVIOUS_KEPT = 10;
/** The rollout key used when a promote names none and the target has no rollout yet. */
export const DEFAULT_ROLLOUT_KEY = 'tenant';

export type RegistryChangeErrorCode =
  /** A version that is not in `releases`. */
  | 'not-published'
  /** A cohort the registry does not know (for rollback, halt). */
  | 'unknown-cohort'
  /** A value the model cannot take, whatever the registry holds: a percentage outside 0–100, a bad cohort or key name. */
  | 'invalid'
  /** The change would send clients below the floor `min`, or lower the floor without being told to. */
  | 'below-floor'
  /** Rollback of a target that has no earlier release. */
  | 'nothing-to-roll-back'
  /** A cohort rollout of a release older than the one the cohort runs: it would move clients back. */
  | 'older-release'
  /** Another key for a rollout in progress: it would move sessions back and forth. */
  | 'rollout-key'
  /** A new cohort or pin in a registry that holds the most it may. */
  | 'limit-reached'
  /** The change would send clients to a release whose folder is not what was published (the status page's check). */
  | 'not-servable';

/** Why a change to the registry was refused. Nothing was changed. */
export class RegistryChangeError extends Error {
  override readonly name = 'RegistryChangeError';
  readonly code: RegistryChangeErrorCode;
  constructor(code: RegistryChangeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

/** True for a {@link RegistryChangeError}, also from another copy of this package. */
export function isRegistryChangeError(value: unknown): value is RegistryChangeError {
  return (
    value instanceof Error &&
    value.name === 'RegistryChangeError' &&
    typeof (value as { code?: unknown }).code === 'string'
  );
}

/** What a change did, for the command's output and the audit log. */
export interface ChangeOutcome {
  readonly registry: Registry;
  readonly changed: boolean;
  /** One line: `promote 1.1.0 to cohort pilot at 10% by tenant`. */
  readonly summary: string;
}

/** One entry of the audit log. */
export interface AuditEntry {
  /** The registry revision the change produced. */
  readonly revision: number;
  readonly at: string;
  /** Who: `--actor`, `$DAYLIGHT_ACTOR`, `$USER`, or `server` for a halt by the server. */
  readonly actor: string;
  /** The command: `publish`, `promote`, `rollback`, `halt`, `pin`, `unpin`, `floor`. */
  readonly action: string;
  readonly summary: string;
}

/** `everyone` or `cohort pilot`, for messages. */
export function targetName(cohort: string | undefined): string {
  return cohort === undefined ? 'everyone' : `cohort ${cohort}`;
}

function published(registry: Registry, version: string, what: string): void {
  if (!isVersion(version)) {
    throw new RegistryChangeError(
      'invalid',
      `${what} ${JSON.stringify(version)} is not a semver version such as 1.4.2`,
    );
  }
  if (registry.releases[version] === undefined) {
    const list = Object.keys(registry.releases).sort(compareVersions);
    throw new RegistryChangeError(
      'not-published',
      `version ${version} is not published; published: ${list.length > 0 ? list.join(', ') : 'none'}`,
    );
  }
}

function aboveFloor(registry: Registry, version: string, doing: string): void {
  if (registry.min !== undefined && compareVersions(version, registry.min) < 0) {
    throw new RegistryChangeError(
      'below-floor',
      `version ${version} is below the floor min ${registry.min}: ${doing} would force every client on it to update; use ${registry.min} or later, or lower the floor with "daylight floor <version> --lower"`,
    );
  }
}

function checkCohortName(cohort: string | undefined): void {
  if (cohort !== undefined && !COHORT_NAME.test(cohort)) {
    throw new RegistryChangeError(
      'invalid',
      `cohort ${JSON.stringify(cohort)} is not a cohort name: use letters, digits, ".", "_" or "-" (at most 64), such as pilot`,
    );
  }
}

function knownCohort(registry: Registry, cohort: string): Cohort {
  const found = cohortNamed(registry, cohort);
  if (found === undefined) {
    const names = Object.keys(registry.cohorts ?? {}).sort();
    throw new RegistryChangeError(
      'unknown-cohort',
      `cohort ${cohort} has no release or rollout in the registry; known cohorts: ${names.length > 0 ? names.join(', ') : 'none'}`,
    );
  }
  return found;
}

/** A target's rules, read from the registry: everyone (`cohort` undefined) or one cohort. Undefined members are dropped on write. */
interface TargetView {
  /** The target's own release; for a cohort `null` means "follows everyone". */
  readonly release: string | null;
  readonly previous?: readonly string[] | undefined;
  readonly rollout?: Rollout | undefined;
  readonly halted?: Halt | undefined;
  readonly salt?: string | undefined;
}

function viewOf(registry: Registry, cohort: string | undefined): TargetView {
  if (cohort === undefined) {
    const { previous, rollout, halted, salt } = registry;
    return withDefined({ release: registry.current, previous, rollout, halted, salt });
  }
  return cohortNamed(registry, cohort) ?? { release: null };
}

/** Drops members whose value is undefined (exactOptionalPropertyTypes, and no empty members in the file). */
function withDefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function rulesOf(target: TargetView): TargetRules {
  const { previous, rollout, halted, salt } = target;
  return withDefined({
    previous: previous !== undefined && previous.length > 0 ? previous : undefined,
    rollout,
    halted,
    salt,
  }) as TargetRules;
}

/** A cohort as written, or `undefined` when it has nothing of its own left (it follows everyone entirely). */
function cohortEntry(target: TargetView): Cohort | undefined {
  const rules = rulesOf(target);
  return target.release === null && Object.keys(rules).length === 0 ? undefined : { release: target.release, ...rules };
}

function withCohorts(registry: Registry, cohorts: Record<string, Cohort>): Registry {
  const { cohorts: _c, ...rest } = registry;
  return Object.keys(cohorts).length === 0 ? rest : { ...rest, cohorts };
}

/** Refuses a change that would make the registry hold more than {@link MAX_COHORTS} cohorts or pins: no server would load it. */
function roomFor(entries: object, what: 'cohorts' | 'pins', fix: string): void {
  if (Object.keys(entries).length >= MAX_COHORTS) {
    throw new RegistryChangeError(
      'limit-reached',
      `the registry holds ${MAX_COHORTS} ${what}, the most it may; ${fix}`,
    );
  }
}

function writeTarget(registry: Registry, cohort: string | undefined, target: TargetView): Registry {
  if (cohort === undefined) {
    const { previous: _p, rollout: _r, halted: _h, salt: _s, ...rest } = registry;
    return { ...rest, current: target.release, ...rulesOf(target) };
  }
  const cohorts = { ...registry.cohorts };
  const entry = cohortEntry(target);
  if (entry !== undefined && !Object.hasOwn(cohorts, cohort))
    roomFor(cohorts, 'cohorts', 'roll a cohort back to free one');
  if (entry === undefined) delete cohorts[cohort];
  else cohorts[cohort] = entry;
  return withCohorts(registry, cohorts);
}

/** How many cohorts a summary names before it says "and N more". */
const NAMED_IN_SUMMARY = 5;

/** `a, b, c`: the first {@link NAMED_IN_SUMMARY} of `items`, then `, and N more`. */
function listed(items: readonly string[]): string {
  const more = items.length > NAMED_IN_SUMMARY ? `, and ${items.length - NAMED_IN_SUMMARY} more` : '';
  return `${items.slice(0, NAMED_IN_SUMMARY).join(', ')}${more}`;
}

/**
 * For a promote of `version` to everyone: the cohorts with an older release of their own, which keep it (a
 * hotfix promoted to everyone does not reach them), as a clause of the summary; '' when there are none.
 */
function olderOwnReleases(registry: Registry, version: string): string {
  const older = Object.entries(registry.cohorts ?? {}).filter(
    ([, rules]) => rules.release !== null && compareVersions(rules.release, version) < 0,
  );
  if (older.length === 0) return '';
  const names = older.map(([name, rules]) => `${name} (${rules.release})`);
  return `; cohorts with an older release of their own keep it: ${listed(names)} (promote ${version} --cohort ${older[0]![0]} to move one)`;
}

/**
 * Ends the rollouts of `version` or older in the cohorts that follow everyone
 * (no release of their own), for a promote of `version` to everyone: such a
 * rollout is complete or superseded, and kept, widening it later would move
 * the cohort's clients back from everyone's release to an older one.
 */
function endFollowerRollouts(registry: Registry, version: string): { registry: Registry; summary: string } {
  let cohorts: Record<string, Cohort> | undefined;
  const ended: string[] = [];
  for (const [name, rules] of Object.entries(registry.cohorts ?? {})) {
    const { rollout, ...rest } = rules;
    if (rules.release !== null || rollout === undefined || compareVersions(rollout.release, version) > 0) continue;
    cohorts ??= { ...registry.cohorts };
    const entry = cohortEntry(rest);
    if (entry === undefined) delete cohorts[name];
    else cohorts[name] = entry;
    ended.push(`${name} (${rollout.release} at ${rollout.percent}%)`);
  }
  if (cohorts === undefined) return { registry, summary: '' };
  return {
    registry: withCohorts(registry, cohorts),
    summary: `; end the rollouts of cohorts that follow everyone: ${listed(ended)}`,
  };
}

function remember(previous: readonly string[] | undefined, release: string | null, next: string): string[] {
  const list = [...(previous ?? [])];
  if (release !== null && release !== next) list.push(release);
  return list.slice(-PREVIOUS_KEPT);
}

export interface PromoteChange {
  readonly version: string;
  /** @default everyone */
  readonly cohort?: string;
  /** A share from 0 to 100 (at most two decimals); 100 or absent assigns the release to the whole target. */
  readonly percent?: number;
  /** The key a rollout hashes. @default the running rollout's key, else `tenant` */
  readonly key?: string;
  readonly now: Date;
}

/**
 * Promotes a release to everyone or a cohort, fully or to a percentage.
 *
 * - Fully: the target's release becomes `version`; the one before is
 *   remembered for rollback. A rollout in progress of `version` or older ends
 *   (it is superseded); a rollout of a newer release keeps going, so a hotfix
 *   of the old line does not disturb it. A promote to everyone also ends the
 *   rollouts of `version` or older in the cohorts that follow everyone.
 * - To a percentage: the target's rollout becomes `version` at `percent`.
 *   The buckets come from the target's salt, not the release, so growing
 *   10 → 50 keeps everyone who was in, and a hotfix that replaces the
 *   rollout's release reaches the same clients. A cohort's rollout of a
 *   release older than the one the cohort runs (its own, or everyone's) is
 *   refused: it would move clients back.
 *   A rollout of the release the target already runs fully changes nothing.
 * - Promoting a halted release again lifts its halt.
 */
export function promoteChange(registry: Registry, change: PromoteChange): ChangeOutcome {
  const { version, cohort } = change;
  checkCohortName(cohort);
  published(registry, version, 'version');
  const percent = change.percent ?? 100;
  // The registry's own check, so whatever a promote accepts also validates when read back.
  if (!isPercent(percent)) {
    throw new RegistryChangeError(
      'invalid',
      `percentage ${String(change.percent)} is outside 0–100 (or has more than two decimals); use a value such as 10 or 12.5`,
    );
  }
  if (change.key !== undefined && !KEY_NAME.test(change.key)) {
    throw new RegistryChangeError(
      'invalid',
      `key ${JSON.stringify(change.key)} is not a key name such as tenant or user`,
    );
  }
  aboveFloor(registry, version, 'promoting it');
  const target = viewOf(registry, cohort);
  const where = targetName(cohort);
  const halted = target.halted?.release === version ? undefined : target.halted;

  if (percent === 100) {
    const rollout =
      target.rollout !== undefined && compareVersions(version, target.rollout.release) < 0 ? target.rollout : undefined;
    const followers = cohort === undefined ? endFollowerRollouts(registry, version) : { registry, summary: '' };
    if (
      target.release === version &&
      rollout === target.rollout &&
      halted === target.halted &&
      followers.registry === registry
    ) {
      return { registry, changed: false, summary: `${version} is already the release of ${where}` };
    }
    const next = writeTarget(followers.registry, cohort, {
      ...target,
      release: version,
      previous: remember(target.previous, target.release, version),
      rollout,
      halted,
    });
    // A halted rollout that is kept still sends nobody: say so, rather than that it goes on.
    // A rollout this promote ends (of this release or an older one) is said too: its percentage no longer applies.
    const ended = target.rollout;
    const kept =
      rollout === undefined
        ? ended === undefined
          ? ''
          : `; end the rollout of ${ended.release} at ${ended.percent}%`
        : ` (the rollout of ${rollout.release} at ${rollout.percent}% ${halted?.release === rollout.release ? 'stays halted' : 'goes on'})`;
    const own = cohort === undefined ? olderOwnReleases(registry, version) : '';
    return {
      registry: next,
      changed: true,
      summary: `promote ${version} to ${where}${kept}${followers.summary}${own}`,
    };
  }

  // A cohort that follows everyone runs everyone's release: a promote of it to everyone ends such a rollout too.
  const runs = target.release ?? (cohort === undefined ? null : registry.current);
  if (runs === version && halted === target.halted) {
    // Every client of the target already runs it: a rollout would move nobody now, and recorded it would
    // show in status and the audit log as if it were under way; in a cohort that follows everyone it would
    // also cut the cohort off everyone's rollouts (a cohort with a rollout of its own follows only that one).
    const other = target.rollout?.release === version ? undefined : target.rollout;
    const rollback = `daylight rollback${cohort === undefined ? '' : ` --cohort ${cohort}`}`;
    const goesOn =
      other === undefined
        ? ''
        : ` (the rollout of ${other.release} at ${other.percent}% goes on; "${rollback}" cancels it)`;
    const follows = target.release === null ? " (it follows everyone's)" : '';
    return { registry, changed: false, summary: `${version} is already the release of ${where}${follows}${goesOn}` };
  }

  if (cohort !== undefined) {
    if (runs !== null && compareVersions(version, runs) < 0) {
      // Widening such a rollout moved clients from everyone's newer release back to it (the buckets are the cohort's).
      throw new RegistryChangeError(
        'older-release',
        `version ${version} is older than ${runs}, the release ${where} runs${target.release === null ? " (everyone's)" : ''}: a rollout of it would move clients back. Roll out a newer release, or hold the whole cohort on ${version} with "daylight promote ${version} --cohort ${cohort}"`,
      );
    }
  }

  const same = target.rollout;
  if (change.key !== undefined && same?.release === version && same.key !== change.key) {
    // Another key puts other sessions in the rollout: some would go back, others forward (SCENARIOS #13).
    throw new RegistryChangeError(
      'rollout-key',
      `the rollout of ${version} in ${where} goes by ${same.key}; going by ${change.key} instead would move sessions back and forth. Leave --key out to keep ${same.key}, or roll back first (daylight rollback${cohort === undefined ? '' : ` --cohort ${cohort}`}) and start a new rollout`,
    );
  }
  const key = change.key ?? same?.key ?? DEFAULT_ROLLOUT_KEY;
  if (same?.release === version && same.percent === percent && same.key === key && halted === target.halted) {
    return { registry, changed: false, summary: `${version} is already rolled out to ${percent}% of ${where}` };
  }
  const rollout: Rollout = {
    release: version,
    percent,
    key,
    startedAt: same?.release === version ? same.startedAt : change.now.toISOString(),
  };
  const next = writeTarget(registry, cohort, { ...target, rollout, halted });
  const from =
    same === undefined
      ? ''
      : same.release === version
        ? ` (was ${same.percent}%)`
        : ` (supersedes ${same.release} at ${same.percent}%${supersedeNote(same, version, key)})`;
  return { registry: next, changed: true, summary: `roll out ${version} to ${percent}% of ${where} by ${key}${from}` };
}

/**
 * What a rollout that supersedes another does that its operator may not mean (allowed: a hotfix may have reasons):
 * another key reaches other sessions, so some of the old rollout's go back and others jump ahead; an older release
 * takes the old rollout's sessions back.
 */
function supersedeNote(same: Rollout, version: string, key: string): string {
  if (same.key !== key) {
    return ` by ${same.key}; going by ${key} reaches other sessions: some on ${same.release} go back, others come to ${version}; leave --key out to keep ${same.key}`;
  }
  return compareVersions(version, same.release) < 0 ? `; its sessions go back from ${same.release} to ${version}` : '';
}

export interface RollbackChange {
  readonly cohort?: string;
  readonly now: Date;
}

/**
 * Rolls a target back: a rollout in progress is cancelled (its clients return
 * to the target's release); otherwise the target returns to the release it
 * ran before (a cohort with no earlier release of its own follows everyone
 * again). Clients follow a rollback like any other change, once.
 */
export function rollbackChange(registry: Registry, change: RollbackChange): ChangeOutcome {
  const { cohort } = change;
  checkCohortName(cohort);
  if (cohort !== undefined) knownCohort(registry, cohort);
  const target = viewOf(registry, cohort);
  const where = targetName(cohort);
  if (target.rollout !== undefined) {
    const { rollout, ...rest } = target;
    return {
      registry: writeTarget(registry, cohort, rest),
      changed: true,
      summary: `roll back ${where}: cancel the rollout of ${rollout.release} at ${rollout.percent}% (back to ${target.release ?? "everyone's release"})`,
    };
  }
  const previous = [...(target.previous ?? [])];
  const back = previous.pop();
  if (back === undefined) {
    if (cohort !== undefined && target.release !== null) {
      return {
        registry: writeTarget(registry, cohort, { ...target, release: null, previous }),
        changed: true,
        summary: `roll back ${where} from ${target.release} to everyone's release (${registry.current ?? 'none'})`,
      };
    }
    throw new RegistryChangeError(
      'nothing-to-roll-back',
      `${where} has no earlier release to roll back to; promote the release you want instead`,
    );
  }
  published(registry, back, 'the previous release');
  aboveFloor(registry, back, 'rolling back to it');
  return {
    registry: writeTarget(registry, cohort, { ...target, release: back, previous }),
    changed: true,
    summary: `roll back ${where} from ${target.release ?? 'none'} to ${back}`,
  };
}

export interface HaltChange {
  /** The release to stop. */
  readonly release: string;
  /** @default everyone */
  readonly cohort?: string;
  readonly reason: string;
  readonly now: Date;
}

/**
 * Stops a release in a target. A rollout of it is halted (kept, but nobody is
 * sent to it until it is promoted again); a target that runs it fully rolls
 * back to its previous release and records the halt. A target that does not
 * run the release is left unchanged (`changed: false`), so calling it twice
 * is harmless.
 *
 * A target records one halt. When the halt this one replaces is the one that
 * stops the target's rollout (1.1.0 halted at 20 %, then a hotfix 1.0.1
 * promoted under it and halted too), that rollout ends with it: kept without
 * its halt, it would start sending clients to the halted release again.
 */
export function haltChange(registry: Registry, change: HaltChange): ChangeOutcome {
  const { cohort, release } = change;
  checkCohortName(cohort);
  published(registry, release, 'release');
  if (cohort !== undefined) knownCohort(registry, cohort);
  const target = viewOf(registry, cohort);
  const where = targetName(cohort);
  const reason = change.reason.trim() === '' ? 'halted' : change.reason.slice(0, 500);
  const halted: Halt = { release, at: change.now.toISOString(), reason };
  if (target.rollout?.release === release) {
    if (target.halted?.release === release) {
      return { registry, changed: false, summary: `the rollout of ${release} in ${where} is already halted` };
    }
    return {
      registry: writeTarget(registry, cohort, { ...target, halted }),
      changed: true,
      summary: `halt the rollout of ${release} at ${target.rollout.percent}% in ${where}: ${reason}`,
    };
  }
  if (target.release === release) {
    // Back from this release only: a rollout of another one in progress (a hotfix of the old line went
    // out under it) goes on, where a plain rollback would cancel it.
    const { rollout, ...settled } = target;
    const back = rollbackChange(writeTarget(registry, cohort, settled), {
      ...(cohort === undefined ? {} : { cohort }),
      now: change.now,
    });
    const after = viewOf(back.registry, cohort);
    const stillHalted = rollout !== undefined && target.halted?.release === rollout.release;
    const kept = stillHalted ? undefined : rollout;
    const ended = stillHalted ? `; end the halted rollout of ${rollout.release} at ${rollout.percent}%` : '';
    return {
      registry: writeTarget(back.registry, cohort, {
        ...after,
        ...(kept === undefined ? {} : { rollout: kept }),
        halted,
      }),
      changed: true,
      summary: `halt ${release} in ${where}: ${reason}; ${back.summary}${ended}`,
    };
  }
  return { registry, changed: false, summary: `${where} does not run ${release}; nothing to halt` };
}

export interface PinChange {
  /** The key name: `tenant`, `user`. */
  readonly key: string;
  readonly value: string;
  /** The release to hold it on; `null` removes the pin. */
  readonly release: string | null;
  readonly note?: string;
  readonly now: Date;
}

/** Holds one tenant or user on a release (or removes the hold). A pin wins over cohorts and rollouts, not over the floor. */
export function pinChange(registry: Registry, change: PinChange): ChangeOutcome {
  if (!KEY_NAME.test(change.key)) {
    throw new RegistryChangeError(
      'invalid',
      `key ${JSON.stringify(change.key)} is not a key name such as tenant or user`,
    );
  }
  if (change.value === '' || change.value.length > 200) {
    throw new RegistryChangeError('invalid', `the ${change.key} to pin must be 1 to 200 characters`);
  }
  const id = `${change.key}:${change.value}`;
  const pins: Record<string, Pin> = { ...registry.pins };
  const { pins: _p, ...rest } = registry;
  if (change.release === null) {
    if (pins[id] === undefined) return { registry, changed: false, summary: `${id} is not pinned` };
    const was = pins[id].release;
    delete pins[id];
    const next = Object.keys(pins).length === 0 ? rest : { ...rest, pins };
    return { registry: next, changed: true, summary: `unpin ${id} (was on ${was})` };
  }
  published(registry, change.release, 'release');
  aboveFloor(registry, change.release, 'pinning to it');
  if (pins[id]?.release === change.release) {
    return { registry, changed: false, summary: `${id} is already pinned to ${change.release}` };
  }
  if (!Object.hasOwn(pins, id)) roomFor(pins, 'pins', 'unpin one first');
  pins[id] = withDefined({ release: change.release, at: change.now.toISOString(), note: change.note }) as Pin;
  return { registry: { ...rest, pins }, changed: true, summary: `pin ${id} to ${change.release}` };
}

export interface FloorChange {
  /** The new floor, or `null` to remove it. */
  readonly min: string | null;
  /** Lowering the floor, or removing it, must be asked for. @default false */
  readonly lower?: boolean;
}

/**
 * Sets the floor `min`. Raising it, or setting the first one, needs nothing
 * more; lowering it (or removing it) must be explicit, so a later optional
 * release never undoes a required update by accident. A floor above
 * everyone's release is refused.
 */
export function floorChange(registry: Registry, change: FloorChange): ChangeOutcome {
  const { min } = change;
  const previous = registry.min;
  if (min !== null && !isVersion(min)) {
    throw new RegistryChangeError('invalid', `floor ${JSON.stringify(min)} is not a semver version such as 1.3.0`);
  }
  if ((previous ?? null) === min) {
    return { registry, changed: false, summary: min === null ? 'no floor is set' : `the floor is already ${min}` };
  }
  if (previous !== undefined && min === null && change.lower !== true) {
    // No floor is the lowest floor: clearing it undoes a required update just as lowering it does.
    throw new RegistryChangeError(
      'below-floor',
      `clearing the floor ${previous} lets every client the API stopped serving back in; pass --lower with --clear (lower: true) if that is what you want`,
    );
  }
  if (previous !== undefined && min !== null && compareVersions(min, previous) < 0 && change.lower !== true) {
    throw new RegistryChangeError(
      'below-floor',
      `floor ${min} is below the current floor ${previous}; lowering it lets clients the API stopped serving back in: pass --lower (lower: true) if that is what you want`,
    );
  }
  if (min !== null && registry.current !== null && compareVersions(registry.current, min) < 0) {
    throw new RegistryChangeError(
      'below-floor',
      `min ${min} is above the current release ${registry.current}: every client would be told to update to a release that does not exist yet; promote ${min} or later first`,
    );
  }
  const { min: _m, ...rest } = registry;
  const overridden = min === null ? [] : belowFloor(registry, min);
  const follow =
    overridden.length === 0
      ? ''
      : `; below it, the server skips ${listed(overridden)}: their clients follow the next rule (everyone's release is ${registry.current ?? 'none'})`;
  return {
    registry: min === null ? rest : { ...rest, min },
    changed: true,
    summary:
      min === null
        ? `clear the floor (was ${previous})`
        : `set the floor to ${min} (was ${previous ?? 'none'})${follow}`,
  };
}

/**
 * What a floor of `min` overrides: the releases, rollouts and pins below it, which the server drops (their clients
 * follow the next rule, in the end everyone's release), though the registry still lists them.
 */
function belowFloor(registry: Registry, min: string): string[] {
  const below = (version: string | null | undefined): version is string => isBelowFloor(version, min);
  const found: string[] = [];
  if (below(registry.rollout?.release)) found.push(`everyone's rollout of ${registry.rollout.release}`);
  for (const [name, cohort] of Object.entries(registry.cohorts ?? {})) {
    if (below(cohort.release)) found.push(`cohort ${name}'s release ${cohort.release}`);
    if (below(cohort.rollout?.release)) found.push(`cohort ${name}'s rollout of ${cohort.rollout.release}`);
  }
  for (const [key, pin] of Object.entries(registry.pins ?? {})) {
    if (below(pin.release)) found.push(`the pin of ${key} (${pin.release})`);
  }
  return found;
}
