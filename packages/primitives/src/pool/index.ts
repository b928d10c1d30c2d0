/**
 * A generic resource pool (connections, clients): `createPool` and its per-key variant.
 *
 * Rules: `idle + inUse + creating <= max`; FIFO waiters; creates run outside any critical
 * section; a create that keeps failing fails the waiters after `createAttempts` (never hangs);
 * a lease is given back exactly once; a release after `close()` destroys the resource.
 * @module
 */
export { PoolClosedError, PoolCreateError, PoolLeaseReleasedError, PoolTimeoutError } from './errors.js';
export { createKeyedPool, type KeyedPool, type KeyedPoolOptions } from './keyed-pool.js';
export { createPool, type Pool, type PoolEvents, type PoolLease, type PoolOptions, type PoolStats } from './pool.js';
