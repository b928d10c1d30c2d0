/**
 * One cache facade for the three classic cache failures (seed Q17): penetration (negative
 * sentinel, Bloom gate), breakdown (singleflight + cross-process rebuild lock, stale-while-
 * revalidate) and avalanche (TTL jitter, L1 tier with pub/sub invalidation, a breaker around
 * Redis with a concurrency-limited fallback), plus versioned fills and delayed double delete.
 * @module
 */
export { type BloomGate, Cache, type CacheEvents, type CacheLoader, type CacheOptions, type CacheTier, type TakeOptions } from './cache.js';
export { type CacheCodec, jsonCodec } from './codec.js';
export { CacheClosedError, CacheLoadTimeoutError, CacheRedisTimeoutError, CacheWaitTimeoutError } from './errors.js';
export { jitterTtl } from './jitter.js';
