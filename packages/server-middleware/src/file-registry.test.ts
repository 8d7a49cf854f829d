import { existsSync } from 'node:fs';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { auditFileOf, readAuditFile, updateRegistryFile } from './file-registry.js';
import type { Registry } from './registry.js';
import { createReleaseStore } from './test-support.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const promote = (registry: Registry) => ({
  registry: { ...registry, current: '1.1.0' },
  changed: true,
  summary: 'promote 1.1.0 to everyone',
});
const audit = { actor: 'test', action: 'promote' };

async function store() {
  const created = await createReleaseStore();
  cleanups.push(() => created.cleanup());
  return created;
}

describe('a change to the registry file', () => {
  it('is recorded in the audit log with its revision', async () => {
    const { registryFile } = await store();
    const result = await updateRegistryFile(registryFile, promote, audit);
    expect(result).toMatchObject({ revision: 1, outcome: { changed: true, summary: 'promote 1.1.0 to everyone' } });
    expect(result.warning).toBeUndefined();
    expect(await readAuditFile(registryFile)).toMatchObject([{ revision: 1, actor: 'test', action: 'promote' }]);
  });

  it('is refused before the registry is written when the audit log cannot be opened, and says so', async () => {
    const { registryFile } = await store();
    // Root ignores file modes; a folder in the log's place cannot be appended to by anyone.
    await mkdir(auditFileOf(registryFile));
    const before = await readFile(registryFile, 'utf8');
    await expect(updateRegistryFile(registryFile, promote, audit)).rejects.toThrow(
      /^the audit log .*releases\.audit\.jsonl cannot be written \(EISDIR\), so the change could not be recorded; nothing was changed\. Make it writable/,
    );
    expect(await readFile(registryFile, 'utf8')).toBe(before);
  });

  it.skipIf(!existsSync('/dev/full'))(
    'stands when the audit append fails after the rename, with a warning instead of an error',
    async () => {
      const { registryFile } = await store();
      // /dev/full opens for appending and fails every write with ENOSPC: a disk that filled up meanwhile.
      await symlink('/dev/full', auditFileOf(registryFile));
      const result = await updateRegistryFile(registryFile, promote, audit);
      expect(result.revision).toBe(1);
      expect(result.warning).toMatch(
        /^changed \(revision 1\); the audit entry could not be written: appending to .*releases\.audit\.jsonl failed \(ENOSPC\), so the audit log will not list "promote 1\.1\.0 to everyone"/,
      );
      // The server's halt() and status-page actions pass on only the summary: it carries the warning.
      expect(result.outcome.summary).toBe(`promote 1.1.0 to everyone (warning: ${result.warning!})`);
      expect(JSON.parse(await readFile(registryFile, 'utf8'))).toMatchObject({ current: '1.1.0', revision: 1 });
    },
  );
});
