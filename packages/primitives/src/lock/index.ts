/**
 * Distributed locks on Redis: {@link RedisLock} (one instance) and {@link Redlock} (a majority
 * of N independent instances), both returning a {@link LockLease} with an owner token, a
 * fencing token, an optional watchdog and an AbortSignal that reports loss.
 *
 * Rules: acquire is one atomic `SET NX PX` (never SETNX then EXPIRE); release and renewal are
 * owner-checked Lua (never a bare DEL/EXPIRE); the lease signal aborts with `LockLostError` as
 * soon as the lease cannot be trusted; release is idempotent, bounded in time, and reports a
 * lost lease as `LockNotHeldError`. A lock alone cannot stop a holder that stalled past its TTL:
 * pass `lease.fence` to the resource and let it reject stale tokens ({@link FencedStore}).
 * @module
 */
export { type InstanceOutcome, LockBusyError, LockLostError, LockNotHeldError, QuorumError, StaleFenceError } from './errors.js';
export { FencedStore } from './fenced-store.js';
export type { LockLease } from './lease.js';
export type { LockAcquireOptions, LockRetryOptions, LockWatchdogOptions } from './options.js';
export { RedisLock, type RedisLockOptions } from './redis-lock.js';
export { Redlock, type RedlockOptions } from './redlock.js';
