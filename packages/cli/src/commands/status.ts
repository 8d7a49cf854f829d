import type { Urgency } from '@daylight/protocol';
import { belowFloorNote, type TargetRules } from '@daylight/server-middleware';
import { formatBytes, formatTimestamp, table } from '../format.js';
import { readExisting, resolveStore, type ReleaseStore } from '../store.js';
import { checkRelease, repairHint } from '../verify.js';
import { newestFirst } from '../versions.js';
import { commandPrefix, optional, type CommandSpec } from './command.js';

export interface StatusOptions {
  /** The registry file (resolved against `cwd`), or an opened store. */
  readonly store: string | ReleaseStore;
  /** @default process.cwd() */
  readonly cwd?: string;
  readonly signal?: AbortSignal;
}

export interface ReleaseStatus {
  readonly version: string;
  readonly publishedAt: string;
  readonly urgency: Urgency;
  readonly digest: string;
  /** Build-relative path of the HTML shell. */
  readonly shell: string;
  /** True for the registry's current release. */
  readonly current: boolean;
  /** Files of the release, the shell included; `null` when its folder is missing or damaged. */
  readonly files: number | null;
  /** Their total size; `null` when the folder is missing or damaged. */
  readonly bytes: number | null;
  /**
   * Why `files` and `bytes` are unknown: the folder cannot be served (its manifest, or a file missing or of
   * another size than the manifest says). Contents are not read here: promote and publish check them.
   */
  readonly problem: string | null;
}

/** One row of the targets table: everyone, or a cohort. */
export interface TargetStatus {
  /** `null` for everyone. */
  readonly cohort: string | null;
  /** The target's release; for a cohort `null` means it follows everyone. */
  readonly release: string | null;
  readonly rollout: { readonly release: string; readonly percent: number; readonly key: string } | null;
  readonly halted: { readonly release: string; readonly at: string; readonly reason: string } | null;
  /** What `rollback` would return to. */
  readonly previous: string | null;
}

export interface StatusReport {
  /** The store's location. */
  readonly store: string;
  /** Grows with every change. */
  readonly revision: number | null;
  readonly current: string | null;
  readonly min: string | null;
  /** Everyone first, then every cohort by name. */
  readonly targets: readonly TargetStatus[];
  /** Pins by `<key>:<value>`. */
  readonly pins: Readonly<Record<string, string>>;
  /** Every published release, newest version first. */
  readonly releases: readonly ReleaseStatus[];
}

/**
 * Reads the registry and every release's manifest, and checks that every file of each release is there with
 * the size its manifest gives (a `stat` per file; contents are checked by promote and publish).
 * @throws {DaylightCliError} `registry` when there is no registry, or it is unreadable or invalid.
 */
export async function status(options: StatusOptions): Promise<StatusReport> {
  const store = resolveStore(options.store, options.cwd);
  const { registry } = await readExisting(store);
  const releases: ReleaseStatus[] = [];
  for (const version of newestFirst(Object.keys(registry.releases))) {
    options.signal?.throwIfAborted();
    const entry = registry.releases[version]!;
    // Sizes only (one stat per file): status lists every release and stays fast; promote and publish read contents.
    const check = await checkRelease(store, version, entry, { depth: 'sizes', ...optional('signal', options.signal) });
    releases.push({
      version,
      publishedAt: entry.publishedAt,
      urgency: entry.urgency,
      digest: entry.digest,
      shell: entry.shell,
      current: registry.current === version,
      files: check.ok ? check.files : null,
      bytes: check.ok ? check.bytes : null,
      problem: check.ok ? null : check.problem,
    });
  }
  const target = (cohort: string | null, rules: TargetRules, release: string | null): TargetStatus => ({
    cohort,
    release,
    rollout:
      rules.rollout === undefined
        ? null
        : { release: rules.rollout.release, percent: rules.rollout.percent, key: rules.rollout.key },
    halted: rules.halted ?? null,
    previous: rules.previous?.at(-1) ?? null,
  });
  const targets = [
    target(null, registry, registry.current),
    ...Object.entries(registry.cohorts ?? {})
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, cohort]) => target(name, cohort, cohort.release)),
  ];
  const pins = Object.fromEntries(Object.entries(registry.pins ?? {}).map(([key, pin]) => [key, pin.release]));
  return {
    store: store.location,
    revision: registry.revision ?? null,
    current: registry.current,
    min: registry.min ?? null,
    targets,
    pins,
    releases,
  };
}

/** ` (below the floor: skipped)` for a release the server skips under floor `min`, in the status page's words. */
function skipped(version: string, min: string | null): string {
  const note = belowFloorNote(version, min);
  return note === undefined ? '' : ` ${note}`;
}

function describeTarget(row: TargetStatus, min: string | null): string[] {
  const halted = row.halted === null ? '' : `halted ${row.halted.release}: ${row.halted.reason}`;
  return [
    row.cohort ?? '(everyone)',
    row.release === null ? (row.cohort === null ? 'none' : "everyone's") : `${row.release}${skipped(row.release, min)}`,
    row.rollout === null
      ? '-'
      : `${row.rollout.release} to ${row.rollout.percent}% by ${row.rollout.key}${skipped(row.rollout.release, min)}`,
    row.previous ?? '-',
    halted,
  ];
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'show releases, cohorts, rollouts, halts, pins and the floor',
  usage: 'daylight status',
  description: 'Newest version first; * marks the current release.',
  flags: {},
  positionals: [],
  requiredPositionals: 0,
  async run(_args, context) {
    const report = await status({ store: context.store, cwd: context.cwd, ...optional('signal', context.signal) });
    const head = table([
      ['store', report.store],
      ['current', report.current ?? `none (run "${commandPrefix(context)} promote <version>")`],
      ['min', report.min ?? 'none'],
      ['rev', report.revision === null ? '-' : String(report.revision)],
    ]);
    if (report.releases.length === 0) {
      return {
        text: `${head}\n\nno releases yet; run "${commandPrefix(context)} publish <build-dir> --version <version>"`,
        json: report,
      };
    }
    const rows = report.releases.map((release) => [
      release.current ? '*' : '',
      release.version,
      formatTimestamp(release.publishedAt),
      release.urgency,
      release.files === null ? '-' : String(release.files),
      release.bytes === null ? '-' : formatBytes(release.bytes),
      release.problem === null ? '' : `damaged: ${release.problem}`,
    ]);
    const body = table([['', 'VERSION', 'PUBLISHED', 'URGENCY', 'FILES', 'SIZE', ''], ...rows], new Set([4, 5]));
    const targets = table([
      ['COHORT', 'RELEASE', 'ROLLOUT', 'PREVIOUS', 'HALTED'],
      ...report.targets.map((row) => describeTarget(row, report.min)),
    ]);
    const pins = Object.entries(report.pins).map(
      ([key, release]) => `pinned  ${key} → ${release}${skipped(release, report.min)}`,
    );
    const extra = `\n\n${targets}${pins.length > 0 ? `\n\n${pins.join('\n')}` : ''}`;
    const damaged = report.releases.filter((release) => release.problem !== null).map((release) => release.version);
    const warnings = damaged.map((version) => `release ${version} cannot be served; ${repairHint(version)}`);
    return { text: `${head}\n\n${body}\n\n* current${extra}`, json: report, warnings };
  },
};
