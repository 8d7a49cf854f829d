/**
 * The entry points' option objects: a key they do not have is refused with a TypeError naming the function,
 * the key and the options there are (a typo such as `timeuot` was ignored, and the default taken), and
 * options that are not an object are refused. Outside a browser: the check comes before anything else.
 */
import { describe, expect, it } from 'vitest';
import { mountBanner } from './banner.js';
import { createDaylight } from './client.js';
import { optionNames } from './delay.js';
import { recoverChunkErrors } from './recovery.js';
import { enableServiceWorker, reset } from './sw.js';
import { coordinateTabs } from './tabs.js';
import { watchBoot } from './watchdog.js';

type Call = (options: never) => unknown;
const client = createDaylight({ version: '1.0.0' });

const ENTRIES: [string, Call, string, string][] = [
  ['watchBoot', (o) => watchBoot(client, o), 'timeuot', 'timeout, errors'],
  ['recoverChunkErrors', (o) => recoverChunkErrors(client, o), 'onstale', 'timeout, onStale, destination'],
  ['coordinateTabs', (o) => coordinateTabs(client, o), 'names', 'name'],
  [
    'enableServiceWorker',
    (o) => enableServiceWorker(client, o),
    'scriptURL',
    'scriptUrl, scope, precacheRunning, timeout',
  ],
  [
    'mountBanner',
    (o) => mountBanner(client, o),
    'remindafter',
    'container, message, acceptLabel, dismissLabel, closeLabel, countdown, remindAfter',
  ],
];

describe('the entry points refuse an option they do not have', () => {
  it.each(ENTRIES)('%s', (name, call, typo, names) => {
    expect(() => call({ [typo]: 1 } as never)).toThrow(
      new TypeError(`${name}: there is no option "${typo}"; the options are ${names}`),
    );
    expect(() => call(5000 as never)).toThrow(new TypeError(`${name}: options must be an object, got 5000`));
  });

  it('reset rejects with the same TypeError', async () => {
    await expect(reset({ scriptURL: '/sw.js' } as never)).rejects.toThrow(
      new TypeError('reset: there is no option "scriptURL"; the options are scriptUrl, timeout'),
    );
  });

  it('takes the options there are, and none', () => {
    expect(() => optionNames('f', { a: 1, b: undefined }, ['a', 'b'])).not.toThrow();
    expect(() => optionNames('f', {}, [])).not.toThrow();
    expect(typeof watchBoot(client, { timeout: 1000, errors: false }).stop).toBe('function');
  });
});
