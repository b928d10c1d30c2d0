import { assertInteger, InvalidArgumentError } from '../errors/index.js';

/** Options of {@link ObjectPool}. */
export interface ObjectPoolOptions<T> {
  /** Makes a new object when the pool is empty. */
  create: () => T;
  /**
   * Cleans an object as it is put back (zero a buffer, clear a map), so `get()` never hands out
   * a previous user's data. If it throws, the object is dropped and the error propagates.
   */
  reset?: (obj: T) => void;
  /** Most idle objects kept (an integer >= 0, default 256); puts beyond it drop the object. */
  maxIdle?: number;
}

/** Counters of an {@link ObjectPool} since it was created. */
export interface ObjectPoolStats {
  /** Objects made by `create` (every `get` on an empty pool). */
  created: number;
  /** `get` calls served from the pool. */
  reused: number;
  /** Objects put back but not kept (pool full, `reset` threw, or `clear()`). */
  dropped: number;
  /** Objects idle in the pool now. */
  idle: number;
}

/**
 * A free list of reusable objects (Go's `sync.Pool`), to take allocation and GC work off a hot
 * path that makes many short-lived, same-shaped objects (buffers, encoders, scratch arrays).
 *
 * **Objects may be dropped**: a `put` beyond `maxIdle` discards the object, `clear()` discards all
 * of them, and `get` may always return a brand-new one. Never rely on getting a particular object
 * back, and never keep state in pooled objects that must survive. (Go's pool is emptied by every
 * GC cycle; this one keeps up to `maxIdle` objects until `clear()`.)
 *
 * **After `put`, the object is no longer yours**: the next `get` hands it to someone else, so any
 * reference kept after `put` aliases another user's data. Putting the same object twice hands it
 * out twice. Not a connection pool: nothing bounds how many objects exist, `get` never waits,
 * and there is no validation or destroy hook.
 *
 * Whether pooling pays off depends on the object: `npm run demo -- object-pool` measures it.
 */
export class ObjectPool<T> {
  private readonly create: () => T;
  private readonly reset: ((obj: T) => void) | undefined;
  private readonly maxIdle: number;
  private readonly items: T[] = [];
  private created = 0;
  private reused = 0;
  private dropped = 0;

  constructor(options: ObjectPoolOptions<T>) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'an object {create, reset?, maxIdle?}', options);
    if (typeof options.create !== 'function') throw new InvalidArgumentError('create', 'a function returning a new object', options.create);
    if (options.reset !== undefined && typeof options.reset !== 'function') throw new InvalidArgumentError('reset', 'a function (obj) => void', options.reset);
    this.create = options.create;
    this.reset = options.reset;
    this.maxIdle = options.maxIdle === undefined ? 256 : assertInteger('maxIdle', options.maxIdle, 0);
  }

  /** An idle object if there is one (most recently put first, still warm in cache), else a new one. */
  get(): T {
    if (this.items.length > 0) {
      this.reused++;
      return this.items.pop() as T;
    }
    this.created++;
    return this.create();
  }

  /** Returns `obj` for reuse after `reset`; it may be dropped (see the class notes). */
  put(obj: T): void {
    if (obj === undefined || obj === null) throw new InvalidArgumentError('obj', 'an object obtained from get()', obj);
    if (this.items.length >= this.maxIdle) {
      this.dropped++;
      return;
    }
    if (this.reset !== undefined) {
      try {
        this.reset(obj);
      } catch (e) {
        this.dropped++;
        throw e;
      }
    }
    this.items.push(obj);
  }

  /** Drops every idle object (for example when memory is tight or the object shape changes). */
  clear(): void {
    this.dropped += this.items.length;
    this.items.length = 0;
  }

  /** Idle objects in the pool. */
  get idle(): number {
    return this.items.length;
  }

  /** Counters since creation; a snapshot. */
  stats(): ObjectPoolStats {
    return { created: this.created, reused: this.reused, dropped: this.dropped, idle: this.items.length };
  }
}
