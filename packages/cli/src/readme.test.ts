/** The README's "Programmatic use" against what the package really exports. */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { commands } from './commands/index.js';
import * as exported from './index.js';

const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
const section = readme.slice(readme.indexOf('## Programmatic use'));
/** The prose before the first code block. */
const prose = section.slice(0, section.indexOf('```'));

/** The command's function, where the package exports one. */
const functionOf: Readonly<Record<string, string>> = { min: 'setMin' };

describe('README, programmatic use', () => {
  it('lists exactly the exports of the package in its table', () => {
    const rows = section.split('\n').filter((line) => line.startsWith('| `'));
    const listed = rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`(\w+)/g)].map((match) => match[1]));
    expect(new Set(listed)).toEqual(new Set(Object.keys(exported)));
  });

  it('names the commands that are exported functions, and sends the others to runCli', () => {
    const lines = prose.replaceAll('\n', ' ');
    for (const name of commands.keys()) {
      const fn = functionOf[name] ?? name;
      if (fn in exported) expect(lines, name).toContain(`\`${fn}\``);
      else expect(lines, name).toMatch(new RegExp(`\`${name}\`[^.]*\`runCli\``));
    }
  });
});
