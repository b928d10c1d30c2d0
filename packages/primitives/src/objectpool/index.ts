/**
 * `ObjectPool<T>`: a `sync.Pool`-style free list that reuses short-lived objects to cut
 * allocation and GC work. Objects may be dropped at any time; see {@link ObjectPool}.
 * @module
 */
export { ObjectPool, type ObjectPoolOptions, type ObjectPoolStats } from './objectpool.js';
