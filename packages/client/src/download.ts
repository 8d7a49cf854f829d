/**
 * Fetch a release's manifest, then every file it lists, and verify each
 * against its SRI hash. Nothing is reported ready until every byte matched.
 * The verified responses land in the browser's HTTP cache (release files are
 * served `immutable`), so the switch's reload reads them from there.
 */
import { MAX_MANIFEST_BYTES, checkManifest, type ReleaseManifest } from '@daylight/protocol';
import { DaylightError } from './errors.js';

export interface DownloadProgress {
  /** Bytes verified or in flight so far. */
  readonly loaded: number;
  /** Bytes the release's files add up to. */
  readonly total: number;
}

interface DownloadContext {
  readonly fetch: typeof fetch;
  readonly signal: AbortSignal;
  readonly allowedOrigins: readonly string[];
  readonly progress: (progress: DownloadProgress) => void;
}

/** `sha384-…` → the Web Crypto name, `SHA-384`. */
const algorithm = (integrity: string): string => `SHA-${integrity.slice(3, 6)}`;

/**
 * Fetches one file of a release. Without SubtleCrypto (plain `http:` on an
 * intranet), the browser checks `integrity` itself and rejects on a mismatch.
 */
async function get(
  url: string,
  context: DownloadContext,
  version: string,
  integrity?: string,
  reload?: boolean,
): Promise<Response> {
  const native = !!integrity && !crypto.subtle;
  let response: Response;
  try {
    response = await context.fetch(url, {
      signal: context.signal,
      credentials: 'same-origin',
      cache: reload ? 'reload' : 'default',
      ...(native ? { integrity } : {}),
    });
  } catch (cause) {
    if (context.signal.aborted) throw context.signal.reason;
    throw new DaylightError(native ? 'integrity' : 'network', `Downloading ${url} for release ${version} failed`, {
      cause,
      version,
    });
  }
  if (response.ok) return response;
  throw new DaylightError('network', `Downloading ${url} for release ${version} answered HTTP ${response.status}`, {
    version,
  });
}

/** Reads a body, reporting each chunk's size as it arrives. */
async function readBody(response: Response, onChunk: (bytes: number) => void): Promise<ArrayBuffer> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  const reader = response.body?.getReader();
  for (let chunk; reader && !(chunk = await reader.read()).done; onChunk(chunk.value.byteLength))
    chunks.push(chunk.value);
  return new Blob(chunks).arrayBuffer();
}

/** Fetches, bounds and validates a release's manifest. */
export async function fetchManifest(url: string, version: string, context: DownloadContext): Promise<ReleaseManifest> {
  const response = await get(url, context, version);
  const fail = (problem: string, cause?: unknown): never => {
    throw new DaylightError('manifest', `The manifest of ${version} at ${url} ${problem}`, { cause, version });
  };
  if (Number(response.headers.get('content-length')) > MAX_MANIFEST_BYTES) fail(`is over ${MAX_MANIFEST_BYTES} bytes`);
  const bytes = await response.arrayBuffer();
  if (bytes.byteLength > MAX_MANIFEST_BYTES) fail(`is over ${MAX_MANIFEST_BYTES} bytes`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (cause) {
    fail('is not JSON', cause);
  }
  const manifest = checkManifest(parsed, version);
  return typeof manifest === 'string' ? fail(`is invalid: ${manifest}`) : manifest;
}

/** Downloads and verifies every file of a release, in order, with progress. */
export async function downloadRelease(
  manifest: ReleaseManifest,
  manifestUrl: string,
  context: DownloadContext,
  again?: boolean,
): Promise<void> {
  const { version, assets } = manifest;
  // Every URL is checked before any is fetched: an origin that is not allowed refuses the whole release.
  const files = assets.map((asset) => {
    const url = new URL(asset.url, manifestUrl);
    if (url.origin !== new URL(manifestUrl).origin && !context.allowedOrigins.includes(url.origin)) {
      throw new DaylightError(
        'origin',
        `Release ${version} lists ${url}, whose origin is not allowed; add "${url.origin}" to allowedOrigins if you trust it`,
        { version },
      );
    }
    return { ...asset, url: url.href };
  });
  const total = files.reduce((sum, file) => sum + file.bytes, 0);
  let loaded = 0;
  const progress = (bytes: number): void => context.progress({ loaded: (loaded += bytes), total });
  progress(0);
  try {
    for (const { url, integrity, bytes } of files) {
      const response = await get(url, context, version, integrity, again);
      if (!crypto.subtle) {
        // The browser verified `integrity` for us; count the file whole.
        await response.arrayBuffer();
        progress(bytes);
        continue;
      }
      const digest = await crypto.subtle.digest(algorithm(integrity), await readBody(response, progress));
      if (btoa(String.fromCharCode(...new Uint8Array(digest))) !== integrity.slice(7)) {
        throw new DaylightError(
          'integrity',
          `${url} does not match its integrity hash in release ${version}; the release is not used`,
          { version },
        );
      }
      progress(0);
    }
  } catch (error) {
    if (again || (error as DaylightError).code !== 'integrity') throw error;
    // Once more, every file past the HTTP cache: the browser keeps a damaged copy a proxy or a cache handed it
    // (release files are immutable), and every later download — and every page load of the release — in this
    // browser would read it again. Below a floor, that is a tab that can never switch.
    return downloadRelease(manifest, manifestUrl, context, true);
  }
}
