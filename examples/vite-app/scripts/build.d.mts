/** Builds one release of the Vite example with vite.config.mjs (see build.mjs). */
export function buildRelease(
  version: string,
  options?: { outDir?: string; base?: string },
): Promise<{ outDir: string }>;
