import { type Clock, sleep, systemClock } from '../clock/index.js';
import { DeadlineExceededError, isContext, type WaitOptions, waitSignal } from '../context/index.js';
import { assertFinite, assertInteger, InvalidArgumentError } from '../errors/index.js';
import { deadlineOf } from './wait-deadline.js';

/** Options of {@link TokenBucket}. */
export interface TokenBucketOptions {
  /** Tokens added per second, continuously (fractions count). `Infinity` admits everything. */
  ratePerSec: number;
  /** Bucket size: the most tokens that can be spent at once after a quiet period. */
  burst: number;
  /** Time source; tests pass a `ManualClock`. */
  clock?: Clock;
}

/**
 * Tokens held for a caller by {@link TokenBucket.reserve}. Act after `delayMs`, or give the
 * tokens back with `cancel()` if you will not act.
 */
export interface Reservation {
  /** False when `n` exceeds the burst (the request can never be served); nothing was taken. */
  readonly ok: boolean;
  /** How long to wait before acting; 0 = act now. `Infinity` when `ok` is false. */
  readonly delayMs: number;
  /**
   * Returns the reserved tokens, minus those later reservations already counted on. Idempotent;
   * a no-op once the reservation's time to act has passed (at that very instant it still returns
   * them, as in x/time/rate).
   */
  cancel(): void;
}

const notOk: Reservation = Object.freeze({ ok: false, delayMs: Number.POSITIVE_INFINITY, cancel() {} });

/**
 * An in-process token bucket with Go's `golang.org/x/time/rate` semantics: the bucket refills
 * continuously at `ratePerSec` (fractional tokens are kept, never truncated), holds at most
 * `burst`, and can lend tokens ahead of time through {@link TokenBucket.reserve}, so `wait`
 * callers queue fairly without polling.
 *
 * Edge cases: the clock going backwards refills nothing and never drains; `n > burst` can never
 * succeed (`allow` returns false, `reserve` is not ok, `wait` rejects at once); `ratePerSec` 0
 * leaves only the initial burst; `tokens()` may be negative while reservations are outstanding.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket({ ratePerSec: 100, burst: 1000 });
 * if (!bucket.allow()) return reply(429);
 * await bucket.wait(1, ctx); // or queue politely until a token is ours
 * ```
 */
export class TokenBucket {
  private rate: number;
  private size: number;
  private readonly clock: Clock;
  private level: number;
  private last: number;
  private lastEvent: number;

  constructor(options: TokenBucketOptions) {
    this.rate = checkRate(options.ratePerSec);
    this.size = assertInteger('burst', options.burst);
    this.clock = options.clock ?? systemClock;
    this.level = this.size;
    this.last = this.clock.now();
    this.lastEvent = this.last;
  }

  /** Tokens added per second. */
  get ratePerSec(): number {
    return this.rate;
  }

  /** Bucket size. */
  get burst(): number {
    return this.size;
  }

  /** Takes `n` tokens if they are there right now; never waits. */
  allow(n = 1): boolean {
    if (n !== 1) checkN(n);
    if (this.rate === Number.POSITIVE_INFINITY) return true;
    // the hot path: no Reservation object, since nothing is ever lent ahead here
    const now = this.clock.now();
    const level = this.advance(now) - n;
    if (level < 0 || n > this.size) return false;
    this.level = level;
    this.last = now;
    if (now > this.lastEvent) this.lastEvent = now;
    return true;
  }

  /**
   * Takes `n` tokens now, possibly on credit: the caller must wait `delayMs` before acting (or
   * `cancel()`). Lets callers that can schedule work later avoid both polling and refusal.
   */
  reserve(n = 1): Reservation {
    return this.reserveAt(this.clock.now(), checkN(n), Number.POSITIVE_INFINITY);
  }

  /**
   * Waits until `n` tokens are ours. Rejects at once (taking nothing) when `n` exceeds the burst
   * (`InvalidArgumentError`) or when the wait would end after the deadline
   * (`DeadlineExceededError`); rejects with the abort reason, and gives the tokens back, when the
   * signal aborts during the wait.
   */
  async wait(n = 1, options?: WaitOptions): Promise<void> {
    checkN(n);
    if (n > this.size && this.rate !== Number.POSITIVE_INFINITY) {
      throw new InvalidArgumentError('n', `an integer <= burst (${this.size}) for wait`, n);
    }
    // The deadline is checked against the reservation up front; only the signal can end the sleep,
    // so a wait that ends exactly at the deadline is not lost to a timer race.
    using scope = waitSignal(isContext(options) ? options : { signal: options?.signal }, this.clock);
    if (scope.signal?.aborted) throw scope.signal.reason;
    const now = this.clock.now();
    const deadline = deadlineOf(options);
    const maxWait = deadline === undefined ? Number.POSITIVE_INFINITY : deadline - now;
    const r = this.reserveAt(now, n, maxWait);
    if (!r.ok) {
      throw new DeadlineExceededError(`token bucket: wait(${n}) would end after the deadline (deadline in ${Math.max(0, Math.round(maxWait))} ms)`);
    }
    if (r.delayMs <= 0) return;
    try {
      await sleep(r.delayMs, { signal: scope.signal, clock: this.clock });
    } catch (e) {
      r.cancel();
      throw e;
    }
  }

  /** Tokens available now (fractional; negative while reservations are outstanding). */
  tokens(): number {
    return this.advance(this.clock.now());
  }

  /** Changes the refill rate from now on; tokens already earned at the old rate are kept. */
  setRate(ratePerSec: number): void {
    const rate = checkRate(ratePerSec);
    const now = this.clock.now();
    this.level = this.advance(now);
    this.last = now;
    this.rate = rate;
  }

  /** Changes the bucket size; a smaller burst caps the tokens held now. */
  setBurst(burst: number): void {
    const size = assertInteger('burst', burst);
    const now = this.clock.now();
    this.level = Math.min(this.advance(now), size);
    this.last = now;
    this.size = size;
  }

  /** Tokens at `now`, refilled since `last`; never refills for a clock that went backwards. */
  private advance(now: number): number {
    if (now < this.last) this.last = now; // rebase, as x/time/rate does: no refill for the gap
    const refill = this.rate === 0 ? 0 : ((now - this.last) * this.rate) / 1000;
    return Math.min(this.level + refill, this.size);
  }

  private reserveAt(now: number, n: number, maxWaitMs: number): Reservation {
    if (this.rate === Number.POSITIVE_INFINITY) return { ok: true, delayMs: 0, cancel() {} };
    if (n > this.size) return notOk;
    const level = this.advance(now) - n;
    const delayMs = level < 0 ? (this.rate === 0 ? Number.POSITIVE_INFINITY : (-level * 1000) / this.rate) : 0;
    if (delayMs > maxWaitMs || delayMs === Number.POSITIVE_INFINITY) return notOk;
    this.level = level;
    this.last = now;
    const timeToAct = now + delayMs;
    if (timeToAct > this.lastEvent) this.lastEvent = timeToAct;
    return this.reservation(n, timeToAct);
  }

  private reservation(n: number, timeToAct: number): Reservation {
    let cancelled = false;
    return {
      ok: true,
      delayMs: timeToAct - this.clock.now(),
      cancel: () => {
        const now = this.clock.now();
        if (cancelled || n === 0 || timeToAct < now) return;
        cancelled = true;
        // Later reservations were granted on the assumption that these tokens were spent;
        // only give back what they have not already counted on (as x/time/rate does).
        const restore = n - ((this.lastEvent - timeToAct) * this.rate) / 1000;
        if (restore <= 0) return;
        this.level = Math.min(this.advance(now) + restore, this.size);
        this.last = now;
        if (timeToAct === this.lastEvent) {
          const previous = timeToAct - (n * 1000) / this.rate;
          if (previous >= now) this.lastEvent = previous;
        }
      },
    };
  }
}

function checkRate(v: number): number {
  if (v === Number.POSITIVE_INFINITY) return v;
  return assertFinite('ratePerSec', v, 0);
}

function checkN(n: number): number {
  return assertInteger('n', n);
}
