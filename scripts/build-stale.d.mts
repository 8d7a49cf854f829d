/** The dist/ files a package.json points at (`exports`, `bin`, `main`, `module`, `types`), as `./dist/…`. */
export function pointedAt(manifest: Record<string, unknown>): string[];
/** True when a file the package in `dir` points at is missing, or older than a source file or its package.json. */
export function isStale(dir: string): boolean;
/** Vitest's global setup: builds the stale packages, in build order. */
export default function setup(): void;
