export { createDaylight, DaylightClient } from './client.js';
export { DEFAULT_POLICY, resolvePolicy, policyFor } from './policy.js';
export type { Policy, PolicyMap } from './policy.js';
export type {
  DaylightOptions,
  DaylightState,
  DaylightStatus,
  DaylightEventMap,
  AvailableDetail,
  DownloadedDetail,
  AppliedDetail,
  ErrorDetail,
  RefusedDetail,
  SafeMoments,
  ReportKind,
  DaylightExtension,
  PromptAnswer,
} from './client.js';
export type { DownloadProgress } from './download.js';
export { DaylightError, isDaylightError } from './errors.js';
export type { DaylightErrorCode } from './errors.js';
