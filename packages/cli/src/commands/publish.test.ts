import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { validateManifest } from '@daylight/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import {
  rejection,
  removeTempDirs,
  sampleFiles,
  sampleProject,
  snapshotTree,
  sri,
  writeFiles,
} from '../test-support.js';
import { publish } from './publish.js';

afterEach(removeTempDirs);

describe('publish', () => {
  it('writes a manifest whose SRI hashes and sizes match the files, and that validates', async () => {
    const { build, store } = await sampleProject();
    const result = await publish({ store, buildDir: build, version: '1.1.0', now: new Date('2026-11-27T09:00:00Z') });

    expect(result.status).toBe('published');
    const manifestText = await readFile(path.join(path.dirname(store), 'releases/1.1.0/manifest.json'), 'utf8');
    const manifest: unknown = JSON.parse(manifestText);
    const check = validateManifest(manifest, '1.1.0');
    expect(check.ok).toBe(true);
    if (!check.ok) return;

    const files = sampleFiles();
    const expected = (file: string, url: string) => ({
      url,
      integrity: sri(files[file]!),
      bytes: Buffer.byteLength(files[file]!),
    });
    expect(check.manifest.entry).toEqual(expected('assets/app-3f2a.js', 'files/assets/app-3f2a.js'));
    expect(check.manifest.assets).toEqual(
      [
        expected('assets/app-3f2a.js', 'files/assets/app-3f2a.js'),
        expected('assets/app-77c1.css', 'files/assets/app-77c1.css'),
        expected('assets/commented-out.js', 'files/assets/commented-out.js'),
        expected('assets/lazy chunk#1.js', 'files/assets/lazy%20chunk%231.js'),
        expected('favicon.ico', 'files/favicon.ico'),
        expected('vendor/legacy.js', 'files/vendor/legacy.js'),
      ].sort((a, b) => (a.url < b.url ? -1 : 1)),
    );
    expect(check.manifest).toMatchObject({
      schema: 1,
      version: '1.1.0',
      urgency: 'optional',
      notes: '',
      publishedAt: '2026-11-27T09:00:00.000Z',
    });
    expect(result).toMatchObject({
      files: 7,
      entry: 'assets/app-3f2a.js',
      shell: 'index.html',
      skipped: ['.DS_Store'],
    });
  });

  it('copies every file byte for byte, leaves hidden files out, and registers the release', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0', urgency: 'critical', notes: 'Faster search' });

    const folder = path.join(path.dirname(store), 'releases/1.1.0/files');
    for (const [file, content] of Object.entries(sampleFiles())) {
      if (file.startsWith('.')) continue;
      expect(await readFile(path.join(folder, file))).toEqual(Buffer.from(content));
    }
    await expect(readFile(path.join(folder, '.DS_Store'))).rejects.toThrow(/ENOENT/);

    const registry = JSON.parse(await readFile(store, 'utf8')) as Record<string, unknown>;
    const digestLines = Object.entries(sampleFiles())
      .filter(([file]) => !file.startsWith('.'))
      .map(([file, content]) => `${file} ${sri(content)}`)
      .sort()
      .join('\n');
    expect(registry).toEqual({
      schema: 1,
      revision: 1,
      current: null,
      releases: {
        '1.1.0': {
          publishedAt: expect.any(String) as unknown,
          digest: sri(digestLines),
          shell: 'index.html',
          urgency: 'critical',
        },
      },
    });
    // No temporary folder or lock is left behind.
    expect(await snapshotTree(path.dirname(store))).not.toSatisfy((tree: Map<string, string>) =>
      [...tree.keys()].some((key) => key.includes('.tmp') || key.endsWith('.lock')),
    );
  });

  it('changes nothing when the same version is published again with the same bytes', async () => {
    const { root, build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0' });
    const before = await snapshotTree(root);

    const again = await publish({ store, buildDir: build, version: '1.1.0', urgency: 'critical' });

    expect(again.status).toBe('unchanged');
    expect(again.urgency).toBe('optional');
    expect(again.warnings.join()).toMatch(/keeps urgency optional/);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses the same version with other bytes, and leaves registry and folder untouched', async () => {
    const { root, build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0' });
    const before = await snapshotTree(root);
    await writeFile(path.join(build, 'assets/app-3f2a.js'), 'console.log("changed");\n');
    const changed = await snapshotTree(root);

    const error = await rejection(publish({ store, buildDir: build, version: '1.1.0' }));

    expect(error.code).toBe('conflict');
    expect(error.message).toMatch(
      /^version 1\.1\.0 was already published with other content \(digest sha384-.+\); publish a new version number$/,
    );
    expect(await snapshotTree(root)).toEqual(changed);
    expect((await snapshotTree(path.dirname(store))).get('releases.json')).toBe(before.get('store/releases.json'));
  });

  it('refuses an invalid registry and changes nothing', async () => {
    const { root, build, store } = await sampleProject();
    await mkdir(path.dirname(store), { recursive: true });
    await writeFile(store, JSON.stringify({ schema: 1, current: '2.0.0', releases: {} }));
    const before = await snapshotTree(root);

    const error = await rejection(publish({ store, buildDir: build, version: '1.1.0' }));

    expect(error.code).toBe('registry');
    expect(error.message).toContain('"current" is 2.0.0, which is not in "releases"');
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a registry that is not JSON and changes nothing', async () => {
    const { root, build, store } = await sampleProject();
    await mkdir(path.dirname(store), { recursive: true });
    await writeFile(store, '{ "schema": 1, ');
    const before = await snapshotTree(root);

    const error = await rejection(publish({ store, buildDir: build, version: '1.1.0' }));

    expect(error).toMatchObject({ code: 'registry', message: expect.stringContaining('is not valid JSON') as unknown });
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('keeps registry members it does not know, and the cohorts', async () => {
    const { build, store } = await sampleProject();
    await mkdir(path.dirname(store), { recursive: true });
    const cohorts = { beta: { release: null, rollout: { release: '1.1.0', percent: 5, key: 'user', startedAt: 'x' } } };
    await writeFile(store, JSON.stringify({ schema: 1, current: null, releases: {}, census: { keep: true } }));

    await publish({ store, buildDir: build, version: '1.1.0' });
    const registry = JSON.parse(await readFile(store, 'utf8')) as Record<string, unknown>;
    await writeFile(store, JSON.stringify({ ...registry, cohorts }));
    await publish({ store, buildDir: build, version: '1.0.0' });

    expect(JSON.parse(await readFile(store, 'utf8'))).toMatchObject({ census: { keep: true }, cohorts, revision: 2 });
  });

  it('replaces a release folder that the registry does not name', async () => {
    const { build, store } = await sampleProject();
    const leftover = path.join(path.dirname(store), 'releases/1.1.0');
    await writeFiles(leftover, { 'files/stale.js': 'half a publish' });

    await publish({ store, buildDir: build, version: '1.1.0' });

    await expect(readFile(path.join(leftover, 'files/stale.js'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(path.join(leftover, 'files/index.html'), 'utf8')).toContain('id="app"');
  });

  it('keeps a folder that already holds the build, writing only its manifest (servers may be serving it)', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0' });
    const folder = path.join(path.dirname(store), 'releases/1.1.0');
    const before = await stat(path.join(folder, 'files'));
    // The registry lost (Redis flushed, the file replaced): publish comes before promote again.
    await rm(store);
    const result = await publish({ store, buildDir: build, version: '1.1.0', now: new Date('2026-11-29T12:00:00Z') });

    expect(result.status).toBe('published');
    // The same folder, never moved aside: a request for one of its files never found it missing.
    expect((await stat(path.join(folder, 'files'))).ino).toBe(before.ino);
    const manifest = JSON.parse(await readFile(path.join(folder, 'manifest.json'), 'utf8')) as { publishedAt: string };
    expect(manifest.publishedAt).toBe('2026-11-29T12:00:00.000Z');
    expect((await readdir(folder)).sort()).toEqual(['files', 'manifest.json']); // no temporary file left
  });

  it('writes a missing or damaged release folder again when the bytes are the same', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0', now: new Date('2026-11-27T09:00:00Z') });
    const registry = await readFile(store, 'utf8');
    await rm(path.join(path.dirname(store), 'releases/1.1.0'), { recursive: true });

    const result = await publish({ store, buildDir: build, version: '1.1.0' });

    expect(result.status).toBe('repaired');
    expect(result.publishedAt).toBe('2026-11-27T09:00:00.000Z');
    expect(await readFile(store, 'utf8')).toBe(registry);
    const manifest = JSON.parse(await readFile(path.join(result.directory, 'manifest.json'), 'utf8')) as unknown;
    expect(validateManifest(manifest, '1.1.0').ok).toBe(true);
  });

  it('repairs a folder whose manifest lost a file in place: it still holds the build (servers may be serving it)', async () => {
    const { build, store } = await sampleProject();
    await publish({ store, buildDir: build, version: '1.1.0' });
    const folder = path.join(path.dirname(store), 'releases/1.1.0');
    const manifestFile = path.join(folder, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { assets: unknown[] };
    await writeFile(manifestFile, JSON.stringify({ ...manifest, assets: manifest.assets.slice(1) }));
    const before = await stat(path.join(folder, 'files'));

    const result = await publish({ store, buildDir: build, version: '1.1.0' });

    expect(result.status).toBe('repaired');
    expect((await stat(path.join(folder, 'files'))).ino).toBe(before.ino);
    expect(JSON.parse(await readFile(manifestFile, 'utf8'))).toEqual(manifest);
  });

  it('uses --entry over the shell and refuses an entry that is not in the build', async () => {
    const { build, store } = await sampleProject();
    const result = await publish({ store, buildDir: build, version: '1.1.0', entry: './vendor/legacy.js' });
    expect(result.manifest.entry.url).toBe('files/vendor/legacy.js');

    const error = await rejection(publish({ store, buildDir: build, version: '1.2.0', entry: 'assets/missing.js' }));
    expect(error).toMatchObject({
      code: 'build',
      message: expect.stringContaining('entry assets/missing.js') as unknown,
    });
  });

  it('refuses a shell without a script that names a file of the build', async () => {
    const { root, build, store } = await sampleProject();
    await writeFile(path.join(build, 'index.html'), '<script src="https://cdn.example/app.js"></script>');
    const before = await snapshotTree(root);

    const error = await rejection(publish({ store, buildDir: build, version: '1.1.0' }));

    expect(error.code).toBe('build');
    expect(error.message).toMatch(/no <script src> in index\.html names a file of the build .*; pass --entry/);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a build without its shell', async () => {
    const { build, store } = await sampleProject();
    const error = await rejection(publish({ store, buildDir: build, version: '1.1.0', shell: 'app.html' }));
    expect(error).toMatchObject({
      code: 'build',
      message: expect.stringMatching(/^shell app\.html is not in the build/) as unknown,
    });
  });

  it('refuses a store inside the build directory, which would publish its own releases', async () => {
    const { root, build } = await sampleProject();
    const before = await snapshotTree(root);
    const error = await rejection(
      publish({ store: path.join(build, 'releases.json'), buildDir: build, version: '1.1.0' }),
    );
    expect(error.code).toBe('build');
    expect(error.message).toMatch(/is inside the build directory/);
    expect(await snapshotTree(root)).toEqual(before);
  });

  it('refuses a version that is not strict semver and suggests one', async () => {
    const { build, store } = await sampleProject();
    const error = await rejection(publish({ store, buildDir: build, version: '1.0' }));
    expect(error).toEqual({
      code: 'invalid-option',
      message: 'version "1.0" is not a semver version such as 1.4.2; did you mean 1.0.0?',
    });
  });

  it('refuses an unknown urgency', async () => {
    const { build, store } = await sampleProject();
    const error = await rejection(publish({ store, buildDir: build, version: '1.1.0', urgency: 'urgent' }));
    expect(error.code).toBe('invalid-option');
    expect(error.message).toContain('optional, recommended, critical');
  });
});
