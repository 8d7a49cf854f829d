import { describe, expect, it } from 'vitest';
import { REGISTRY_SCHEMA, validateRegistry, type Registry } from './registry.js';
import { PUBLISHED_ENTRY } from './test-support.js';
import { floorChange, haltChange, pinChange, promoteChange, rollbackChange } from './registry-changes.js';

const published = PUBLISHED_ENTRY;
const now = new Date('2026-11-27T10:00:00.000Z');
const base: Registry = {
  schema: REGISTRY_SCHEMA,
  current: '1.0.0',
  releases: { '1.0.0': published, '1.0.1': published, '1.1.0': published, '1.1.1': published },
};

function valid(registry: Registry): Registry {
  const check = validateRegistry(registry);
  if (!check.ok) throw new Error(check.error);
  return registry;
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
      /goes by tenant; going by user instead would move sessions back and forth/,
    );
    expect(promoteChange(rolling, { version: '1.1.0', percent: 50, now }).registry.rollout).toMatchObject({
      key: 'tenant',
      percent: 50,
    });
    // A rollout of another release may go by another key.
    expect(promoteChange(rolling, { version: '1.1.1', percent: 5, key: 'user', now }).registry.rollout?.key).toBe(
      'user',
    );
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

  it('never lowers the floor unless told to, and refuses a floor above everyone’s release', () => {
    const at = { ...base, current: '1.1.0', min: '1.0.1' };
    expect(() => floorChange(at, { min: '1.0.0' })).toThrow(/--lower/);
    expect(floorChange(at, { min: '1.0.0', lower: true }).registry.min).toBe('1.0.0');
    expect(floorChange(at, { min: '1.1.0' }).registry.min).toBe('1.1.0');
    expect(() => floorChange(at, { min: '1.1.1' })).toThrow(/above the current release/);
    expect(() => promoteChange(at, { version: '1.0.0', cohort: 'pilot', now })).toThrow(
      expect.objectContaining({ code: 'below-floor' }),
    );
  });
});
