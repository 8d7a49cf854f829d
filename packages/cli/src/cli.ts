/**
 * The command line: global flags, the command table, help, and the mapping of
 * results and errors to output and exit codes. The commands' work is in
 * `commands/`; nothing here touches the store.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { commands } from './commands/index.js';
import { commandPrefix, withCommandPrefix } from './commands/command.js';
import type { CommandContext, CommandSpec, FlagSpec, ParsedArguments } from './commands/command.js';
import { DaylightCliError, exitCodeFor, isDaylightCliError } from './errors.js';
import { openStore } from './store.js';

/** Where `runCli` reads and writes; each field defaults to the process's own. */
export interface CliIO {
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
  /** Read for `DAYLIGHT_STORE`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Relative paths (build directory, store) are resolved against it. */
  readonly cwd: string;
}

/** Exit status: the command did what was asked (or found it already done). */
export const EXIT_OK = 0;
/** Exit status: the operation was refused or failed; nothing was changed. */
export const EXIT_FAILED = 1;
/** Exit status: the command line is wrong (unknown command or flag, missing or invalid argument). */
export const EXIT_USAGE = 2;

/** The registry file used when neither `--store` nor `DAYLIGHT_STORE` names one. */
export const DEFAULT_STORE = 'releases.json';

const GLOBAL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  store: {
    type: 'string',
    value: '<path|url>',
    description: `the registry file, or a redis:// URL (default: $DAYLIGHT_STORE, else ./${DEFAULT_STORE})`,
  },
  releases: {
    type: 'string',
    value: '<dir>',
    description: 'with a redis:// store: the folder holding releases/<version>/ (default: $DAYLIGHT_RELEASES, else .)',
  },
  actor: {
    type: 'string',
    value: '<name>',
    description: 'who makes the change, for the audit log (default: $DAYLIGHT_ACTOR, else $USER, else unknown)',
  },
  json: { type: 'boolean', description: 'print the result as JSON on stdout' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
};

/** Exported for the tests (the package's index does not re-export it). */
export const TOP_LEVEL_FLAGS: Readonly<Record<string, FlagSpec>> = {
  ...GLOBAL_FLAGS,
  version: { type: 'boolean', description: "print daylight's own version (only before a command)" },
};

function packageVersion(): string {
  try {
    const text = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
    const version = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === 'string' ? version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** `; did you mean X?` for the closest candidate within two edits, else ``. */
function suggest(input: string, candidates: Iterable<string>): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = distance(input, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best === undefined ? '' : `; did you mean ${best}?`;
}

/** A separate value that looks like a negative number: `-5`, `-0.5`. */
const NEGATIVE = /^-\d/;

/**
 * Parses flags with `node:util` `parseArgs` in its lenient mode and checks
 * every token ourselves, so each mistake gets a message in the house form
 * (what, which value, how to fix) instead of Node's generic one.
 */
function parseFlags(
  args: readonly string[],
  flags: Readonly<Record<string, FlagSpec>>,
  where: string,
): ParsedArguments {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {};
  for (const [name, spec] of Object.entries(flags)) {
    options[name] = spec.short === undefined ? { type: spec.type } : { type: spec.type, short: spec.short };
  }
  const { tokens } = parseArgs({ args: [...args], options, strict: false, allowPositionals: true, tokens: true });
  const values: Record<string, string | boolean> = {};
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== 'option') continue;
    const spec = flags[token.name];
    if (spec === undefined) {
      const hint =
        token.name === 'version'
          ? '; --version prints daylight\'s own version only before a command ("daylight --version")'
          : suggest(
              `--${token.name}`,
              Object.keys(flags).map((name) => `--${name}`),
            );
      throw new DaylightCliError('usage', `unknown flag ${token.rawName} for ${where}${hint}; see "${where} --help"`);
    }
    if (token.name in values) {
      throw new DaylightCliError('usage', `flag --${token.name} is given twice; give it once`);
    }
    if (spec.type === 'boolean') {
      if (token.inlineValue === true) {
        throw new DaylightCliError(
          'usage',
          `flag --${token.name} takes no value, got ${token.rawName}=${token.value ?? ''}`,
        );
      }
      values[token.name] = true;
      continue;
    }
    const example = `--${token.name} ${spec.value ?? '<value>'}`;
    if (token.value === undefined) {
      throw new DaylightCliError('usage', `flag ${token.rawName} needs a value, such as ${example}`);
    }
    // A negative number is a value, not a flag (no flag name starts with a digit), so
    // "--percent -5" reaches the flag's own check and its message rather than this one.
    if (
      token.inlineValue !== true &&
      token.value.startsWith('-') &&
      token.value !== '-' &&
      !NEGATIVE.test(token.value)
    ) {
      throw new DaylightCliError(
        'usage',
        `flag ${token.rawName} needs a value, got the flag ${token.value}; to pass a value that starts with "-", write --${token.name}=${token.value}`,
      );
    }
    values[token.name] = token.value;
  }
  return { values, positionals };
}

function flagLines(flags: Readonly<Record<string, FlagSpec>>): string[] {
  const rows = Object.entries(flags).map(([name, spec]) => {
    const names = spec.short === undefined ? `--${name}` : `-${spec.short}, --${name}`;
    return [spec.value === undefined ? names : `${names} ${spec.value}`, spec.description] as const;
  });
  const width = Math.max(0, ...rows.map(([left]) => left.length));
  return rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`);
}

function generalHelp(): string {
  const width = Math.max(...[...commands.keys()].map((name) => name.length));
  return [
    `daylight ${packageVersion()}: publish and promote releases of a single-page app, during office hours`,
    '',
    'usage: daylight [--store <path|redis-url>] [--json] <command> [arguments]',
    '',
    'commands:',
    ...[...commands.values()].map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'global options (before or after the command):',
    ...flagLines(TOP_LEVEL_FLAGS),
    '',
    'run "daylight <command> --help" for its arguments and options.',
    'exit codes: 0 done (or nothing to do), 1 refused or failed (nothing changed: unknown version or',
    'cohort, below the floor, a conflict with another command, an unreachable store), 2 wrong command',
    'line (unknown flag, a version that is not semver, a percentage outside 0-100).',
  ].join('\n');
}

function commandHelp(command: CommandSpec): string {
  const own = Object.keys(command.flags).length > 0 ? ['', 'options:', ...flagLines(command.flags)] : [];
  return [
    `usage: ${command.usage}`,
    '',
    command.summary,
    '',
    command.description,
    ...own,
    '',
    'global options:',
    ...flagLines(GLOBAL_FLAGS),
  ].join('\n');
}

/** Splits `[global flags] <command> [rest]`; `--store`'s separate value is not mistaken for the command. */
function splitCommand(argv: readonly string[]): { global: string[]; command: string | undefined; rest: string[] } {
  let i = 0;
  while (i < argv.length) {
    const token = argv[i]!;
    if (token === '--') return { global: argv.slice(0, i), command: argv[i + 1], rest: argv.slice(i + 2) };
    if (!token.startsWith('-') || token === '-') break;
    i += token === '--store' || token === '--actor' || token === '--releases' ? 2 : 1;
  }
  return { global: argv.slice(0, i), command: argv[i], rest: argv.slice(i + 1) };
}

/**
 * Runs the `daylight` command line in this process and resolves to its exit
 * status. Never throws and never calls `process.exit`, so tests and other
 * tools can call it.
 *
 * @param argv the arguments after the program name: `['publish', 'dist', '--version', '1.4.2']`
 * @returns 0 done, 1 refused or failed (the store is unchanged), 2 wrong command line
 * @example
 * process.exitCode = await runCli(process.argv.slice(2));
 */
export async function runCli(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const env = io.env ?? process.env;
  const cwd = io.cwd ?? process.cwd();
  // A change that was made but not fully recorded (its audit entry) is told, whatever happens next.
  const changeWarnings: string[] = [];
  // How a hint in a message is run again: with --store when the user named one (set once it is known).
  let prefix = 'npx daylight';
  const tellChangeWarnings = (): void => {
    for (const warning of changeWarnings.splice(0)) {
      stderr.write(`daylight: warning: ${withCommandPrefix(warning, prefix)}\n`);
    }
  };
  try {
    const split = splitCommand(argv);
    const global = parseFlags(split.global, TOP_LEVEL_FLAGS, 'daylight');
    if (global.values.version === true) {
      stdout.write(`${packageVersion()}\n`);
      return EXIT_OK;
    }
    if (split.command === undefined) {
      if (global.values.help === true) {
        stdout.write(`${generalHelp()}\n`);
        return EXIT_OK;
      }
      throw new DaylightCliError('usage', 'no command given; run "daylight --help" to see the commands');
    }
    if (split.command === 'help') {
      const topic = split.rest[0];
      const command = topic === undefined ? undefined : commands.get(topic);
      if (topic !== undefined && command === undefined) {
        throw new DaylightCliError(
          'usage',
          `unknown command ${topic}${suggest(topic, commands.keys())}; run "daylight --help" to see the commands`,
        );
      }
      stdout.write(`${command === undefined ? generalHelp() : commandHelp(command)}\n`);
      return EXIT_OK;
    }
    const command = commands.get(split.command);
    if (command === undefined) {
      throw new DaylightCliError(
        'usage',
        `unknown command ${JSON.stringify(split.command)}${suggest(split.command, commands.keys())}; run "daylight --help" to see the commands`,
      );
    }
    if (global.values.help === true) {
      stdout.write(`${commandHelp(command)}\n`);
      return EXIT_OK;
    }
    const where = `daylight ${command.name}`;
    const args = parseFlags(split.rest, { ...GLOBAL_FLAGS, ...command.flags }, where);
    if (args.values.help === true) {
      stdout.write(`${commandHelp(command)}\n`);
      return EXIT_OK;
    }
    const count = args.positionals.length;
    if (count < command.requiredPositionals) {
      throw new DaylightCliError('usage', `missing ${command.positionals[count]}; usage: ${command.usage}`);
    }
    if (count > command.positionals.length) {
      throw new DaylightCliError(
        'usage',
        `unexpected argument ${JSON.stringify(args.positionals[command.positionals.length])}; usage: ${command.usage}`,
      );
    }

    const storeFlag = args.values.store ?? global.values.store;
    const storeArgument = typeof storeFlag === 'string' ? storeFlag : undefined;
    const fromEnv = env.DAYLIGHT_STORE === undefined || env.DAYLIGHT_STORE === '' ? undefined : env.DAYLIGHT_STORE;
    const flag = (name: string): string | undefined => {
      const value = args.values[name] ?? global.values[name];
      return typeof value === 'string' && value !== '' ? value : undefined;
    };
    const actor = flag('actor') ?? (env.DAYLIGHT_ACTOR || undefined) ?? (env.USER || undefined) ?? 'unknown';
    const releasesArgument = flag('releases');
    const releases = releasesArgument ?? (env.DAYLIGHT_RELEASES || undefined);
    const store = openStore(storeArgument ?? fromEnv ?? DEFAULT_STORE, cwd, {
      actor,
      ...(releases === undefined ? {} : { releases }),
      onWarning: (message) => changeWarnings.push(message),
    });
    const context: CommandContext = { store, storeArgument, releasesArgument, cwd, env };
    prefix = commandPrefix(context);
    let output;
    try {
      output = await command.run(args, context);
    } finally {
      await store.close();
    }
    tellChangeWarnings();
    for (const warning of output.warnings ?? [])
      stderr.write(`daylight: note: ${withCommandPrefix(warning, prefix)}\n`);
    for (const alert of output.alerts ?? []) stderr.write(`daylight: warning: ${withCommandPrefix(alert, prefix)}\n`);
    const json = args.values.json === true || global.values.json === true;
    // The text is printed as the command wrote it: the commands that print the model's messages make their hints
    // pasteable themselves, and text a user wrote (a halt reason, an audit summary) is not rewritten.
    stdout.write(json ? `${JSON.stringify(output.json, null, 2)}\n` : `${output.text}\n`);
    return output.exitCode ?? EXIT_OK;
  } catch (error) {
    tellChangeWarnings();
    if (isDaylightCliError(error)) {
      stderr.write(`daylight: ${withCommandPrefix(error.message, prefix)}\n`);
      return exitCodeFor(error.code);
    }
    const message = error instanceof Error ? error.message : String(error);
    stderr.write(`daylight: unexpected error: ${message}; please report it with the command you ran\n`);
    return EXIT_FAILED;
  }
}
