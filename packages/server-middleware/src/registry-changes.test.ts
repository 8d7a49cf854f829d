import { describe, expect, it } from 'vitest';
import { MAX_COHORTS, REGISTRY_SCHEMA, validateRegistry, type Registry } from './registry.js';
import { PUBLISHED_ENTRY } from './test-support.js';
import { floorChange, haltChange, pinChange, promoteChange, rollbackChange } from './registry-changes.js';
import { compilePlan, resolveRelease } from './resolve.js';

const published = PUBLISHED_ENTRY;
const now = new Date('2026-11-27T10:00:00.000Z');
const base: Registry = {
  schema: REGISTRY_SCHEMA,
  current: '1.0.0',
  releases: { '1.0.0': published, '1.0.1': published, '1.1.0': published, '1.1.1': published, '1.2.0': published },
};

function valid(registry: Registry): Registry {
  const check = validateRegistry(registry);
  if (!check.ok) throw new Error(check.error);
  return registry;
}

/** How many of `count` keys (`t0`, `t1`… of key `key`, in `cohort`) the registry sends to each release. */
function tally(registry: Registry, options: { cohort?: string; key?: string; count?: number } = {}) {
  const { cohort, key = 'tenant', count = 2000 } = options;
  const plan = compilePlan(valid(registry));
  const byRelease: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const release = resolveRelease(plan, { cohort, key: (name) => (name === key ? `t${i}` : undefined) }, [key]);
    byRelease[String(release)] = (byRelease[String(release)] ?? 0) + 1;
  }
  return byRelease;
}

describe('registry changes', () => {
  it('promotes to a cohort, and rolls the cohort back to following everyone', () => {
    const pilot = valid(promoteChange(base, { version: '1.1.0', cohort: 'pilot', now }).registry);
    expect(pilot.cohorts).toEqual({ pilot: { release: '1.1.0' } });
    const back = rollbackChange(pilot, { cohort: 'pilot', now });
    expect(back.changed).toBe(true);
    expect(valid(back.registry).cohorts).toBeUndefined();
  });

  it('remembers the release before a promote and rolls back to it', () => {
    const next = valid(promoteChange(base, { version: '1.1.0', now }).registry);
    expect(next).toMatchObject({ current: '1.1.0', previous: ['1.0.0'] });
    const back = valid(rollbackChange(next, { now }).registry);
    expect(back.current).toBe('1.0.0');
    expect(back.previous).toBeUndefined();
    expect(() => rollbackChange(back, { now })).toThrow(expect.objectContaining({ code: 'nothing-to-roll-back' }));
  });

  it('grows a rollout and keeps its start, and completes it with a full promote', () => {
    const at10 = valid(promoteChange(base, { version: '1.1.0', percent: 10, key: 'user', now }).registry);
    const at50 = valid(promoteChange(at10, { version: '1.1.0', percent: 50, now: new Date() }).registry);
    expect(at50.rollout).toEqual({ release: '1.1.0', percent: 50, key: 'user', startedAt: now.toISOString() });
    const full = valid(promoteChange(at50, { version: '1.1.0', now }).registry);
    expect(full.rollout).toBeUndefined();
    expect(full.current).toBe('1.1.0');
  });

  it('keeps a rollout going under a hotfix of the old line, and cancels it on rollback', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 10, now }).registry;
    const hotfix = valid(promoteChange(rolling, { version: '1.0.1', now }).registry);
    expect(hotfix).toMatchObject({ current: '1.0.1', rollout: { release: '1.1.0', percent: 10 } });
    const cancelled = valid(rollbackChange(hotfix, { now }).registry);
    expect(cancelled.rollout).toBeUndefined();
    expect(cancelled.current).toBe('1.0.1');
  });

  it('refuses percentages outside 0–100, unknown versions and unknown cohorts, changing nothing', () => {
    expect(() => promoteChange(base, { version: '1.1.0', percent: 101, now })).toThrow(/outside 0–100/);
    expect(() => promoteChange(base, { version: '1.1.0', percent: -1, now })).toThrow(
      expect.objectContaining({ code: 'invalid' }),
    );
    expect(() => promoteChange(base, { version: '9.9.9', now })).toThrow(
      expect.objectContaining({ code: 'not-published' }),
    );
    expect(() => rollbackChange(base, { cohort: 'nowhere', now })).toThrow(
      expect.objectContaining({ code: 'unknown-cohort' }),
    );
    expect(base.cohorts).toBeUndefined();
  });

  it('halts a rollout, and a promote of the same release lifts the halt', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 10, cohort: 'pilot', now }).registry;
    const halted = haltChange(rolling, { release: '1.1.0', cohort: 'pilot', reason: 'boots fail', now });
    expect(halted.changed).toBe(true);
    expect(valid(halted.registry).cohorts?.pilot?.halted).toMatchObject({ release: '1.1.0', reason: 'boots fail' });
    expect(haltChange(halted.registry, { release: '1.1.0', cohort: 'pilot', reason: 'again', now }).changed).toBe(
      false,
    );
    const resumed = promoteChange(halted.registry, { version: '1.1.0', percent: 20, cohort: 'pilot', now }).registry;
    expect(resumed.cohorts?.pilot?.halted).toBeUndefined();
  });

  it('halts a fully promoted release by rolling the target back', () => {
    const promoted = promoteChange(base, { version: '1.1.0', now }).registry;
    const halted = valid(haltChange(promoted, { release: '1.1.0', reason: 'boots fail', now }).registry);
    expect(halted.current).toBe('1.0.0');
    expect(halted.halted?.release).toBe('1.1.0');
    expect(haltChange(base, { release: '1.1.1', reason: 'x', now }).changed).toBe(false);
  });

  it('halts a hotfix that went out under a rollout by going back from the hotfix, keeping the rollout', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 10, now }).registry;
    const hotfix = promoteChange(rolling, { version: '1.0.1', now }).registry;
    const halted = haltChange(hotfix, { release: '1.0.1', reason: 'boots fail', now });
    expect(halted.summary).toMatch(
      /^halt 1\.0\.1 in everyone: boots fail; roll back everyone from 1\.0\.1 to 1\.0\.0$/,
    );
    expect(valid(halted.registry)).toMatchObject({
      current: '1.0.0',
      rollout: { release: '1.1.0', percent: 10 },
      halted: { release: '1.0.1' },
    });
  });

  it('refuses to change the key of a running rollout (it would move sessions back and forth), changing nothing', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 10, key: 'tenant', now }).registry;
    expect(() => promoteChange(rolling, { version: '1.1.0', percent: 50, key: 'user', now })).toThrow(
      expect.objectContaining({
        // Not `invalid`: the key is a good name, refused for what the registry holds.
        code: 'rollout-key',
        message: expect.stringMatching(
          /goes by tenant; going by user instead would move sessions back and forth/,
        ) as unknown,
      }),
    );
    expect(promoteChange(rolling, { version: '1.1.0', percent: 50, now }).registry.rollout).toMatchObject({
      key: 'tenant',
      percent: 50,
    });
    // A rollout of another release may go by another key, and is told what that does.
    const rekeyed = promoteChange(rolling, { version: '1.1.1', percent: 5, key: 'user', now });
    expect(rekeyed.registry.rollout?.key).toBe('user');
    expect(rekeyed.summary).toBe(
      'roll out 1.1.1 to 5% of everyone by user (supersedes 1.1.0 at 10% by tenant; going by user reaches other sessions: some on 1.1.0 go back, others come to 1.1.1; leave --key out to keep tenant)',
    );
    // The same key: the same sessions, nothing to say.
    expect(promoteChange(rolling, { version: '1.1.1', percent: 10, now }).summary).toBe(
      'roll out 1.1.1 to 10% of everyone by tenant (supersedes 1.1.0 at 10%)',
    );
  });

  it('says that a rollout of an older release takes the sessions of the newer one it supersedes back', () => {
    const rolling = promoteChange(base, { version: '1.1.1', percent: 20, now }).registry;
    expect(promoteChange(rolling, { version: '1.1.0', percent: 20, now }).summary).toMatch(
      /\(supersedes 1\.1\.1 at 20%; its sessions go back from 1\.1\.1 to 1\.1\.0\)$/,
    );
  });

  it('changes nothing for a rollout of the release the target already runs fully, and says so', () => {
    const pilot = promoteChange(base, { version: '1.1.0', cohort: 'pilot', now }).registry;
    expect(promoteChange(pilot, { version: '1.1.0', cohort: 'pilot', percent: 10, now })).toEqual({
      registry: pilot,
      changed: false,
      summary: '1.1.0 is already the release of cohort pilot',
    });
    expect(promoteChange(base, { version: '1.0.0', percent: 10, key: 'user', now })).toEqual({
      registry: base,
      changed: false,
      summary: '1.0.0 is already the release of everyone',
    });
    // A rollout of another release goes on: cancelling it is a rollback, which says what it does.
    const rolling = promoteChange(base, { version: '1.1.0', percent: 20, now }).registry;
    expect(promoteChange(rolling, { version: '1.0.0', percent: 10, now })).toEqual({
      registry: rolling,
      changed: false,
      summary:
        '1.0.0 is already the release of everyone (the rollout of 1.1.0 at 20% goes on; "daylight rollback" cancels it)',
    });
    // A cohort that follows everyone runs everyone's release: a rollout of it there would move nobody now, and
    // recorded it would cut the cohort off everyone's next rollout and hold part of it back after a rollback.
    expect(promoteChange(base, { version: '1.0.0', cohort: 'pilot', percent: 10, now })).toEqual({
      registry: base,
      changed: false,
      summary: "1.0.0 is already the release of cohort pilot (it follows everyone's)",
    });
  });

  it('takes any percentage with two decimals, however floating point writes it', () => {
    for (const percent of [0.29, 0.57, 1.1, 12.5, 33.33, 99.99]) {
      expect(promoteChange(base, { version: '1.1.0', percent, now }).registry.rollout?.percent, String(percent)).toBe(
        percent,
      );
    }
    expect(() => promoteChange(base, { version: '1.1.0', percent: 0.125, now })).toThrow(/more than two decimals/);
  });

  it('pins and unpins a tenant', () => {
    const pinned = valid(pinChange(base, { key: 'tenant', value: 'acme', release: '1.0.1', now }).registry);
    expect(pinned.pins).toEqual({ 'tenant:acme': { release: '1.0.1', at: now.toISOString() } });
    const unpinned = pinChange(pinned, { key: 'tenant', value: 'acme', release: null, now });
    expect(valid(unpinned.registry).pins).toBeUndefined();
  });

  it('says which cohort releases, rollouts and pins a floor makes the server skip', () => {
    const at: Registry = {
      ...base,
      current: '1.1.1',
      cohorts: {
        pilot: { release: '1.1.0' },
        berlin: {
          release: '1.1.1',
          rollout: { release: '1.1.0', percent: 10, key: 'user', startedAt: now.toISOString() },
        },
      },
      pins: { 'tenant:acme': { release: '1.0.1', at: now.toISOString() } },
    };
    expect(floorChange(at, { min: '1.1.1' }).summary).toBe(
      "set the floor to 1.1.1 (was none); below it, the server skips cohort pilot's release 1.1.0, cohort berlin's " +
        "rollout of 1.1.0, the pin of tenant:acme (1.0.1): their clients follow the next rule (everyone's release is 1.1.1)",
    );
    expect(floorChange(at, { min: '1.0.0' }).summary).toBe('set the floor to 1.0.0 (was none)');
  });

  it('never lowers the floor unless told to, and refuses a floor above everyone’s release', () => {
    const at = { ...base, current: '1.1.0', min: '1.0.1' };
    expect(() => floorChange(at, { min: '1.0.0' })).toThrow(/--lower/);
    expect(floorChange(at, { min: '1.0.0', lower: true }).registry.min).toBe('1.0.0');
    expect(floorChange(at, { min: '1.1.0' }).registry.min).toBe('1.1.0');
    expect(() => floorChange(at, { min: '1.1.1' })).toThrow(/above the current release/);
    // Clearing the floor lowers it as far as it goes.
    expect(() => floorChange(at, { min: null })).toThrow(
      expect.objectContaining({
        code: 'below-floor',
        message: expect.stringMatching(/^clearing the floor 1\.0\.1 lets .* pass --lower with --clear/) as unknown,
      }),
    );
    expect(floorChange(at, { min: null, lower: true }).registry).not.toHaveProperty('min');
    expect(floorChange(base, { min: null })).toMatchObject({ changed: false, summary: 'no floor is set' });
    expect(() => promoteChange(at, { version: '1.0.0', cohort: 'pilot', now })).toThrow(
      expect.objectContaining({ code: 'below-floor' }),
    );
  });

  it('validates every percentage a promote accepts, 0.00 to 100.00 (33.3 × 100 is not a whole number in floating point)', () => {
    const refused: number[] = [];
    for (let hundredths = 0; hundredths <= 10_000; hundredths++) {
      const percent = hundredths / 100;
      const next = promoteChange(base, { version: '1.1.0', percent, now }).registry;
      if (!validateRegistry(next).ok) refused.push(percent);
    }
    expect(refused).toEqual([]);
    for (const percent of [33.3, 1.1, 66.6]) {
      expect(
        validateRegistry({ ...base, rollout: { release: '1.1.0', percent, key: 'user', startedAt: 'x' } }),
      ).toEqual(expect.objectContaining({ ok: true }));
    }
    const three = validateRegistry({
      ...base,
      rollout: { release: '1.1.0', percent: 0.125, key: 'user', startedAt: 'x' },
    });
    expect(three).toEqual({
      ok: false,
      error: 'rollout.percent must be a number from 0 to 100 with at most two decimals',
    });
  });

  it('ends a halted rollout kept under a hotfix when the hotfix is halted too, so the rollout sends nobody again', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 20, now }).registry;
    expect(tally(rolling)['1.1.0']).toBeGreaterThan(300);
    const halted = haltChange(rolling, { release: '1.1.0', reason: 'boots fail', now }).registry;
    expect(tally(halted)['1.1.0']).toBeUndefined();
    const hotfix = promoteChange(halted, { version: '1.0.1', now });
    expect(hotfix.summary).toBe('promote 1.0.1 to everyone (the rollout of 1.1.0 at 20% stays halted)');
    expect(tally(hotfix.registry)).toEqual({ '1.0.1': 2000 });

    const both = haltChange(hotfix.registry, { release: '1.0.1', reason: 'hotfix fails too', now });
    expect(both.summary).toBe(
      'halt 1.0.1 in everyone: hotfix fails too; roll back everyone from 1.0.1 to 1.0.0; end the halted rollout of 1.1.0 at 20%',
    );
    expect(valid(both.registry)).toMatchObject({ current: '1.0.0', halted: { release: '1.0.1' } });
    expect(both.registry.rollout).toBeUndefined();
    expect(tally(both.registry)).toEqual({ '1.0.0': 2000 });
  });

  it('keeps a rollout that is not halted when a hotfix under it is halted, and says it goes on', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 20, now }).registry;
    const hotfix = promoteChange(rolling, { version: '1.0.1', now });
    expect(hotfix.summary).toBe('promote 1.0.1 to everyone (the rollout of 1.1.0 at 20% goes on)');
    const halted = haltChange(hotfix.registry, { release: '1.0.1', reason: 'x', now }).registry;
    expect(halted.rollout).toMatchObject({ release: '1.1.0', percent: 20 });
  });

  it('says when a promote ends the target’s rollout: of the same release, or of an older one', () => {
    const rolling = promoteChange(base, { version: '1.1.0', percent: 80, now }).registry;
    expect(promoteChange(rolling, { version: '1.1.0', now }).summary).toBe(
      'promote 1.1.0 to everyone; end the rollout of 1.1.0 at 80%',
    );
    expect(promoteChange(rolling, { version: '1.2.0', now }).summary).toBe(
      'promote 1.2.0 to everyone; end the rollout of 1.1.0 at 80%',
    );
    const pilot = promoteChange(base, { version: '1.1.0', cohort: 'pilot', percent: 10, now }).registry;
    expect(promoteChange(pilot, { version: '1.1.0', cohort: 'pilot', now }).summary).toBe(
      'promote 1.1.0 to cohort pilot; end the rollout of 1.1.0 at 10%',
    );
  });

  it('ends the rollouts of cohorts that follow everyone when everyone gets that release or a newer one', () => {
    const pilot = promoteChange(base, { version: '1.1.0', cohort: 'pilot', percent: 10, now }).registry;
    const beta = promoteChange(pilot, { version: '1.2.0', cohort: 'beta', percent: 5, now }).registry;
    const held = promoteChange(beta, { version: '1.0.1', cohort: 'held', now }).registry;
    const withOwn = promoteChange(held, { version: '1.1.1', cohort: 'held', percent: 30, now }).registry;
    const everyone = promoteChange(withOwn, { version: '1.2.0', now });
    // held keeps its own, older release: a hotfix promoted to everyone does not reach it, and the summary says so.
    expect(everyone.summary).toBe(
      'promote 1.2.0 to everyone; end the rollouts of cohorts that follow everyone: pilot (1.1.0 at 10%), beta (1.2.0 at 5%); ' +
        'cohorts with an older release of their own keep it: held (1.0.1) (promote 1.2.0 --cohort held to move one)',
    );
    // A cohort whose own release is the one promoted, or newer, is not named.
    const newer = promoteChange(base, { version: '1.2.0', cohort: 'ahead', now }).registry;
    expect(promoteChange(newer, { version: '1.1.0', now }).summary).toBe('promote 1.1.0 to everyone');
    // pilot and beta follow everyone entirely; held has a release of its own, and keeps its rollout.
    expect(valid(everyone.registry).cohorts).toEqual({
      held: { release: '1.0.1', rollout: expect.objectContaining({ release: '1.1.1', percent: 30 }) as unknown },
    });
    expect(tally(everyone.registry, { cohort: 'pilot' })).toEqual({ '1.2.0': 2000 });
  });

  it('never moves a cohort back by widening a rollout older than everyone’s release (pilot 10% of 1.1.0, everyone 1.2.0, pilot 50%)', () => {
    const pilot = promoteChange(base, { version: '1.1.0', cohort: 'pilot', percent: 10, key: 'user', now }).registry;
    const everyone = promoteChange(pilot, { version: '1.2.0', now }).registry;
    expect(tally(everyone, { cohort: 'pilot', key: 'user' })).toEqual({ '1.2.0': 2000 });
    expect(() => promoteChange(everyone, { version: '1.1.0', cohort: 'pilot', percent: 50, key: 'user', now })).toThrow(
      expect.objectContaining({
        code: 'older-release',
        message:
          'version 1.1.0 is older than 1.2.0, the release cohort pilot runs (everyone\'s): a rollout of it would move clients back. Roll out a newer release, or hold the whole cohort on 1.1.0 with "daylight promote 1.1.0 --cohort pilot"',
      }),
    );
    // The same for a cohort with a release of its own, and for a rollout left from before this rule.
    const own = promoteChange(base, { version: '1.1.1', cohort: 'pilot', now }).registry;
    expect(() => promoteChange(own, { version: '1.1.0', cohort: 'pilot', percent: 50, now })).toThrow(
      /older than 1\.1\.1, the release cohort pilot runs: a rollout/,
    );
    const stale: Registry = { ...everyone, cohorts: pilot.cohorts! };
    expect(() => promoteChange(stale, { version: '1.1.0', cohort: 'pilot', percent: 50, now })).toThrow(
      expect.objectContaining({ code: 'older-release' }),
    );
    // A newer release, and a full promote of an older one (holding the cohort), are fine.
    expect(promoteChange(everyone, { version: '1.1.0', cohort: 'pilot', now }).changed).toBe(true);
    expect(promoteChange(own, { version: '1.2.0', cohort: 'pilot', percent: 50, now }).changed).toBe(true);
  });

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf'])(
    'treats the cohort name %s as unknown unless the registry has it',
    (name) => {
      // `rollback --cohort constructor` found Object.prototype.constructor, said changed and wrote a revision.
      const withPilot = promoteChange(base, { version: '1.1.0', cohort: 'pilot', now }).registry;
      expect(() => rollbackChange(withPilot, { cohort: name, now })).toThrow(
        expect.objectContaining({
          code: 'unknown-cohort',
          message: `cohort ${name} has no release or rollout in the registry; known cohorts: pilot`,
        }),
      );
      expect(() => haltChange(withPilot, { release: '1.1.0', cohort: name, reason: 'x', now })).toThrow(
        expect.objectContaining({ code: 'unknown-cohort' }),
      );
      const promoted = valid(promoteChange(base, { version: '1.1.0', cohort: name, now }).registry);
      expect(Object.hasOwn(promoted.cohorts ?? {}, name)).toBe(true);
      expect(rollbackChange(promoted, { cohort: name, now }).registry.cohorts).toBeUndefined();
    },
  );
});

describe('the most cohorts and pins a registry may hold', () => {
  const full = <T>(make: (i: number) => [string, T]): Record<string, T> =>
    Object.fromEntries(Array.from({ length: MAX_COHORTS }, (_, i) => make(i)));
  const cohorts = full((i) => [`c${i}`, { release: '1.1.0' }]);
  const pins = full((i) => [`tenant:t${i}`, { release: '1.1.0', at: now.toISOString() }]);

  it('is what a registry read accepts, and one more is refused naming the limit', () => {
    expect(validateRegistry({ ...base, cohorts, pins }).ok).toBe(true);
    expect(validateRegistry({ ...base, cohorts: { ...cohorts, more: { release: null } } })).toEqual({
      ok: false,
      error: `"cohorts" may hold at most ${MAX_COHORTS}, got ${MAX_COHORTS + 1}`,
    });
    expect(validateRegistry({ ...base, pins: { ...pins, 'tenant:more': pins['tenant:t0']! } })).toEqual({
      ok: false,
      error: `"pins" may hold at most ${MAX_COHORTS}, got ${MAX_COHORTS + 1}`,
    });
  });

  it('is never passed by a change, which would write a registry no server loads; changes within it still go', () => {
    const registry: Registry = { ...base, cohorts, pins };
    expect(() => promoteChange(registry, { version: '1.1.0', cohort: 'more', now })).toThrow(
      expect.objectContaining({
        code: 'limit-reached',
        message: `the registry holds ${MAX_COHORTS} cohorts, the most it may; roll a cohort back to free one`,
      }),
    );
    expect(() => pinChange(registry, { key: 'tenant', value: 'more', release: '1.1.0', now })).toThrow(
      expect.objectContaining({
        code: 'limit-reached',
        message: `the registry holds ${MAX_COHORTS} pins, the most it may; unpin one first`,
      }),
    );
    expect(valid(promoteChange(registry, { version: '1.2.0', cohort: 'c7', now }).registry).cohorts?.c7?.release).toBe(
      '1.2.0',
    );
    expect(valid(pinChange(registry, { key: 'tenant', value: 't7', release: '1.2.0', now }).registry)).toBeDefined();
  });
});
