/** Why a `daylight` command failed. */
export type DaylightCliErrorCode =
  /** Unknown command or flag, missing or extra argument: the command line itself is wrong. */
  | 'usage'
  /** A flag or argument has a value the command cannot use (a version that is not semver, an unknown urgency). */
  | 'invalid-option'
  /** The build directory is missing, empty, has no shell or no entry, or links outside itself. */
  | 'build'
  /** The registry file is missing (where one is needed), unreadable or invalid. */
  | 'registry'
  /** A release folder named by the registry is missing or damaged. */
  | 'release'
  /** The version named is not in the registry. */
  | 'not-published'
  /** The cohort named has no release or rollout in the registry. */
  | 'unknown-cohort'
  /** The store refuses the change: other content under the same version, a floor above the current release, another key for a running rollout, another command writing at the same time. */
  | 'conflict'
  /** Reading or writing the store failed (permissions, full disk). */
  | 'io';

/** Exit status of a failed command: 2 when the command line is wrong, 1 when the operation was refused or failed. */
export function exitCodeFor(code: DaylightCliErrorCode): 1 | 2 {
  return code === 'usage' || code === 'invalid-option' ? 2 : 1;
}

/**
 * The one error class of `@daylight/cli`. Every refusal and failure of a
 * command is one of these; its message is a single line that says what
 * failed, with which value, and how to fix it.
 */
export class DaylightCliError extends Error {
  override readonly name = 'DaylightCliError';
  readonly code: DaylightCliErrorCode;

  constructor(code: DaylightCliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /** The process exit status this error maps to. */
  get exitCode(): 1 | 2 {
    return exitCodeFor(this.code);
  }
}

/** True for a {@link DaylightCliError}, also one from another copy of this package or another realm. */
export function isDaylightCliError(value: unknown): value is DaylightCliError {
  return (
    value instanceof DaylightCliError ||
    (value instanceof Error &&
      value.name === 'DaylightCliError' &&
      typeof (value as { code?: unknown }).code === 'string')
  );
}

/** The `code` of a Node.js system error (`ENOENT`…), or `undefined`. */
export function errnoCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}
