import { InvalidArgumentError } from '../errors/index.js';

/**
 * Runs a function once, no matter how many callers race to it (Go's `sync.Once`, returning the
 * value like `sync.OnceValue`).
 *
 * Every caller, concurrent or later, gets the same promise. A rejection counts as the one run and
 * is returned to every later caller too, as in Go (a panicking `f` still marks the Once done); to
 * retry after a failure, use a `SingleFlight` instead, which forgets settled calls.
 */
export class Once<T = void> {
  private result: Promise<T> | undefined;

  /** Calls `fn` on the first call only; returns its (shared) outcome to every caller. */
  do(fn: () => T | PromiseLike<T>): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function', fn);
    if (this.result === undefined) {
      try {
        this.result = Promise.resolve(fn());
      } catch (e) {
        this.result = Promise.reject(e);
      }
    }
    return this.result;
  }

  /** True once `do` has been called (its function may still be running). */
  get done(): boolean {
    return this.result !== undefined;
  }
}
