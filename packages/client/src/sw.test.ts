import { describe, expect, it } from 'vitest';
import { createDaylight } from './client.js';
import { enableServiceWorker, reset } from './sw.js';

describe('enableServiceWorker where service workers are unavailable', () => {
  it('says so and leaves the client as it was', async () => {
    const client = createDaylight({ version: '1.0.0' });
    const worker = enableServiceWorker(client);
    expect(worker.mode).toBe('none');
    expect(worker.reason).toMatch(/no browser window/);
    await expect(worker.ready).resolves.toBeUndefined();
    await expect(worker.cached()).resolves.toEqual([]);
    expect(client.start().state.status).toBe('inert');
  });

  it('rejects a timeout that is not a positive number, naming the option', () => {
    expect(() => enableServiceWorker(createDaylight(), { timeout: 0 })).toThrow(/timeout must be a number/);
    expect(() => enableServiceWorker(createDaylight(), { scriptUrl: '' })).toThrow(/scriptUrl must be a non-empty/);
  });

  it('resets nothing and resolves', async () => {
    await expect(reset()).resolves.toEqual({ unregistered: 0, caches: [] });
  });
});
