export {
  CLIENT_HEADER,
  RELEASE_HEADER,
  MAX_HEADER_LENGTH,
  SESSION_ID_PATTERN,
  parseDictionary,
  parseClientHeader,
  parseReleaseHeader,
  formatClientHeader,
  formatReleaseHeader,
} from './headers.js';
export type { ClientStamp, ReleaseStamp, BareItem, DictionaryValue } from './headers.js';
export {
  MANIFEST_SCHEMA,
  MAX_MANIFEST_BYTES,
  MAX_ASSETS,
  MAX_URL_LENGTH,
  MAX_NOTES_LENGTH,
  URGENCIES,
  isAssetUrl,
  isIntegrity,
  validateManifest,
} from './manifest.js';
export type { ManifestAsset, ReleaseManifest, ManifestValidation, Urgency } from './manifest.js';
export { MAX_VERSION_LENGTH, parseVersion, isVersion, compareVersions, changeKind } from './version.js';
export type { ParsedVersion, ChangeKind } from './version.js';
export {
  DEFAULT_BASE_PATH,
  RELEASE_META_NAME,
  releaseCheckPath,
  manifestPath,
  assetPath,
  shellReference,
} from './paths.js';
export { readReleaseStamp, clientStamp, checkManifest } from './compact.js';
