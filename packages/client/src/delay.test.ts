import { describe, expect, it } from 'vitest';
import { createDaylight } from './client.js';
import { recoverChunkErrors } from './recovery.js';
import { enableServiceWorker, reset } from './sw.js';
import { watchBoot } from './watchdog.js';

// A timer past 2 ** 31 - 1 ms (about 24.8 days) runs at once: a watchdog would send a healthy release back.
describe.each([
  ['watchBoot', (timeout: number) => watchBoot(createDaylight(), { timeout }), 1],
  ['enableServiceWorker', (timeout: number) => enableServiceWorker(createDaylight(), { timeout }), 1],
  ['recoverChunkErrors', (timeout: number) => recoverChunkErrors(createDaylight(), { timeout }), 0],
] as const)('%s: timeout', (name, call, min) => {
  it.each([2 ** 31, Infinity, Number.NaN, min - 1, '5000' as unknown as number])(
    'refuses %s, naming the range',
    (t) => {
      expect(() => call(t)).toThrow(
        `${name}: timeout must be a number of milliseconds from ${min} to 2147483647, got ${String(t)}`,
      );
    },
  );

  it('takes the longest delay a timer keeps', () => {
    expect(() => call(2 ** 31 - 1)).not.toThrow();
  });
});

describe('reset: timeout', () => {
  it('refuses one a timer cannot keep, before it touches anything', async () => {
    await expect(reset({ timeout: 2 ** 31 })).rejects.toThrow(
      'reset: timeout must be a number of milliseconds from 1 to 2147483647, got 2147483648',
    );
    await expect(reset({ timeout: Number.NaN })).rejects.toThrow(/reset: timeout must be a number/);
  });
});
