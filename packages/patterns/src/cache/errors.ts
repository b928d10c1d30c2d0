import { GopherkitError } from '@gopherkit/primitives/errors';

/**
 * The loader did not settle within `loadTimeoutMs`. Its signal was aborted; the error reaches
 * every caller waiting on that load, and nothing was cached.
 */
export class CacheLoadTimeoutError extends GopherkitError {
  readonly key: string;
  readonly timeoutMs: number;
  constructor(key: string, timeoutMs: number) {
    super('ERR_CACHE_LOAD_TIMEOUT', `loader for cache key ${JSON.stringify(key)} did not settle within ${timeoutMs} ms`);
    this.key = key;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * Another process held the rebuild lock of `key` for longer than `lock.waitMs` and no value
 * appeared. The caller gave up waiting instead of stampeding the loader; retry later or raise
 * `lock.waitMs` above the loader's worst case.
 */
export class CacheWaitTimeoutError extends GopherkitError {
  readonly key: string;
  readonly waitedMs: number;
  constructor(key: string, waitedMs: number) {
    super('ERR_CACHE_WAIT_TIMEOUT', `waited ${waitedMs} ms for another process to rebuild cache key ${JSON.stringify(key)}; no value appeared`);
    this.key = key;
    this.waitedMs = waitedMs;
  }
}

/** A Redis command of the cache took longer than `redisTimeoutMs` (counted as a Redis failure by the breaker). */
export class CacheRedisTimeoutError extends GopherkitError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number) {
    super('ERR_CACHE_REDIS_TIMEOUT', `Redis did not answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
  }
}

/** The cache was closed; `take`, `set` and `delete` refuse to run. */
export class CacheClosedError extends GopherkitError {
  constructor() {
    super('ERR_CACHE_CLOSED', 'the cache was closed');
  }
}
