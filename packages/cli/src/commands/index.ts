/**
 * Every command, by name. A command is a small module: a function that does
 * the work and returns a result, and a {@link CommandSpec} that parses the
 * command line for it and prints its result.
 */
import type { CommandSpec } from './command.js';
import { minCommand } from './min.js';
import { promoteCommand } from './promote.js';
import { publishCommand } from './publish.js';
import { statusCommand } from './status.js';

export const commands: ReadonlyMap<string, CommandSpec> = new Map(
  [publishCommand, promoteCommand, statusCommand, minCommand].map((command) => [command.name, command]),
);
