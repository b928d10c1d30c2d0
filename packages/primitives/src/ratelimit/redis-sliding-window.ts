import { randomBytes } from 'node:crypto';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import { hashTag, loadScript, type RedisClient, type RedisKeyOptions } from '../redis/index.js';
import { type RateLimitResult, RedisFailover, type RedisFailoverOptions, type RedisFailPolicy, type RedisLimiterEvents } from './redis-failover.js';

const script = loadScript<[number, number, number]>(new URL('./sliding-window.lua', import.meta.url), 1);

/** Options of {@link RedisSlidingWindow}. */
export interface RedisSlidingWindowOptions extends RedisKeyOptions, RedisFailoverOptions {
  /** ioredis `Redis` or `Cluster`. */
  redis: RedisClient;
  /** Names the window; every process using the same key (and prefix) shares it. */
  key: string;
  /** Calls admitted in any `windowMs` span. */
  limit: number;
  /** Window length. */
  windowMs: number;
}

/**
 * A sliding-window limiter (a sorted-set log of admitted calls, one Lua script): at most `limit`
 * calls in **any** `windowMs` span. A fixed window (INCR + EXPIRE per calendar window) admits up
 * to 2× the limit around a window boundary (go-zero#1567); this one cannot. Time comes from
 * Redis `TIME`. Memory is O(limit) per key (one entry per admitted call), so prefer
 * {@link RedisTokenBucket} for limits in the tens of thousands. Key: `<prefix>sw:{<key>}`.
 * While Redis is down, `failPolicy` decides (`local` keeps an in-process sliding log).
 */
export class RedisSlidingWindow {
  readonly redisKey: string;
  readonly limit: number;
  readonly windowMs: number;
  private readonly redis: RedisClient;
  private readonly failover: RedisFailover;
  private readonly idPrefix = randomBytes(6).toString('hex');
  private seq = 0;
  private localLog: number[] = [];

  constructor(options: RedisSlidingWindowOptions) {
    if (options?.redis == null) throw new InvalidArgumentError('redis', 'an ioredis client', options?.redis);
    this.redis = options.redis;
    const key = assertNonEmptyString('key', options.key);
    this.limit = assertInteger('limit', options.limit, 1);
    this.windowMs = assertInteger('windowMs', options.windowMs, 1);
    this.redisKey = `${options.prefix ?? 'gk:'}sw:${hashTag(key)}`;
    this.failover = new RedisFailover(options);
  }

  /** What happens while Redis is unreachable. */
  get failPolicy(): RedisFailPolicy {
    return this.failover.policy;
  }

  /** True while Redis is considered down and the fail policy answers. */
  get degraded(): boolean {
    return this.failover.degraded;
  }

  /** Admits `n` calls if the last `windowMs` holds at most `limit - n` admitted calls. */
  async allow(n = 1): Promise<RateLimitResult> {
    assertInteger('n', n);
    const id = `${this.idPrefix}:${this.seq++}`;
    return this.failover.run(
      () => script.run(this.redis, [this.redisKey], [this.limit, this.windowMs, n, id]),
      ([allowed, remaining, retry]): RateLimitResult => ({
        allowed: allowed === 1,
        remaining,
        retryAfterMs: retry < 0 ? Number.POSITIVE_INFINITY : retry,
        source: 'redis',
      }),
      () => this.fallbackAllow(n),
    );
  }

  /** Subscribes to `redisError`, `degraded` or `recovered`; returns an unsubscribe function. */
  on<K extends keyof RedisLimiterEvents>(event: K, listener: (e: RedisLimiterEvents[K]) => void): () => void {
    return this.failover.on(event, listener);
  }

  private fallbackAllow(n: number): RateLimitResult {
    const policy = this.failover.policy;
    if (policy === 'failOpen') return { allowed: true, remaining: this.limit, retryAfterMs: 0, source: 'failOpen' };
    if (policy === 'failClosed') {
      return { allowed: false, remaining: 0, retryAfterMs: n > this.limit ? Number.POSITIVE_INFINITY : this.windowMs, source: 'failClosed' };
    }
    const now = this.failover.clock.now();
    const log = this.localLog.filter((t) => t > now - this.windowMs);
    this.localLog = log;
    if (n > this.limit) return { allowed: false, remaining: Math.max(0, this.limit - log.length), retryAfterMs: Number.POSITIVE_INFINITY, source: 'local' };
    if (log.length + n <= this.limit) {
      for (let i = 0; i < n; i++) log.push(now);
      return { allowed: true, remaining: this.limit - log.length, retryAfterMs: 0, source: 'local' };
    }
    const oldest = log[log.length + n - this.limit - 1] as number;
    return { allowed: false, remaining: this.limit - log.length, retryAfterMs: Math.max(1, oldest + this.windowMs - now), source: 'local' };
  }
}
