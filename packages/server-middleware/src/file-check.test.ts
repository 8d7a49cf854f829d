import { createHash } from 'node:crypto';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { matchesManifest } from './file-check.js';
import { sri } from './test-support.js';

const dir = await mkdtemp(path.join(tmpdir(), 'daylight-file-check-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function opened(name: string, content: string) {
  const file = path.join(dir, name);
  await writeFile(file, content);
  const handle = await open(file, 'r');
  return { handle, info: await handle.stat() };
}

describe('matchesManifest', () => {
  it('reads a file once however many requests ask, and again once it changed on disk', async () => {
    const entry = { url: 'a.js', integrity: sri('one'), bytes: 3 };
    const first = await opened('a.js', 'one');
    const asked = [1, 2, 3].map(() => matchesManifest(entry, first.handle, first.info));
    expect(new Set(asked).size).toBe(1);
    expect(await asked[0]).toBe(true);
    // The handle is read from its start each time and left open: the body is streamed from it next.
    expect((await first.handle.readFile()).toString()).toBe('one');
    await first.handle.close();

    const changed = await opened('a.js', 'two');
    expect(changed.info.size).toBe(first.info.size);
    expect(matchesManifest(entry, changed.handle, changed.info)).not.toBe(asked[0]);
    expect(await matchesManifest(entry, changed.handle, changed.info)).toBe(false);
    await changed.handle.close();
  });

  it('refuses another size without reading, checks sha256 and sha512 too, and keeps no failed read', async () => {
    const short = await opened('b.js', 'on');
    expect(await matchesManifest({ url: 'b.js', integrity: sri('one'), bytes: 3 }, short.handle, short.info)).toBe(
      false,
    );
    await short.handle.close();

    for (const algorithm of ['sha256', 'sha512'] as const) {
      const integrity = `${algorithm}-${createHash(algorithm).update('three').digest('base64')}`;
      const file = await opened(`${algorithm}.js`, 'three');
      expect(await matchesManifest({ url: 'x.js', integrity, bytes: 5 }, file.handle, file.info)).toBe(true);
      await file.handle.close();
    }

    const entry = { url: 'c.js', integrity: sri('four'), bytes: 4 };
    const closed = await opened('c.js', 'four');
    await closed.handle.close();
    await expect(matchesManifest(entry, closed.handle, closed.info)).rejects.toThrow();
    const again = await open(path.join(dir, 'c.js'), 'r');
    expect(await matchesManifest(entry, again, closed.info)).toBe(true);
    await again.close();
  });
});
