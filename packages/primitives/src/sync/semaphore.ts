import { type Clock, systemClock } from '../clock/index.js';
import type { WaitOptions } from '../context/index.js';
import { assertInteger } from '../errors/index.js';
import { runHolding } from './guard.js';
import type { SyncOptions } from './options.js';
import { rejectIfAborted, WaiterQueue } from './waiter-queue.js';

/**
 * `weight` tokens held from a {@link Semaphore}. `release()` (or `using`) gives exactly those
 * tokens back; releasing twice is a no-op, so over-release is impossible by construction.
 */
export interface Permit extends Disposable {
  /** Tokens this permit holds. */
  readonly weight: number;
  /** True once released. */
  readonly released: boolean;
  /** Returns the tokens and wakes the waiters they unblock, in FIFO order. Idempotent. */
  release(): void;
}

const GIVE = Symbol('give');

interface PermitObject extends Permit {
  released: boolean;
  readonly [GIVE]: (weight: number) => void;
}

function releasePermit(this: PermitObject): void {
  if (this.released) return;
  this.released = true;
  this[GIVE](this.weight);
}

function disposePermit(this: PermitObject): void {
  this.release();
}

/** A plain object, not a class instance: see `newGuard` in guard.ts for why (promise resolution speed). */
function newPermit(give: (weight: number) => void, weight: number): Permit {
  const permit: PermitObject = { weight, released: false, [GIVE]: give, release: releasePermit, [Symbol.dispose]: disposePermit };
  return permit;
}

/**
 * A weighted semaphore (Go's `x/sync/semaphore.Weighted`): `size` tokens, each acquire takes
 * `weight` of them.
 *
 * Strict FIFO with no barging: while anyone waits, new acquires (and `tryAcquire`) queue behind
 * them even if enough tokens are free. A large waiter at the head is therefore never overtaken by
 * smaller ones (it would starve otherwise); when it gives up (abort/deadline), the waiters behind
 * it are woken at once. An aborted acquire leaves the tokens and the queue exactly as before.
 */
export class Semaphore {
  private inUse = 0;
  private readonly queue = new WaiterQueue<Permit>();
  private readonly clock: Clock;
  private readonly pumpFn = () => this.pump();
  private readonly giveFn = (weight: number) => {
    this.inUse -= weight;
    if (this.queue.length !== 0) this.pump();
  };
  /** Total tokens. */
  readonly size: number;

  /** @param size - total tokens, an integer >= 1. */
  constructor(size: number, options: SyncOptions = {}) {
    this.size = assertInteger('size', size, 1);
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Resolves with a {@link Permit} for `weight` tokens (default 1) once they are free and every
   * earlier waiter was served. `weight` must be in `[1, size]`: more could never be granted.
   * Aborting `options` rejects with the abort reason and leaves no trace.
   */
  acquire(weight = 1, options?: WaitOptions): Promise<Permit> {
    if (weight !== 1) assertInteger('weight', weight, 1, this.size);
    if (this.queue.length === 0 && this.size - this.inUse >= weight) {
      if (options !== undefined) {
        const aborted = rejectIfAborted(options, this.clock);
        if (aborted) return aborted;
      }
      this.inUse += weight;
      return Promise.resolve(newPermit(this.giveFn, weight));
    }
    return this.queue.enqueue(weight, 0, undefined, options, this.clock, this.pumpFn);
  }

  /** Takes `weight` tokens if they are free and nobody waits; otherwise `undefined`. */
  tryAcquire(weight = 1): Permit | undefined {
    if (weight !== 1) assertInteger('weight', weight, 1, this.size);
    if (this.queue.length !== 0 || this.size - this.inUse < weight) return undefined;
    this.inUse += weight;
    return newPermit(this.giveFn, weight);
  }

  /** Runs `fn` holding `weight` tokens and returns them when `fn` settles. */
  async withPermit<T>(fn: () => T | PromiseLike<T>, weight = 1, options?: WaitOptions): Promise<T> {
    return runHolding(this.acquire(weight, options), fn);
  }

  /** Tokens free right now. */
  get available(): number {
    return this.size - this.inUse;
  }

  /** Callers blocked in {@link Semaphore.acquire}. */
  get waiting(): number {
    return this.queue.length;
  }

  private pump(): void {
    for (;;) {
      const head = this.queue.head;
      if (head === undefined || this.size - this.inUse < head.weight) return;
      this.inUse += head.weight;
      this.queue.grant(head, newPermit(this.giveFn, head.weight));
    }
  }
}
