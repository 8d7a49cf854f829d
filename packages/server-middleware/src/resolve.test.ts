import { describe, expect, it } from 'vitest';
import { REGISTRY_SCHEMA, validateRegistry, type Registry } from './registry.js';
import { PUBLISHED_ENTRY } from './test-support.js';
import { haltChange, promoteChange } from './registry-changes.js';
import { BUCKETS, bucketOf, compilePlan, resolveRelease, unreachable, type RequestFacts } from './resolve.js';

const published = PUBLISHED_ENTRY;

function registry(extra: Partial<Registry> = {}): Registry {
  const value: Registry = {
    schema: REGISTRY_SCHEMA,
    current: '1.0.0',
    releases: {
      '1.0.0': published,
      '1.0.1': published,
      '1.1.0': published,
      '1.1.1': published,
      '1.2.0': published,
      '0.9.0': published,
    },
    ...extra,
  };
  const check = validateRegistry(value);
  if (!check.ok) throw new Error(check.error);
  return value;
}

function facts(cohort: string | undefined, keys: Record<string, string> = {}): RequestFacts {
  return { cohort, key: (name) => keys[name] };
}

const KEYS = ['user', 'tenant'];
const N = 100_000;

function share(reg: Registry, cohort?: string): { count: number; inside: Set<number> } {
  const plan = compilePlan(reg);
  const inside = new Set<number>();
  for (let i = 0; i < N; i++) {
    if (resolveRelease(plan, facts(cohort, { tenant: `tenant-${i}` }), KEYS) === '1.1.0') inside.add(i);
  }
  return { count: inside.size, inside };
}

const rollout = (percent: number, release = '1.1.0') => ({
  release,
  percent,
  key: 'tenant',
  startedAt: '2026-11-27T10:00:00.000Z',
});

describe('bucketOf', () => {
  it('gives the same bucket for the same salt and key, within 0–9999', () => {
    expect(bucketOf('pilot', 'acme')).toBe(bucketOf('pilot', 'acme'));
    for (let i = 0; i < 1000; i++) {
      const bucket = bucketOf('*', `k${i}`);
      expect(bucket).toBeGreaterThanOrEqual(0);
      expect(bucket).toBeLessThan(BUCKETS);
    }
  });

  it('gives the buckets FNV-1a and fmix32 define: a change of hash would move people between releases mid-rollout', () => {
    // Computed apart from this code (a Python reading of docs/decisions.md, "Buckets"): every server, whatever its
    // version, must put a key in the same bucket, or a fleet upgraded one server at a time flips people back and forth.
    const pinned: [string, string, number][] = [
      ['*', 'acme', 4979],
      ['pilot', 'acme', 2321],
      ['*', 'user-42', 3509],
      ['pilot', 'ada@example.com', 425],
      ['*', '', 5745],
      ['*', 'zoë', 7351],
      ['*', '😀', 6960], // two UTF-16 code units
    ];
    for (const [salt, key, bucket] of pinned) expect(bucketOf(salt, key), `${salt}:${key}`).toBe(bucket);
  });

  it('gives a key another bucket under another salt', () => {
    let same = 0;
    for (let i = 0; i < 1000; i++) if (bucketOf('a', `k${i}`) === bucketOf('b', `k${i}`)) same++;
    expect(same).toBeLessThan(5);
  });
});

describe('percentage rollouts', () => {
  it.each([1, 10, 25, 50, 90])('over 100,000 keys a %d%% rollout lands within 1 percentage point', (percent) => {
    const { count } = share(registry({ rollout: rollout(percent) }));
    expect(Math.abs((100 * count) / N - percent)).toBeLessThan(1);
  });

  it('keeps everyone who was in when it grows from 10% to 50% to 100%', () => {
    const at10 = share(registry({ rollout: rollout(10) })).inside;
    const at50 = share(registry({ rollout: rollout(50) })).inside;
    const at100 = share(registry({ rollout: rollout(100) })).inside;
    for (const key of at10) expect(at50.has(key)).toBe(true);
    for (const key of at50) expect(at100.has(key)).toBe(true);
    expect(at100.size).toBe(N);
  });

  it('sends the same keys to a hotfix that supersedes the rollout (the salt belongs to the target, not the release)', () => {
    const before = compilePlan(registry({ rollout: rollout(20, '1.1.0') }));
    const after = compilePlan(registry({ rollout: rollout(20, '1.1.1') }));
    for (let i = 0; i < 5000; i++) {
      const f = facts(undefined, { tenant: `t${i}` });
      expect(resolveRelease(before, f, KEYS) === '1.1.0').toBe(resolveRelease(after, f, KEYS) === '1.1.1');
    }
  });

  it('gives a request without the rollout key the target release', () => {
    const plan = compilePlan(registry({ rollout: rollout(100) }));
    expect(resolveRelease(plan, facts(undefined, { user: 'ada' }), KEYS)).toBe('1.0.0');
    expect(resolveRelease(plan, facts(undefined, { tenant: 'acme' }), KEYS)).toBe('1.1.0');
  });

  it('ignores a halted rollout', () => {
    const plan = compilePlan(
      registry({
        rollout: rollout(100),
        halted: { release: '1.1.0', at: '2026-11-27T11:00:00.000Z', reason: 'boots fail' },
      }),
    );
    expect(resolveRelease(plan, facts(undefined, { tenant: 'acme' }), KEYS)).toBe('1.0.0');
  });
});

describe('cohorts, pins and the floor', () => {
  it('gives a cohort its own release and everyone else theirs', () => {
    const plan = compilePlan(registry({ cohorts: { pilot: { release: '1.1.0' } } }));
    expect(resolveRelease(plan, facts('pilot'), KEYS)).toBe('1.1.0');
    expect(resolveRelease(plan, facts('berlin'), KEYS)).toBe('1.0.0');
    expect(resolveRelease(plan, facts(undefined), KEYS)).toBe('1.0.0');
    expect(plan.uniform).toBe(false);
  });

  it('lets a cohort with a rollout only follow everyone outside it', () => {
    const plan = compilePlan(registry({ cohorts: { pilot: { release: null, rollout: rollout(100) } } }));
    expect(resolveRelease(plan, facts('pilot', { tenant: 'x' }), KEYS)).toBe('1.1.0');
    expect(resolveRelease(plan, facts('pilot'), KEYS)).toBe('1.0.0');
    expect(resolveRelease(plan, facts('other', { tenant: 'x' }), KEYS)).toBe('1.0.0');
  });

  it('applies everyone’s rollout to a cohort that has no rules of its own, but not to one with its own release', () => {
    const plan = compilePlan(registry({ rollout: rollout(100), cohorts: { pilot: { release: '1.0.1' } } }));
    expect(resolveRelease(plan, facts('london', { tenant: 'x' }), KEYS)).toBe('1.1.0');
    expect(resolveRelease(plan, facts('pilot', { tenant: 'x' }), KEYS)).toBe('1.0.1');
  });

  it('lets a pin win over cohorts and rollouts, the first key of the order first', () => {
    const plan = compilePlan(
      registry({
        rollout: rollout(100),
        cohorts: { pilot: { release: '1.1.1' } },
        pins: { 'tenant:acme': { release: '1.0.1', at: 'x' }, 'user:ada': { release: '1.0.0', at: 'x' } },
      }),
    );
    expect(resolveRelease(plan, facts('pilot', { tenant: 'acme' }), KEYS)).toBe('1.0.1');
    expect(resolveRelease(plan, facts(undefined, { tenant: 'acme', user: 'ada' }), KEYS)).toBe('1.0.0');
    expect(resolveRelease(plan, facts('pilot', { tenant: 'other' }), KEYS)).toBe('1.1.1');
  });

  it('lets the floor win over pins, cohort releases and rollouts below it', () => {
    const plan = compilePlan(
      registry({
        current: '1.0.1',
        min: '1.0.1',
        rollout: rollout(100, '1.0.0'),
        cohorts: { pilot: { release: '1.0.0' } },
        pins: { 'tenant:acme': { release: '0.9.0', at: 'x' } },
      }),
    );
    expect(resolveRelease(plan, facts('pilot', { tenant: 'acme' }), KEYS)).toBe('1.0.1');
    expect(resolveRelease(plan, facts(undefined, { tenant: 'b' }), KEYS)).toBe('1.0.1');
    expect(plan.uniform).toBe(true);
  });

  it('resolves to null when nothing is promoted for the request', () => {
    const plan = compilePlan(registry({ current: null, cohorts: { pilot: { release: '1.1.0' } } }));
    expect(resolveRelease(plan, facts(undefined), KEYS)).toBeNull();
    expect(resolveRelease(plan, facts('pilot'), KEYS)).toBe('1.1.0');
  });
});

/** The users (`u0`…`u1999`) of a cohort the registry sends to `release`. */
function usersOn(reg: Registry, cohort: string | undefined, release: string): Set<number> {
  const plan = compilePlan(reg);
  const on = new Set<number>();
  for (let i = 0; i < 2000; i++)
    if (resolveRelease(plan, facts(cohort, { user: `u${i}` }), KEYS) === release) on.add(i);
  return on;
}

describe('halts and older rollouts', () => {
  const now = new Date('2026-11-27T10:00:00.000Z');

  it('sends nobody new to a release halted in a cohort: the cohort does not fall back on everyone’s rollout of it', () => {
    // promote 1.1.0 --percent 10 --key user; promote 1.1.0 --cohort pilot --percent 50 --key user; halt 1.1.0 --cohort pilot
    const everyone = promoteChange(registry(), { version: '1.1.0', percent: 10, key: 'user', now }).registry;
    const rolling = promoteChange(everyone, {
      version: '1.1.0',
      cohort: 'pilot',
      percent: 50,
      key: 'user',
      now,
    }).registry;
    const halted = haltChange(rolling, { release: '1.1.0', cohort: 'pilot', reason: 'boots fail', now }).registry;
    expect(usersOn(rolling, 'pilot', '1.1.0').size).toBeGreaterThan(900);
    expect(usersOn(halted, 'pilot', '1.1.0')).toEqual(new Set());
    // Everyone else keeps everyone's rollout.
    expect(usersOn(halted, 'berlin', '1.1.0').size).toBeGreaterThan(100);
  });

  it('does not send a cohort that halted the release it ran back to it through everyone’s rollout', () => {
    const halt = { release: '1.1.0', at: '2026-11-27T11:00:00.000Z', reason: 'boots fail' };
    // What `halt 1.1.0 --cohort pilot` leaves when pilot ran 1.1.0 with no earlier release of its own.
    const reg = registry({
      rollout: { ...rollout(10), key: 'user' },
      cohorts: { pilot: { release: null, halted: halt } },
    });
    expect(usersOn(reg, 'pilot', '1.1.0')).toEqual(new Set());
    expect(usersOn(reg, 'pilot', '1.0.0').size).toBe(2000);
    // A halt of another release leaves the cohort following everyone, rollout included.
    const other = registry({
      rollout: { ...rollout(10), key: 'user' },
      cohorts: { pilot: { release: null, halted: { ...halt, release: '1.0.1' } } },
    });
    expect(usersOn(other, 'pilot', '1.1.0')).toEqual(usersOn(other, undefined, '1.1.0'));
  });

  it('ignores a rollout of a cohort that follows everyone when its release is older than everyone’s', () => {
    const stale = { release: null, rollout: { ...rollout(50), key: 'user' } };
    const plan = registry({ current: '1.2.0', cohorts: { pilot: stale } });
    expect(usersOn(plan, 'pilot', '1.2.0').size).toBe(2000);
    // Newer than everyone's release, it applies; so it does under a cohort's own release.
    expect(usersOn(registry({ cohorts: { pilot: stale } }), 'pilot', '1.1.0').size).toBeGreaterThan(900);
    const own = registry({ current: '1.2.0', cohorts: { pilot: { ...stale, release: '1.0.0' } } });
    expect(usersOn(own, 'pilot', '1.1.0').size).toBeGreaterThan(900);
  });
});

describe('unreachable: what no request can reach on a server with these callbacks', () => {
  const pin = (release: string) => ({ release, at: '2026-11-27T10:00:00.000Z' });
  const mixed = registry({
    rollout: rollout(50),
    cohorts: {
      pilot: { release: '1.2.0' },
      berlin: { release: null, rollout: { ...rollout(10, '1.2.0'), key: 'user' } },
    },
    pins: { 'office:acme': pin('1.1.1'), 'office:globex': pin('1.1.1'), 'tenant:initech': pin('1.0.1') },
  });

  it('is nothing when the server has the cohort callback and every key the plan reads', () => {
    expect(unreachable(compilePlan(mixed), true, ['tenant', 'user', 'office'])).toEqual([]);
    expect(unreachable(compilePlan(registry()), false, [])).toEqual([]);
  });

  it('names cohorts without a cohort callback, and rollouts and pins by a key the server lacks, with the fix', () => {
    const problems = unreachable(compilePlan(mixed), false, ['tenant']);
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(
      /cohorts pilot, berlin a release or rollout of their own, but this server has no cohort callback/,
    );
    expect(problems[0]).toContain('{ cohort: (req) => officeOf(req) }');
    expect(problems[1]).toBe(
      'daylight: the rollout of 1.2.0 to 10% of cohort berlin is by user, but this server has no keys.user callback, so no request is in it; it has tenant: give createDaylight { keys: { user: (req) => … } }, or roll out by a key it has (docs/rollouts.md)',
    );
    expect(problems[2]).toMatch(
      /^daylight: the pins office:acme, office:globex match no request: this server has no keys.office callback; it has tenant;/,
    );
  });

  it('says nothing of a rollout no request can be in anyway: halted, or at 0 %', () => {
    const halted = registry({
      rollout: rollout(50),
      halted: { release: '1.1.0', at: '2026-11-27T11:00:00.000Z', reason: 'errors' },
    });
    expect(unreachable(compilePlan(halted), false, [])).toEqual([]);
    expect(unreachable(compilePlan(registry({ rollout: rollout(0) })), false, [])).toEqual([]);
  });

  it('names the first three of many pins and counts the rest', () => {
    const pins = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`office:o${i}`, pin('1.1.0')]));
    const [problem] = unreachable(compilePlan(registry({ pins })), false, []);
    expect(problem).toMatch(
      /the pins office:o0, office:o1, office:o2 and 2 more match no request: this server has no keys.office callback; give/,
    );
  });
});
