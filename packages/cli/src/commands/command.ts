/**
 * The shape of one `daylight` command: its flags and arguments (for parsing
 * and `--help`) and a `run` that turns parsed arguments into output. The
 * command's real work lives in a plain function beside it (`publish()`,
 * `promote()`…) that returns a result and never prints.
 */
import { DaylightCliError } from '../errors.js';
import type { ReleaseStore } from '../store.js';

export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown in help: `<version>`. */
  readonly value?: string;
  readonly description: string;
}

/** What the CLI layer hands a command. */
export interface CommandContext {
  readonly store: ReleaseStore;
  /** `--store` exactly as given on the command line, to repeat it in hints; `undefined` when it came from the environment or the default. */
  readonly storeArgument: string | undefined;
  /** `--releases` exactly as given on the command line, to repeat it in hints (a redis:// store reads manifests there). */
  readonly releasesArgument?: string | undefined;
  readonly cwd: string;
  /** The environment `runCli` was given (`DAYLIGHT_STORE`, `DAYLIGHT_ADMIN_TOKEN`, …), not necessarily the process's. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signal?: AbortSignal;
}

export interface ParsedArguments {
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  readonly positionals: readonly string[];
}

/** What a command produced: text for people, a JSON value for `--json`, and notes for stderr. */
export interface CommandOutput {
  readonly text: string;
  readonly json: unknown;
  readonly warnings?: readonly string[];
  /** What stderr says as warnings (`daylight: warning: …`): the command succeeded, but something will not work. */
  readonly alerts?: readonly string[];
  /** The exit status when the command ran to the end but answers "no" (`daylight gate`). @default 0 */
  readonly exitCode?: number;
}

export interface CommandSpec {
  readonly name: string;
  /** One line for `daylight --help`. */
  readonly summary: string;
  /** `daylight publish <build-dir> --version <version> [options]` */
  readonly usage: string;
  /** Paragraphs after the usage line in `daylight <command> --help`. */
  readonly description: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** Names of the positional arguments, in order, for messages: `<build-dir>`. */
  readonly positionals: readonly string[];
  /** How many positional arguments are required; the rest are optional. */
  readonly requiredPositionals: number;
  run(args: ParsedArguments, context: CommandContext): Promise<CommandOutput>;
}

/** A `string` flag's value; the parser has already checked its type. */
export function stringFlag(args: ParsedArguments, name: string): string | undefined {
  const value = args.values[name];
  return typeof value === 'string' ? value : undefined;
}

/** A word as a POSIX shell reads it back: as is when it is safe, else in single quotes. */
export function shellWord(word: string): string {
  return /^[\w./:@+-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

/**
 * `npx daylight`, plus ` --store <as given>` and ` --releases <as given>` when the user named them on the command
 * line, so a hint can be pasted as is: the README installs the package as a devDependency, whose command is not
 * on the PATH.
 */
export function commandPrefix(context: Pick<CommandContext, 'storeArgument' | 'releasesArgument'>): string {
  let prefix = 'npx daylight';
  if (context.storeArgument !== undefined) prefix += ` --store ${shellWord(context.storeArgument)}`;
  if (context.releasesArgument !== undefined) prefix += ` --releases ${shellWord(context.releasesArgument)}`;
  return prefix;
}

/**
 * A message with its quoted hints (`"daylight rollback"`, `(daylight rollback …)`, `"daylight --help"`) made
 * pasteable with {@link commandPrefix}: the registry model that writes many of them does not know how the CLI was
 * run. Only for Daylight's own messages: text a user wrote (a halt reason, an audit summary) is printed as written.
 */
export function withCommandPrefix(message: string, prefix: string): string {
  return message.replace(/(["(])daylight (?=[a-z-])/g, (_match, opening: string) => `${opening}${prefix} `);
}

/** `{ [key]: value }`, or `{}` when the value is undefined (exactOptionalPropertyTypes forbids an explicit undefined). */
export function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]?: V });
}

/**
 * The floor a `floor` or `min` command line asks for: its version, or `null` for `--clear`.
 * @throws {DaylightCliError} `usage` for both or neither.
 */
export function versionOrClear(args: ParsedArguments, command: string): string | null {
  const clear = args.values.clear === true;
  const version = args.positionals[0];
  if (clear && version !== undefined) {
    throw new DaylightCliError(
      'usage',
      `${command} takes a version or --clear, not both; got ${version} and --clear: drop one`,
    );
  }
  if (!clear && version === undefined) {
    throw new DaylightCliError('usage', `${command} needs a version or --clear, such as: daylight ${command} 1.3.0`);
  }
  return version ?? null;
}
