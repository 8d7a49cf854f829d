/**
 * A release folder damaged after it was published (a file deleted, bytes
 * appended, bytes changed in place): the commands that make a release served
 * check every file against the manifest and refuse, `status` shows it, and
 * publishing the same build again repairs it.
 */
import { appendFile, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIO, rejection, removeTempDirs, sampleProject, snapshotTree } from '../test-support.js';
import { promote } from './promote.js';
import { publish } from './publish.js';
import { status } from './status.js';

afterEach(removeTempDirs);

async function run(cwd: string, ...argv: string[]) {
  const io = captureIO(cwd, { DAYLIGHT_ACTOR: 'ci' });
  const code = await runCli(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** `build` published as 1.0.0, then with another app.js as 1.1.0, 1.0.0 promoted; the store is ./releases.json. */
async function project() {
  const { root, build } = await sampleProject();
  await run(root, 'publish', 'build', '--version', '1.0.0');
  await writeFile(path.join(build, 'assets/app-3f2a.js'), 'console.log("app 2");\n');
  expect(await run(root, 'publish', 'build', '--version', '1.1.0')).toMatchObject({ code: 0 });
  expect(await run(root, 'promote', '1.0.0')).toMatchObject({ code: 0 });
  const file = (version: string, name: string) => path.join(root, 'releases', version, 'files', ...name.split('/'));
  return { root, store: path.join(root, 'releases.json'), file };
}

const FIX = 'publish the same build again to repair it ("npx daylight publish <build-dir> --version 1.1.0")';

/** The three ways a file goes bad, and what the refusal says about each. */
const DAMAGES = [
  {
    name: 'a deleted file',
    damage: (file: string) => rm(file),
    says: (file: string) => `${file} is missing`,
  },
  {
    name: 'bytes appended to a file',
    damage: (file: string) => appendFile(file, '/* tampered */'),
    says: (file: string) => `${file} is 36 bytes; its manifest says 22`,
  },
  {
    name: 'other bytes of the same size',
    damage: (file: string) => writeFile(file, 'console.log("app X");\n'),
    says: (file: string) => `${file} does not match its SHA-384 in the manifest`,
  },
];

describe('promote of a damaged release', () => {
  it.each(DAMAGES)('is refused for $name (exit 1), naming the file and the fix, and changes nothing', async (c) => {
    const { root, file } = await project();
    const app = file('1.1.0', 'assets/app-3f2a.js');
    await c.damage(app);
    const before = await snapshotTree(root);

    expect(await run(root, 'promote', '1.1.0')).toEqual({
      code: 1,
      stdout: '',
      stderr: `daylight: release 1.1.0 cannot be served: ${c.says(app)}; ${FIX}\n`,
    });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('is refused when the shell changed, which only the registry digest covers', async () => {
    const { store, file } = await project();
    const shell = file('1.1.0', 'index.html');
    await writeFile(shell, (await readFile(shell, 'utf8')).replace('id="app"', 'id="APP"'));
    const error = await rejection(promote({ store, version: '1.1.0' }));
    expect(error.code).toBe('release');
    expect(error.message).toContain(`its shell ${shell} or its manifest was changed after it was published`);
  });

  it('is refused for a rollout at a percentage and for a cohort', async () => {
    const { root, file } = await project();
    await rm(file('1.1.0', 'vendor/legacy.js'));
    for (const argv of [
      ['promote', '1.1.0', '--percent', '10'],
      ['promote', '1.1.0', '--cohort', 'pilot'],
      ['promote', '1.1.0', '--cohort', 'pilot', '--percent', '50'],
    ]) {
      expect(await run(root, ...argv)).toMatchObject({
        code: 1,
        stderr: expect.stringContaining(`${file('1.1.0', 'vendor/legacy.js')} is missing`) as unknown,
      });
    }
  });
});

describe('other commands that make a damaged release served', () => {
  it('rollback to a damaged release is refused (exit 1), and changes nothing', async () => {
    const { root, file } = await project();
    expect(await run(root, 'promote', '1.1.0')).toMatchObject({ code: 0 });
    const app = file('1.0.0', 'assets/app-3f2a.js');
    await appendFile(app, '!');
    const before = await snapshotTree(root);
    expect(await run(root, 'rollback')).toEqual({
      code: 1,
      stdout: '',
      stderr: `daylight: release 1.0.0 cannot be served: ${app} is 23 bytes; its manifest says 22; ${FIX.replace('1.1.0', '1.0.0')}\n`,
    });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('a halt that would roll back to a damaged release, and a pin on one, are refused', async () => {
    const { root, file } = await project();
    expect(await run(root, 'promote', '1.1.0')).toMatchObject({ code: 0 });
    await rm(file('1.0.0', 'favicon.ico'));
    expect(await run(root, 'halt', '1.1.0')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('release 1.0.0 cannot be served') as unknown,
    });
    expect(await run(root, 'pin', 'acme', '1.0.0')).toMatchObject({
      code: 1,
      stderr: expect.stringContaining('release 1.0.0 cannot be served') as unknown,
    });
    // What sends nobody to it is not held back: a pin on the sound release, and unpinning.
    expect(await run(root, 'pin', 'acme', '1.1.0')).toMatchObject({ code: 0 });
    expect(await run(root, 'unpin', 'acme')).toMatchObject({ code: 0 });
  });

  it('a floor lowered under a damaged release it made skipped is refused: its clients would get it again', async () => {
    const { root, file } = await project();
    // Pilot's own 1.0.0 is skipped under a floor of 1.1.0; pilot's tabs run everyone's 1.1.0.
    expect(await run(root, 'promote', '1.1.0')).toMatchObject({ code: 0 });
    expect(await run(root, 'promote', '1.0.0', '--cohort', 'pilot')).toMatchObject({ code: 0 });
    expect(await run(root, 'floor', '1.1.0')).toMatchObject({ code: 0 });
    const app = file('1.0.0', 'assets/app-3f2a.js');
    await rm(app);
    const before = await snapshotTree(root);
    for (const argv of [
      ['floor', '1.0.0', '--lower'],
      ['floor', '--clear', '--lower'],
    ]) {
      expect(await run(root, ...argv)).toEqual({
        code: 1,
        stdout: '',
        stderr: `daylight: release 1.0.0 cannot be served: ${app} is missing; ${FIX.replace('1.1.0', '1.0.0')}\n`,
      });
    }
    expect(await snapshotTree(root)).toEqual(before);
    // A floor lowered to a release nothing skipped sends nobody anywhere new: it does not read the folder.
    expect(await run(root, 'floor', '1.0.1', '--lower')).toMatchObject({ code: 0 });
  });
});

describe('publishing the same build again', () => {
  it.each(DAMAGES)('repairs $name, keeping the notes, and promote then succeeds', async (c) => {
    const { root, build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0', notes: 'Search is faster' });
    const app = path.join(root, 'store/releases/1.1.0/files/assets/app-3f2a.js');
    await c.damage(app);

    const result = await publish({ store, buildDir: build, version: '1.1.0' });

    expect(result.status).toBe('repaired');
    expect(result.warnings.join('\n')).toContain(c.says(app));
    expect(await readFile(app, 'utf8')).toBe('console.log("app 1");\n');
    expect(result.manifest.notes).toBe('Search is faster');
    expect(await promote({ store, version: '1.1.0' })).toMatchObject({ status: 'promoted' });
    // Sound now: the next publish of the same build changes nothing.
    expect(await publish({ store, buildDir: build, version: '1.1.0' })).toMatchObject({ status: 'unchanged' });
  });

  it('says "repaired" on the command line', async () => {
    const { root, file } = await project();
    await rm(file('1.0.0', 'assets/app-3f2a.js'));
    await writeFile(path.join(root, 'build/assets/app-3f2a.js'), 'console.log("app 1");\n');
    const result = await run(root, 'publish', 'build', '--version', '1.0.0');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^repaired 1\.0\.0: 7 files/);
    expect(result.stderr).toContain(`${file('1.0.0', 'assets/app-3f2a.js')} is missing`);
    await expect(stat(file('1.0.0', 'assets/app-3f2a.js'))).resolves.toBeTruthy();
  });
});

describe('status of a damaged release', () => {
  it('shows a missing file or one of the wrong size as damaged, from its size alone', async () => {
    const { root, store, file } = await project();
    await rm(file('1.1.0', 'assets/app-3f2a.js'));
    await appendFile(file('1.0.0', 'vendor/legacy.js'), 'more');

    const report = await status({ store });
    expect(report.releases.map((release) => [release.version, release.problem])).toEqual([
      ['1.1.0', `${file('1.1.0', 'assets/app-3f2a.js')} is missing`],
      ['1.0.0', `${file('1.0.0', 'vendor/legacy.js')} is 26 bytes; its manifest says 22`],
    ]);
    const shown = await run(root, 'status');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^ +1\.1\.0 .* damaged: .*app-3f2a\.js is missing$/m);
    expect(shown.stderr).toContain(
      'daylight: note: release 1.1.0 cannot be served; publish the same build again to repair it ("npx daylight publish <build-dir> --version 1.1.0")',
    );
  });

  it('does not read contents: other bytes of the same size are found by promote and publish, not by status', async () => {
    const { store, file } = await project();
    await writeFile(file('1.1.0', 'assets/app-3f2a.js'), 'console.log("app X");\n');
    expect((await status({ store })).releases[0]).toMatchObject({ version: '1.1.0', problem: null });
    expect((await rejection(promote({ store, version: '1.1.0' }))).code).toBe('release');
  });
});
