import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { validateManifest } from '@daylight/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from './cli.js';
import { captureIO, removeTempDirs, sampleProject, snapshotTree } from './test-support.js';

afterEach(removeTempDirs);

/** Runs the CLI in a sample project's root, with the store at the default ./releases.json. */
async function run(cwd: string, argv: string[], env: Record<string, string> = {}) {
  const io = captureIO(cwd, env);
  const code = await runCli(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

describe('runCli', () => {
  it('publishes, promotes and shows the status, with the default store in the working directory', async () => {
    const { root } = await sampleProject();

    const published = await run(root, ['publish', 'build', '--version', '1.1.0', '--notes', 'Search is faster']);
    expect(published).toMatchObject({ code: 0 });
    expect(published.stdout).toMatch(/^published 1\.1\.0: 7 files, \d+ B, entry assets\/app-3f2a\.js\n/);
    expect(published.stdout).toContain('run "npx daylight promote 1.1.0" to make it current');
    expect(published.stderr).toBe(
      'daylight: note: left out 1 hidden file (.DS_Store); hidden files are never published\n',
    );

    expect(await run(root, ['promote', '1.1.0'])).toEqual({
      code: 0,
      stdout: 'promoted 1.1.0 (was none)\n',
      stderr: '',
    });
    expect(await run(root, ['promote', '1.1.0'])).toMatchObject({
      code: 0,
      stdout: '1.1.0 is already current; nothing changed\n',
    });

    const shown = await run(root, ['status']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^current {2}1\.1\.0$/m);
    expect(shown.stdout).toMatch(/^\* +1\.1\.0 +\d{4}-\d\d-\d\d \d\d:\d\d UTC +optional +7 +\d+ B$/m);

    const manifest = JSON.parse(await readFile(path.join(root, 'releases/1.1.0/manifest.json'), 'utf8')) as unknown;
    expect(validateManifest(manifest, '1.1.0')).toMatchObject({ ok: true, manifest: { notes: 'Search is faster' } });
  });

  it('says which symbolic links it left out because they point to a folder that contains them', async () => {
    const { root } = await sampleProject();
    await symlink(path.join(root, 'build'), path.join(root, 'build', 'assets', 'up'));
    const published = await run(root, ['publish', 'build', '--version', '1.1.0']);
    expect(published).toMatchObject({ code: 0 });
    expect(published.stdout).toMatch(/^published 1\.1\.0: 7 files/);
    expect(published.stderr).toContain(
      "daylight: note: left out 1 symbolic link to a folder that contains it (assets/up): it would loop; the folder's files are published under their own paths\n",
    );
  });

  it('prints parseable JSON with --json, before or after the command', async () => {
    const { root } = await sampleProject();
    const published = await run(root, ['--json', 'publish', 'build', '--version=1.0.0']);
    expect(JSON.parse(published.stdout)).toMatchObject({ status: 'published', version: '1.0.0', files: 7 });

    const promoted = await run(root, ['promote', '1.0.0', '--json']);
    expect(JSON.parse(promoted.stdout)).toEqual({
      status: 'promoted',
      version: '1.0.0',
      previous: null,
      cohort: null,
      percent: 100,
      summary: 'promote 1.0.0 to everyone',
      store: path.join(root, 'releases.json'),
      newCohortAmong: null,
    });

    const report = JSON.parse((await run(root, ['status', '--json'])).stdout) as { releases: { version: string }[] };
    expect(report).toMatchObject({ current: '1.0.0', min: null, releases: [{ version: '1.0.0', current: true }] });
  });

  it('uses --store over DAYLIGHT_STORE over ./releases.json, and repeats --store in the hint', async () => {
    const { root } = await sampleProject();
    const fromEnv = await run(root, ['publish', 'build', '--version', '1.0.0'], {
      DAYLIGHT_STORE: 'env/releases.json',
    });
    expect(fromEnv.code).toBe(0);
    expect(fromEnv.stdout).toContain('run "npx daylight promote 1.0.0"');
    await expect(readFile(path.join(root, 'env/releases.json'), 'utf8')).resolves.toContain('"1.0.0"');

    const fromFlag = await run(root, ['--store', 'flag/releases.json', 'publish', 'build', '--version', '1.0.0'], {
      DAYLIGHT_STORE: 'env/releases.json',
    });
    expect(fromFlag.stdout).toContain('run "npx daylight --store flag/releases.json promote 1.0.0"');
    await expect(readFile(path.join(root, 'flag/releases.json'), 'utf8')).resolves.toContain('"1.0.0"');
  });

  it('writes its hints as npx runs them, with --store as given: the README installs daylight as a devDependency', async () => {
    const { root } = await sampleProject();
    await writeFile(path.join(root, 'empty.json'), JSON.stringify({ schema: 1, current: null, releases: {} }));
    const shown = await run(root, ['status', '--store', 'empty.json']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toContain('none (run "npx daylight --store empty.json promote <version>")');
    expect(shown.stdout).toContain(
      'no releases yet; run "npx daylight --store empty.json publish <build-dir> --version <version>"',
    );
  });

  it('repeats --releases in its hints, and prints text a user wrote (a halt reason) as written', async () => {
    const { root } = await sampleProject();
    await run(root, ['publish', 'build', '--version', '1.0.0']);
    const published = await run(root, ['--releases', '.', 'publish', 'build', '--version', '1.1.0']);
    expect(published.stdout).toContain('run "npx daylight --releases . promote 1.1.0" to make it current');
    await run(root, ['promote', '1.0.0']);
    await run(root, ['promote', '1.1.0', '--percent', '10']);
    const reason = 'bad boots; see "daylight status" (daylight tickets 12)';
    const halted = await run(root, ['halt', '1.1.0', '--reason', reason]);
    expect(halted.stdout).toContain(reason);
    expect((await run(root, ['status'])).stdout).toContain(reason);
    expect((await run(root, ['history'])).stdout).toContain(reason);
  });

  it('records the actor as unknown without --actor, $DAYLIGHT_ACTOR or $USER, and its help says so', async () => {
    const { root } = await sampleProject();
    await run(root, ['publish', 'build', '--version', '1.0.0'], {});
    const shown = JSON.parse((await run(root, ['history', '--json'], {})).stdout) as { entries: { actor: string }[] };
    expect(shown.entries.map((entry) => entry.actor)).toEqual(['unknown']);
    const help = (await run(root, ['history', '--help'])).stdout;
    expect(help).toContain('(default: $DAYLIGHT_ACTOR, else $USER, else unknown)');
    expect(help).toContain(
      'Who is --actor, $DAYLIGHT_ACTOR or $USER of the command that made the change, else unknown.',
    );
  });

  it('exits 0 without changes when the same build is published again', async () => {
    const { root } = await sampleProject();
    await run(root, ['publish', 'build', '--version', '1.0.0']);
    const before = await snapshotTree(root);
    const again = await run(root, ['publish', 'build', '--version', '1.0.0']);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('1.0.0 is already published with the same content; nothing changed');
    expect(await snapshotTree(root)).toEqual(before);
  });

  describe('wrong input: one line on stderr, the right exit code, nothing changed', () => {
    const cases: [string, string[], number, RegExp][] = [
      ['no command', [], 2, /^daylight: no command given; run "npx daylight --help"/],
      ['an unknown command', ['pubish'], 2, /^daylight: unknown command "pubish"; did you mean publish\?/],
      [
        'an unknown flag',
        ['publish', 'build', '--version', '1.0.0', '--shel', 'x'],
        2,
        /unknown flag --shel for daylight publish; did you mean --shell\?/,
      ],
      [
        'a missing build directory argument',
        ['publish', '--version', '1.0.0'],
        2,
        /^daylight: missing <build-dir>; usage: daylight publish/,
      ],
      ['a missing --version', ['publish', 'build'], 2, /^daylight: publish needs --version/],
      [
        '--version without a value',
        ['publish', 'build', '--version'],
        2,
        /flag --version needs a value, such as --version <version>/,
      ],
      ['a flag as the value', ['publish', 'build', '--version', '--json'], 2, /needs a value, got the flag --json/],
      [
        'a version that is not semver',
        ['publish', 'build', '--version', '1.0'],
        2,
        /^daylight: version "1\.0" is not a semver version such as 1\.4\.2; did you mean 1\.0\.0\?$/,
      ],
      [
        'an unknown urgency',
        ['publish', 'build', '--version', '1.0.0', '--urgency', 'now'],
        2,
        /urgency "now" is not one of/,
      ],
      [
        'a build directory that does not exist',
        ['publish', 'dist', '--version', '1.0.0'],
        1,
        /^daylight: build directory dist \(\/.*\/dist\) does not exist; run your build first/,
      ],
      [
        'a build directory that is a file',
        ['publish', 'build/index.html', '--version', '1.0.0'],
        1,
        /is not a directory/,
      ],
      [
        'an extra argument',
        ['promote', '1.0.0', '1.1.0'],
        2,
        /^daylight: unexpected argument "1\.1\.0"; usage: daylight promote <version> \[--cohort <name>\] \[--percent <0-100>\] \[--key <name>\]$/,
      ],
      ['promoting without a registry', ['promote', '1.0.0'], 1, /^daylight: no registry at /],
      [
        'a store URL of an unsupported kind',
        ['status', '--store', 'ftp://localhost/releases.json'],
        2,
        /ftp:\/\/ stores are not supported; pass the path of a registry file/,
      ],
      ['a flag given twice', ['promote', '1.0.0', '--json', '--json'], 2, /flag --json is given twice/],
      [
        '--version after a command other than publish',
        ['status', '--version'],
        2,
        /--version prints daylight's own version only before a command/,
      ],
      ['min with neither version nor --clear', ['min'], 2, /min needs a version or --clear/],
      [
        'floor with both a version and --clear',
        ['floor', '1.0.0', '--lower', '--clear'],
        2,
        /^daylight: floor takes a version or --clear, not both; got 1\.0\.0 and --clear: drop one$/,
      ],
      [
        'min with both a version and --clear',
        ['min', '1.0.0', '--clear'],
        2,
        /^daylight: min takes a version or --clear, not both; got 1\.0\.0 and --clear: drop one$/,
      ],
      [
        'floor with neither version nor --clear',
        ['floor'],
        2,
        /^daylight: floor needs a version or --clear, such as: daylight floor 1\.3\.0$/,
      ],
    ];
    it.each(cases)('%s', async (_name, argv, expectedCode, message) => {
      const { root } = await sampleProject();
      const before = await snapshotTree(root);
      const result = await run(root, argv);
      expect(result.code).toBe(expectedCode);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd()).toMatch(message);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(await snapshotTree(root)).toEqual(before);
    });
  });

  it('has no flag whose name starts with a digit, so "-5" after a flag is always a value', async () => {
    const { commands } = await import('./commands/index.js');
    const { TOP_LEVEL_FLAGS } = await import('./cli.js');
    // Every command's own flags and the global ones (which every command takes), long names and short.
    const specs = [TOP_LEVEL_FLAGS, ...[...commands.values()].map((command) => command.flags)];
    const names = specs.flatMap((flags) =>
      Object.entries(flags).flatMap(([name, spec]) => (spec.short === undefined ? [name] : [name, spec.short])),
    );
    expect(names).toEqual(expect.arrayContaining(['store', 'percent', 'h']));
    expect(names.filter((name) => /^\d/.test(name))).toEqual([]);
  });

  it.each([
    ['publish', 'build', '--version', '1.0.0'],
    ['promote', '1.0.0'],
    ['status'],
    ['history'],
    ['floor', '1.0.0'],
    ['pin', 'acme', '1.0.0'],
    ['unpin', 'acme'],
  ])(
    'refuses a --store that is a directory, naming the registry file to give, and writes nothing: %s',
    async (...argv) => {
      const { root } = await sampleProject();
      await mkdir(path.join(root, 'store'));
      const before = await snapshotTree(root);
      expect(await run(root, ['--store', 'store', ...argv])).toEqual({
        code: 1,
        stdout: '',
        stderr: `daylight: registry ${path.join(root, 'store')} is a directory; give the registry file, such as --store ${path.join(root, 'store', 'releases.json')}\n`,
      });
      expect(await snapshotTree(root)).toEqual(before);
    },
  );

  it('refuses an unknown version with exit 1 and lists the published ones', async () => {
    const { root } = await sampleProject();
    await run(root, ['publish', 'build', '--version', '1.0.0']);
    const before = await snapshotTree(root);
    expect(await run(root, ['promote', '9.9.9'])).toEqual({
      code: 1,
      stdout: '',
      stderr: 'daylight: version 9.9.9 is not published; published: 1.0.0\n',
    });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('prints help for daylight and for each command, and its own version', async () => {
    const { root } = await sampleProject();
    const general = await run(root, ['--help']);
    expect(general.code).toBe(0);
    for (const name of ['publish', 'promote', 'status', 'min'])
      expect(general.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    const publishHelp = await run(root, ['publish', '-h']);
    expect(publishHelp.stdout).toMatch(/^usage: daylight publish <build-dir> --version <version>/);
    expect(publishHelp.stdout).toContain('--urgency <urgency>');
    expect((await run(root, ['help', 'promote'])).stdout).toMatch(/^usage: daylight promote <version>/);
    expect((await run(root, ['--version'])).stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('sets and clears the floor, and shows it in the status', async () => {
    const { root } = await sampleProject();
    await run(root, ['publish', 'build', '--version', '1.2.0']);
    await run(root, ['promote', '1.2.0']);
    expect(await run(root, ['min', '1.1.0'])).toMatchObject({ code: 0, stdout: 'set min 1.1.0 (was none)\n' });
    expect((await run(root, ['status'])).stdout).toMatch(/^min {6}1\.1\.0$/m);
    expect(await run(root, ['min', '--clear'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/^daylight: clearing the floor 1\.1\.0 .*; pass --lower with --clear/) as unknown,
    });
    expect(await run(root, ['min', '--clear', '--lower'])).toMatchObject({
      code: 0,
      stdout: 'cleared min (was 1.1.0)\n',
    });
    expect(await run(root, ['min', '1.3.0'])).toMatchObject({ code: 1 });
  });
});
