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

/** A call in flight: a node of the failover's intrusive list (O(1) unlink, nothing to hash). */
interface InFlight {
  readonly startedAt: number;
  prev: InFlight | undefined;
  next: InFlight | undefined;
  reject(error: unknown): void;
}

/**
 * One call in flight, settled once: by Redis' answer, by a failure, or by the watchdog. A class
 * with two bound callbacks instead of a closure per step, because this runs on every limiter call.
 */
class PendingCall<R, T> implements InFlight {
  prev: InFlight | undefined = undefined;
  next: InFlight | undefined = undefined;
  private settled = false;

  constructor(
    private readonly failover: RedisFailover,
    readonly startedAt: number,
    private readonly probe: boolean,
    private readonly resolve: (value: T | Promise<T>) => void,
    private readonly rejectWith: (error: unknown) => void,
    private readonly map: (answer: R) => T,
    private readonly fallback: () => T | Promise<T>,
    private readonly recover: ((error: unknown) => Promise<R> | undefined) | undefined,
  ) {}

  readonly answer = (answer: R): void => {
    if (this.settled) return;
    this.settled = true;
    this.failover.answered(this, this.probe);
    try {
      this.resolve(this.map(answer));
    } catch (e) {
      this.rejectWith(e);
    }
  };

  readonly retryOrFail = (error: unknown): void => {
    const retry = this.settled || this.recover === undefined ? undefined : this.recover(error);
    if (retry === undefined) this.reject(error);
    else retry.then(this.answer, (e: unknown) => this.reject(e));
  };

  reject(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.failover.failed(this, this.probe, error);
    try {
      this.resolve(this.fallback());
    } catch (e) {
      this.rejectWith(e);
    }
  }
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

  /**
   * Sends `call` through Redis when healthy (or as the one probe) and resolves `map` of its answer;
   * resolves `fallback()` when the fail policy must answer instead (Redis down, failed or slower
   * than `timeoutMs`). `recover` may turn a rejection into a second attempt under the same timeout
   * (a `NOSCRIPT` answer → the script with its EVAL fallback); returning `undefined` means failure.
   * One promise per call, settled by whichever comes first: the answer or the watchdog.
   */
  run<R, T>(call: () => Promise<R>, map: (answer: R) => T, fallback: () => T | Promise<T>, recover?: (error: unknown) => Promise<R> | undefined): Promise<T> {
    let probe = false;
    if (this.degradedSince !== undefined) {
      if (this.probing || this.clock.now() < this.nextProbeAt) return Promise.resolve().then(fallback);
      this.probing = probe = true;
    }
    return new Promise<T>((resolve, reject) => {
      const pending = new PendingCall(this, this.clock.now(), probe, resolve, reject, map, fallback, recover);
      this.link(pending);
      this.watch();
      let sent: Promise<R>;
      try {
        sent = call();
      } catch (error) {
        // a client that throws instead of rejecting (closed, misconfigured) is a failed call too
        pending.retryOrFail(error);
        return;
      }
      sent.then(pending.answer, pending.retryOrFail);
    });
  }

  /** @internal PendingCall's end: the answer came. */
  answered(pending: InFlight, probe: boolean): void {
    this.unlink(pending);
    if (probe) this.probing = false;
    if (this.degradedSince !== undefined) {
      const degradedMs = this.clock.now() - this.degradedSince;
      this.degradedSince = undefined;
      this.emit('recovered', { degradedMs });
    }
  }

  /** @internal PendingCall's end: Redis failed or the watchdog gave up on it. */
  failed(pending: InFlight, probe: boolean, error: unknown): void {
    this.unlink(pending);
    if (probe) this.probing = false;
    this.onFailure(error);
  }

  private onFailure(error: unknown): void {
    this.emit('redisError', { error });
    this.nextProbeAt = this.clock.now() + this.probeIntervalMs;
    if (this.degradedSince === undefined) {
      this.degradedSince = this.clock.now();
      this.emit('degraded', { policy: this.policy, error });
    }
  }

  /** Calls awaiting Redis, newest first (an intrusive list: unlinking an answered call is O(1)). */
  private head: InFlight | undefined;

  private link(call: InFlight): void {
    call.next = this.head;
    if (this.head !== undefined) this.head.prev = call;
    this.head = call;
  }

  private unlink(call: InFlight): void {
    if (call.prev !== undefined) call.prev.next = call.next;
    else if (this.head === call) this.head = call.next;
    if (call.next !== undefined) call.next.prev = call.prev;
    call.prev = call.next = undefined;
  }

  /**
   * One shared watchdog timer for all calls in flight (a timer per call would cost more than the
   * Redis round trip): a call is failed between `timeoutMs` and 1.25 × `timeoutMs` after it started.
   */
  private watchdog: ClockTimer | undefined;

  private watch(): void {
    if (this.watchdog !== undefined) return;
    this.watchdog = this.clock
      .setTimeout(
        () => {
          this.watchdog = undefined;
          const now = this.clock.now();
          // every call awaiting Redis (few: answered calls unlink themselves); a call that timed
          // out unlinks itself too, so take `next` before rejecting it
          for (let call = this.head; call !== undefined; ) {
            const next = call.next;
            if (now - call.startedAt >= this.timeoutMs) call.reject(new RedisTimeoutError(this.timeoutMs));
            call = next;
          }
          if (this.head !== undefined) this.watch();
        },
        Math.max(1, this.timeoutMs / 4),
      )
      .unref();
  }

  private emit<K extends keyof RedisLimiterEvents>(event: K, payload: RedisLimiterEvents[K]): void {
    for (const l of [...(this.listeners[event] as Listener<K>[])]) l(payload);
  }
}
