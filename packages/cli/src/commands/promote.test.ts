import { spawnSync } from 'node:child_process';
import { access, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { rejection, removeTempDirs, sampleProject, snapshotTree } from '../test-support.js';
import { setMin } from './min.js';
import { parsePercent, promote } from './promote.js';
import { publish } from './publish.js';

afterEach(removeTempDirs);

async function twoReleases() {
  const project = await sampleProject();
  await publish({ store: project.store, buildDir: project.build, version: '1.0.0' });
  await writeFile(path.join(project.build, 'assets/app-3f2a.js'), 'console.log("app 2");\n');
  await publish({ store: project.store, buildDir: project.build, version: '1.1.0' });
  return project;
}

async function current(store: string): Promise<unknown> {
  return (JSON.parse(await readFile(store, 'utf8')) as { current: unknown }).current;
}

describe('promote', () => {
  it('makes a published version current and reports the previous one', async () => {
    const { store } = await twoReleases();
    expect(await promote({ store, version: '1.0.0' })).toMatchObject({ status: 'promoted', previous: null });
    expect(await promote({ store, version: '1.1.0' })).toMatchObject({ status: 'promoted', previous: '1.0.0' });
    expect(await current(store)).toBe('1.1.0');
  });

  it('says so and writes nothing when the version is already current', async () => {
    const { root, store } = await twoReleases();
    await promote({ store, version: '1.1.0' });
    const before = await snapshotTree(root);
    expect(await promote({ store, version: '1.1.0' })).toMatchObject({ status: 'unchanged', previous: '1.1.0' });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a version that is not published, lists the published ones, and changes nothing', async () => {
    const { root, store } = await twoReleases();
    const before = await snapshotTree(root);
    const error = await rejection(promote({ store, version: '9.9.9' }));
    expect(error).toEqual({
      code: 'not-published',
      message: 'version 9.9.9 is not published; published: 1.0.0, 1.1.0',
    });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a version below the floor', async () => {
    const { store } = await twoReleases();
    await promote({ store, version: '1.1.0' });
    await setMin({ store, min: '1.1.0' });
    const error = await rejection(promote({ store, version: '1.0.0' }));
    expect(error.code).toBe('conflict');
    expect(error.message).toMatch(/^version 1\.0\.0 is below the floor min 1\.1\.0/);
    expect(await current(store)).toBe('1.1.0');
  });

  it('refuses a release whose folder is gone, because the server could not serve it', async () => {
    const { store } = await twoReleases();
    await rm(path.join(path.dirname(store), 'releases/1.1.0'), { recursive: true });
    const error = await rejection(promote({ store, version: '1.1.0' }));
    expect(error.code).toBe('release');
    expect(error.message).toMatch(
      /manifest\.json is missing or not JSON; publish the same build again to repair it \("daylight publish <build-dir> --version 1\.1\.0"\)$/,
    );
    expect(await current(store)).toBeNull();
  });

  it('refuses when there is no registry, without creating one', async () => {
    const { root, store } = await sampleProject();
    const before = await snapshotTree(root);
    const error = await rejection(promote({ store, version: '1.0.0' }));
    expect(error.code).toBe('registry');
    expect(error.message).toMatch(/^no registry at .*releases\.json; publish a release first/);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses to write while another command holds the lock', async () => {
    const { store } = await twoReleases();
    await writeFile(`${store}.lock`, JSON.stringify({ pid: process.pid, host: 'elsewhere', since: 'now' }));
    const error = await rejection(promote({ store, version: '1.0.0' }));
    expect(error.code).toBe('conflict');
    expect(error.message).toContain('another daylight command is changing the store (process');
    expect(await current(store)).toBeNull();
  });

  it('takes over a lock left by a process of this host that no longer runs', async () => {
    const { store } = await twoReleases();
    const gone = spawnSync(process.execPath, ['-e', '']).pid;
    await writeFile(`${store}.lock`, JSON.stringify({ pid: gone, host: hostname(), since: 'yesterday' }));
    expect(await promote({ store, version: '1.0.0' })).toMatchObject({ status: 'promoted' });
    await expect(access(`${store}.lock`)).rejects.toThrow(/ENOENT/);
  });
});

describe('parsePercent', () => {
  it('takes every percentage with at most two decimals, 33.3 and 66.6 included', () => {
    const refused: string[] = [];
    for (let hundredths = 0; hundredths <= 10_000; hundredths++) {
      const text = String(hundredths / 100);
      if (parsePercent(text) !== hundredths / 100) refused.push(text);
    }
    expect(refused).toEqual([]);
    expect([parsePercent('33.3'), parsePercent('1.1'), parsePercent('66.6%'), parsePercent(' 12.50 ')]).toEqual([
      33.3, 1.1, 66.6, 12.5,
    ]);
  });

  it.each(['33.333', '100.01', '150', '-5', '1e1', '0x10', '', '%', '.5', '10.', 'ten', 'Infinity'])(
    'refuses --percent %j with a message that shows the form',
    (text) => {
      expect(() => parsePercent(text)).toThrow(
        expect.objectContaining({
          code: 'invalid-option',
          message: `--percent ${JSON.stringify(text)} is not a percentage from 0 to 100 (at most two decimals), such as --percent 10`,
        }),
      );
    },
  );
});

describe('setMin', () => {
  it('sets and clears the floor without leaving an empty member', async () => {
    const { store } = await twoReleases();
    await promote({ store, version: '1.1.0' });
    expect(await setMin({ store, min: '1.0.0' })).toMatchObject({ status: 'set', previous: null, min: '1.0.0' });
    expect(JSON.parse(await readFile(store, 'utf8'))).toMatchObject({ min: '1.0.0' });
    expect(await setMin({ store, min: null, lower: true })).toMatchObject({ status: 'cleared', previous: '1.0.0' });
    expect(JSON.parse(await readFile(store, 'utf8'))).not.toHaveProperty('min');
  });

  it('refuses a floor above the current release, and a floor that is not semver', async () => {
    const { root, store } = await twoReleases();
    await promote({ store, version: '1.0.0' });
    const before = await snapshotTree(root);
    expect((await rejection(setMin({ store, min: '1.1.0' }))).code).toBe('conflict');
    expect(await rejection(setMin({ store, min: 'v1.0' }))).toMatchObject({
      code: 'invalid-option',
      message: expect.stringContaining('did you mean 1.0.0?') as unknown,
    });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('never lowers the floor unless told to, and changes nothing when it refuses', async () => {
    const { root, store } = await twoReleases();
    await promote({ store, version: '1.1.0' });
    await setMin({ store, min: '1.1.0' });
    const before = await snapshotTree(root);
    expect(await rejection(setMin({ store, min: '1.0.0' }))).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(/below the current floor 1\.1\.0.*--lower/) as unknown,
    });
    // Clearing it lowers it as far as it goes.
    expect(await rejection(setMin({ store, min: null }))).toMatchObject({
      code: 'conflict',
      message: expect.stringMatching(
        /^clearing the floor 1\.1\.0 lets .*; pass --lower with --clear \(lower: true\)/,
      ) as unknown,
    });
    expect(await snapshotTree(root)).toEqual(before);
    expect(await setMin({ store, min: '1.0.0', lower: true })).toMatchObject({ status: 'set', previous: '1.1.0' });
  });
});
