import type { Clock, ClockTimer } from '../clock/index.js';
import { LockLostError, LockNotHeldError } from './errors.js';
import { driftMs, type WatchdogPolicy, withTimeout } from './options.js';
import { Watchdog } from './watchdog.js';

/**
 * A held lock. Hold it in `await using` (released on scope exit) or call {@link LockLease.release}.
 *
 * `signal` is the holder's loss notification: it aborts with a {@link LockLostError} the moment
 * the lease can no longer be trusted — a renewal found the key gone or re-owned, Redis did not
 * confirm a renewal before `expiresAt`, or the TTL simply ran out without a watchdog. Pass it to
 * every call made under the lock. It is **not** aborted by a normal release.
 *
 * @typeParam F - the fencing token type: `number` for {@link RedisLock}; `number | undefined` for
 * {@link Redlock} (present only with a designated fencing instance).
 */
export interface LockLease<F = number> extends AsyncDisposable {
  /** The lock name passed to `acquire` (without prefix). */
  readonly key: string;
  /** This owner's random 128-bit token (hex), the value stored under the key. */
  readonly token: string;
  /**
   * Fencing token: grows with every successful acquire of this key. Send it with every write the
   * lock protects and let the resource reject older ones ({@link FencedStore}); that is the only
   * defence against a holder that stalled past its TTL and does not know it yet. 0 for a
   * `RedisLock` created with `fencing: false`.
   */
  readonly fence: F;
  /** Aborts with {@link LockLostError} when the lease is lost (see above). */
  readonly signal: AbortSignal;
  /** Clock time (ms) until which the lease is valid for certain: start of the last confirmed set/renewal + ttl − drift. */
  readonly expiresAt: number;
  /** Milliseconds of certain validity left (0 once lost or released). */
  readonly validityMs: number;
  /** True until released, lost, or past `expiresAt`. */
  readonly held: boolean;
  /**
   * Owner-checked renewal to `ttlMs` (default: the acquire TTL). Throws {@link LockLostError}
   * (and aborts `signal`) when the key is gone or re-owned, {@link LockNotHeldError} after
   * release; Redis errors pass through and leave the lease as it was.
   */
  extend(ttlMs?: number): Promise<void>;
  /**
   * Compare-and-delete: removes the key only while it still carries this token. Idempotent
   * (every call returns the first call's promise) and bounded in time by the lock's
   * `commandTimeoutMs` (a timeout rejects with `DeadlineExceededError`; the key then lapses at its
   * TTL). Rejects with {@link LockNotHeldError} when the lease had already been lost — which
   * means the critical section may have overlapped another owner's.
   */
  release(): Promise<void>;
}

/** What an owner-checked operation found on the server(s). */
export type OwnerCheck = 'ok' | 'missing' | 'taken';

/** The Redis side of a lease: one instance or a Redlock quorum. */
export interface LeaseBackend {
  /** Owner-checked PEXPIRE; rejects when no usable answer arrived within `timeoutMs`. */
  extend(ttlMs: number, timeoutMs: number): Promise<OwnerCheck>;
  /** Owner-checked DEL; rejects when no usable answer arrived within `timeoutMs`. */
  release(timeoutMs: number): Promise<OwnerCheck>;
}

/** Everything a {@link Lease} needs from the lock that created it. */
export interface LeaseInit<F> {
  key: string;
  token: string;
  fence: F;
  ttlMs: number;
  driftFactor: number;
  /** Clock time the successful SET was sent (validity counts from here). */
  startedAt: number;
  clock: Clock;
  commandTimeoutMs: number;
  backend: LeaseBackend;
  watchdog: WatchdogPolicy | undefined;
  /** The lock's set of live leases: the lease removes itself when it ends (released or lost). */
  registry?: Set<Lease<F>>;
}

/** The one lease implementation behind {@link RedisLock} and {@link Redlock}. */
export class Lease<F> implements LockLease<F> {
  readonly key: string;
  readonly token: string;
  readonly fence: F;
  /** Created on first use of `signal`: most leases are released without anyone listening. */
  private controller: AbortController | undefined;
  private lost: LockLostError | undefined;
  private readonly init: LeaseInit<F>;
  private until: number;
  private expiryTimer: ClockTimer | undefined;
  private readonly dog: Watchdog | undefined;
  private released: Promise<void> | undefined;
  private lastRenewError: unknown;
  private maxHoldReached = false;
  private ended = false;

  constructor(init: LeaseInit<F>) {
    this.init = init;
    this.key = init.key;
    this.token = init.token;
    this.fence = init.fence;
    this.until = init.startedAt + init.ttlMs - driftMs(init.ttlMs, init.driftFactor);
    init.registry?.add(this);
    this.armExpiry();
    if (init.watchdog) {
      const { intervalMs, maxHoldMs } = init.watchdog;
      this.dog = new Watchdog({
        clock: init.clock,
        intervalMs,
        retryMs: Math.max(1, Math.floor(intervalMs / 4)),
        stopAt: init.startedAt + maxHoldMs,
        renew: () => this.renew(),
        onMaxHold: () => {
          this.maxHoldReached = true;
        },
      });
      this.dog.start();
    }
  }

  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.lost) this.controller.abort(this.lost);
    }
    return this.controller.signal;
  }

  get expiresAt(): number {
    return this.until;
  }

  get held(): boolean {
    return this.released === undefined && this.lost === undefined && this.init.clock.now() < this.until;
  }

  get validityMs(): number {
    return this.held ? Math.max(0, this.until - this.init.clock.now()) : 0;
  }

  async extend(ttlMs: number = this.init.ttlMs): Promise<void> {
    if (this.released) throw new LockNotHeldError(this.key, 'the lease was already released');
    if (this.lost) throw this.lost;
    const startedAt = this.init.clock.now();
    const timeoutMs = this.init.commandTimeoutMs;
    const result = await withTimeout(this.init.backend.extend(ttlMs, timeoutMs), timeoutMs, this.init.clock, `extend of lock "${this.key}"`);
    if (this.released || this.lost) return;
    if (result === 'ok') this.confirm(startedAt, ttlMs);
    else {
      const err = this.lostBecause(result);
      this.lose(err);
      throw err;
    }
  }

  release(): Promise<void> {
    this.released ??= this.doRelease();
    return this.released;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  private async doRelease(): Promise<void> {
    this.dog?.stop();
    this.init.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    try {
      const result = await withTimeout(
        this.init.backend.release(this.init.commandTimeoutMs),
        this.init.commandTimeoutMs,
        this.init.clock,
        `release of lock "${this.key}"`,
      );
      if (result === 'ok') return;
      const lost = this.lostBecause(result);
      if (!this.lost) {
        this.lost = lost;
        this.controller?.abort(lost);
      }
      throw new LockNotHeldError(
        this.key,
        result === 'missing' ? 'it had already expired, nothing was deleted' : 'another owner holds it now; its key was left untouched',
        { cause: this.lost },
      );
    } finally {
      this.end();
    }
  }

  /** One watchdog renewal: the owner-checked extend script, bounded by the validity left. */
  private async renew(): Promise<'renewed' | 'retry' | 'stop'> {
    if (!this.held) return 'stop';
    const startedAt = this.init.clock.now();
    const left = this.until - startedAt;
    let result: 'ok' | 'missing' | 'taken';
    try {
      result = await withTimeout(this.init.backend.extend(this.init.ttlMs, left), left, this.init.clock, `renewal of lock "${this.key}"`);
    } catch (e) {
      this.lastRenewError = e;
      return 'retry';
    }
    if (!this.held) return 'stop';
    if (result === 'ok') {
      this.confirm(startedAt, this.init.ttlMs);
      return 'renewed';
    }
    this.lose(this.lostBecause(result));
    return 'stop';
  }

  private confirm(startedAt: number, ttlMs: number): void {
    this.until = startedAt + ttlMs - driftMs(ttlMs, this.init.driftFactor);
    this.lastRenewError = undefined;
    this.armExpiry();
  }

  private armExpiry(): void {
    this.init.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = this.init.clock.setTimeout(() => this.expire(), Math.max(0, this.until - this.init.clock.now())).unref();
  }

  private expire(): void {
    this.expiryTimer = undefined;
    if (this.released || this.lost) return;
    const now = this.init.clock.now();
    if (now < this.until) {
      this.armExpiry(); // a renewal landed while this timer was queued
      return;
    }
    let why: string;
    if (this.maxHoldReached) why = `held longer than watchdog.maxHoldMs=${this.init.watchdog?.maxHoldMs}; renewals stopped and the lease ran out`;
    else if (this.dog)
      why = `no renewal was confirmed before the validity ran out${this.lastRenewError ? ` (last renewal: ${(this.lastRenewError as Error).message})` : ''}`;
    else why = `its ${this.init.ttlMs} ms TTL ran out (no watchdog)`;
    this.lose(new LockLostError(this.key, why, { cause: this.lastRenewError }));
  }

  private lostBecause(result: 'missing' | 'taken'): LockLostError {
    return new LockLostError(this.key, result === 'missing' ? 'the key expired or was deleted' : 'another owner holds the key now');
  }

  private lose(err: LockLostError): void {
    if (this.lost) return;
    this.dog?.stop();
    this.init.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = undefined;
    this.lost = err;
    this.controller?.abort(err);
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.init.registry?.delete(this);
  }
}

/**
 * @internal The body of `RedisLock.using` / `Redlock.using`: runs `fn` with the lease signal and
 * releases afterwards. A failing `fn` releases best-effort and rethrows its own error; a
 * successful one surfaces a release failure (e.g. {@link LockNotHeldError}: the work ran without
 * exclusion for a while).
 */
export async function runHoldingLease<T, F>(lease: LockLease<F>, fn: (signal: AbortSignal, lease: LockLease<F>) => Promise<T> | T): Promise<T> {
  let result: T;
  try {
    result = await fn(lease.signal, lease);
  } catch (e) {
    await lease.release().catch(() => {});
    throw e;
  }
  await lease.release();
  return result;
}
