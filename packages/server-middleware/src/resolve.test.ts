import { describe, expect, it } from 'vitest';
import { REGISTRY_SCHEMA, validateRegistry, type Registry } from './registry.js';
import { PUBLISHED_ENTRY } from './test-support.js';
import { BUCKETS, bucketOf, compilePlan, resolveRelease, type RequestFacts } from './resolve.js';

const published = PUBLISHED_ENTRY;

function registry(extra: Partial<Registry> = {}): Registry {
  const value: Registry = {
    schema: REGISTRY_SCHEMA,
    current: '1.0.0',
    releases: { '1.0.0': published, '1.0.1': published, '1.1.0': published, '1.1.1': published, '0.9.0': published },
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
