/** Builds one release of the office app (see build.mjs). */
export function buildRelease(
  version: string,
  options?: { outDir?: string; broken?: boolean; atlasBytes?: number },
): Promise<{ outDir: string; entry: string }>;
