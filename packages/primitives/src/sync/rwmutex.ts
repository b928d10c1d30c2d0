import { type Clock, systemClock } from '../clock/index.js';
import type { WaitOptions } from '../context/index.js';
import { type LockGuard, newGuard, runHolding } from './guard.js';
import type { SyncOptions } from './options.js';
import { rejectIfAborted, WaiterQueue } from './waiter-queue.js';

const READ = 1;
const WRITE = 2;

/**
 * A readers-writer lock: many readers at once, or one writer alone.
 *
 * Writer-preferring, as Go's `sync.RWMutex`: once a writer waits, new readers queue behind it,
 * so a steady stream of readers can never starve writers. The flip side, as in Go: taking a read
 * lock while already holding one deadlocks if a writer arrived in between (no recursive read
 * locking). Waiters are served in arrival order; consecutive readers at the head enter together.
 *
 * Worth it only when reads dominate and the read section itself awaits I/O; for short sections
 * a {@link Mutex} is cheaper (the `mutex-across-await` demo sweeps the read ratio).
 */
export class RWMutex {
  private readers = 0;
  private writer = false;
  private readonly queue = new WaiterQueue<LockGuard>();
  private readonly clock: Clock;
  private readonly pumpFn = () => this.pump();
  private readonly runlockFn = () => {
    this.readers--;
    this.pump();
  };
  private readonly unlockFn = () => {
    this.writer = false;
    this.pump();
  };

  constructor(options: SyncOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /** Resolves with a shared (read) guard; waits while a writer holds the lock or waits for it. */
  rlock(options?: WaitOptions): Promise<LockGuard> {
    if (!this.writer && this.queue.length === 0) {
      const aborted = rejectIfAborted(options, this.clock);
      if (aborted) return aborted;
      this.readers++;
      return Promise.resolve(newGuard(this.runlockFn));
    }
    return this.queue.enqueue(0, READ, undefined, options, this.clock, this.pumpFn);
  }

  /** Resolves with the exclusive (write) guard once every reader and writer before us is done. */
  lock(options?: WaitOptions): Promise<LockGuard> {
    if (!this.writer && this.readers === 0 && this.queue.length === 0) {
      const aborted = rejectIfAborted(options, this.clock);
      if (aborted) return aborted;
      this.writer = true;
      return Promise.resolve(newGuard(this.unlockFn));
    }
    return this.queue.enqueue(0, WRITE, undefined, options, this.clock, this.pumpFn);
  }

  /** A read guard if one can be had without waiting (no writer holding or waiting), else `undefined`. */
  tryRLock(): LockGuard | undefined {
    if (this.writer || this.queue.length !== 0) return undefined;
    this.readers++;
    return newGuard(this.runlockFn);
  }

  /** The write guard if the lock is entirely free and nobody waits, else `undefined`. */
  tryLock(): LockGuard | undefined {
    if (this.writer || this.readers !== 0 || this.queue.length !== 0) return undefined;
    this.writer = true;
    return newGuard(this.unlockFn);
  }

  /** Runs `fn` under a read lock. */
  async withReadLock<T>(fn: () => T | PromiseLike<T>, options?: WaitOptions): Promise<T> {
    return runHolding(this.rlock(options), fn);
  }

  /** Runs `fn` under the write lock. */
  async withLock<T>(fn: () => T | PromiseLike<T>, options?: WaitOptions): Promise<T> {
    return runHolding(this.lock(options), fn);
  }

  /** Readers holding the lock now. */
  get readLocked(): number {
    return this.readers;
  }

  /** True while a writer holds the lock. */
  get writeLocked(): boolean {
    return this.writer;
  }

  /** Callers blocked in {@link RWMutex.rlock} or {@link RWMutex.lock}. */
  get waiting(): number {
    return this.queue.length;
  }

  /** Serves the head of the queue: a writer alone when the lock is free, or every reader up to the next writer. */
  private pump(): void {
    for (;;) {
      const head = this.queue.head;
      if (head === undefined || this.writer) return;
      if (head.tag === WRITE) {
        if (this.readers !== 0) return;
        this.writer = true;
        this.queue.grant(head, newGuard(this.unlockFn));
        return;
      }
      this.readers++;
      this.queue.grant(head, newGuard(this.runlockFn));
    }
  }
}
