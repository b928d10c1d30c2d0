import { type Clock, systemClock } from '../clock/index.js';
import type { WaitOptions } from '../context/index.js';
import { type LockGuard, newGuard, runHolding } from './guard.js';
import type { SyncOptions } from './options.js';
import { rejectIfAborted, WaiterQueue } from './waiter-queue.js';

/**
 * An async mutual-exclusion lock, for critical sections that span `await` (synchronous code is
 * already atomic on one thread; a read-modify-write with an `await` in the middle is not).
 *
 * Fair: waiters get the lock in arrival order and ownership is handed to the next waiter on
 * release, so a `tryLock()` or a new `lock()` never overtakes someone already waiting. Not
 * reentrant: locking again while holding it waits forever (as in Go).
 *
 * @example
 * ```ts
 * const mu = new Mutex();
 * {
 *   using _ = await mu.lock({ signal });
 *   balance = (await read()) + amount;
 *   await write(balance);
 * } // released here, even on throw
 * ```
 */
export class Mutex {
  private held = false;
  private readonly queue = new WaiterQueue<LockGuard>();
  private readonly clock: Clock;
  private readonly unlockFn = () => this.unlock();

  constructor(options: SyncOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Resolves with a {@link LockGuard} once the lock is ours. Aborting `options` (signal, deadline
   * or Context) while waiting rejects with the abort reason and leaves the queue as if this call
   * never happened; an already-aborted signal rejects even when the lock is free.
   */
  lock(options?: WaitOptions): Promise<LockGuard> {
    if (!this.held) {
      const aborted = rejectIfAborted(options, this.clock);
      if (aborted) return aborted;
      this.held = true;
      return Promise.resolve(newGuard(this.unlockFn));
    }
    return this.queue.enqueue(1, 0, undefined, options, this.clock);
  }

  /** Takes the lock if it is free right now (and nobody waits), else returns `undefined`. */
  tryLock(): LockGuard | undefined {
    if (this.held) return undefined;
    this.held = true;
    return newGuard(this.unlockFn);
  }

  /** Runs `fn` holding the lock and releases it when `fn` settles, whatever the outcome. */
  async withLock<T>(fn: () => T | PromiseLike<T>, options?: WaitOptions): Promise<T> {
    return runHolding(this.lock(options), fn);
  }

  /** True while someone holds the lock. */
  get locked(): boolean {
    return this.held;
  }

  /** Callers blocked in {@link Mutex.lock}. */
  get waiting(): number {
    return this.queue.length;
  }

  private unlock(): void {
    const next = this.queue.head;
    if (next === undefined) this.held = false;
    else this.queue.grant(next, newGuard(this.unlockFn)); // hand-off: stays held, no barging
  }
}
