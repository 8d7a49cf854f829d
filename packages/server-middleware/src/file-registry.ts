/**
 * Changing the registry file safely from several processes: the `daylight`
 * CLI and, for a halt, the server itself. A writer takes `<registry>.lock`
 * (created exclusively), re-reads and validates the file, applies the
 * change, bumps `revision`, writes a temporary file and renames it over the
 * registry, appends one line to the audit log `<name>.audit.jsonl` beside
 * it, and drops the lock. The CLI's FileStore takes the same lock.
 */
import { appendFile, link, open, readFile, rename, unlink } from 'node:fs/promises';
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
  readonly outcome: ChangeOutcome;
  /** The registry's revision after the change (unchanged when nothing changed). */
  readonly revision: number;
}

/**
 * Applies a change to the registry file under its lock, retrying for up to
 * `waitMs` while another writer holds it.
 * @throws the change's own error; `RegistryLockedError` after `waitMs`; an I/O error.
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
    await writeRegistryFile(file, next);
    await appendAuditFile(file, {
      revision,
      at: new Date().toISOString(),
      actor: audit.actor,
      action: audit.action,
      summary: outcome.summary,
    });
    return { outcome: { ...outcome, registry: next }, revision };
  } finally {
    await release();
  }
}
