import type { WaitOptions } from '../context/index.js';
import { assertInteger, InvalidArgumentError } from '../errors/index.js';
import { PoolClosedError } from './errors.js';
import { createPool, type Pool, type PoolLease, type PoolOptions, type PoolStats } from './pool.js';

/** Options of {@link createKeyedPool}: those of {@link createPool}, per key. */
export interface KeyedPoolOptions<K, T> extends Omit<PoolOptions<T>, 'create' | 'max' | 'maxIdle' | 'minIdle'> {
  /** Opens a resource for `key` (dials that host, connects to that shard). */
  create(key: K, signal: AbortSignal): Promise<T>;
  /** Most resources open per key (Go's `Transport.MaxConnsPerHost`). */
  maxPerKey: number;
  /** Most idle resources kept per key (Go's `MaxIdleConnsPerHost`). Default `maxPerKey`. */
  maxIdlePerKey?: number;
}

/** A pool per key (host, shard, tenant) with the same rules as {@link Pool}; see {@link createKeyedPool}. */
export interface KeyedPool<K, T> extends AsyncDisposable {
  /** Checks out a resource for `key`, creating that key's pool on first use. */
  acquire(key: K, options?: WaitOptions): Promise<PoolLease<T>>;
  /** Acquires for `key`, runs `fn`, releases. */
  use<R>(key: K, fn: (value: T, lease: PoolLease<T>) => R | Promise<R>, options?: WaitOptions): Promise<R>;
  /** Stats per key. */
  stats(): Map<K, PoolStats>;
  /** Closes every key's pool (see {@link Pool.close}). Idempotent. */
  close(options?: WaitOptions): Promise<void>;
}

/**
 * A keyed pool, as an HTTP client keeps keep-alive connections per host: each key gets its own
 * {@link Pool} with `maxPerKey` and `maxIdlePerKey`, so one slow host cannot take the
 * connections another needs. Limits are per key; a key's pool lives until `close()` (its
 * resources still retire through `idleTimeoutMs`), so use it for a bounded set of keys.
 *
 * @example
 * ```ts
 * const agents = createKeyedPool({ create: (host) => connect(host), destroy: (s) => s.end(), maxPerKey: 10, maxIdlePerKey: 2, idleTimeoutMs: 90_000 });
 * await agents.use('api.example.com', (socket) => send(socket, request));
 * ```
 */
export function createKeyedPool<K, T>(options: KeyedPoolOptions<K, T>): KeyedPool<K, T> {
  if (options == null || typeof options.create !== 'function') {
    throw new InvalidArgumentError('create', 'a function (key, signal) => Promise<resource>', options?.create);
  }
  const maxPerKey = assertInteger('maxPerKey', options.maxPerKey, 1);
  const maxIdlePerKey = assertInteger('maxIdlePerKey', options.maxIdlePerKey ?? maxPerKey, 0, maxPerKey);
  const { create, maxPerKey: _m, maxIdlePerKey: _i, ...shared } = options;
  const pools = new Map<K, Pool<T>>();
  let closed: Promise<void> | undefined;
  const poolFor = (key: K): Pool<T> => {
    let pool = pools.get(key);
    if (pool === undefined) {
      pool = createPool<T>({ ...shared, create: (signal) => create(key, signal), max: maxPerKey, maxIdle: maxIdlePerKey });
      pools.set(key, pool);
    }
    return pool;
  };
  const close = (o?: WaitOptions) => {
    closed ??= Promise.all([...pools.values()].map((p) => p.close(o))).then(() => {});
    return closed;
  };
  return {
    acquire(key, o) {
      if (closed) return Promise.reject(new PoolClosedError());
      return poolFor(key).acquire(o);
    },
    use(key, fn, o) {
      if (closed) return Promise.reject(new PoolClosedError());
      return poolFor(key).use(fn, o);
    },
    stats: () => new Map([...pools].map(([k, p]) => [k, p.stats()])),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}
