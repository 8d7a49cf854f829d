import { describe, expect, it } from 'vitest';
import { mountBanner } from './banner.js';
import { createDaylight } from './client.js';

describe('mountBanner options', () => {
  // Outside a browser: the options are checked before anything touches the page.
  it.each([[-1], [0], [Infinity], [2 ** 31], ['3600000'], [true], [null]])(
    'refuses remindAfter: %s, naming the option and what it takes',
    (remindAfter) => {
      const client = createDaylight({ version: '1.0.0' });
      expect(() => mountBanner(client, { remindAfter: remindAfter as number })).toThrow(
        /^mountBanner: remindAfter \(false: never\) must be a number of milliseconds from 1 to 2147483647, got /,
      );
    },
  );

  it('takes false (never again for that release) and a number of milliseconds', () => {
    const client = createDaylight({ version: '1.0.0' });
    for (const remindAfter of [false, 1, 60_000] as const) {
      expect(typeof mountBanner(client, { remindAfter })).toBe('function');
    }
    expect(typeof mountBanner(client)).toBe('function');
  });
});
