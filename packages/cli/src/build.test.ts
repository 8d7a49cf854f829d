import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fileUrl, findEntryScript, readBuild, toBuildPath } from './build.js';
import { isDaylightCliError } from './errors.js';
import { removeTempDirs, sri, tempDir, writeFiles } from './test-support.js';

afterEach(removeTempDirs);

async function buildError(dir: string): Promise<string> {
  try {
    await readBuild(dir);
  } catch (error) {
    if (isDaylightCliError(error) && error.code === 'build') return error.message;
    throw error;
  }
  throw new Error('expected readBuild to fail');
}

describe('findEntryScript', () => {
  const inBuild = (files: string[]) => (candidate: string) => files.includes(candidate);

  it('prefers the first module script that names a build file over an earlier classic one', () => {
    const html = '<script src="/legacy.js"></script><script type="module" src="/assets/app.js"></script>';
    expect(findEntryScript(html, 'index.html', inBuild(['legacy.js', 'assets/app.js']))).toBe('assets/app.js');
  });

  it('falls back to the first classic script when no module script names a build file', () => {
    const html = '<script type="module" src="https://cdn.example/x.js"></script><script src="js/app.js?v=3"></script>';
    expect(findEntryScript(html, 'index.html', inBuild(['js/app.js']))).toBe('js/app.js');
  });

  it('ignores scripts inside comments and scripts without src', () => {
    const html =
      '<!-- <script type="module" src="/old.js"></script> --><script>inline()</script><script type=module src=./new.js></script>';
    expect(findEntryScript(html, 'index.html', inBuild(['old.js', 'new.js']))).toBe('new.js');
  });

  it('reads a numeric reference past Unicode as U+FFFD, as HTML does, rather than failing', () => {
    const html =
      '<script src="&#x110000;.js"></script><script src="&#99999999999;.js"></script><script src="&#x61;pp.js">';
    expect(findEntryScript(html, 'index.html', inBuild(['\uFFFD.js', 'app.js']))).toBe('\uFFFD.js');
    expect(findEntryScript(html, 'index.html', inBuild(['app.js']))).toBe('app.js');
  });

  it('returns undefined when no script names a build file', () => {
    expect(findEntryScript('<script src="/gone.js"></script>', 'index.html', inBuild([]))).toBeUndefined();
  });
});

describe('paths', () => {
  it('normalizes build paths and rejects paths that leave the build', () => {
    expect(toBuildPath('./assets\\app.js')).toBe('assets/app.js');
    expect(toBuildPath('../secret')).toBeUndefined();
    expect(toBuildPath('/etc/passwd')).toBeUndefined();
    expect(toBuildPath('.')).toBeUndefined();
  });

  it('URL-encodes each segment of a manifest URL', () => {
    expect(fileUrl('assets/a b/c#d?.js')).toBe('files/assets/a%20b/c%23d%3F.js');
  });
});

describe('readBuild', () => {
  it('hashes every file, sorted by path, and lists the hidden ones it left out', async () => {
    const dir = await tempDir();
    await writeFiles(dir, { 'b.js': 'b', 'a/x.css': 'x', '.env': 'SECRET=1', '.git/HEAD': 'ref' });
    const build = await readBuild(dir);
    expect(build.files.map(({ path: file, integrity, bytes }) => ({ file, integrity, bytes }))).toEqual([
      { file: 'a/x.css', integrity: sri('x'), bytes: 1 },
      { file: 'b.js', integrity: sri('b'), bytes: 1 },
    ]);
    expect(build.skipped).toEqual(['.env', '.git']);
  });

  it('follows a symbolic link inside the build and refuses one that points outside', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'dist');
    await writeFiles(root, { 'dist/real/app.js': 'app', 'secret.txt': 'do not publish' });
    await symlink(path.join(dir, 'real'), path.join(dir, 'alias'));
    await symlink(dir, path.join(dir, 'real', 'loop'));
    const build = await readBuild(dir);
    expect(build.files.map((file) => file.path)).toEqual(['alias/app.js', 'real/app.js']);
    expect(build.loops).toEqual(['alias/loop', 'real/loop']);

    await symlink(path.join(root, 'secret.txt'), path.join(dir, 'leak.txt'));
    expect(await buildError(dir)).toMatch(
      /^build file leak\.txt is a symbolic link to .*secret\.txt, outside the build directory/,
    );
  });

  it('refuses a missing directory, a file, and an empty directory', async () => {
    const root = await tempDir();
    expect(await buildError(path.join(root, 'nope'))).toMatch(/does not exist; run your build first/);
    await writeFile(path.join(root, 'file'), 'x');
    expect(await buildError(path.join(root, 'file'))).toMatch(/is not a directory/);
    await mkdir(path.join(root, 'empty'));
    await writeFile(path.join(root, 'empty', '.keep'), '');
    expect(await buildError(path.join(root, 'empty'))).toMatch(/has no files \(hidden files are never published\)/);
  });
});
