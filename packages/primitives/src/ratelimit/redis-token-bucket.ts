import { sleep } from '../clock/index.js';
import { DeadlineExceededError, isContext, type WaitOptions, waitSignal } from '../context/index.js';
import { assertFinite, assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import { hashTag, isNoScriptError, loadScript, type RedisClient, type RedisKeyOptions, type ScriptArg } from '../redis/index.js';
import { RateLimiterUnavailableError } from './errors.js';
import { type RateLimitResult, RedisFailover, type RedisFailoverOptions, type RedisFailPolicy, type RedisLimiterEvents } from './redis-failover.js';
import { TokenBucket } from './token-bucket.js';
import { deadlineOf } from './wait-deadline.js';

/** A bare integer: admitted now, that many whole tokens left; otherwise {allowed, left, waitMs}. */
type Answer = number | [allowed: number, remaining: number, waitMs: number];
const script = loadScript<Answer>(new URL('./token-bucket.lua', import.meta.url), 1);

/**
 * Redis `TIME` has microsecond resolution: a faster rate would refill in steps the clock cannot
 * see (and one Redis key serves ~10^5 calls/s anyway).
 */
const MAX_REDIS_RATE = 1_000_000;

/** Options of {@link RedisTokenBucket}. */
export interface RedisTokenBucketOptions extends RedisKeyOptions, RedisFailoverOptions {
  /** ioredis `Redis` or `Cluster`. */
  redis: RedisClient;
  /** Names the bucket; every process using the same key (and prefix) shares it. */
  key: string;
  /** Tokens added per second, continuously (> 0 and at most 10^6, the resolution of Redis `TIME`). */
  ratePerSec: number;
  /** Bucket size. */
  burst: number;
}

/**
 * A token bucket shared by every process through one Redis key, updated by one Lua script:
 * the same rules as {@link TokenBucket}, with time taken from Redis `TIME` so clients with
 * skewed clocks still agree, the stored time only moving forward, and the key expiring once the
 * bucket would be full again (so idle buckets cost no memory). The key holds one number, the
 * time at which the bucket will be full again (GCRA's "theoretical arrival time"): that makes
 * the same decisions as a (tokens, last refill) pair for a GET and a SET instead of a hash read,
 * a hash write and a PEXPIRE. The key is `<prefix>tb:{<key>}`: hash-tagged, so it works on Redis
 * Cluster.
 *
 * When Redis fails or is slower than `timeoutMs`, `failPolicy` decides: `failOpen`,
 * `failClosed`, or `local` (an in-process {@link TokenBucket} with the same rate and burst)
 * until a probe finds Redis again; `degraded` / `recovered` events report the switches.
 *
 * @example
 * ```ts
 * const bucket = new RedisTokenBucket({ redis, key: `api:${userId}`, ratePerSec: 10, burst: 20 });
 * const r = await bucket.allow();
 * if (!r.allowed) res.setHeader('Retry-After', Math.ceil(r.retryAfterMs / 1000));
 * ```
 */
export class RedisTokenBucket {
  /** The Redis key holding the bucket. */
  readonly redisKey: string;
  readonly ratePerSec: number;
  readonly burst: number;
  private readonly redis: RedisClient;
  private readonly failover: RedisFailover;
  private local: TokenBucket | undefined;
  // arguments and callbacks of allow() made once: the per-call cost is what the benchmark measures
  private readonly keys: readonly string[];
  private readonly intervalArg: string;
  private readonly burstArg: string;
  private readonly allowOne: readonly string[];
  private readonly sendOne: () => Promise<Answer>;
  private readonly recoverOne: (error: unknown) => Promise<Answer> | undefined;
  private readonly fallbackOne: () => RateLimitResult;

  constructor(options: RedisTokenBucketOptions) {
    if (options?.redis == null) throw new InvalidArgumentError('redis', 'an ioredis client', options?.redis);
    this.redis = options.redis;
    const key = assertNonEmptyString('key', options.key);
    this.ratePerSec = assertFinite('ratePerSec', options.ratePerSec, Number.MIN_VALUE);
    if (this.ratePerSec > MAX_REDIS_RATE) {
      throw new InvalidArgumentError('ratePerSec', `a number <= ${MAX_REDIS_RATE} (Redis TIME resolves microseconds)`, options.ratePerSec);
    }
    this.burst = assertInteger('burst', options.burst, 1);
    const fullMs = Math.ceil((this.burst * 1000) / this.ratePerSec) + 1;
    if (!Number.isSafeInteger(fullMs)) {
      throw new InvalidArgumentError('ratePerSec', `a rate that refills burst (${this.burst}) within 2^53 ms`, options.ratePerSec);
    }
    this.redisKey = `${options.prefix ?? 'gk:'}tb:${hashTag(key)}`;
    this.failover = new RedisFailover(options);
    this.keys = [this.redisKey];
    this.intervalArg = String(1000 / this.ratePerSec);
    this.burstArg = String(this.burst);
    this.allowOne = [this.intervalArg, this.burstArg];
    this.sendOne = () => script.evalsha(this.redis, this.keys, this.allowOne);
    this.recoverOne = (error) => this.recover(error, this.allowOne);
    this.fallbackOne = () => this.fallbackAllow(1);
  }

  /** What happens while Redis is unreachable. */
  get failPolicy(): RedisFailPolicy {
    return this.failover.policy;
  }

  /** True while Redis is considered down and the fail policy answers. */
  get degraded(): boolean {
    return this.failover.degraded;
  }

  /** Takes `n` tokens if the shared bucket has them now; never waits. */
  allow(n = 1): Promise<RateLimitResult> {
    if (n !== 1 && !(Number.isInteger(n) && n >= 0)) return Promise.reject(new InvalidArgumentError('n', 'an integer >= 0', n));
    if (n === 1) return this.failover.run(this.sendOne, toResult, this.fallbackOne, this.recoverOne);
    const args = [this.intervalArg, this.burstArg, String(n)];
    return this.failover.run(
      () => script.evalsha(this.redis, this.keys, args),
      toResult,
      () => this.fallbackAllow(n),
      (error) => this.recover(error, args),
    );
  }

  /**
   * Waits until `n` tokens are ours. The script reserves them ahead in one round trip (no
   * polling), so waiters across processes are served in the order they asked. Rejects at once
   * when `n > burst` or when the wait would end after the deadline; an abort during the wait
   * rejects with the reason but does **not** return the tokens (other processes may already
   * have been told to wait for them). With `failClosed` and Redis down it rejects with
   * {@link RateLimiterUnavailableError}; with `failOpen` it resolves at once.
   */
  async wait(n = 1, options?: WaitOptions): Promise<void> {
    assertInteger('n', n);
    if (n > this.burst) throw new InvalidArgumentError('n', `an integer <= burst (${this.burst}) for wait`, n);
    const clock = this.failover.clock;
    using scope = waitSignal(isContext(options) ? options : { signal: options?.signal }, clock);
    if (scope.signal?.aborted) throw scope.signal.reason;
    const deadline = deadlineOf(options);
    const maxWait = deadline === undefined ? 1e15 : Math.max(0, Math.floor(deadline - clock.now()));
    const args = [this.intervalArg, this.burstArg, String(n), String(maxWait)];
    const r = await this.failover.run(
      () => script.run(this.redis, this.keys, args),
      (answer): [number, number, number] => (typeof answer === 'number' ? [1, answer, 0] : answer),
      () => undefined,
    );
    if (r === undefined) {
      if (this.failover.policy === 'failOpen') return;
      if (this.failover.policy === 'failClosed') throw new RateLimiterUnavailableError(this.redisKey);
      return this.localBucket().wait(n, options);
    }
    const [allowed, , waitMs] = r;
    if (allowed !== 1) {
      throw new DeadlineExceededError(`token bucket "${this.redisKey}": wait(${n}) would end after the deadline (needs ${waitMs} ms)`);
    }
    if (waitMs > 0) await sleep(waitMs, { signal: scope.signal, clock });
  }

  /** Subscribes to `redisError`, `degraded` or `recovered`; returns an unsubscribe function. */
  on<K extends keyof RedisLimiterEvents>(event: K, listener: (e: RedisLimiterEvents[K]) => void): () => void {
    return this.failover.on(event, listener);
  }

  /** EVALSHA answered NOSCRIPT (restart, SCRIPT FLUSH, new node): send it with the EVAL fallback. */
  private recover(error: unknown, args: readonly ScriptArg[]): Promise<Answer> | undefined {
    return isNoScriptError(error) ? script.run(this.redis, this.keys, args) : undefined;
  }

  private fallbackAllow(n: number): RateLimitResult {
    const policy = this.failover.policy;
    if (policy === 'failOpen') return { allowed: true, remaining: this.burst, retryAfterMs: 0, source: 'failOpen' };
    if (policy === 'failClosed') {
      return { allowed: false, remaining: 0, retryAfterMs: n > this.burst ? Number.POSITIVE_INFINITY : 1_000 / this.ratePerSec, source: 'failClosed' };
    }
    const local = this.localBucket();
    const allowed = local.allow(n);
    const tokens = local.tokens();
    const retryAfterMs = allowed ? 0 : n > this.burst ? Number.POSITIVE_INFINITY : Math.ceil(((n - tokens) * 1000) / this.ratePerSec);
    return { allowed, remaining: Math.max(0, Math.floor(tokens)), retryAfterMs, source: 'local' };
  }

  private localBucket(): TokenBucket {
    this.local ??= new TokenBucket({ ratePerSec: this.ratePerSec, burst: this.burst, clock: this.failover.clock });
    return this.local;
  }
}

function toResult(answer: Answer): RateLimitResult {
  if (typeof answer === 'number') return { allowed: true, remaining: answer, retryAfterMs: 0, source: 'redis' };
  const [allowed, remaining, waitMs] = answer;
  return {
    allowed: allowed === 1,
    remaining,
    retryAfterMs: waitMs < 0 ? Number.POSITIVE_INFINITY : allowed === 1 ? 0 : waitMs,
    source: 'redis',
  };
}
