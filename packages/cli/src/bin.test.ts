/**
 * The built command, run as a user runs it: `node dist/bin.js`. Vitest's global
 * setup (scripts/build-stale.mjs) builds it first when it is older than a source file.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, sampleProject } from './test-support.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const bin = path.join(packageDir, 'dist', 'bin.js');

afterEach(removeTempDirs);

function daylight(cwd: string, args: string[]) {
  const env = { ...process.env };
  delete env.DAYLIGHT_STORE;
  const result = spawnSync(process.execPath, [bin, ...args], { cwd, env, encoding: 'utf8' });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('dist/bin.js', () => {
  it('starts with a node shebang so npm can link it as a command', () => {
    expect(readFileSync(bin, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it('publishes, promotes and reports the status, exiting 0', async () => {
    const { root } = await sampleProject();
    const published = daylight(root, ['publish', 'build', '--version', '1.1.0', '--urgency', 'recommended']);
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(
      /^published 1\.1\.0: 7 files, .* entry assets\/app-3f2a\.js\nrun "npx daylight promote 1\.1\.0" to make it current\n$/,
    );

    expect(daylight(root, ['promote', '1.1.0'])).toMatchObject({ code: 0, stdout: 'promoted 1.1.0 (was none)\n' });

    const report = daylight(root, ['status', '--json']);
    expect(report.code).toBe(0);
    expect(JSON.parse(report.stdout)).toMatchObject({
      current: '1.1.0',
      releases: [{ version: '1.1.0', urgency: 'recommended', current: true, files: 7 }],
    });
  });

  it('exits 2 for a wrong command line and 1 for a refused operation, with one line on stderr', async () => {
    const { root } = await sampleProject();
    const usage = daylight(root, ['publish', 'build', '--version', '1.0']);
    expect(usage).toMatchObject({ code: 2, stdout: '' });
    expect(usage.stderr).toBe('daylight: version "1.0" is not a semver version such as 1.4.2; did you mean 1.0.0?\n');

    daylight(root, ['publish', 'build', '--version', '1.0.0']);
    const refused = daylight(root, ['promote', '9.9.9']);
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr: 'daylight: version 9.9.9 is not published; published: 1.0.0\n',
    });
  });

  it("is linked as `daylight` at the root of the repository, so the demo's `npx daylight …` hints run there", () => {
    // npm links no bin whose file is missing, and dist/ does not exist when a clone is first installed: the root's
    // `npm run build` links it once built (`npm rebuild @daylight/cli`). `--no-install`: never one from the registry.
    const root = path.join(packageDir, '..', '..');
    const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
    const result = spawnSync('npx', ['--no-install', 'daylight', '--version'], { cwd: root, encoding: 'utf8' });
    expect({ code: result.status, stdout: result.stdout }, result.stderr).toEqual({ code: 0, stdout: `${version}\n` });
  });

  it('prints the package version', () => {
    const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
    expect(daylight(packageDir, ['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
  });
});
