/**
 * @daylight/server-middleware: stamp every API response with the release the
 * client should run, and serve releases and their HTML shell. The adapters
 * are separate entry points: `@daylight/server-middleware/express` and
 * `@daylight/server-middleware/koa`.
 */
export { createDaylight } from './server.js';
export type {
  DaylightLogger,
  DaylightRequest,
  DaylightResponse,
  DaylightServer,
  DaylightServerOptions,
  DaylightState,
  DaylightStats,
} from './types.js';
export type { ClientStamp, ReleaseStamp } from '@daylight/protocol';
export {
  DEFAULT_REGISTRY_FILE,
  REGISTRY_SCHEMA,
  emptyRegistry,
  readManifestFile,
  readRegistryFile,
  releaseDigest,
  releaseDir,
  validateRegistry,
  writeRegistryFile,
} from './registry.js';
export type { PublishedRelease, Registry, RegistryRead } from './registry.js';
