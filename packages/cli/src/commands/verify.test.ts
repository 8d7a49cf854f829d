import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIO, removeTempDirs, sampleProject, snapshotTree } from '../test-support.js';
import { publish } from './publish.js';
import { verify } from './verify.js';

afterEach(removeTempDirs);

async function daylight(cwd: string, ...argv: string[]) {
  const io = captureIO(cwd, {});
  const code = await runCli(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

describe('daylight verify', () => {
  it('reads every file of every release, and names a file changed after publish with the command that repairs it', async () => {
    const { root, build } = await sampleProject();
    for (const version of ['1.0.0', '1.1.0']) {
      expect((await daylight(root, 'publish', build, '--version', version)).code).toBe(0);
    }
    const intact = await daylight(root, 'verify');
    expect(intact.code).toBe(0);
    expect(intact.stdout).toMatch(/^VERSION +RESULT +FILES +SIZE\n1\.1\.0 +intact +7 +.+\n1\.0\.0 +intact +7 /);

    // Same size, other bytes: only reading the file finds it (status, which stats, does not).
    const file = path.join(root, 'releases/1.0.0/files/assets/app-3f2a.js');
    const bytes = await readFile(file);
    bytes[0] = bytes[0]! ^ 0x01;
    await writeFile(file, bytes);
    const before = await snapshotTree(root);

    const damaged = await daylight(root, 'verify');
    expect(damaged.code).toBe(1);
    expect(damaged.stdout).toMatch(/1\.1\.0 +intact/);
    expect(damaged.stdout).toMatch(/1\.0\.0 +damaged: .*app-3f2a\.js/);
    expect(damaged.stderr).toContain('release 1.0.0 cannot be served; ');
    expect(damaged.stderr).toContain('publish');
    const one = await daylight(root, 'verify', '1.1.0');
    expect(one.code).toBe(0);
    expect(one.stdout).not.toContain('1.0.0');
    expect(await snapshotTree(root)).toEqual(before); // it reads, and changes nothing
  });

  it('refuses a version that is not published, or not a version, with a clear error', async () => {
    const { root, build } = await sampleProject();
    await daylight(root, 'publish', build, '--version', '1.0.0');
    const missing = await daylight(root, 'verify', '2.0.0');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('version 2.0.0 is not published; published: 1.0.0');
    const wrong = await daylight(root, 'verify', 'v1');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('is not a semver version such as 1.4.2');
  });

  it('is a function too, for scripts', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.0.0' });
    expect(await verify({ store })).toMatchObject({
      store,
      releases: [{ version: '1.0.0', ok: true, files: 7, problem: null }],
    });
  });
});
