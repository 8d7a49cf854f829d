import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BASE_PATH,
  RELEASE_META_NAME,
  assetPath,
  manifestPath,
  releaseCheckPath,
  shellReference,
} from './paths.js';

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

  it("reads a shell's reference as a build file: relative to the shell's folder, without query or fragment", () => {
    expect(shellReference('../assets/my%20app.js#x', 'app/index.html')).toBe('assets/my app.js');
    expect(shellReference('/assets/a.js', 'app/index.html')).toBe('assets/a.js');
    expect(shellReference('app.js', 'app/index.html')).toBe('app/app.js');
    expect(shellReference('./app.js?v=2.2.0')).toBe('app.js');
    expect(shellReference('/app.js?v=1#top')).toBe('app.js');
    expect(shellReference('../../x.js')).toBe('x.js');
    expect(shellReference('data:text/javascript,1')).toBeUndefined();
    expect(shellReference('//cdn.example/a.js')).toBeUndefined();
    expect(shellReference('https://cdn.example/a.js')).toBeUndefined();
    // Not a valid escape: the name as written, as a file may be called (the old lookup matched it exactly).
    expect(shellReference('/100%.js')).toBe('100%.js');
    expect(shellReference('/%E0%A4%A.js')).toBe('%E0%A4%A.js');
  });
});
