import { describe, expect, it } from 'vitest';
import { answerServiceWorker, SERVICE_WORKER_SOURCE } from './service-worker.js';
import { createDaylight } from './server.js';
import { createReleaseStore, createTestLogger } from './test-support.js';

describe('GET {base}/sw.js', () => {
  it('serves the worker as JavaScript that is revalidated and may control the whole origin', () => {
    const response = answerServiceWorker({ method: 'GET', path: '/_daylight/sw.js', headers: {} }, '/sw.js');
    expect(response?.status).toBe(200);
    expect(response?.headers).toMatchObject({
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': 'no-cache',
      'Service-Worker-Allowed': '/',
    });
    expect(Buffer.from(response!.body as Uint8Array).toString('utf8')).toBe(SERVICE_WORKER_SOURCE);
  });

  it('ships a worker that parses as a classic script', () => {
    // eslint-disable-next-line @typescript-eslint/no-implied-eval -- parsed, never called
    expect(() => new Function(SERVICE_WORKER_SOURCE)).not.toThrow();
  });

  it('refuses other methods with 405', () => {
    const response = answerServiceWorker({ method: 'POST', path: '/_daylight/sw.js', headers: {} }, '/sw.js');
    expect(response?.status).toBe(405);
    expect(response?.headers.Allow).toBe('GET, HEAD');
  });

  it('is answered by the server under its base path', async () => {
    const store = await createReleaseStore();
    const daylight = createDaylight({ config: store.registryFile, basePath: '/updates', logger: createTestLogger() });
    try {
      await daylight.ready;
      const response = await daylight.handle({ method: 'GET', path: '/updates/sw.js', headers: {} });
      expect(response?.status).toBe(200);
      expect(response?.headers['Service-Worker-Allowed']).toBe('/');
    } finally {
      await daylight.close();
      await store.cleanup();
    }
  });
});
