import { describe, expect, it } from 'vitest';
import { createDaylight } from './client.js';
import { coordinateTabs } from './tabs.js';

describe('coordinateTabs outside a browser', () => {
  it('rejects a name Web Locks would refuse, naming the rule', () => {
    const client = createDaylight({ version: '1.0.0' });
    expect(() => coordinateTabs(client, { name: '' })).toThrow(/name must be a non-empty string/);
    expect(() => coordinateTabs(client, { name: '-daylight' })).toThrow(/does not start with "-"/);
    expect(() => coordinateTabs(client, { name: 42 as never })).toThrow(/got 42/);
  });

  it('says it coordinates nothing where there are neither Web Locks nor localStorage, and why', () => {
    const tabs = coordinateTabs(createDaylight({ version: '1.0.0' }), { name: 'office' });
    expect(tabs.mode).toBe('none');
    expect(tabs.reason).toMatch(/neither Web Locks nor localStorage/);
    tabs.stop();
  });
});
