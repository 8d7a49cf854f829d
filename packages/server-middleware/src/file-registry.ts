/**
 * Changing the registry file safely from several processes: the `daylight`
 * CLI and, for a halt, the server itself. A writer takes `<registry>.lock`
 * (created exclusively), re-reads and validates the file, applies the
 * change, bumps `revision`, opens the audit log `<name>.audit.jsonl` beside
 * it for appending (a log it cannot write refuses the change before anything
 * is written), writes a temporary file and renames it over the registry,
 * appends one line to the audit log, and drops the lock. An append that fails
 * after the rename (a full disk) does not undo the change: it is reported as
 * a warning on a change that stands. The CLI's FileStore does the same.
 */
import { appendFile, link, open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { AuditEntry, ChangeOutcome } from './registry-changes.js';
import { readRegistryFile, writeRegistryFile, type Registry } from './registry.js';

/** The audit log of a registry file: `releases.json` → `releases.audit.jsonl`. */
export function auditFileOf(registryFile: string): string {
  const base = path.basename(registryFile).replace(/\.json$/i, '');
  return path.join(path.dirname(path.resolve(registryFile)), `${base}.audit.jsonl`);
}

/** Appends one entry to the audit log. */
export async function appendAuditFile(registryFile: string, entry: AuditEntry): Promise<void> {
  await appendFile(auditFileOf(registryFile), `${JSON.stringify(entry)}\n`, { mode: 0o644 });
}

/**
 * Opens the audit log of a registry file for appending (creating it), so a
 * writer learns that it cannot record a change before it makes the change.
 * @throws the file system's error: `EACCES` for a log that belongs to another user, `EISDIR`…
 */
export function openAuditFile(registryFile: string): Promise<FileHandle> {
  return open(auditFileOf(registryFile), 'a', 0o644);
}

/** The warning for a change that was written but whose audit entry was not. */
export function auditWarning(registryFile: string, revision: number, summary: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? String(error);
  const file = auditFileOf(registryFile);
  return `changed (revision ${revision}); the audit entry could not be written: appending to ${file} failed (${code}), so the audit log will not list "${summary}"; free disk space or fix that file so later changes are recorded`;
}

/** The last `limit` entries of the audit log, oldest first; lines that do not parse are skipped. */
export async function readAuditFile(registryFile: string, limit = 50): Promise<AuditEntry[]> {
  let text: string;
  try {
    text = await readFile(auditFileOf(registryFile), 'utf8');
  } catch {
    return [];
  }
  const entries: AuditEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const entry = JSON.parse(line) as AuditEntry;
      if (typeof entry.summary === 'string' && typeof entry.at === 'string') entries.push(entry);
    } catch {
      // a torn line from a crash: skip it
    }
  }
  return entries.slice(-limit);
}

/** Thrown when another writer holds the lock. */
export class RegistryLockedError extends Error {
  override readonly name = 'RegistryLockedError';
  constructor(
    /** The lock file. */
    readonly lockFile: string,
    /** Who holds it, when its file says so. */
    readonly holder: LockOwner | undefined,
  ) {
    const who = holder === undefined ? '' : ` (process ${holder.pid} on ${holder.host}, since ${holder.since})`;
    super(`another writer holds ${lockFile}${who}`);
  }
}

/** Who holds a registry lock, as written in the lock file. */
export interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly since: string;
}

/** The owner written in a lock file; `undefined` when it is gone or unreadable. */
export async function readLockOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const value = JSON.parse(await readFile(file, 'utf8')) as Partial<LockOwner>;
    return typeof value.pid === 'number' && typeof value.host === 'string' && typeof value.since === 'string'
      ? { pid: value.pid, host: value.host, since: value.since }
      : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a process of this host runs (EPERM: it does, under another user). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes a lock left by `stale`, a process of this host that no longer runs.
 * It is moved aside first and checked: if another writer took it over in
 * between and this moved that writer's fresh lock, it is put back.
 */
export async function takeOverStaleLock(lockFile: string, stale: LockOwner): Promise<void> {
  const aside = `${lockFile}.${process.pid}.stale`;
  try {
    await rename(lockFile, aside);
  } catch {
    return; // someone else moved it first
  }
  const moved = await readLockOwner(aside);
  if (moved?.pid !== stale.pid || moved.since !== stale.since) await link(aside, lockFile).catch(() => undefined);
  await unlink(aside).catch(() => undefined);
}

/**
 * Takes `<file>.lock`, created exclusively; resolves to its release (which
 * removes it only while it is still this process's). A lock left by a process
 * of this host that no longer runs (a server or command killed mid-change) is
 * taken over; any other means another writer.
 * @throws {RegistryLockedError}
 */
export async function lockRegistryFile(file: string): Promise<() => Promise<void>> {
  const lockFile = `${file}.lock`;
  const owner: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockFile, 'wx');
      try {
        await handle.writeFile(`${JSON.stringify(owner)}\n`);
      } finally {
        await handle.close();
      }
      return async () => {
        const now = await readLockOwner(lockFile);
        if (now?.pid === owner.pid && now.since === owner.since) await unlink(lockFile).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readLockOwner(lockFile);
    if (attempt === 0 && holder !== undefined && holder.host === owner.host && !isRunning(holder.pid)) {
      await takeOverStaleLock(lockFile, holder);
      continue;
    }
    throw new RegistryLockedError(lockFile, holder);
  }
  throw new RegistryLockedError(lockFile, await readLockOwner(lockFile));
}

export interface FileUpdateResult {
  /**
   * The change as applied. When `warning` is set, its `summary` ends with the
   * warning too, for callers that pass only the summary on (the server's
   * `halt()` and status-page actions).
   */
  readonly outcome: ChangeOutcome;
  /** The registry's revision after the change (unchanged when nothing changed). */
  readonly revision: number;
  /**
   * Set when the registry was written but its audit entry could not be
   * appended (a full disk): the change stands, and this says what is missing:
   * `changed (revision 5); the audit entry could not be written: …`.
   */
  readonly warning?: string;
}

/**
 * Applies a change to the registry file under its lock, retrying for up to
 * `waitMs` while another writer holds it.
 * @throws the change's own error; `RegistryLockedError` after `waitMs`; an I/O error, the registry unchanged
 *   (an audit log that cannot be opened for appending refuses the change before it is written).
 */
export async function updateRegistryFile(
  file: string,
  apply: (registry: Registry) => ChangeOutcome,
  audit: { readonly actor: string; readonly action: string },
  waitMs = 2000,
): Promise<FileUpdateResult> {
  const deadline = Date.now() + waitMs;
  let release: (() => Promise<void>) | undefined;
  while (release === undefined) {
    try {
      release = await lockRegistryFile(file);
    } catch (error) {
      if (!(error instanceof RegistryLockedError) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  try {
    const read = await readRegistryFile(file);
    if (!read.ok) throw new Error(`${file}: ${read.error}`);
    const outcome = apply(read.registry);
    const before = read.registry.revision ?? 0;
    if (!outcome.changed) return { outcome, revision: before };
    const revision = before + 1;
    const next: Registry = { ...outcome.registry, revision };
    let log: FileHandle;
    try {
      log = await openAuditFile(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw new Error(
        `the audit log ${auditFileOf(file)} cannot be written (${code}), so the change could not be recorded; nothing was changed. Make it writable by the user this process runs as (after a run with sudo it may belong to root), then try again`,
        { cause: error },
      );
    }
    try {
      await writeRegistryFile(file, next);
      const entry: AuditEntry = {
        revision,
        at: new Date().toISOString(),
        actor: audit.actor,
        action: audit.action,
        summary: outcome.summary,
      };
      try {
        await log.appendFile(`${JSON.stringify(entry)}\n`);
      } catch (error) {
        const warning = auditWarning(file, revision, outcome.summary, error);
        return {
          outcome: { ...outcome, registry: next, summary: `${outcome.summary} (warning: ${warning})` },
          revision,
          warning,
        };
      }
      return { outcome: { ...outcome, registry: next }, revision };
    } finally {
      await log.close().catch(() => undefined);
    }
  } finally {
    await release();
  }
}
