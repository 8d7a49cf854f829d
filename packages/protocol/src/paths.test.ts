import { describe, expect, it } from 'vitest';
import { DEFAULT_BASE_PATH, RELEASE_META_NAME, assetPath, manifestPath, releaseCheckPath } from './paths.js';

describe('paths', () => {
  it('builds the documented endpoint paths under the default base', () => {
    expect(DEFAULT_BASE_PATH).toBe('/_daylight');
    expect(releaseCheckPath(DEFAULT_BASE_PATH)).toBe('/_daylight/release');
    expect(manifestPath(DEFAULT_BASE_PATH, '1.5.0')).toBe('/_daylight/releases/1.5.0/manifest.json');
    expect(assetPath(DEFAULT_BASE_PATH, '1.5.0', 'assets/app-3f2a9c.js')).toBe(
      '/_daylight/releases/1.5.0/files/assets/app-3f2a9c.js',
    );
  });

  it('percent-encodes the version, so build metadata stays in the path', () => {
    expect(manifestPath('/x', '1.5.0+build.7')).toBe('/x/releases/1.5.0%2Bbuild.7/manifest.json');
    expect(assetPath('/x', '1.5.0+b', 'a.js')).toBe('/x/releases/1.5.0%2Bb/files/a.js');
  });

  it('names the meta element the shell carries', () => {
    expect(RELEASE_META_NAME).toBe('daylight-release');
  });
});
