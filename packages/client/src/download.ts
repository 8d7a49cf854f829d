/**
 * Fetch a release's manifest, then every file it lists, and verify each
 * against its SRI hash. Nothing is reported ready until every byte matched.
 * The verified responses land in the browser's HTTP cache (release files are
 * served `immutable`), so the switch's reload reads them from there.
 */
import { MAX_MANIFEST_BYTES, checkManifest, type ManifestAsset, type ReleaseManifest } from '@daylight/protocol';
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
  readonly onProgress: (progress: DownloadProgress) => void;
}

const ALGORITHMS: Record<string, string> = { sha256: 'SHA-256', sha384: 'SHA-384', sha512: 'SHA-512' };

/** Base64 of a digest (at most 64 bytes, so one `fromCharCode` call is safe). */
function toBase64(buffer: ArrayBuffer): string {
  return btoa(String.fromCharCode(...new Uint8Array(buffer)));
}

async function get(url: string, context: DownloadContext, version: string, integrity?: string): Promise<Response> {
  let response: Response;
  try {
    response = await context.fetch(url, {
      signal: context.signal,
      credentials: 'same-origin',
      ...(integrity && !crypto.subtle ? { integrity } : {}),
    });
  } catch (error) {
    if (context.signal.aborted) throw context.signal.reason;
    // Without SubtleCrypto, the browser checks `integrity` and rejects on a mismatch.
    const code = integrity && !crypto.subtle ? 'integrity' : 'network';
    throw new DaylightError(code, `Downloading ${url} for release ${version} failed`, { cause: error, version });
  }
  if (!response.ok) {
    throw new DaylightError('network', `Downloading ${url} for release ${version} answered HTTP ${response.status}`, {
      version,
    });
  }
  return response;
}

/** Reads a body, reporting each chunk's size as it arrives. */
async function readBody(response: Response, onChunk: (bytes: number) => void): Promise<Uint8Array<ArrayBuffer>> {
  if (!response.body) {
    const buffer = new Uint8Array(await response.arrayBuffer());
    onChunk(buffer.byteLength);
    return buffer;
  }
  const reader = response.body.getReader();
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return new Uint8Array(await new Blob(chunks).arrayBuffer());
    chunks.push(value);
    onChunk(value.byteLength);
  }
}

/** Fetches, bounds and validates a release's manifest. */
export async function fetchManifest(url: string, version: string, context: DownloadContext): Promise<ReleaseManifest> {
  const response = await get(url, context, version);
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_MANIFEST_BYTES) {
    throw new DaylightError(
      'manifest',
      `The manifest of ${version} is ${declared} bytes; at most ${MAX_MANIFEST_BYTES} are read`,
      {
        version,
      },
    );
  }
  const bytes = await readBody(response, () => undefined);
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new DaylightError('manifest', `The manifest of ${version} is larger than ${MAX_MANIFEST_BYTES} bytes`, {
      version,
    });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new DaylightError('manifest', `The manifest of ${version} at ${url} is not JSON`, { cause: error, version });
  }
  const manifest = checkManifest(parsed, version);
  if (typeof manifest === 'string') {
    throw new DaylightError('manifest', `The manifest of ${version} is invalid: ${manifest}`, { version });
  }
  return manifest;
}

/** Resolves every file's URL against the manifest's and refuses origins that are not allowed. */
export function resolveAssets(
  manifest: ReleaseManifest,
  manifestUrl: string,
  allowedOrigins: readonly string[],
): { url: string; asset: ManifestAsset }[] {
  return manifest.assets.map((asset) => {
    const url = new URL(asset.url, manifestUrl);
    if (url.origin !== new URL(manifestUrl).origin && !allowedOrigins.includes(url.origin)) {
      throw new DaylightError(
        'origin',
        `Release ${manifest.version} lists ${url.href}, whose origin is not allowed; add "${url.origin}" to allowedOrigins if you trust it`,
        { version: manifest.version },
      );
    }
    return { url: url.href, asset };
  });
}

/** Downloads and verifies every file of a release, in order, with progress. */
export async function downloadRelease(
  manifest: ReleaseManifest,
  manifestUrl: string,
  context: DownloadContext,
): Promise<void> {
  const files = resolveAssets(manifest, manifestUrl, context.allowedOrigins);
  const total = files.reduce((sum, file) => sum + file.asset.bytes, 0);
  let loaded = 0;
  context.onProgress({ loaded, total });
  for (const { url, asset } of files) {
    const response = await get(url, context, manifest.version, asset.integrity);
    const dash = asset.integrity.indexOf('-');
    const algorithm = ALGORITHMS[asset.integrity.slice(0, dash)]!;
    if (!crypto.subtle) {
      // The browser verified `integrity` for us; count the file whole.
      await response.arrayBuffer();
      loaded += asset.bytes;
    } else {
      const body = await readBody(response, (bytes) => {
        loaded += bytes;
        context.onProgress({ loaded, total });
      });
      const digest = toBase64(await crypto.subtle.digest(algorithm, body));
      if (digest !== asset.integrity.slice(dash + 1)) {
        throw new DaylightError(
          'integrity',
          `${url} does not match its integrity hash in release ${manifest.version}; the release is not used`,
          { version: manifest.version },
        );
      }
    }
    context.onProgress({ loaded, total });
  }
}
