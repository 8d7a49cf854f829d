/**
 * Every command, by name. A command is a small module: a function that does
 * the work and returns a result, and a {@link CommandSpec} that parses the
 * command line for it and prints its result.
 */
import type { CommandSpec } from './command.js';
import { withCensusSection } from './census-section.js';
import { gateCommand } from './gate.js';
import { minCommand } from './min.js';
import { promoteCommand } from './promote.js';
import { publishCommand } from './publish.js';
import { floorCommand, haltCommand, historyCommand, pinCommand, rollbackCommand, unpinCommand } from './rollouts.js';
import { statusCommand } from './status.js';
import { verifyCommand } from './verify.js';

export const commands: ReadonlyMap<string, CommandSpec> = new Map(
  [
    publishCommand,
    promoteCommand,
    rollbackCommand,
    haltCommand,
    pinCommand,
    unpinCommand,
    floorCommand,
    minCommand,
    withCensusSection(statusCommand),
    historyCommand,
    gateCommand,
    verifyCommand,
  ].map((command) => [command.name, command]),
);
