/**
 * Proof of holding a lock ({@link Mutex}, {@link RWMutex}). Release it with `release()` or let
 * `using` / `await using` do it. Releasing twice is a no-op, so an explicit early `release()` inside a
 * `using` block is safe; a guard only ever releases what it acquired.
 */
export interface LockGuard extends Disposable {
  /** Gives the lock back (to the next waiter, in FIFO order). Idempotent. */
  release(): void;
  /** True once released. */
  readonly released: boolean;
}

/** @internal */
export class Guard implements LockGuard {
  released = false;
  constructor(private readonly unlock: () => void) {}
  release(): void {
    if (this.released) return;
    this.released = true;
    this.unlock();
  }
  [Symbol.dispose](): void {
    this.release();
  }
}

/** Runs `fn` once `held` resolves and releases what it resolved to when `fn` settles, whatever the outcome. @internal */
export async function runHolding<T>(held: Promise<{ release(): void }>, fn: () => T | PromiseLike<T>): Promise<T> {
  const h = await held;
  try {
    return await fn();
  } finally {
    h.release();
  }
}
