import { describe, expect, it } from 'vitest';
import { renderShell, type ShellFile } from './render-shell.js';

const files = new Map<string, ShellFile>([
  ['assets/app.js', { url: 'assets/app.js', integrity: 'sha384-APP' }],
  ['assets/style.css', { url: 'assets/style.css', integrity: 'sha384-CSS' }],
  ['assets/vendor.js', { url: 'assets/vendor.js', integrity: 'sha384-VENDOR' }],
  ['favicon.ico', { url: 'favicon.ico', integrity: 'sha384-ICO' }],
  ['assets/a b.js', { url: 'assets/a%20b.js', integrity: 'sha384-SPACE' }],
]);

function render(html: string, version = '1.2.0'): string {
  return renderShell({ html, version, base: '/_daylight', files });
}

/** The import map every shell of 1.2.0 gets: the hash of each JavaScript file of the release. */
const MAP = [
  '<script type="importmap">{"integrity":{',
  '"/_daylight/releases/1.2.0/files/assets/app.js":"sha384-APP",',
  '"/_daylight/releases/1.2.0/files/assets/vendor.js":"sha384-VENDOR",',
  '"/_daylight/releases/1.2.0/files/assets/a%20b.js":"sha384-SPACE"',
  '}}</script>',
].join('');
/** The meta and the import map, as they follow the opening head tag. */
const META = `<meta name="daylight-release" content="1.2.0">${MAP}`;

describe('renderShell', () => {
  it('injects the release meta right after the opening head tag', () => {
    const out = render('<!doctype html><html><head lang="en"><title>x</title></head></html>');
    expect(out).toBe(`<!doctype html><html><head lang="en">${META}<title>x</title></head></html>`);
  });

  it('injects the meta after <html>, or after the doctype, when there is no head', () => {
    expect(render('<!doctype html><html><p>x</p></html>')).toBe(`<!doctype html><html>${META}<p>x</p></html>`);
    expect(render('<!doctype html><p>x</p>')).toBe(`<!doctype html>${META}<p>x</p>`);
  });

  it('does not mistake <header> or a commented-out <head> for the head', () => {
    const out = render('<html><!-- <head> --><head><header></header></head></html>');
    expect(out).toBe(`<html><!-- <head> --><head>${META}<header></header></head></html>`);
  });

  it('escapes the version in the meta attribute', () => {
    expect(render('<head>', '1.0.0-"x"')).toContain('content="1.0.0-&quot;x&quot;"');
  });

  it('rewrites a script src to the release file and adds its integrity', () => {
    const out = render('<head><script type="module" crossorigin src="/assets/app.js"></script></head>');
    expect(out).toContain(
      '<script type="module" crossorigin src="/_daylight/releases/1.2.0/files/assets/app.js" integrity="sha384-APP"></script>',
    );
  });

  it('strips a leading ./ and accepts single-quoted and unquoted values', () => {
    const out = render(
      `<head><link rel="stylesheet" href='./assets/style.css'><script src=assets/vendor.js></script></head>`,
    );
    expect(out).toContain(
      '<link rel="stylesheet" href="/_daylight/releases/1.2.0/files/assets/style.css" integrity="sha384-CSS">',
    );
    expect(out).toContain('<script src="/_daylight/releases/1.2.0/files/assets/vendor.js" integrity="sha384-VENDOR">');
  });

  it('adds integrity to module preloads, keeping a self-closing slash last', () => {
    const out = render('<head><link rel="modulepreload" href="/assets/vendor.js" /></head>');
    expect(out).toContain(
      '<link rel="modulepreload" href="/_daylight/releases/1.2.0/files/assets/vendor.js" integrity="sha384-VENDOR" />',
    );
  });

  it('rewrites an icon link but gives it no integrity', () => {
    const out = render('<head><link rel="icon" href="/favicon.ico"></head>');
    expect(out).toContain('<link rel="icon" href="/_daylight/releases/1.2.0/files/favicon.ico">');
  });

  it('keeps an existing integrity attribute instead of adding a second one', () => {
    const out = render('<head><script integrity="sha384-MINE" src="/assets/app.js"></script></head>');
    expect(out).toContain('<script integrity="sha384-MINE" src="/_daylight/releases/1.2.0/files/assets/app.js">');
    expect(out.match(/integrity=/g)).toHaveLength(1);
  });

  it('leaves files that are not part of the release alone', () => {
    const html =
      '<head><script src="/assets/other.js"></script><link rel="stylesheet" href="https://cdn.example.com/x.css"><script src="//cdn.example.com/assets/app.js"></script></head>';
    expect(render(html)).toBe(html.replace('<head>', `<head>${META}`));
  });

  it('reads a value with a query or a fragment as the file it names, and drops them (the URL the client verified)', () => {
    const html =
      '<head><script type="module" src="/assets/app.js?v=2.2.0"></script><link rel="stylesheet" href="assets/style.css#x"><script src=\'./assets/vendor.js?a=1&amp;b=2#top\'></script></head>';
    expect(render(html)).toBe(
      `<head>${META}<script type="module" src="/_daylight/releases/1.2.0/files/assets/app.js" integrity="sha384-APP"></script><link rel="stylesheet" href="/_daylight/releases/1.2.0/files/assets/style.css" integrity="sha384-CSS"><script src="/_daylight/releases/1.2.0/files/assets/vendor.js" integrity="sha384-VENDOR"></script></head>`,
    );
  });

  it("reads a relative value from the shell's own folder, as the CLI does", () => {
    const html = '<head><script src="app.js"></script><script src="../favicon.ico"></script></head>';
    const out = renderShell({ html, version: '1.2.0', base: '/_daylight', files, shell: 'assets/index.html' });
    expect(out).toBe(
      `<head>${META}<script src="/_daylight/releases/1.2.0/files/assets/app.js" integrity="sha384-APP"></script><script src="/_daylight/releases/1.2.0/files/favicon.ico" integrity="sha384-ICO"></script></head>`,
    );
    // From the root, app.js is not a file of the release.
    expect(render(html)).toContain('<script src="app.js">');
  });

  it('leaves comments, script bodies and style bodies untouched', () => {
    const html = [
      '<head>',
      '<!-- <script src="/assets/app.js"></script> -->',
      `<script>const s = '<link rel="stylesheet" href="/assets/style.css">';</script>`,
      '<style>/* <link href="/assets/style.css"> */</style>',
      '</head>',
    ].join('');
    expect(render(html)).toBe(html.replace('<head>', `<head>${META}`));
  });

  it('handles a > inside a quoted attribute value', () => {
    const out = render('<head><script data-x="a>b" src="/assets/app.js"></script></head>');
    expect(out).toContain(
      '<script data-x="a>b" src="/_daylight/releases/1.2.0/files/assets/app.js" integrity="sha384-APP">',
    );
  });

  it('finds percent-encoded file names and writes the encoded URL', () => {
    const out = render('<head><script src="/assets/a%20b.js"></script></head>');
    expect(out).toContain('src="/_daylight/releases/1.2.0/files/assets/a%20b.js" integrity="sha384-SPACE"');
  });

  it('encodes build metadata in the version of rewritten URLs', () => {
    const out = render('<head><script src="/assets/app.js"></script></head>', '1.2.0+build.7');
    expect(out).toContain('src="/_daylight/releases/1.2.0%2Bbuild.7/files/assets/app.js"');
    expect(out).toContain('content="1.2.0+build.7"');
  });

  it('does not treat custom elements such as <scripts> or <linker> as tags to rewrite', () => {
    const html = '<head><linker href="/assets/app.js"></linker></head>';
    expect(render(html)).toContain('<linker href="/assets/app.js">');
  });

  it('gives the shell an import map with the hash of every JavaScript file, so that imported chunks are checked', () => {
    const out = render('<head><script type="module" src="/assets/app.js"></script></head>', '1.2.0+build.7');
    const map = /<script type="importmap">(.*?)<\/script>/.exec(out)?.[1];
    expect(JSON.parse(map!)).toEqual({
      integrity: {
        '/_daylight/releases/1.2.0%2Bbuild.7/files/assets/app.js': 'sha384-APP',
        '/_daylight/releases/1.2.0%2Bbuild.7/files/assets/vendor.js': 'sha384-VENDOR',
        '/_daylight/releases/1.2.0%2Bbuild.7/files/assets/a%20b.js': 'sha384-SPACE',
      },
    });
    // Before any module script: a browser reads an import map only before modules start loading.
    expect(out.indexOf('type="importmap"')).toBeLessThan(out.indexOf('type="module"'));
    expect(renderShell({ html: '<head>', version: '1.2.0', base: '/_daylight', files: new Map() })).toBe(
      '<head><meta name="daylight-release" content="1.2.0">',
    );
  });

  it('puts the import map before a module script that comes before the head, where a browser still reads it', () => {
    const app = 'src="/_daylight/releases/1.2.0/files/assets/app.js" integrity="sha384-APP"';
    const meta = '<meta name="daylight-release" content="1.2.0">';
    expect(
      render('<!doctype html><html><script type="module" src="/assets/app.js"></script><head><title>x</title></head>'),
    ).toBe(`<!doctype html><html>${MAP}<script type="module" ${app}></script><head>${meta}<title>x</title></head>`);
    // Whatever way the type is written, an inline module too, and before the <html> tag.
    for (const type of ["'Module'", 'module', '" module "']) {
      expect(render(`<script type=${type}>import '/x.js';</script><html><head></head>`)).toBe(
        `${MAP}<script type=${type}>import '/x.js';</script><html><head>${meta}</head>`,
      );
    }
    // A classic script, a commented-out module script, or one after the head leave the map after the meta.
    const classic = '<html><script src="/x.js"></script><!-- <script type="module"></script> --><head></head>';
    expect(render(classic)).toBe(
      `<html><script src="/x.js"></script><!-- <script type="module"></script> --><head>${META}</head>`,
    );
    expect(render('<head></head><body><script type="module"></script>')).toBe(
      `<head>${META}</head><body><script type="module"></script>`,
    );
    // No map, no move: the meta stays after the head.
    const off = renderShell({
      html: '<script type="module"></script><head>',
      version: '1.2.0',
      base: '/_daylight',
      files,
      importMap: false,
    });
    expect(off).toBe(`<script type="module"></script><head>${meta}`);
  });

  it("leaves the shell's own import map as it is and adds none (an older browser reads the first map only)", () => {
    for (const type of ['importmap', '"importmap"', "' ImportMap '"]) {
      const html = `<head><script type=${type}>{"imports":{"vue":"/assets/vendor.js"}}</script><script type="module" src="/assets/app.js"></script></head>`;
      const out = render(html);
      expect(out.match(/importmap/gi), type).toHaveLength(1);
      // Its text unchanged: a Content-Security-Policy may allow it by its hash.
      expect(out).toContain(`<script type=${type}>{"imports":{"vue":"/assets/vendor.js"}}</script>`);
    }
  });

  it('adds no import map when told not to (importMapIntegrity: false)', () => {
    const out = renderShell({ html: '<head>', version: '1.2.0', base: '/_daylight', files, importMap: false });
    expect(out).toBe('<head><meta name="daylight-release" content="1.2.0">');
  });

  it('leaves an import map it cannot read alone, and adds none', () => {
    const html = '<head><script type="importmap">{ not json </script></head>';
    expect(render(html)).toBe(
      '<head><meta name="daylight-release" content="1.2.0"><script type="importmap">{ not json </script></head>',
    );
  });

  it('escapes < in the import map, so no file name can close its script element', () => {
    const odd = new Map<string, ShellFile>([['a</script>.js', { url: 'a%3C/script%3E.js', integrity: 'sha384-<x' }]]);
    const out = renderShell({ html: '<head>', version: '1.2.0', base: '/_daylight', files: odd });
    expect(out.match(/<\/script>/g)).toHaveLength(1);
    expect(out).toContain('"sha384-\\u003cx"');
  });
});
