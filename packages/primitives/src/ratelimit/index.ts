/**
 * Rate limiting: an in-process token bucket with `x/time/rate` semantics, a Redis token bucket
 * and a Redis sliding-window limiter shared by many processes, with a chosen behaviour when
 * Redis fails.
 *
 * Rules: refill is continuous (fractions kept); `n` larger than the burst/limit never succeeds;
 * Redis limiters take time from Redis `TIME`; while Redis is down the fail policy answers
 * (`failOpen`, `failClosed` or `local`) and a probe switches back once Redis answers.
 * @module
 */
export { RateLimiterUnavailableError } from './errors.js';
export type {
  RateLimitResult,
  RateLimitSource,
  RedisFailoverOptions,
  RedisFailPolicy,
  RedisLimiterEvents,
} from './redis-failover.js';
export { RedisSlidingWindow, type RedisSlidingWindowOptions } from './redis-sliding-window.js';
export { RedisTokenBucket, type RedisTokenBucketOptions } from './redis-token-bucket.js';
export { type Reservation, TokenBucket, type TokenBucketOptions } from './token-bucket.js';
