/**
 * Changing the registry file safely from several processes: the `daylight`
 * CLI and, for a halt, the server itself. A writer takes `<registry>.lock`
 * (created exclusively), re-reads and validates the file, applies the
 * change, bumps `revision`, writes a temporary file and renames it over the
 * registry, appends one line to the audit log `<name>.audit.jsonl` beside
 * it, and drops the lock. The CLI's FileStore takes the same lock.
 */
import { appendFile, open, readFile, unlink } from 'node:fs/promises';
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
}

/** Takes `<file>.lock` once; resolves to its release, or throws {@link RegistryLockedError}. */
export async function lockRegistryFile(file: string): Promise<() => Promise<void>> {
  const lockFile = `${file}.lock`;
  try {
    const handle = await open(lockFile, 'wx');
    try {
      await handle.writeFile(
        `${JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() })}\n`,
      );
    } finally {
      await handle.close();
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RegistryLockedError(`another writer holds ${lockFile}`);
    }
    throw error;
  }
  return () => unlink(lockFile).catch(() => undefined);
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
