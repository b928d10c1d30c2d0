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

/**
 * Guards and permits are plain objects (prototype `Object.prototype`), built by these factories,
 * not class instances: resolving a promise with an object looks up its `then`, and V8 skips that
 * lookup only for objects whose prototype is `Object.prototype`. Every acquire resolves one, so
 * this measured 15 M → 19 M awaited acquire+release pairs/s. Methods are shared functions, not
 * closures, and the unlock callback sits under a symbol key.
 */
const UNLOCK = Symbol('unlock');

interface GuardObject extends LockGuard {
  released: boolean;
  readonly [UNLOCK]: () => void;
}

function releaseGuard(this: GuardObject): void {
  if (this.released) return;
  this.released = true;
  this[UNLOCK]();
}

function disposeGuard(this: GuardObject): void {
  this.release();
}

/** A new guard that calls `unlock` on its first release. @internal */
export function newGuard(unlock: () => void): LockGuard {
  const guard: GuardObject = { released: false, [UNLOCK]: unlock, release: releaseGuard, [Symbol.dispose]: disposeGuard };
  return guard;
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
