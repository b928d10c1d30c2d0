/**
 * Go's `sync` primitives for async code: {@link Mutex}, {@link RWMutex}, weighted FIFO
 * {@link Semaphore}, {@link WaitGroup} and {@link Once}.
 *
 * One thread makes synchronous code atomic already; these matter when a critical section spans an
 * `await`. Every blocking call takes `WaitOptions` (`{signal, deadline}` or a Context) and an
 * aborted wait leaves no trace; holders release with `using` / `await using` or `release()`.
 * Waiters are served strictly in arrival order (no barging).
 * @module
 */
export { NegativeWaitGroupCounterError } from './errors.js';
export type { LockGuard } from './guard.js';
export { Mutex } from './mutex.js';
export { Once } from './once.js';
export type { SyncOptions } from './options.js';
export { RWMutex } from './rwmutex.js';
export { type Permit, Semaphore } from './semaphore.js';
export { WaitGroup } from './waitgroup.js';
