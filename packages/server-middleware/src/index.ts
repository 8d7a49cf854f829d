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
  HaltOptions,
  HaltResult,
} from './types.js';
export { REPORT_KINDS } from './reports.js';
export type { ReportCount, ReportKind, ReportsOptions } from './reports.js';
export type { ClientStamp, ReleaseStamp } from '@daylight/protocol';
export {
  DEFAULT_REGISTRY_FILE,
  REGISTRY_SCHEMA,
  cohortNamed,
  emptyRegistry,
  readManifestFile,
  readRegistryFile,
  releaseDigest,
  releaseDir,
  validateRegistry,
  writeRegistryFile,
  writeFileAtomically,
} from './registry.js';
export type { Cohort, Halt, Pin, PublishedRelease, Registry, RegistryRead, Rollout, TargetRules } from './registry.js';
export { COHORT_NAME, KEY_NAME } from './registry.js';
/** How the server reads a manifest's `files/…` URL as a path in the release folder (the CLI checks files the same way). */
export { decodeReleasePath } from './request-path.js';
/** Is a release folder what was published: the CLI's check before it serves a release, and the status page's. */
export { checkReleaseFolder, hashFile, newlyServed, repairHint } from './release-check.js';
export type { ReleaseCheck, ReleaseCheckOptions } from './release-check.js';
/** Durations as the server's log and the CLI's output give them: `2h 10m`, `3d 4h`. */
export { formatDuration } from './duration.js';
export {
  BUCKETS,
  belowFloorNote,
  bucketOf,
  compilePlan,
  isBelowFloor,
  resolveRelease,
  thresholdOf,
} from './resolve.js';
export type { Plan, RequestFacts } from './resolve.js';
export {
  DEFAULT_ROLLOUT_KEY,
  RegistryChangeError,
  floorChange,
  haltChange,
  isRegistryChangeError,
  pinChange,
  promoteChange,
  rollbackChange,
  targetName,
} from './registry-changes.js';
export type {
  AuditEntry,
  ChangeOutcome,
  FloorChange,
  HaltChange,
  PinChange,
  PromoteChange,
  RegistryChangeErrorCode,
  RollbackChange,
} from './registry-changes.js';
export {
  RegistryLockedError,
  appendAuditFile,
  auditFileOf,
  lockRegistryFile,
  readAuditFile,
  updateRegistryFile,
} from './file-registry.js';
export type { LockOwner } from './file-registry.js';
export { DEFAULT_REDIS_PREFIX, RedisRegistry, RegistryConflictError, RedisUnreachableError } from './redis-registry.js';
export type { RedisRegistryOptions, RedisRead } from './redis-registry.js';
export { parseRedisLocation, redactRedisUrl, RedisLocationError, RedisDatabaseError } from './redis-location.js';
export type { RedisLocation } from './redis-location.js';
export * from './census/index.js';
export {
  FLOOR_STATUS,
  PROBLEM_CLIENT_REQUIRED,
  PROBLEM_CLIENT_TOO_OLD,
  PROBLEM_CLIENT_UNSUPPORTED,
  createFloor,
} from './floor/floor.js';
export type { FloorInput, FloorOptions, FloorProblem } from './floor/floor.js';
