import { describe, expect, it } from 'vitest';
import { isChunkError } from './recovery.js';

describe('isChunkError', () => {
  it.each([
    ['Chromium', new TypeError('Failed to fetch dynamically imported module: https://app.example/assets/a.js')],
    ['Firefox', new TypeError('error loading dynamically imported module: https://app.example/assets/a.js')],
    ['Safari', new TypeError('Importing a module script failed.')],
    ['Vite, a stylesheet', new Error('Unable to preload CSS for /assets/a.css')],
    [
      'webpack, a script',
      Object.assign(new Error('Loading chunk 7 failed.\n(missing: /7.js)'), { name: 'ChunkLoadError' }),
    ],
    ['webpack, a stylesheet', new Error('Loading CSS chunk 7 failed.\n(/7.css)')],
    ['webpack, by name only', { name: 'ChunkLoadError', message: '' }],
    ['a rejection with a string', 'Failed to fetch dynamically imported module: /a.js'],
  ])('recognises %s', (_, error) => {
    expect(isChunkError(error)).toBe(true);
  });

  it.each([
    ['a failed API call', new TypeError('Failed to fetch')],
    ['a network error', new TypeError('NetworkError when attempting to fetch resource.')],
    ['an application error', new Error('Cannot read properties of undefined')],
    ['nothing', undefined],
    ['null', null],
    ['a number', 7],
  ])('does not take %s for one', (_, error) => {
    expect(isChunkError(error)).toBe(false);
  });
});
