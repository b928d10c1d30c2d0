import { type Clock, systemClock } from '../clock/index.js';
import type { WaitOptions } from '../context/index.js';
import { assertInteger, InvalidArgumentError } from '../errors/index.js';
import { NegativeWaitGroupCounterError } from './errors.js';
import type { SyncOptions } from './options.js';
import { WaiterQueue } from './waiter-queue.js';

/**
 * Waits for a collection of tasks to finish (Go's `sync.WaitGroup`): `add(n)` before starting
 * work, `done()` when each piece ends, `wait()` resolves when the counter is back to zero.
 *
 * Call `add` before the work starts (not inside it), or `wait()` can see zero too early, exactly
 * as in Go. A counter that would go negative throws {@link NegativeWaitGroupCounterError} and is
 * left unchanged. `wait()` with no outstanding work resolves at once. Unlike an `ErrGroup`, a
 * WaitGroup does not collect errors or cancel anything.
 */
export class WaitGroup {
  private counter = 0;
  private readonly waiters = new WaiterQueue<void>();
  private readonly clock: Clock;

  constructor(options: SyncOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Adds `delta` (an integer, default 1; negative = that many `done()`s). Throws on a negative result. */
  add(delta = 1): void {
    if (delta !== 1) assertInteger('delta', delta, Number.MIN_SAFE_INTEGER);
    const next = this.counter + delta;
    if (next < 0) throw new NegativeWaitGroupCounterError(this.counter, delta);
    this.counter = next;
    if (next === 0) {
      for (let w = this.waiters.head; w !== undefined; w = this.waiters.head) this.waiters.grant(w, undefined);
    }
  }

  /** Marks one piece of work finished (`add(-1)`). */
  done(): void {
    this.add(-1);
  }

  /**
   * Runs `fn` as one tracked piece of work (Go 1.25's `wg.Go`): `add(1)` now, `done()` when it
   * settles. Returns `fn`'s promise so its failure stays visible: handle it, or use an ErrGroup.
   */
  go<T>(fn: () => T | PromiseLike<T>): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function', fn);
    this.add(1);
    let result: T | PromiseLike<T>;
    try {
      result = fn();
    } catch (e) {
      this.done();
      return Promise.reject(e);
    }
    return Promise.resolve(result).finally(() => this.done());
  }

  /** Resolves once the counter is zero. Aborting `options` stops waiting (rejects with the reason). */
  wait(options?: WaitOptions): Promise<void> {
    if (this.counter === 0) return Promise.resolve();
    return this.waiters.enqueue(0, 0, undefined, options, this.clock);
  }

  /** The current counter. */
  get count(): number {
    return this.counter;
  }
}
