/** Why a Daylight operation failed. */
export type DaylightErrorCode =
  /** The release's manifest could not be fetched, parsed or validated. */
  | 'manifest'
  /** A file's bytes did not match its SRI hash: nothing of that release is used. */
  | 'integrity'
  /** The manifest named a file on an origin that is not allowed. */
  | 'origin'
  /** A request failed (network down, HTTP error status). */
  | 'network'
  /** An operation ran past its time limit. */
  | 'timeout'
  /** The page came back on the old version after a switch: the server still sends the old shell. */
  | 'stale-shell'
  /** A second automatic switch to the same version in this tab was refused. */
  | 'loop-guard'
  /** `apply()` was called with no verified release to switch to. */
  | 'not-ready'
  /** The app's `snapshot` hook threw or returned something that is not JSON. */
  | 'snapshot'
  /** The switch was called off: the page stayed when it navigated (a "leave this page?" dialog answered "stay"). */
  | 'aborted';

/** The one error class of `@daylight/client`. `code` says what failed; `cause` keeps the original error. */
export class DaylightError extends Error {
  override readonly name = 'DaylightError';
  // `declare`: the constructor sets these two, no field defines them beforehand (which only costs bytes).
  declare readonly code: DaylightErrorCode;
  /** The release the failure concerns, when there is one. */
  declare readonly version: string | undefined;

  constructor(code: DaylightErrorCode, message: string, options?: { cause?: unknown; version?: string }) {
    // (Error reads only `cause` of its options.)
    super(message, options?.cause === undefined ? undefined : options);
    this.code = code;
    this.version = options?.version;
  }
}

/** True for a {@link DaylightError}, also one from another realm (an iframe). */
export function isDaylightError(value: unknown): value is DaylightError {
  return (
    value instanceof DaylightError || (value instanceof Error && value.name === 'DaylightError' && 'code' in value)
  );
}
