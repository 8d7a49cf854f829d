import { RegistryChangeError, type RegistryChangeErrorCode } from '@daylight/server-middleware';
import { describe, expect, it } from 'vitest';
import { DaylightCliError } from '../errors.js';
import { cliErrorOf } from './change.js';

describe('cliErrorOf', () => {
  // The README's exit codes: 2 for a wrong command line, 1 for a refusal that depends on the registry.
  const exitCodes: Record<RegistryChangeErrorCode, 1 | 2> = {
    invalid: 2,
    'not-published': 1,
    'unknown-cohort': 1,
    'below-floor': 1,
    'nothing-to-roll-back': 1,
    'older-release': 1,
    'rollout-key': 1,
    'limit-reached': 1,
    'not-servable': 1,
  };

  it.each(Object.entries(exitCodes))('maps the model refusal %s to exit %i, keeping its message', (code, exit) => {
    const error = cliErrorOf(new RegistryChangeError(code as RegistryChangeErrorCode, 'why, and the fix'));
    expect(error).toBeInstanceOf(DaylightCliError);
    expect(error).toMatchObject({ exitCode: exit, message: 'why, and the fix' });
  });

  it('takes a code it does not know (from a newer copy of the model) for a refusal: exit 1', () => {
    for (const code of ['from-a-newer-model', 'constructor', 'toString']) {
      // Names an object has by its prototype are not codes either.
      const newer = new RegistryChangeError(code as RegistryChangeErrorCode, 'why, and the fix');
      expect(cliErrorOf(newer), code).toMatchObject({ code: 'conflict', exitCode: 1, message: 'why, and the fix' });
    }
  });

  it('passes anything that is not a refusal through unchanged', () => {
    const bug = new TypeError('not a refusal');
    expect(cliErrorOf(bug)).toBe(bug);
  });
});
