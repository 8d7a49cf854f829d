export { runCli, EXIT_OK, EXIT_FAILED, EXIT_USAGE, DEFAULT_STORE } from './cli.js';
export type { CliIO } from './cli.js';
export { publish } from './commands/publish.js';
export type { PublishOptions, PublishResult } from './commands/publish.js';
export { promote } from './commands/promote.js';
export type { PromoteOptions, PromoteResult } from './commands/promote.js';
export { status } from './commands/status.js';
export type { StatusOptions, StatusReport, ReleaseStatus } from './commands/status.js';
export { verify } from './commands/verify.js';
export type { VerifyOptions, VerifyReport, VerifiedRelease } from './commands/verify.js';
export { setMin } from './commands/min.js';
export type { SetMinOptions, SetMinResult } from './commands/min.js';
export { DaylightCliError, isDaylightCliError } from './errors.js';
export type { DaylightCliErrorCode } from './errors.js';
export { openStore, FileStore } from './store.js';
export type {
  ReleaseStore,
  StoreSnapshot,
  StoreUpdate,
  ManifestRead,
  OpenStoreOptions,
  StoreOptions,
  ChangeRecord,
} from './store.js';
export { readBuild, findEntryScript } from './build.js';
export type { Build, BuildFile } from './build.js';
