/** The census's public surface (docs/census.md); re-exported by the package's index. */
export {
  CENSUS_BUCKETS,
  CENSUS_WINDOWS,
  CENSUS_WINDOW_NAMES,
  DEFAULT_COHORT,
  DEFAULT_MAX_SERIES,
  OTHER,
  UNKNOWN_RELEASE,
  createCensus,
  Census,
} from './census.js';
export type { CensusOptions, CensusPoint, CensusSeries, CensusSnapshot, CensusWindow } from './census.js';
export { HLL_STANDARD_ERROR, HyperLogLog } from './hll.js';
export {
  CENSUS_RETENTION_MS,
  DEFAULT_FLUSH_INTERVAL_MS,
  RedisCensus,
  openCensusRedis,
  readFleetCensus,
} from './redis-census.js';
export type { RedisCensusOptions } from './redis-census.js';
export type { CensusServerOptions } from './options.js';
