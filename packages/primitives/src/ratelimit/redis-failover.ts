import { type Clock, type ClockTimer, systemClock } from '../clock/index.js';
import { assertFinite, GopherkitError, InvalidArgumentError } from '../errors/index.js';

/**
 * What a Redis-backed limiter does while Redis is unreachable (or slower than `timeoutMs`):
 * - `failOpen`: admit everything (availability over protection);
 * - `failClosed`: refuse everything (protection over availability);
 * - `local`: meter with an in-process limiter of the same shape until Redis answers again
 *   (each process then admits its own full rate: size the local limit accordingly).
 */
export type RedisFailPolicy = 'failOpen' | 'failClosed' | 'local';

/** Which limiter decided a {@link RateLimitResult}. */
export type RateLimitSource = 'redis' | 'local' | 'failOpen' | 'failClosed';

/** The answer of every limiter in this module. */
export interface RateLimitResult {
  allowed: boolean;
  /** Whole units still available right after this call. */
  remaining: number;
  /**
   * For a refused call, how long until the same call would succeed (`Infinity` when it never
   * can: `n` larger than the limit); for an admitted one, 0 (or the delay of a reservation).
   */
  retryAfterMs: number;
  /** Who answered: Redis, or the fail policy while Redis was unreachable. */
  source: RateLimitSource;
}

/** Events of the Redis-backed limiters. */
export interface RedisLimiterEvents {
  /** A Redis call failed or timed out (every time, for logs and metrics). */
  redisError: { error: unknown };
  /** The limiter switched to its fail policy; `error` is the failure that made it switch. */
  degraded: { policy: RedisFailPolicy; error: unknown };
  /** Redis answered again after a degraded period; the limiter uses Redis from now on. */
  recovered: { degradedMs: number };
}

/** Options every Redis-backed limiter shares. */
export interface RedisFailoverOptions {
  /** What to do while Redis is unreachable. Default `local`. */
  failPolicy?: RedisFailPolicy;
  /** A Redis answer slower than this counts as a failure. Default 250 ms. */
  timeoutMs?: number;
  /**
   * While degraded, try Redis again at most this often (one probe call at a time; the others
   * use the fail policy at once instead of waiting on a dead connection). Default 1 000 ms.
   */
  probeIntervalMs?: number;
  /** Time source for the timeout and the probe interval. */
  clock?: Clock;
}

class RedisTimeoutError extends GopherkitError {
  constructor(ms: number) {
    super('ERR_REDIS_TIMEOUT', `Redis did not answer within ${ms} ms`);
  }
}

interface InFlight {
  startedAt: number;
  reject(error: unknown): void;
}

type Listener<K extends keyof RedisLimiterEvents> = (e: RedisLimiterEvents[K]) => void;

/** Runs Redis calls under a timeout and routes around Redis while it is down. @internal */
export class RedisFailover {
  readonly policy: RedisFailPolicy;
  private readonly timeoutMs: number;
  private readonly probeIntervalMs: number;
  readonly clock: Clock;
  private degradedSince: number | undefined;
  private nextProbeAt = 0;
  private probing = false;
  private readonly listeners: { [K in keyof RedisLimiterEvents]: Listener<K>[] } = {
    redisError: [],
    degraded: [],
    recovered: [],
  };

  constructor(options: RedisFailoverOptions) {
    const policy = options.failPolicy ?? 'local';
    if (policy !== 'failOpen' && policy !== 'failClosed' && policy !== 'local') {
      throw new InvalidArgumentError('failPolicy', '"failOpen", "failClosed" or "local"', policy);
    }
    this.policy = policy;
    this.timeoutMs = assertFinite('timeoutMs', options.timeoutMs ?? 250, 1);
    this.probeIntervalMs = assertFinite('probeIntervalMs', options.probeIntervalMs ?? 1_000, 0);
    this.clock = options.clock ?? systemClock;
  }

  /** True while Redis is considered down. */
  get degraded(): boolean {
    return this.degradedSince !== undefined;
  }

  on<K extends keyof RedisLimiterEvents>(event: K, listener: Listener<K>): () => void {
    const list = this.listeners[event] as Listener<K>[];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** `call` through Redis when healthy (or as the one probe); `undefined` = use the fail policy. */
  run<R>(call: () => Promise<R>): Promise<R | undefined> {
    let probe = false;
    if (this.degradedSince !== undefined) {
      if (this.probing || this.clock.now() < this.nextProbeAt) return Promise.resolve(undefined);
      this.probing = probe = true;
    }
    // one promise per call, settled by whichever comes first: the answer or the watchdog
    return new Promise<R | undefined>((resolve) => {
      let settled = false;
      const entry: InFlight = {
        startedAt: this.clock.now(),
        reject: (error: unknown) => {
          if (settled) return;
          settled = true;
          this.inFlight.delete(entry);
          if (probe) this.probing = false;
          this.onFailure(error);
          resolve(undefined);
        },
      };
      this.inFlight.add(entry);
      this.watch();
      call().then((value) => {
        if (settled) return;
        settled = true;
        this.inFlight.delete(entry);
        if (probe) this.probing = false;
        if (this.degradedSince !== undefined) {
          const degradedMs = this.clock.now() - this.degradedSince;
          this.degradedSince = undefined;
          this.emit('recovered', { degradedMs });
        }
        resolve(value);
      }, entry.reject);
    });
  }

  private onFailure(error: unknown): void {
    this.emit('redisError', { error });
    this.nextProbeAt = this.clock.now() + this.probeIntervalMs;
    if (this.degradedSince === undefined) {
      this.degradedSince = this.clock.now();
      this.emit('degraded', { policy: this.policy, error });
    }
  }

  /**
   * One shared watchdog timer for all calls in flight (a timer per call would cost more than the
   * Redis round trip): a call is failed between `timeoutMs` and 1.25 × `timeoutMs` after it started.
   */
  private readonly inFlight = new Set<InFlight>();
  private watchdog: ClockTimer | undefined;

  private watch(): void {
    if (this.watchdog !== undefined) return;
    this.watchdog = this.clock
      .setTimeout(
        () => {
          this.watchdog = undefined;
          const now = this.clock.now();
          for (const call of this.inFlight) {
            if (now - call.startedAt >= this.timeoutMs) call.reject(new RedisTimeoutError(this.timeoutMs));
          }
          if (this.inFlight.size > 0) this.watch();
        },
        Math.max(1, this.timeoutMs / 4),
      )
      .unref();
  }

  private emit<K extends keyof RedisLimiterEvents>(event: K, payload: RedisLimiterEvents[K]): void {
    for (const l of [...(this.listeners[event] as Listener<K>[])]) l(payload);
  }
}
