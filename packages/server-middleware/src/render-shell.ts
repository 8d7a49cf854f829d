/**
 * Turns a release's HTML shell (the build's `index.html`) into the page the
 * middleware serves:
 *
 * - `<meta name="daylight-release" content="V">` right after `<head …>`;
 * - every `src` of a `<script>` and `href` of a `<link>` that names a file of
 *   the release, read as the CLI reads the entry script (`shellReference`: a
 *   root-relative value from the build's root, a relative one from the
 *   shell's folder, query and fragment dropped), rewritten to
 *   `{base}/releases/{V}/files/{path}` — without the query, so the page loads
 *   the very URL the client downloaded and verified ahead;
 * - `integrity` added to those scripts, stylesheets and module preloads, unless
 *   the tag already has one;
 * - an import map whose `integrity` section names the SRI hash of every
 *   JavaScript file of the release (`.js`, `.mjs`), right after the meta —
 *   or, in a shell with a module script before that point (a `<script
 *   type="module">` above `<head>`), right before that script: a browser
 *   ignores an import map that comes after a module script — so
 *   that the browser checks the chunks a module imports — statically or with
 *   `import()` — and not only the tags above: the client verifies a release
 *   it downloads ahead, but a page loaded afresh (a new tab, a reload) takes
 *   what the server sends. A shell with an import map of its own gets none:
 *   a browser before multiple import maps (Chromium before 133) reads the
 *   first one only, so ours before it would cost the app its map, and merged
 *   into it would change its text (an app's CSP may allow it by its hash).
 *   Off with `importMap: false` (the server's `importMapIntegrity`). Browsers
 *   without import map integrity (Chromium before 127, Firefox before 138,
 *   Safari before 18) ignore the section.
 *
 * Limits, on purpose: this is a careful regular-expression rewrite, not an
 * HTML parser. It skips comments and the bodies of `<script>` and `<style>`
 * elements, and understands quoted (`"`/`'`) and unquoted attribute values,
 * but it only touches `<script>` and `<link>` tags (not `<img>`, `<source>`,
 * `srcset` or CSS `url()`), a value with HTML character references is read
 * as written (`&amp;` in a file name does not match), and it
 * does not look inside `<template>`, `<textarea>` or `<title>`. A build tool's
 * `index.html` is well inside those limits.
 */
import { RELEASE_META_NAME, assetPath, shellReference } from '@daylight/protocol';

/** A file of the release as the shell rewrite needs it. */
export interface ShellFile {
  /** The file's path below `files/`, percent-encoded as in the manifest (`assets/app-3f2a.js`). */
  readonly url: string;
  /** Its SRI value, `sha384-…`. */
  readonly integrity: string;
}

export interface RenderShellInput {
  /** The shell as the build wrote it. */
  readonly html: string;
  readonly version: string;
  /** Daylight's base path, `/_daylight` by default. */
  readonly base: string;
  /** The release's files, by decoded build-relative path (`assets/app-3f2a.js`). */
  readonly files: ReadonlyMap<string, ShellFile>;
  /** The shell's own build-relative path, which relative references start from. @default 'index.html' */
  readonly shell?: string;
  /** Whether to add the import map with the hash of every JavaScript file (see the module comment). @default true */
  readonly importMap?: boolean;
}

// One attribute list: anything up to `>` that is not inside quotes.
const ATTRIBUTES = String.raw`(?:[^>"']|"[^"]*"|'[^']*')*`;
// Alternatives, tried at each position from left to right: a comment (kept as
// it is), a <script> with its body (only the opening tag is rewritten), a
// <link>, a <style> element (kept as it is, so "<link" in CSS is not a tag).
const TAGS = new RegExp(
  [
    String.raw`<!--[\s\S]*?-->`,
    String.raw`<(script)(?=[\s/>])(${ATTRIBUTES})>((?:[\s\S]*?<\/script\s*>)?)`,
    String.raw`<(link)(?=[\s/>])(${ATTRIBUTES})>`,
    String.raw`<style(?=[\s/>])${ATTRIBUTES}>[\s\S]*?<\/style\s*>`,
  ].join('|'),
  'gi',
);
const ATTRIBUTE = /([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g;
// The opening <head> or <html> tag, not one inside a comment.
const HEAD = new RegExp(String.raw`<!--[\s\S]*?-->|<head(?=[\s/>])${ATTRIBUTES}>`, 'gi');
const HTML = new RegExp(String.raw`<!--[\s\S]*?-->|<html(?=[\s/>])${ATTRIBUTES}>`, 'gi');
const DOCTYPE = /^\s*<!doctype[^>]*>/gi;
// Link relations whose target the browser verifies with `integrity`.
const VERIFIED_RELS = new Set(['stylesheet', 'modulepreload']);
// The files whose hashes go into the import map: JavaScript, which a module may import.
const MODULE_FILE = /\.m?js$/i;
// A `<script>` whose type is an import map (browsers trim the value and ignore its case).
const IMPORT_MAP_TYPE = /(?:^|\s)type\s*=\s*(?:"\s*importmap\s*"|'\s*importmap\s*'|importmap)(?=[\s/]|$)/i;
// A `<script>` whose type is a module, read the same way.
const MODULE_TYPE = /(?:^|\s)type\s*=\s*(?:"\s*module\s*"|'\s*module\s*'|module)(?=[\s/]|$)/i;

/** Escapes a value for a double-quoted HTML attribute. */
export function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => (c === '&' ? '&amp;' : c === '"' ? '&quot;' : c === '<' ? '&lt;' : '&gt;'));
}

interface Attribute {
  readonly name: string;
  readonly value: string | undefined;
  readonly start: number;
  readonly end: number;
}

function parseAttributes(text: string): Attribute[] {
  const out: Attribute[] = [];
  for (const match of text.matchAll(ATTRIBUTE)) {
    out.push({
      name: match[1]!.toLowerCase(),
      value: match[2] ?? match[3] ?? match[4],
      start: match.index,
      end: match.index + match[0].length,
    });
  }
  return out;
}

function rewriteTag(tag: 'script' | 'link', text: string, input: RenderShellInput): string {
  const attributes = parseAttributes(text);
  const target = tag === 'script' ? 'src' : 'href';
  const reference = attributes.find((a) => a.name === target);
  if (reference?.value === undefined) return text;
  const path = shellReference(reference.value, input.shell);
  const file = path === undefined ? undefined : input.files.get(path);
  if (file === undefined) return text;

  const url = assetPath(input.base, input.version, file.url);
  let out = `${text.slice(0, reference.start)}${target}="${escapeAttribute(url)}"${text.slice(reference.end)}`;

  const verified =
    tag === 'script' ||
    (attributes
      .find((a) => a.name === 'rel')
      ?.value?.toLowerCase()
      .split(/\s+/)
      .some((rel) => VERIFIED_RELS.has(rel)) ??
      false);
  if (verified && !attributes.some((a) => a.name === 'integrity')) {
    // Before a self-closing "/" so that `<link … />` stays well formed.
    const selfClosing = /\s*\/\s*$/.exec(out);
    const at = selfClosing ? selfClosing.index : out.length;
    out = `${out.slice(0, at)} integrity="${escapeAttribute(file.integrity)}"${out.slice(at)}`;
  }
  return out;
}

/** Where a match of `pattern` that is not a comment ends in `html`, or `undefined`. */
function after(html: string, pattern: RegExp): number | undefined {
  for (const match of html.matchAll(pattern)) {
    if (!match[0].startsWith('<!--')) return match.index + match[0].length;
  }
  return undefined;
}

/** The release's JavaScript files by the URL the page loads them from, with their SRI hashes. */
function moduleIntegrity(input: RenderShellInput): Record<string, string> {
  const integrity: Record<string, string> = {};
  for (const [path, file] of input.files) {
    if (MODULE_FILE.test(path)) integrity[assetPath(input.base, input.version, file.url)] = file.integrity;
  }
  return integrity;
}

/** JSON for the body of a `<script>`: `<` escaped, so no value can close the element. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

/** Renders the shell for one release. Pure; see the module comment for what it changes. */
export function renderShell(input: RenderShellInput): string {
  /** Whether the shell has an import map of its own: it is left as it is, and gets no second one. */
  let ownMap = false;
  /** Where the first module script starts in the rewritten shell: the import map must come before it. */
  let firstModule: number | undefined;
  let rewritten = '';
  let copied = 0;
  for (const match of input.html.matchAll(TAGS)) {
    const [whole, script, scriptAttrs, scriptRest, link, linkAttrs] = match;
    let out = whole; // a comment or a <style> element stays as it is
    if (script !== undefined) {
      const attributes = scriptAttrs ?? '';
      if (IMPORT_MAP_TYPE.test(attributes)) ownMap = true;
      else {
        if (firstModule === undefined && MODULE_TYPE.test(attributes)) {
          firstModule = rewritten.length + match.index - copied;
        }
        out = `<${script}${rewriteTag('script', attributes, input)}>${scriptRest ?? ''}`;
      }
    } else if (link !== undefined) out = `<${link}${rewriteTag('link', linkAttrs ?? '', input)}>`;
    rewritten += input.html.slice(copied, match.index) + out;
    copied = match.index + whole.length;
  }
  rewritten += input.html.slice(copied);
  const integrity = input.importMap === false || ownMap ? {} : moduleIntegrity(input);
  const map =
    Object.keys(integrity).length === 0 ? '' : `<script type="importmap">${scriptJson({ integrity })}</script>`;
  const meta = `<meta name="${RELEASE_META_NAME}" content="${escapeAttribute(input.version)}">`;
  const at = after(rewritten, HEAD) ?? after(rewritten, HTML) ?? after(rewritten, DOCTYPE) ?? 0;
  if (firstModule === undefined || firstModule >= at || map === '') {
    return `${rewritten.slice(0, at)}${meta}${map}${rewritten.slice(at)}`;
  }
  // A module script before the head (a malformed shell): the map goes before it, the meta where it always goes.
  const before = rewritten.slice(0, firstModule);
  return `${before}${map}${rewritten.slice(firstModule, at)}${meta}${rewritten.slice(at)}`;
}
