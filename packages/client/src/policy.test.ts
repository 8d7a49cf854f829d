import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY, policyFor, resolvePolicy } from './policy.js';

describe('policy decisions', () => {
  it('prompts for major and minor releases and switches patches and rollbacks automatically by default', () => {
    const policy = resolvePolicy(undefined);
    expect(policyFor(policy, '1.0.0', '2.0.0')).toBe('prompt');
    expect(policyFor(policy, '1.0.0', '1.1.0')).toBe('prompt');
    expect(policyFor(policy, '1.0.0', '1.0.1')).toBe('auto');
    expect(policyFor(policy, '1.1.0', '1.0.0')).toBe('auto');
    expect(policyFor(policy, '1.0.0', '1.0.1-rc.1')).toBe('prompt');
  });

  it('applies one policy to every kind when given a string', () => {
    const policy = resolvePolicy('prompt');
    expect(Object.values(policy)).toEqual(Object.values(DEFAULT_POLICY).map(() => 'prompt'));
    expect(policyFor(policy, '1.0.0', '1.0.1')).toBe('prompt');
  });

  it('fills a partial map field by field over the defaults', () => {
    const policy = resolvePolicy({ minor: 'auto' });
    expect(policy).toEqual({ ...DEFAULT_POLICY, minor: 'auto' });
    expect(policyFor(policy, '1.0.0', '1.1.0')).toBe('auto');
  });

  it('prompts rather than switching when the versions have the same precedence', () => {
    expect(policyFor(resolvePolicy('auto'), '1.0.0+build.1', '1.0.0+build.2')).toBe('prompt');
  });

  it('rejects an unknown policy naming the key and the value', () => {
    expect(() => resolvePolicy({ major: 'never' as 'auto' })).toThrow(
      /policy for major must be "auto", "prompt" or "force", got "never"/,
    );
    expect(() => resolvePolicy('sometimes' as 'auto')).toThrow(TypeError);
    expect(() => resolvePolicy({ majr: 'auto' } as never)).toThrow(/policy has no key "majr"/);
  });

  it('forces critical releases and prompts for recommended ones by default', () => {
    const policy = resolvePolicy(undefined);
    expect(policyFor(policy, '1.0.0', '1.1.0', 'critical')).toBe('force');
    expect(policyFor(policy, '1.0.0', '1.1.0', 'recommended')).toBe('prompt');
    expect(policyFor(policy, '1.0.0', '1.0.1', 'recommended')).toBe('auto');
  });

  it('takes the stronger of the change policy and the urgency policy', () => {
    const policy = resolvePolicy({ recommended: 'auto', patch: 'force' });
    expect(policyFor(policy, '1.0.0', '2.0.0', 'recommended')).toBe('auto');
    expect(policyFor(policy, '1.0.0', '1.0.1', 'optional')).toBe('force');
    expect(policyFor(resolvePolicy({ critical: 'prompt' }), '1.0.0', '1.1.0', 'critical')).toBe('prompt');
  });

  it('forces a client below the floor whatever the policy says', () => {
    expect(policyFor(resolvePolicy('prompt'), '1.0.0', '1.1.0', 'optional', true)).toBe('force');
  });

  it('returns a frozen policy so nobody changes it after construction', () => {
    expect(Object.isFrozen(resolvePolicy({}))).toBe(true);
  });
});
