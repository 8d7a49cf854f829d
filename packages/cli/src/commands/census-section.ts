/**
 * `daylight status` with the census beside the rollout table: wraps the
 * status command, adds `--server`, `--token`, `--base-path`, and appends the
 * census when there is somewhere to read it (a Redis store, or `--server`).
 * A census that cannot be read is a note on stderr, never a failed status.
 */
import { censusTable, hasCensusSource, readCensus, type CensusSourceOptions } from '../census.js';
import { stringFlag, type CommandSpec, type FlagSpec } from './command.js';

export const CENSUS_FLAGS: Readonly<Record<string, FlagSpec>> = {
  server: {
    type: 'string',
    value: '<url>',
    description: 'read the census from this server, such as http://127.0.0.1:3000 (file stores)',
  },
  token: { type: 'string', value: '<token>', description: "the server's admin token (default: $DAYLIGHT_ADMIN_TOKEN)" },
  'base-path': { type: 'string', value: '<path>', description: "the middleware's base path (default /_daylight)" },
};

/** The status command, with the census appended. */
export function withCensusSection(command: CommandSpec): CommandSpec {
  return {
    ...command,
    description: `${command.description}\nWith a redis:// store, or --server and --token, the census follows: live sessions per release and cohort.`,
    flags: { ...command.flags, ...CENSUS_FLAGS },
    async run(args, context) {
      const output = await command.run(args, context);
      const source: CensusSourceOptions = {
        store: context.storeArgument ?? (context.env.DAYLIGHT_STORE || undefined),
        server: stringFlag(args, 'server'),
        token: stringFlag(args, 'token') ?? (context.env.DAYLIGHT_ADMIN_TOKEN || undefined),
        basePath: stringFlag(args, 'base-path'),
        signal: context.signal,
      };
      if (!hasCensusSource(source)) return output;
      try {
        const census = await readCensus(source);
        return {
          ...output,
          text: `${output.text}\n\n${censusTable(census)}`,
          json: { ...(output.json as object), census },
        };
      } catch (error) {
        return {
          ...output,
          json: { ...(output.json as object), census: null },
          warnings: [...(output.warnings ?? []), `no census: ${(error as Error).message}`],
        };
      }
    },
  };
}
