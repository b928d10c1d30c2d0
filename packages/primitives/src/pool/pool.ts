import { type Clock, type ClockTimer, systemClock } from '../clock/index.js';
import { type WaitOptions, waitSignal } from '../context/index.js';
import { assertFinite, assertInteger, InvalidArgumentError } from '../errors/index.js';
import { PoolClosedError, PoolCreateError, PoolLeaseReleasedError, PoolTimeoutError } from './errors.js';

/** Options of {@link createPool}. */
export interface PoolOptions<T> {
  /**
   * Opens a resource. Runs outside any lock, several at once when several callers wait. The
   * signal aborts when the pool closes; a resource that still arrives after that is destroyed.
   */
  create(signal: AbortSignal): Promise<T>;
  /** Closes a resource. Errors are reported through the `destroyError` event, never thrown. */
  destroy?(value: T): void | Promise<void>;
  /**
   * Checks an idle resource before handing it out (a ping); false or a throw destroys it and
   * the caller gets another. Not run on a resource handed straight from one holder to the next.
   */
  validate?(value: T): boolean | Promise<boolean>;
  /** Most resources open at once: idle + in use + being created never exceeds it. */
  max: number;
  /** Idle resources kept warm (created in the background, exempt from `idleTimeoutMs`). Default 0. */
  minIdle?: number;
  /** Most idle resources kept; a release beyond it destroys the resource (`maxIdleClosed`). Default `max`. */
  maxIdle?: number;
  /** An idle resource unused this long is destroyed (`maxIdleTimeClosed`). Default: never. */
  idleTimeoutMs?: number;
  /** A resource older than this is destroyed when next idle (`maxLifetimeClosed`). Default: never. */
  maxLifetimeMs?: number;
  /** A resource used this many times is destroyed on release (keep-alive `max=`). Default: unlimited. */
  maxUses?: number;
  /** An `acquire` that waits longer rejects with {@link PoolTimeoutError}. Default: wait forever. */
  acquireTimeoutMs?: number;
  /**
   * Consecutive create failures after which the callers waiting for a resource are failed with
   * {@link PoolCreateError} (instead of waiting forever, generic-pool#175): every caller then
   * waiting that no idle resource covers. Default 3.
   */
  createAttempts?: number;
  /** Backoff after a failed create, doubled per consecutive failure, capped at 30 s. Default 100 ms. */
  createBackoffMs?: number;
  /** Time source for timeouts, lifetimes and backoff. */
  clock?: Clock;
}

/** A snapshot from {@link Pool.stats}, in Go `database/sql` `DBStats` vocabulary. */
export interface PoolStats {
  /** `max` (MaxOpenConnections). */
  maxOpen: number;
  /** Resources open: idle + in use (OpenConnections). */
  open: number;
  /** Resources held by callers (InUse), including idle ones being validated. */
  inUse: number;
  /** Resources waiting in the pool (Idle). */
  idle: number;
  /** Creates in flight. */
  creating: number;
  /** Callers waiting right now. */
  waiting: number;
  /**
   * Acquires that had to wait because all `max` resources were taken, ever (WaitCount): counted
   * when the wait starts, so waits that time out, are aborted or fail count too, as in database/sql.
   */
  waitCount: number;
  /** Total time those acquires spent waiting, however each wait ended (WaitDuration). */
  waitDurationMs: number;
  /** Destroyed because `maxIdle` was reached (MaxIdleClosed). */
  maxIdleClosed: number;
  /** Destroyed by `idleTimeoutMs` (MaxIdleTimeClosed). */
  maxIdleTimeClosed: number;
  /** Destroyed by `maxLifetimeMs` (MaxLifetimeClosed). */
  maxLifetimeClosed: number;
  /** Destroyed after `maxUses`. */
  maxUsesClosed: number;
  /** Failed creates, ever. */
  createErrors: number;
}

/** Events a {@link Pool} emits. */
export interface PoolEvents {
  /** `create` failed; `attempt` counts consecutive failures. */
  createError: { error: unknown; attempt: number };
  /** `destroy` (or `validate`) threw. */
  destroyError: { error: unknown };
}

/**
 * One resource checked out of a {@link Pool}. Give it back exactly once: `release()` when it is
 * healthy, `destroy()` when it is broken; `await using` releases it at the end of the block.
 */
export interface PoolLease<T> extends AsyncDisposable {
  readonly value: T;
  /** Returns the resource for reuse. Throws {@link PoolLeaseReleasedError} the second time. */
  release(): void;
  /** Discards a broken resource; a waiting caller gets a fresh one. Throws the second time. */
  destroy(): void;
}

/** A pool of reusable resources (connections, clients, workers); see {@link createPool}. */
export interface Pool<T> extends AsyncDisposable {
  /**
   * Checks a resource out: an idle one (validated if `validate` is set), else a new one if under
   * `max`, else waits in FIFO order. Rejects with the abort reason, a context's error,
   * {@link PoolTimeoutError}, {@link PoolCreateError} or {@link PoolClosedError}.
   */
  acquire(options?: WaitOptions): Promise<PoolLease<T>>;
  /**
   * Acquires, runs `fn`, and releases, even when `fn` throws (call `lease.destroy()` inside
   * `fn` to discard a resource the error broke).
   */
  use<R>(fn: (value: T, lease: PoolLease<T>) => R | Promise<R>, options?: WaitOptions): Promise<R>;
  /** Counters in `database/sql` vocabulary. */
  stats(): PoolStats;
  /**
   * Closes the pool: pending acquirers reject with {@link PoolClosedError}, idle resources are
   * destroyed, leased ones are destroyed when released. Resolves once every resource is gone;
   * if `options` aborts (or its deadline passes) first, leased resources are destroyed under
   * their holders. Idempotent: later calls return the same promise.
   */
  close(options?: WaitOptions): Promise<void>;
  /** Subscribes to an event; returns an unsubscribe function. */
  on<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): () => void;
}

interface Entry<T> {
  value: T;
  createdAt: number;
  lastUsedAt: number;
  uses: number;
  lease: Lease<T> | undefined;
}

interface Waiter<T> {
  resolve(lease: PoolLease<T>): void;
  reject(error: unknown): void;
  enqueuedAt: number;
  /** Queued while the pool was at `max`: counts in waitCount and waitDurationMs (as database/sql counts). */
  atCapacity: boolean;
  done(): void;
}

class Lease<T> implements PoolLease<T> {
  state: 'held' | 'released' | 'destroyed' | 'revoked' = 'held';
  constructor(
    private readonly pool: ResourcePool<T>,
    readonly entry: Entry<T>,
  ) {}
  get value(): T {
    return this.entry.value;
  }
  release(): void {
    this.finish('released');
  }
  destroy(): void {
    this.finish('destroyed');
  }
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.state === 'held') this.finish('released');
  }
  private finish(how: 'released' | 'destroyed'): void {
    if (this.state === 'revoked') return; // close() already took it back
    if (this.state !== 'held') throw new PoolLeaseReleasedError(this.state);
    this.state = how;
    this.pool.giveBack(this, how === 'destroyed');
  }
}

const MAX_BACKOFF_MS = 30_000;
const noop = () => {};

class ResourcePool<T> implements Pool<T> {
  private readonly opts: Required<Pick<PoolOptions<T>, 'max' | 'minIdle' | 'maxIdle' | 'createAttempts' | 'createBackoffMs'>> & PoolOptions<T>;
  private readonly clock: Clock;
  private readonly idle: Entry<T>[] = [];
  private readonly inUse = new Set<Entry<T>>();
  private readonly waiters: Waiter<T>[] = [];
  private creating = 0;
  private validating = 0;
  private failures = 0;
  private backoffTimer: ClockTimer | undefined;
  private reapTimer: ClockTimer | undefined;
  private closed: Promise<void> | undefined;
  private readonly closing = new AbortController();
  private readonly destroys = new Set<Promise<void>>();
  private drained: (() => void) | undefined;
  private readonly counters = {
    waitCount: 0,
    waitDurationMs: 0,
    maxIdleClosed: 0,
    maxIdleTimeClosed: 0,
    maxLifetimeClosed: 0,
    maxUsesClosed: 0,
    createErrors: 0,
  };
  private readonly listeners: { [K in keyof PoolEvents]: ((e: PoolEvents[K]) => void)[] } = { createError: [], destroyError: [] };

  constructor(options: PoolOptions<T>) {
    if (options == null || typeof options.create !== 'function') {
      throw new InvalidArgumentError('create', 'a function (signal) => Promise<resource>', options?.create);
    }
    for (const name of ['destroy', 'validate'] as const) {
      if (options[name] !== undefined && typeof options[name] !== 'function') throw new InvalidArgumentError(name, 'a function', options[name]);
    }
    const max = assertInteger('max', options.max, 1);
    const minIdle = assertInteger('minIdle', options.minIdle ?? 0, 0, max);
    const maxIdle = assertInteger('maxIdle', options.maxIdle ?? max, 0, max);
    if (minIdle > maxIdle) throw new InvalidArgumentError('minIdle', `an integer <= maxIdle (${maxIdle})`, minIdle);
    for (const name of ['idleTimeoutMs', 'maxLifetimeMs', 'acquireTimeoutMs'] as const) {
      if (options[name] !== undefined) assertFinite(name, options[name], 1);
    }
    if (options.maxUses !== undefined) assertInteger('maxUses', options.maxUses, 1);
    this.opts = {
      ...options,
      max,
      minIdle,
      maxIdle,
      createAttempts: assertInteger('createAttempts', options.createAttempts ?? 3, 1),
      createBackoffMs: assertFinite('createBackoffMs', options.createBackoffMs ?? 100, 0),
    };
    this.clock = options.clock ?? systemClock;
    this.dispatch();
  }

  acquire(options?: WaitOptions): Promise<PoolLease<T>> {
    if (this.closed) return Promise.reject(new PoolClosedError());
    // Fast path: FIFO says nobody may overtake a waiter, so only when nobody waits.
    if (this.waiters.length === 0 && this.opts.validate === undefined) {
      const entry = this.takeIdle();
      if (entry) return Promise.resolve(this.lend(entry));
    }
    return this.enqueue(options);
  }

  async use<R>(fn: (value: T, lease: PoolLease<T>) => R | Promise<R>, options?: WaitOptions): Promise<R> {
    const lease = await this.acquire(options);
    try {
      return await fn(lease.value, lease);
    } finally {
      await lease[Symbol.asyncDispose]();
    }
  }

  stats(): PoolStats {
    return {
      maxOpen: this.opts.max,
      open: this.idle.length + this.inUse.size + this.validating,
      inUse: this.inUse.size + this.validating,
      idle: this.idle.length,
      creating: this.creating,
      waiting: this.waiters.length,
      ...this.counters,
    };
  }

  on<K extends keyof PoolEvents>(event: K, listener: (e: PoolEvents[K]) => void): () => void {
    const list = this.listeners[event] as ((e: PoolEvents[K]) => void)[];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  close(options?: WaitOptions): Promise<void> {
    this.closed ??= this.shutdown(options);
    return this.closed;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Called by a lease exactly once. */
  giveBack(lease: Lease<T>, broken: boolean): void {
    const entry = lease.entry;
    entry.lease = undefined;
    this.inUse.delete(entry);
    entry.uses++;
    entry.lastUsedAt = this.clock.now();
    if (broken || this.closed) this.discard(entry);
    else if (this.opts.maxUses !== undefined && entry.uses >= this.opts.maxUses) this.discard(entry, 'maxUsesClosed');
    else if (this.expired(entry, 'maxLifetimeMs')) this.discard(entry, 'maxLifetimeClosed');
    else if (this.waiters.length > 0) {
      // straight to the next caller in line: no trip through idle, no validation
      this.serve(this.waiters.shift() as Waiter<T>, entry);
      return;
    } else if (this.idle.length >= this.opts.maxIdle) this.discard(entry, 'maxIdleClosed');
    else {
      this.idle.push(entry);
      this.scheduleReap();
      return;
    }
    this.dispatch(); // a slot was freed: a waiter may need a new resource (the seed's lost wake-up)
  }

  private enqueue(options: WaitOptions | undefined): Promise<PoolLease<T>> {
    if (options === undefined && this.opts.acquireTimeoutMs === undefined) {
      // nothing can cancel this wait: skip the signal and timer plumbing
      return new Promise<PoolLease<T>>((resolve, reject) => {
        this.waiters.push(this.waiter(resolve, reject, noop));
        this.dispatch();
      });
    }
    return new Promise<PoolLease<T>>((resolve, reject) => {
      const scope = waitSignal(options, this.clock);
      const signal = scope.signal;
      if (signal?.aborted) {
        scope.dispose();
        reject(signal.reason);
        return;
      }
      let timer: ClockTimer | undefined;
      const waiter = this.waiter(resolve, reject, () => {
        scope.dispose();
        signal?.removeEventListener('abort', onAbort);
        this.clock.clearTimeout(timer);
      });
      const leave = (error: unknown) => {
        const i = this.waiters.indexOf(waiter);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        this.endWait(waiter);
        reject(error);
      };
      const onAbort = () => leave(signal?.reason);
      signal?.addEventListener('abort', onAbort, { once: true });
      const timeout = this.opts.acquireTimeoutMs;
      if (timeout !== undefined) {
        // ref'd on purpose: a caller is awaiting this, so the process must not exit under it
        timer = this.clock.setTimeout(() => {
          const s = this.stats();
          leave(new PoolTimeoutError(timeout, `max ${s.maxOpen}, ${s.inUse} in use, ${s.creating} creating, ${s.waiting - 1} other waiting`));
        }, timeout);
      }
      this.waiters.push(waiter);
      this.dispatch();
    });
  }

  /** A new waiter; one queued while the pool is at `max` counts in waitCount now (database/sql counts on entry). */
  private waiter(resolve: Waiter<T>['resolve'], reject: Waiter<T>['reject'], done: () => void): Waiter<T> {
    const atCapacity = this.atCapacity();
    if (atCapacity) this.counters.waitCount++;
    return { resolve, reject, enqueuedAt: this.clock.now(), atCapacity, done };
  }

  /** Ends a wait however it ended (served, timed out, aborted, failed, closed): cleanup and WaitDuration. */
  private endWait(waiter: Waiter<T>): void {
    waiter.done();
    if (waiter.atCapacity) this.counters.waitDurationMs += this.clock.now() - waiter.enqueuedAt;
  }

  private atCapacity(): boolean {
    return this.idle.length + this.inUse.size + this.validating + this.creating >= this.opts.max;
  }

  /** Matches waiters with idle resources, then starts the creates still needed. */
  private dispatch(): void {
    if (this.closed) return;
    while (this.waiters.length > 0 && this.validating < this.waiters.length) {
      const entry = this.takeIdle();
      if (entry === undefined) break;
      if (this.opts.validate === undefined) this.serve(this.waiters.shift() as Waiter<T>, entry);
      else void this.validateThenServe(entry);
    }
    if (this.backoffTimer !== undefined) return;
    const total = this.idle.length + this.inUse.size + this.validating + this.creating;
    const supply = this.idle.length + this.validating + this.creating;
    const demand = this.waiters.length + this.opts.minIdle;
    const n = Math.min(demand - supply, this.opts.max - total);
    for (let i = 0; i < n; i++) void this.createOne();
  }

  private async createOne(): Promise<void> {
    this.creating++;
    let value: T;
    try {
      value = await this.opts.create(this.closing.signal);
    } catch (error) {
      this.creating--;
      this.onCreateFailed(error);
      return;
    }
    this.creating--;
    this.failures = 0;
    const now = this.clock.now();
    const entry: Entry<T> = { value, createdAt: now, lastUsedAt: now, uses: 0, lease: undefined };
    if (this.closed) {
      this.discard(entry);
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) this.serve(waiter, entry);
    else {
      this.idle.push(entry);
      this.scheduleReap();
    }
    this.dispatch();
  }

  private onCreateFailed(error: unknown): void {
    this.counters.createErrors++;
    const attempt = ++this.failures;
    this.emit('createError', { error, attempt });
    if (this.closed) {
      this.checkDrained();
      return;
    }
    if (attempt >= this.opts.createAttempts) {
      // Give up on the callers waiting now rather than let them hang (generic-pool#175);
      // the next acquire starts a fresh series of attempts after the backoff.
      this.failures = 0;
      const failed = new PoolCreateError(attempt, error);
      // every caller not covered by an idle resource being validated is failed now; creates still
      // in flight (likely to fail too) serve whoever asks next
      const stranded = this.waiters.length - this.idle.length - this.validating;
      for (let i = 0; i < stranded && this.waiters.length > 0; i++) {
        const w = this.waiters.pop() as Waiter<T>;
        this.endWait(w);
        w.reject(failed);
      }
    }
    const delay = Math.min(this.opts.createBackoffMs * 2 ** Math.min(attempt - 1, 30), MAX_BACKOFF_MS);
    if (this.backoffTimer === undefined && delay > 0) {
      // ref'd while callers wait on the retry; unref'd (background) otherwise
      const timer = this.clock.setTimeout(() => {
        this.backoffTimer = undefined;
        this.dispatch();
      }, delay);
      if (this.waiters.length === 0) timer.unref();
      this.backoffTimer = timer;
    } else if (delay === 0) this.dispatch();
  }

  private async validateThenServe(entry: Entry<T>): Promise<void> {
    this.validating++;
    let ok = false;
    try {
      ok = (await this.opts.validate?.(entry.value)) === true;
    } catch (error) {
      this.emit('destroyError', { error });
    }
    this.validating--;
    if (!ok || this.closed) {
      this.discard(entry);
      this.dispatch();
      return;
    }
    const waiter = this.waiters.shift();
    if (waiter) this.serve(waiter, entry);
    else {
      this.idle.push(entry);
      this.scheduleReap();
    }
    this.dispatch();
  }

  private serve(waiter: Waiter<T>, entry: Entry<T>): void {
    this.endWait(waiter);
    waiter.resolve(this.lend(entry));
  }

  private lend(entry: Entry<T>): PoolLease<T> {
    const lease = new Lease(this, entry);
    entry.lease = lease;
    this.inUse.add(entry);
    return lease;
  }

  /** Most recently used idle entry that has not expired (LIFO keeps the working set warm). */
  private takeIdle(): Entry<T> | undefined {
    for (;;) {
      const entry = this.idle.pop();
      if (entry === undefined) return undefined;
      if (this.expired(entry, 'maxLifetimeMs')) this.discard(entry, 'maxLifetimeClosed');
      else if (this.expired(entry, 'idleTimeoutMs')) this.discard(entry, 'maxIdleTimeClosed');
      else return entry;
    }
  }

  private expired(entry: Entry<T>, what: 'maxLifetimeMs' | 'idleTimeoutMs'): boolean {
    const limit = this.opts[what];
    if (limit === undefined) return false;
    const since = what === 'maxLifetimeMs' ? entry.createdAt : entry.lastUsedAt;
    return this.clock.now() - since >= limit;
  }

  private discard(entry: Entry<T>, counter?: keyof ResourcePool<T>['counters']): void {
    if (counter) this.counters[counter]++;
    const destroy = this.opts.destroy;
    this.checkDrained();
    if (destroy === undefined) return;
    const p = (async () => {
      try {
        await destroy(entry.value);
      } catch (error) {
        this.emit('destroyError', { error });
      }
    })();
    this.destroys.add(p);
    void p.then(() => {
      this.destroys.delete(p);
      this.checkDrained();
    });
  }

  private scheduleReap(): void {
    const { idleTimeoutMs, maxLifetimeMs } = this.opts;
    if (this.reapTimer !== undefined || this.closed || (idleTimeoutMs === undefined && maxLifetimeMs === undefined)) return;
    const every = Math.max(5, Math.min(idleTimeoutMs ?? Number.POSITIVE_INFINITY, maxLifetimeMs ?? Number.POSITIVE_INFINITY) / 2);
    this.reapTimer = this.clock.setTimeout(() => this.reap(), every).unref();
  }

  /** Destroys expired idle resources (keeping `minIdle` against the idle timeout) and refills to `minIdle`. */
  private reap(): void {
    this.reapTimer = undefined;
    if (this.closed) return;
    const keep: Entry<T>[] = [];
    let left = this.idle.length;
    // oldest-used first, so the idle timeout trims the least recently used and spares minIdle
    for (const entry of this.idle) {
      if (this.expired(entry, 'maxLifetimeMs')) {
        this.discard(entry, 'maxLifetimeClosed');
        left--;
      } else if (left > this.opts.minIdle && this.expired(entry, 'idleTimeoutMs')) {
        this.discard(entry, 'maxIdleTimeClosed');
        left--;
      } else keep.push(entry);
    }
    this.idle.splice(0, this.idle.length, ...keep);
    this.dispatch();
    if (this.idle.length > 0) this.scheduleReap();
  }

  private async shutdown(options: WaitOptions | undefined): Promise<void> {
    this.closing.abort(new PoolClosedError());
    this.clock.clearTimeout(this.backoffTimer);
    this.clock.clearTimeout(this.reapTimer);
    for (const w of this.waiters.splice(0)) {
      this.endWait(w);
      w.reject(new PoolClosedError());
    }
    for (const entry of this.idle.splice(0)) this.discard(entry);
    if (this.inUse.size > 0 || this.creating > 0 || this.validating > 0) {
      using scope = waitSignal(options, this.clock);
      await new Promise<void>((resolve) => {
        this.drained = resolve;
        scope.signal?.addEventListener('abort', () => resolve(), { once: true });
        this.checkDrained();
      });
      this.drained = undefined;
      for (const entry of [...this.inUse]) {
        // the caller's patience ran out: take the resource back from its holder
        if (entry.lease) entry.lease.state = 'revoked';
        this.inUse.delete(entry);
        this.discard(entry);
      }
    }
    while (this.destroys.size > 0) await Promise.all([...this.destroys]);
  }

  private checkDrained(): void {
    if (this.drained && this.inUse.size === 0 && this.creating === 0 && this.validating === 0) this.drained();
  }

  private emit<K extends keyof PoolEvents>(event: K, payload: PoolEvents[K]): void {
    for (const l of [...(this.listeners[event] as ((e: PoolEvents[K]) => void)[])]) l(payload);
  }
}

/**
 * Creates a pool of reusable resources, the way Go's `database/sql` pools connections, without
 * the failure modes of the seed's channel pool or of generic-pool:
 *
 * - `idle + inUse + creating <= max`, always; `create` runs outside any critical section, several
 *   at once, and a failed create frees its slot at once;
 * - waiters are served strictly FIFO, and a destroyed resource wakes the next waiter so it can
 *   create a replacement (no lost wake-up);
 * - a create that keeps failing backs off exponentially and, after `createAttempts` failures in
 *   a row, fails the waiters with {@link PoolCreateError} instead of leaving them hanging;
 * - a lease is given back exactly once (`release`, `destroy` or `await using`); a second time
 *   throws {@link PoolLeaseReleasedError}; a release after `close()` destroys the resource.
 *
 * @example
 * ```ts
 * const pool = createPool({ create: () => connect(url), destroy: (c) => c.end(), max: 10, acquireTimeoutMs: 2_000 });
 * await using lease = await pool.acquire(ctx);
 * await lease.value.query('SELECT 1');
 * ```
 */
export function createPool<T>(options: PoolOptions<T>): Pool<T> {
  return new ResourcePool(options);
}
