import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { contentTypeOf } from './content-type.js';
import {
  decodeReleasePath,
  hasFileExtension,
  isUnderBase,
  pathOf,
  resolveInside,
  restAfterBase,
} from './request-path.js';

describe('request paths', () => {
  it('finds targets below the base path and nothing that only shares its prefix', () => {
    expect(isUnderBase('/_daylight', '/_daylight')).toBe(true);
    expect(isUnderBase('/_daylight/release?x=1', '/_daylight')).toBe(true);
    expect(isUnderBase('/_daylight?x', '/_daylight')).toBe(true);
    expect(isUnderBase('/_daylightish', '/_daylight')).toBe(false);
    expect(isUnderBase('/api', '/_daylight')).toBe(false);
    expect(restAfterBase('/_daylight/release', '/_daylight')).toBe('/release');
    expect(restAfterBase('/_daylightx/release', '/_daylight')).toBeUndefined();
    expect(pathOf('/a/b?c=/d')).toBe('/a/b');
  });

  it('decodes release file paths and refuses anything that could leave the folder', () => {
    expect(decodeReleasePath('assets/app.js')).toBe('assets/app.js');
    expect(decodeReleasePath('assets/a%20b.js')).toBe('assets/a b.js');
    for (const bad of [
      '',
      '../releases.json',
      '..%2f..%2freleases.json',
      '%2e%2e/x',
      'a/./b',
      'a//b',
      '..%5c..%5creleases.json',
      'a\\b',
      'a%00b',
      '%E0%A4%A',
      '/etc/passwd',
      'x'.repeat(1025),
    ]) {
      expect(decodeReleasePath(bad), bad).toBeUndefined();
    }
  });

  it('resolves only paths that stay inside the folder', () => {
    const root = path.resolve('/srv/releases/1.0.0/files');
    expect(resolveInside(root, 'assets/app.js')).toBe(path.join(root, 'assets/app.js'));
    expect(resolveInside(root, '..foo')).toBe(path.join(root, '..foo'));
    expect(resolveInside(root, '../manifest.json')).toBeUndefined();
    expect(resolveInside(root, '/etc/passwd')).toBeUndefined();
    expect(resolveInside(root, '.')).toBeUndefined();
  });

  it('tells paths with a file extension from routes', () => {
    expect(hasFileExtension('/assets/old-chunk.js')).toBe(true);
    expect(hasFileExtension('/favicon.ico')).toBe(true);
    expect(hasFileExtension('/reports/2024')).toBe(false);
    expect(hasFileExtension('/v1.2/reports')).toBe(false);
    expect(hasFileExtension('/')).toBe(false);
  });

  it('maps file extensions to content types, with a safe default', () => {
    expect(contentTypeOf('assets/app.js')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('a.MJS')).toBe('text/javascript; charset=utf-8');
    expect(contentTypeOf('a.css')).toBe('text/css; charset=utf-8');
    expect(contentTypeOf('a.woff2')).toBe('font/woff2');
    expect(contentTypeOf('a.wasm')).toBe('application/wasm');
    expect(contentTypeOf('site.webmanifest')).toBe('application/manifest+json');
    expect(contentTypeOf('a.constructor')).toBe('application/octet-stream');
    expect(contentTypeOf('v1.2/README')).toBe('application/octet-stream');
  });
});
