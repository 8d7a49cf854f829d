/**
 * Reference data the app carries, like the large compiled bundles offices
 * download today. This stub is what the type checker sees; the build
 * (scripts/build.mjs) replaces it with about 2.3 MB of data.
 */
export const ATLAS: string = '';
