import { describe, expect, it } from 'vitest';
import * as protocol from './index.js';

describe('the package entry point', () => {
  it('exports exactly the documented values', () => {
    expect(Object.keys(protocol).sort()).toEqual(
      [
        'CLIENT_HEADER',
        'DEFAULT_BASE_PATH',
        'MANIFEST_SCHEMA',
        'MAX_ASSETS',
        'MAX_HEADER_LENGTH',
        'MAX_MANIFEST_BYTES',
        'MAX_NOTES_LENGTH',
        'MAX_URL_LENGTH',
        'MAX_VERSION_LENGTH',
        'RELEASE_HEADER',
        'RELEASE_META_NAME',
        'SESSION_ID_PATTERN',
        'URGENCIES',
        'assetPath',
        'changeKind',
        'checkManifest',
        'clientStamp',
        'readReleaseStamp',
        'compareVersions',
        'formatClientHeader',
        'formatReleaseHeader',
        'isAssetUrl',
        'isIntegrity',
        'isVersion',
        'manifestPath',
        'parseClientHeader',
        'parseDictionary',
        'parseReleaseHeader',
        'parseVersion',
        'releaseCheckPath',
        'shellReference',
        'validateManifest',
      ].sort(),
    );
  });

  it('uses the header names and limits the specification gives', () => {
    expect(protocol.CLIENT_HEADER).toBe('Daylight-Client');
    expect(protocol.RELEASE_HEADER).toBe('Daylight-Release');
    expect(protocol.MAX_HEADER_LENGTH).toBe(256);
    expect(protocol.MAX_VERSION_LENGTH).toBe(64);
    expect(protocol.MAX_MANIFEST_BYTES).toBe(1_048_576);
    expect(protocol.MAX_ASSETS).toBe(10_000);
    expect(protocol.MAX_URL_LENGTH).toBe(1024);
    expect(protocol.MAX_NOTES_LENGTH).toBe(4000);
    expect(protocol.URGENCIES).toEqual(['optional', 'recommended', 'critical']);
  });
});
