import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { removeTempDirs, sampleFiles, sampleProject } from '../test-support.js';
import { promote } from './promote.js';
import { publish } from './publish.js';
import { status } from './status.js';

afterEach(removeTempDirs);

describe('status', () => {
  it('lists every release newest first with its files and bytes, and marks the current one', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.2.0-beta.1', urgency: 'recommended' });
    await writeFile(path.join(build, 'assets/app-3f2a.js'), 'console.log("app 10");\n');
    await publish({ store, buildDir: build, version: '1.10.0' });
    await promote({ store, version: '1.10.0' });

    const report = await status({ store });

    const total = Object.entries(sampleFiles('console.log("app 10");\n'))
      .filter(([file]) => !file.startsWith('.'))
      .reduce((sum, [, content]) => sum + Buffer.byteLength(content), 0);
    expect(report).toMatchObject({ store, current: '1.10.0', min: null });
    expect(report.releases.map((release) => [release.version, release.current, release.urgency])).toEqual([
      ['1.10.0', true, 'optional'],
      ['1.2.0-beta.1', false, 'recommended'],
    ]);
    expect(report.releases[0]).toMatchObject({ files: 7, bytes: total, problem: null });
  });

  it('reports a release whose folder is gone instead of failing', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.0.0' });
    await rm(path.join(path.dirname(store), 'releases/1.0.0/manifest.json'));

    const report = await status({ store });

    expect(report.releases[0]).toMatchObject({ version: '1.0.0', files: null, bytes: null });
    expect(report.releases[0]!.problem).toMatch(/manifest\.json is missing/);
  });
});
