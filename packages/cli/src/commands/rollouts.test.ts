import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../cli.js';
import { captureIO, removeTempDirs, sampleProject, snapshotTree, writeFiles } from '../test-support.js';

afterEach(removeTempDirs);

async function run(cwd: string, argv: string[], env: Record<string, string> = {}) {
  const io = captureIO(cwd, env);
  const code = await runCli(argv, io);
  return { code, stdout: io.out(), stderr: io.err() };
}

/** A project with 1.0.0 and 1.1.0 published and 1.0.0 promoted to everyone. */
async function project() {
  const { root } = await sampleProject();
  await writeFiles(`${root}/build2`, {
    'index.html': '<!doctype html><html><head><script type="module" src="/assets/app-2.js"></script></head></html>',
    'assets/app-2.js': 'console.log("app 2");\n',
  });
  for (const argv of [
    ['publish', 'build', '--version', '1.0.0'],
    ['publish', 'build2', '--version', '1.1.0'],
    ['promote', '1.0.0'],
  ]) {
    expect(await run(root, argv, { DAYLIGHT_ACTOR: 'ci' })).toMatchObject({ code: 0 });
  }
  return root;
}

async function registry(root: string): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(`${root}/releases.json`, 'utf8')) as Record<string, unknown>;
}

describe('cohorts and rollouts on the command line', () => {
  it('says when a promote names a cohort the registry did not know (a new one, or a typo)', async () => {
    const root = await project();
    const first = await run(root, ['promote', '1.1.0', '--cohort', 'pilot']);
    expect(first.stderr).toBe(
      'daylight: note: cohort pilot is new (the registry had no cohorts): its release reaches the requests your server\'s cohort callback names "pilot", and no other\n',
    );
    const typo = await run(root, ['promote', '1.1.0', '--cohort', 'pliot']);
    expect(typo).toMatchObject({ code: 0, stdout: "promoted 1.1.0 to cohort pliot (was everyone's release)\n" });
    expect(typo.stderr).toContain('cohort pliot is new (the registry had cohorts pilot)');
    // A cohort it knows, or everyone: nothing to say.
    expect((await run(root, ['promote', '1.0.0', '--cohort', 'pilot'])).stderr).toBe('');
    expect((await run(root, ['promote', '1.1.0'])).stderr).toBe('');
  });

  it('promotes to a pilot cohort, widens to 50% and 100% of everyone, and rolls back', async () => {
    const root = await project();
    expect(await run(root, ['promote', '1.1.0', '--cohort', 'pilot'])).toMatchObject({
      code: 0,
      stdout: "promoted 1.1.0 to cohort pilot (was everyone's release)\n",
    });
    expect(await run(root, ['promote', '1.1.0', '--percent', '50', '--key', 'user'])).toMatchObject({
      code: 0,
      stdout: 'rolled out 1.1.0 to 50% of everyone by user\n',
    });
    expect(await registry(root)).toMatchObject({
      current: '1.0.0',
      cohorts: { pilot: { release: '1.1.0' } },
      rollout: { release: '1.1.0', percent: 50, key: 'user' },
    });
    expect(await run(root, ['promote', '1.1.0'])).toMatchObject({
      code: 0,
      stdout: 'promoted 1.1.0 (was 1.0.0); end the rollout of 1.1.0 at 50%\n',
    });
    expect(await registry(root)).toMatchObject({ current: '1.1.0', previous: ['1.0.0'] });
    expect((await registry(root)).rollout).toBeUndefined();
    // A cohort's own: "(was …)" names the release before, so it comes before the rollout the promote ends.
    expect(await run(root, ['publish', 'build2', '--version', '1.2.0'])).toMatchObject({ code: 0 });
    expect(await run(root, ['promote', '1.2.0', '--cohort', 'pilot', '--percent', '10'])).toMatchObject({ code: 0 });
    expect(await run(root, ['promote', '1.2.0', '--cohort', 'pilot'])).toMatchObject({
      code: 0,
      stdout: 'promoted 1.2.0 to cohort pilot (was 1.1.0); end the rollout of 1.2.0 at 10%\n',
    });
    expect(await run(root, ['rollback', '--cohort', 'pilot'])).toMatchObject({ code: 0 });

    const status = await run(root, ['status']);
    expect(status.stdout).toMatch(/^\(everyone\) +1\.1\.0 +- +1\.0\.0$/m);
    expect(status.stdout).toMatch(/^pilot +1\.1\.0 +- +-$/m);

    expect(await run(root, ['rollback'])).toMatchObject({
      code: 0,
      stdout: 'done: roll back everyone from 1.1.0 to 1.0.0\n',
    });
    expect(await run(root, ['rollback', '--cohort', 'pilot'])).toMatchObject({ code: 0 });
    expect(await registry(root)).toMatchObject({ current: '1.0.0' });
    expect((await registry(root)).cohorts).toBeUndefined();
  });

  it('a floor above a cohort release and a pin: the command names them, and status marks them skipped', async () => {
    const root = await project();
    for (const argv of [
      ['promote', '1.0.0', '--cohort', 'pilot'],
      ['pin', 'acme', '1.0.0'],
      ['promote', '1.1.0'],
    ]) {
      expect(await run(root, argv)).toMatchObject({ code: 0 });
    }
    expect(await run(root, ['floor', '1.1.0'])).toMatchObject({
      code: 0,
      stdout:
        "done: set the floor to 1.1.0 (was none); below it, the server skips cohort pilot's release 1.0.0, the pin of " +
        "tenant:acme (1.0.0): their clients follow the next rule (everyone's release is 1.1.0)\n",
    });
    const status = (await run(root, ['status'])).stdout;
    expect(status).toMatch(/^pilot +1\.0\.0 \(below the floor: skipped\) +- +-$/m);
    expect(status).toMatch(/^\(everyone\) +1\.1\.0 +- +1\.0\.0$/m);
    expect(status).toContain('pinned  tenant:acme → 1.0.0 (below the floor: skipped)');
  });

  it('rolls out to a percentage with two decimals that floating point cannot write exactly, and status reads it', async () => {
    const root = await project();
    expect(await run(root, ['promote', '1.1.0', '--percent', '33.3', '--key', 'user'])).toMatchObject({
      code: 0,
      stdout: 'rolled out 1.1.0 to 33.3% of everyone by user\n',
    });
    expect(await registry(root)).toMatchObject({ rollout: { release: '1.1.0', percent: 33.3 } });
    expect(await run(root, ['status'])).toMatchObject({ code: 0 });
  });

  it('ends the rollout of a cohort that follows everyone when everyone gets its release, and says so', async () => {
    const root = await project();
    expect(await run(root, ['promote', '1.1.0', '--cohort', 'pilot', '--percent', '10'])).toMatchObject({ code: 0 });
    expect(await run(root, ['promote', '1.1.0'])).toMatchObject({
      code: 0,
      stdout: 'promoted 1.1.0 (was 1.0.0); end the rollouts of cohorts that follow everyone: pilot (1.1.0 at 10%)\n',
    });
    expect((await registry(root)).cohorts).toBeUndefined();
    const before = await snapshotTree(root);
    expect(await run(root, ['promote', '1.0.0', '--cohort', 'pilot', '--percent', '50'])).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /^daylight: version 1\.0\.0 is older than 1\.1\.0, the release cohort pilot runs \(everyone's\): a rollout of it would move clients back/,
      ) as unknown,
    });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('accepts a rollout of the release the target already runs fully as done, writing nothing', async () => {
    const root = await project();
    await run(root, ['promote', '1.1.0', '--cohort', 'pilot']);
    const before = await snapshotTree(root);
    expect(await run(root, ['promote', '1.1.0', '--cohort', 'pilot', '--percent', '10'])).toEqual({
      code: 0,
      stdout: '1.1.0 is already the release of cohort pilot; nothing changed\n',
      stderr: '',
    });
    expect(await run(root, ['promote', '1.0.0', '--percent', '10'])).toEqual({
      code: 0,
      stdout: '1.0.0 is already current; nothing changed\n',
      stderr: '',
    });
    // The registry file (its revision included) and the audit log are byte for byte as they were.
    expect(await snapshotTree(root)).toEqual(before);
    // The hint can be pasted as is: the model's "daylight rollback" is run through npx, with the store named.
    await run(root, ['promote', '1.1.0', '--percent', '20']);
    expect(await run(root, ['promote', '1.0.0', '--percent', '10', '--store', 'releases.json'])).toEqual({
      code: 0,
      stdout:
        '1.0.0 is already current (the rollout of 1.1.0 at 20% goes on; "npx daylight --store releases.json rollback" cancels it); nothing changed\n',
      stderr: '',
    });
  });

  it('records every change in the audit log, with the actor', async () => {
    const root = await project();
    await run(root, ['promote', '1.1.0', '--cohort', 'pilot', '--actor', 'grace']);
    await run(root, ['halt', '1.1.0', '--cohort', 'pilot', '--reason', 'boots fail'], { USER: 'ops' });
    const shown = await run(root, ['history', '--json']);
    const entries = (JSON.parse(shown.stdout) as { entries: { actor: string; action: string; summary: string }[] })
      .entries;
    expect(entries.map((e) => [e.actor, e.action])).toEqual([
      ['ci', 'publish'],
      ['ci', 'publish'],
      ['ci', 'promote'],
      ['grace', 'promote'],
      ['ops', 'halt'],
    ]);
    expect(entries.at(-1)!.summary).toMatch(/^halt 1\.1\.0 in cohort pilot: boots fail; roll back cohort pilot/);
    expect((await run(root, ['history'])).stdout).toMatch(
      /^\d+ +\d{4}-\d\d-\d\d \d\d:\d\d UTC +grace +promote 1\.1\.0 to cohort pilot$/m,
    );
  });

  it('pins a tenant, shows it, and unpins it', async () => {
    const root = await project();
    expect(await run(root, ['pin', 'acme', '1.1.0', '--key', 'tenant'])).toMatchObject({ code: 0 });
    expect((await run(root, ['status'])).stdout).toContain('pinned  tenant:acme → 1.1.0');
    expect(await run(root, ['unpin', 'acme'])).toMatchObject({
      code: 0,
      stdout: 'done: unpin tenant:acme (was on 1.1.0)\n',
    });
    expect(await run(root, ['unpin', 'acme'])).toMatchObject({
      code: 0,
      stdout: 'tenant:acme is not pinned; nothing changed\n',
    });
  });

  it('takes the value of unpin literally, and names the command for a pin written as status shows it', async () => {
    const root = await project();
    await run(root, ['pin', 'acme', '1.1.0', '--key', 'office']);
    expect((await run(root, ['status'])).stdout).toContain('pinned  office:acme → 1.1.0');
    const before = await snapshotTree(root);
    expect(await run(root, ['unpin', 'office:acme'])).toEqual({
      code: 0,
      stdout: 'tenant:office:acme is not pinned; nothing changed\n',
      stderr:
        'daylight: note: office:acme is the pin of office acme; to remove it, run "npx daylight unpin acme --key office"\n',
    });
    expect(await snapshotTree(root)).toEqual(before);
    expect(await run(root, ['unpin', 'acme', '--key', 'office'])).toMatchObject({
      code: 0,
      stdout: 'done: unpin office:acme (was on 1.1.0)\n',
    });
    // No such pin: no note.
    expect(await run(root, ['unpin', 'office:acme'])).toMatchObject({ code: 0, stderr: '' });
    // The same key written twice, and a value the shell must quote.
    await run(root, ['pin', "o'brien & co", '1.1.0']);
    expect((await run(root, ['unpin', "tenant:o'brien & co"])).stderr).toBe(
      `daylight: note: tenant:o'brien & co is the pin of tenant o'brien & co; to remove it, run "npx daylight unpin 'o'\\''brien & co' --key tenant"\n`,
    );
  });

  it('never lowers the floor unless told to', async () => {
    const root = await project();
    await run(root, ['promote', '1.1.0']);
    expect(await run(root, ['floor', '1.1.0'])).toMatchObject({ code: 0 });
    expect(await run(root, ['floor', '1.0.0'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/pass --lower/) as unknown,
    });
    expect(await run(root, ['floor', '1.0.0', '--lower'])).toMatchObject({ code: 0 });
    expect(await registry(root)).toMatchObject({ min: '1.0.0' });
    const before = await snapshotTree(root);
    expect(await run(root, ['floor', '--clear'])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'daylight: clearing the floor 1.0.0 lets every client the API stopped serving back in; pass --lower with --clear (lower: true) if that is what you want\n',
    });
    expect(await snapshotTree(root)).toEqual(before);
    expect(await run(root, ['floor', '--clear', '--lower'])).toMatchObject({
      code: 0,
      stdout: 'done: clear the floor (was 1.0.0)\n',
    });
    expect(await registry(root)).not.toHaveProperty('min');
  });

  it('refuses to change the key of a running rollout with exit 1, as a refusal that depends on the registry', async () => {
    const root = await project();
    await run(root, ['promote', '1.1.0', '--percent', '10', '--key', 'user']);
    const before = await snapshotTree(root);
    const refused = await run(root, ['promote', '1.1.0', '--percent', '90', '--key', 'tenant']);
    expect(refused).toMatchObject({ code: 1, stdout: '' });
    expect(refused.stderr).toMatch(
      /^daylight: the rollout of 1\.1\.0 in everyone goes by user; going by tenant instead would move sessions back and forth/,
    );
    expect(await snapshotTree(root)).toEqual(before);
  });

  describe('refusals: a clear message, a non-zero exit, nothing changed', () => {
    it.each([
      [
        'an unknown version',
        ['promote', '9.9.9', '--cohort', 'pilot'],
        1,
        /version 9\.9\.9 is not published; published: 1\.0\.0, 1\.1\.0/,
      ],
      [
        'a percentage above 100',
        ['promote', '1.1.0', '--percent', '150'],
        2,
        /--percent "150" is not a percentage from 0 to 100/,
      ],
      ['a negative percentage', ['promote', '1.1.0', '--percent=-5'], 2, /--percent "-5" is not a percentage/],
      [
        'a negative percentage after a space (a value, not a flag)',
        ['promote', '1.1.0', '--percent', '-5'],
        2,
        /^daylight: --percent "-5" is not a percentage from 0 to 100/,
      ],
      [
        'a negative --limit after a space',
        ['history', '--limit', '-3'],
        2,
        /^daylight: --limit "-3" must be a whole number ≥ 1/,
      ],
      [
        'an unknown cohort',
        ['rollback', '--cohort', 'nowhere'],
        1,
        /cohort nowhere has no release or rollout in the registry; known cohorts: none/,
      ],
      ['a bad cohort name', ['promote', '1.1.0', '--cohort', 'a b'], 2, /is not a cohort name/],
      ['nothing to roll back', ['rollback'], 1, /everyone has no earlier release to roll back to/],
      [
        'an unreachable Redis store',
        ['status', '--store', 'redis://127.0.0.1:1'],
        1,
        /the Redis store redis:\/\/127\.0\.0\.1:1\/? cannot be reached/,
      ],
    ])('%s', async (_name, argv, code, message) => {
      const root = await project();
      const before = await snapshotTree(root);
      const result = await run(root, argv);
      expect(result.code).toBe(code);
      expect(result.stdout).toBe('');
      expect(result.stderr.trimEnd()).toMatch(message);
      expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(await snapshotTree(root)).toEqual(before);
    });
  });
});
