import { GopherkitError } from '../errors/index.js';

/**
 * A Redis-backed limiter with `failPolicy: 'failClosed'` could not reach Redis, so
 * {@link RedisTokenBucket.wait} refuses rather than admit unmetered traffic.
 */
export class RateLimiterUnavailableError extends GopherkitError {
  constructor(key: string, options?: { cause?: unknown }) {
    super('ERR_RATE_LIMITER_UNAVAILABLE', `rate limiter "${key}": Redis is unavailable and failPolicy is failClosed`, options);
  }
}
