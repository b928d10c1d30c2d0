import { createHash } from 'node:crypto';
import { CircuitBreaker } from '@gopherkit/primitives/breaker';
import { type Clock, sleep, systemClock } from '@gopherkit/primitives/clock';
import { assertFinite, assertInteger, InvalidArgumentError } from '@gopherkit/primitives/errors';
import { LockBusyError, type LockLease, RedisLock } from '@gopherkit/primitives/lock';
import { loadScript, type RedisClient } from '@gopherkit/primitives/redis';
import { SingleFlight } from '@gopherkit/primitives/singleflight';
import { Semaphore } from '@gopherkit/primitives/sync';
import { type CacheCodec, jsonCodec } from './codec.js';
import { decodeEntry, type Entry, encodeNegative, encodeValue } from './envelope.js';
import { CacheClosedError, CacheLoadTimeoutError, CacheRedisTimeoutError, CacheWaitTimeoutError } from './errors.js';
import { InvalidationBus } from './invalidation.js';
import { jitterTtl } from './jitter.js';
import { L1Tier } from './l1-tier.js';

const fillScript = loadScript<number>(new URL('./fill.lua', import.meta.url), 1, 'cache-fill');
const writeScript = loadScript<number>(new URL('./write.lua', import.meta.url), 1, 'cache-write');
const invalidateScript = loadScript<number>(new URL('./invalidate.lua', import.meta.url), 1, 'cache-invalidate');

/**
 * Anything that can answer "might this id exist?": `BloomFilter` and `RedisBloomFilter` from
 * `@gopherkit/primitives/bloom` both fit. `false` must mean "certainly absent".
 */
export interface BloomGate {
  has(key: string): boolean | Promise<boolean>;
}

/**
 * Loads the value of a key from the source of truth. Resolve `undefined` for "no such item": the
 * cache then stores its negative sentinel (unless disabled). `signal` aborts on `loadTimeoutMs` or
 * when every caller waiting for this load has given up.
 */
export type CacheLoader<T> = (signal: AbortSignal) => Promise<T | undefined> | T | undefined;

/** Options of {@link Cache}. Every duration is in ms. */
export interface CacheOptions {
  /** Prepended to every key (`<prefix>cache:<key>`, the lock and the pub/sub channel). Default `"gk:"`. */
  prefix?: string;
  /** Base TTL of a value. Default 60 000. */
  ttlMs?: number;
  /** TTL jitter ratio in [0, 0.99]: each write lives `ttlMs · (1 ± jitter)`. Default 0.1. */
  jitter?: number;
  /** TTL of the negative sentinel (a "not found" answer). Short, so a new item shows up soon. Default 30 000. */
  negativeTtlMs?: number;
  /**
   * Logical expiry: a value older than its TTL is still served for this long while exactly one
   * caller (across processes) rebuilds it in the background. 0 = off (a stale value is a miss). Default 0.
   */
  staleWhileRevalidateMs?: number;
  /** Value serializer. Default {@link jsonCodec}. */
  codec?: CacheCodec;
  /**
   * In-process tier in front of Redis: an LRU of `maxEntries` whose entries are fresh for `ttlMs`
   * (default 5 000). Dropped across processes by a pub/sub message on `set`/`delete`. Default off.
   */
  l1?: { maxEntries: number; ttlMs?: number };
  /**
   * Connection used for the L1 invalidation subscription (a subscribed connection cannot run
   * other commands). Default: `client.duplicate()`, closed by {@link Cache.close}.
   */
  subscriber?: RedisClient;
  /** Consulted before Redis and the loader: a key it has never seen is answered `undefined` at once. */
  bloom?: BloomGate;
  /**
   * Cross-process rebuild lock: its TTL (default `loadTimeoutMs + 1000`), how long a follower waits
   * for the holder's value (default `ttlMs + 500`, so a follower outlives the lock of a holder that
   * crashed and takes over), and the follower's poll period (default 20).
   */
  lock?: { ttlMs?: number; waitMs?: number; pollMs?: number };
  /** A load that takes longer fails every waiter with {@link CacheLoadTimeoutError}. Default 10 000. */
  loadTimeoutMs?: number;
  /** Upper bound of each Redis command; a slower answer counts as a Redis failure. Default 500. */
  redisTimeoutMs?: number;
  /**
   * Guards Redis: once it trips, the cache stops calling Redis and serves L1 (even stale) or calls
   * the loader under `fallbackConcurrency`. Pass your own breaker, or `false` for none. Default: a
   * `CircuitBreaker({name: 'cache-redis', minRequests: 10, openMs: 2000})`.
   */
  breaker?: CircuitBreaker | false;
  /** Loader calls allowed at once, per process, while Redis is unreachable. Default 8. */
  fallbackConcurrency?: number;
  /** How long a delete's tombstone lives; must exceed `loadTimeoutMs` (see {@link Cache.delete}). Default 60 000. */
  tombstoneTtlMs?: number;
  /** Time source. Default `systemClock`. */
  clock?: Clock;
  /** Random source of the TTL jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Options of one {@link Cache.take}. */
export interface TakeOptions {
  /** TTL of a value this call loads (before jitter). Default: the cache's `ttlMs`. */
  ttlMs?: number;
  /** `false`: a "not found" from the loader is not cached for this key. Default true. */
  negative?: boolean;
  /** `false`: skip the Bloom gate for this call (an id created a moment ago). Default true. */
  bloom?: boolean;
  /** Abort to stop waiting; `take` rejects with `signal.reason` (the shared load goes on for the others). */
  signal?: AbortSignal;
}

/** Which tier answered. */
export type CacheTier = 'l1' | 'redis';

/** Payloads of the events a {@link Cache} emits (hook metrics and logs here). */
export interface CacheEvents {
  /** A fresh value was found in L1 or Redis. */
  hit: { key: string; tier: CacheTier };
  /** Redis had no entry (absent or a delete tombstone); a load follows (shared by concurrent callers). */
  miss: { key: string };
  /** The negative sentinel answered: the item is known not to exist. */
  negativeHit: { key: string; tier: CacheTier };
  /** The Bloom gate said "certainly absent"; neither Redis nor the loader was asked. */
  bloomReject: { key: string };
  /** The loader ran. `degraded`: Redis was unreachable and the call went through the fallback limit. */
  load: { key: string; durationMs: number; found: boolean; degraded: boolean; error?: unknown };
  /** A value past its TTL was served (logical expiry, or L1 while Redis is down). */
  stale: { key: string; tier: CacheTier };
  /** This process found the rebuild lock taken and waits for the holder's value. */
  lockWait: { key: string };
  /** The Redis breaker opened. */
  breakerOpen: { reason: string };
  /** A failure nobody awaits: background refresh, fill, publish, second delete, subscription. */
  error: { key?: string; during: 'fill' | 'refresh' | 'publish' | 'doubleDelete' | 'subscribe'; error: unknown };
}

type Listeners = { [K in keyof CacheEvents]: ((event: CacheEvents[K]) => void)[] };

interface Resolved<T> {
  readonly value: T | undefined;
}

/** Turns a cache key into a lock name (lock names may not contain the hash-tag braces). */
function lockName(key: string): string {
  return key.includes('{') || key.includes('}') ? `cache#${createHash('sha1').update(key).digest('hex')}` : `cache:${key}`;
}

/**
 * Cache-aside over Redis with every classic defence in one place (seed Q17):
 *
 * - **Penetration** (缓存穿透): a "not found" is cached as a sentinel no codec output can equal,
 *   with its own short TTL, never over a real value; an optional Bloom gate answers unknown ids
 *   before Redis and the loader.
 * - **Breakdown** (缓存击穿): per key, one load per process (singleflight) and one across processes
 *   (a token-checked Redis lock); the others poll for the value until `lock.waitMs` — a loop, never
 *   recursion. With `staleWhileRevalidateMs`, callers get the old value at once while one caller
 *   rebuilds in the background.
 * - **Avalanche** (缓存雪崩): jittered TTLs; an optional L1 tier; a breaker around Redis so an outage
 *   degrades to L1/stale data and a concurrency-limited loader instead of a database stampede.
 * - **Consistency**: {@link Cache.delete} leaves a versioned tombstone and fills are versioned, so
 *   a slow loader cannot overwrite a newer value (go-zero#3000); {@link Cache.delayedDoubleDelete}
 *   for write paths that need it.
 *
 * Loader errors are never cached: they reach every in-process waiter of that load; a waiter in
 * another process then takes the lock and tries the loader itself.
 *
 * @example
 * ```ts
 * await using cache = new Cache(redis, { prefix: 'shop:', ttlMs: 60_000, l1: { maxEntries: 10_000 } });
 * const user = await cache.take(`user:${id}`, (signal) => db.findUser(id, { signal })); // undefined = no such user
 * await db.updateUser(id, patch);
 * await cache.delete(`user:${id}`);
 * ```
 */
export class Cache implements AsyncDisposable {
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly jitterRatio: number;
  private readonly negativeTtlMs: number;
  private readonly swrMs: number;
  private readonly codec: CacheCodec;
  private readonly l1: L1Tier | undefined;
  private readonly l1TtlMs: number;
  private readonly bloom: BloomGate | undefined;
  private readonly lock: RedisLock;
  private readonly lockTtlMs: number;
  private readonly lockWaitMs: number;
  private readonly pollMs: number;
  private readonly loadTimeoutMs: number;
  private readonly redisTimeoutMs: number;
  private readonly breaker: CircuitBreaker | undefined;
  private readonly fallback: Semaphore;
  private readonly tombstoneTtlMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly bus: InvalidationBus | undefined;
  private readonly flights = new SingleFlight<string, Resolved<unknown>>();
  private readonly fallbackFlights = new SingleFlight<string, Resolved<unknown>>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private readonly timers = new Map<ReturnType<Clock['setTimeout']>, string>();
  private readonly listeners: Listeners = {
    hit: [],
    miss: [],
    negativeHit: [],
    bloomReject: [],
    load: [],
    stale: [],
    lockWait: [],
    breakerOpen: [],
    error: [],
  };
  private readonly offBreaker: (() => void) | undefined;
  /** Errors thrown by Redis commands or the breaker (so a loader error is never mistaken for one). */
  private readonly redisErrors = new WeakSet<object>();
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    options: CacheOptions = {},
  ) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'an options object', options);
    const prefix = options.prefix ?? 'gk:';
    if (typeof prefix !== 'string') throw new InvalidArgumentError('prefix', 'a string', prefix);
    this.prefix = `${prefix}cache:`;
    this.ttlMs = assertInteger('ttlMs', options.ttlMs ?? 60_000, 1);
    this.jitterRatio = assertFinite('jitter', options.jitter ?? 0.1, 0, 0.99);
    this.negativeTtlMs = assertInteger('negativeTtlMs', options.negativeTtlMs ?? 30_000, 1);
    this.swrMs = assertInteger('staleWhileRevalidateMs', options.staleWhileRevalidateMs ?? 0, 0);
    this.codec = options.codec ?? jsonCodec;
    if (typeof this.codec?.encode !== 'function' || typeof this.codec.decode !== 'function') {
      throw new InvalidArgumentError('codec', 'an object with encode(value) and decode(text)', options.codec);
    }
    this.loadTimeoutMs = assertInteger('loadTimeoutMs', options.loadTimeoutMs ?? 10_000, 1);
    this.redisTimeoutMs = assertInteger('redisTimeoutMs', options.redisTimeoutMs ?? 500, 1);
    const lock = options.lock ?? {};
    this.lockTtlMs = assertInteger('lock.ttlMs', lock.ttlMs ?? this.loadTimeoutMs + 1000, 10);
    // A follower must outlive a crashed holder's lock, so it can take over instead of giving up.
    this.lockWaitMs = assertInteger('lock.waitMs', lock.waitMs ?? this.lockTtlMs + 500, 0);
    this.pollMs = assertInteger('lock.pollMs', lock.pollMs ?? 20, 1);
    this.tombstoneTtlMs = assertInteger('tombstoneTtlMs', options.tombstoneTtlMs ?? 60_000, 1);
    if (this.tombstoneTtlMs <= this.loadTimeoutMs) {
      throw new InvalidArgumentError(
        'tombstoneTtlMs',
        `greater than loadTimeoutMs (${this.loadTimeoutMs}), or a slow load could outlive it`,
        this.tombstoneTtlMs,
      );
    }
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    if (options.bloom !== undefined && typeof options.bloom?.has !== 'function') {
      throw new InvalidArgumentError('bloom', 'an object with has(key), e.g. a BloomFilter or RedisBloomFilter', options.bloom);
    }
    this.bloom = options.bloom;
    this.fallback = new Semaphore(assertInteger('fallbackConcurrency', options.fallbackConcurrency ?? 8, 1), { clock: this.clock });
    // no fencing counter: a rebuild writes through the version-checked fill script, and a counter
    // key per cache key would pile up
    this.lock = new RedisLock(client, { prefix, clock: this.clock, commandTimeoutMs: this.redisTimeoutMs, fencing: false });
    if (options.breaker === false) this.breaker = undefined;
    else if (options.breaker === undefined) {
      this.breaker = new CircuitBreaker({ name: 'cache-redis', minRequests: 10, openMs: 2000, clock: this.clock });
    } else if (options.breaker instanceof CircuitBreaker) this.breaker = options.breaker;
    else throw new InvalidArgumentError('breaker', 'a CircuitBreaker or false', options.breaker);
    this.offBreaker = this.breaker?.on('stateChange', ({ to, reason }) => {
      if (to === 'open') this.emit('breakerOpen', { reason });
    });
    if (options.l1 !== undefined) {
      if (options.l1 === null || typeof options.l1 !== 'object') throw new InvalidArgumentError('l1', 'an object {maxEntries, ttlMs?}', options.l1);
      this.l1 = new L1Tier(options.l1.maxEntries);
      this.l1TtlMs = assertInteger('l1.ttlMs', options.l1.ttlMs ?? 5000, 1);
      const l1 = this.l1;
      this.bus = new InvalidationBus(
        client,
        `${this.prefix}invalidate`,
        options.subscriber,
        (key) => l1.delete(key),
        () => l1.clear(),
        (error) => this.emit('error', { during: 'subscribe', error }),
      );
    } else this.l1TtlMs = 0;
  }

  /** Resolves once the L1 invalidation subscription is live (at once without L1). */
  async ready(): Promise<void> {
    await this.bus?.ready();
  }

  /**
   * Returns the cached value of `key`, calling `loader` on a miss (once across processes) and
   * caching what it returns. Resolves `undefined` when the item does not exist (loader said so,
   * negative sentinel, or Bloom gate). The value may be shared with other callers: do not mutate it.
   *
   * Concurrent callers of one key share one load: the first caller's `loader`, `ttlMs` and
   * `negative` apply to it. Rejects with the loader's error (shared by every waiter, never cached),
   * {@link CacheLoadTimeoutError}, {@link CacheWaitTimeoutError}, or `signal.reason`. Redis errors
   * never reach the caller: they degrade to L1/stale data or the concurrency-limited loader.
   */
  async take<T>(key: string, loader: CacheLoader<T>, options: TakeOptions = {}): Promise<T | undefined> {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('key', 'a non-empty string', key);
    if (typeof loader !== 'function') throw new InvalidArgumentError('loader', 'a function (signal) => value | undefined', loader);
    if (this.closed) throw new CacheClosedError();
    const l1 = this.l1;
    if (l1 !== undefined) {
      const entry = l1.get(key);
      if (entry !== undefined && entry.freshUntil > this.clock.now()) {
        this.emit(entry.negative ? 'negativeHit' : 'hit', { key, tier: 'l1' });
        return entry.value as T | undefined;
      }
    }
    if (this.bloom !== undefined && options.bloom !== false && !(await this.mightExist(key))) {
      this.emit('bloomReject', { key });
      return undefined;
    }
    let raw: string | null;
    try {
      raw = await this.redis(() => this.client.get(this.prefix + key));
    } catch (error) {
      return this.degraded(key, loader, options, error);
    }
    const entry = decodeEntry(raw);
    if (entry?.kind === 'value') {
      const value = this.codec.decode(entry.payload) as T;
      if (entry.softExpiry !== 0 && entry.softExpiry <= this.clock.now()) {
        this.emit('stale', { key, tier: 'redis' });
        this.revalidate(key, loader, options);
      } else {
        this.emit('hit', { key, tier: 'redis' });
        this.remember(key, value, false);
      }
      return value;
    }
    if (entry?.kind === 'negative') {
      this.emit('negativeHit', { key, tier: 'redis' });
      this.remember(key, undefined, true);
      return undefined;
    }
    this.emit('miss', { key });
    const flight = await this.flights.do(key, (signal) => this.rebuild(key, loader, options, signal), options.signal ? { signal: options.signal } : undefined);
    return flight.value.value as T | undefined;
  }

  /**
   * Write-through: stores `value` for `key` with a bumped version (so an older fill in flight is
   * refused), refreshes this process's L1 and drops the key from every other process's L1.
   */
  async set(key: string, value: unknown, options: { ttlMs?: number } = {}): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('key', 'a non-empty string', key);
    if (value === undefined) throw new InvalidArgumentError('value', 'a value other than undefined (use delete to remove a key)', value);
    if (this.closed) throw new CacheClosedError();
    const ttl = jitterTtl(assertInteger('ttlMs', options.ttlMs ?? this.ttlMs, 1), this.jitterRatio, this.random);
    const softExpiry = this.swrMs > 0 ? Math.round(this.clock.now() + ttl) : 0;
    await this.redis(() => writeScript.run(this.client, [this.prefix + key], [softExpiry, this.codec.encode(value), ttl + this.swrMs]));
    this.remember(key, value, false);
    this.publish(key);
  }

  /**
   * Removes `key` for every reader: Redis gets a tombstone with a bumped version (lives
   * `tombstoneTtlMs`), so a loader that read the database before this delete cannot put its old
   * value back; this process's L1 drops the key and the others are told to. Call it after the
   * database write commits. Unlike reads, it rejects when Redis is unreachable (or the breaker is
   * open): the write path must know that its invalidation did not happen (retry it, or rely on
   * the TTL).
   */
  async delete(key: string): Promise<void> {
    if (typeof key !== 'string' || key.length === 0) throw new InvalidArgumentError('key', 'a non-empty string', key);
    if (this.closed) throw new CacheClosedError();
    this.l1?.delete(key);
    await this.redis(() => invalidateScript.run(this.client, [this.prefix + key], [this.tombstoneTtlMs]));
    this.publish(key);
  }

  /**
   * The classic delayed double delete: deletes now, and again after `delayMs` (default 500) to
   * wipe a value that a reader which loaded before the write may have put back meanwhile. With
   * versioned fills (always on here) the second delete is a belt-and-braces measure for caches
   * written by other code. The second delete runs on an unref'd timer; `close()` runs it at once.
   * Its failure is reported as an `error` event.
   */
  async delayedDoubleDelete(key: string, delayMs = 500): Promise<void> {
    assertInteger('delayMs', delayMs, 0);
    await this.delete(key);
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(timer);
      this.delete(key).catch((error: unknown) => this.emit('error', { key, during: 'doubleDelete', error }));
    }, delayMs);
    timer.unref();
    this.timers.set(timer, key);
  }

  /**
   * Subscribes to an event; returns the unsubscribe function. Listeners run synchronously on the
   * hot path: keep them cheap (increment a counter, push to a metrics client).
   */
  on<K extends keyof CacheEvents>(event: K, listener: (event: CacheEvents[K]) => void): () => void {
    const list = this.listeners[event] as ((event: CacheEvents[K]) => void)[] | undefined;
    if (list === undefined) throw new InvalidArgumentError('event', `one of ${Object.keys(this.listeners).join(', ')}`, event);
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** The breaker guarding Redis (undefined with `breaker: false`), for dashboards. */
  get redisBreaker(): CircuitBreaker | undefined {
    return this.breaker;
  }

  /**
   * Stops the cache: runs pending second deletes now, waits for background refreshes, closes the
   * invalidation subscription and releases held rebuild locks. Idempotent; later calls refuse.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const pending = [...this.timers];
    this.timers.clear();
    const work: Promise<unknown>[] = [...this.refreshing.values()];
    for (const [timer, key] of pending) {
      this.clock.clearTimeout(timer);
      work.push(
        this.redis(() => invalidateScript.run(this.client, [this.prefix + key], [this.tombstoneTtlMs])).catch((error: unknown) =>
          this.emit('error', { key, during: 'doubleDelete', error }),
        ),
      );
    }
    await Promise.all(work);
    this.offBreaker?.();
    await this.bus?.close();
    await this.lock.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- internals -------------------------------------------------------------------------

  private emit<K extends keyof CacheEvents>(event: K, payload: CacheEvents[K]): void {
    const list = this.listeners[event];
    for (let i = 0; i < list.length; i++) (list[i] as (e: CacheEvents[K]) => void)(payload);
  }

  private remember(key: string, value: unknown, negative: boolean): void {
    this.l1?.set(key, { value, negative, freshUntil: this.clock.now() + this.l1TtlMs });
  }

  private publish(key: string): void {
    this.bus?.publish(key).catch((error: unknown) => this.emit('error', { key, during: 'publish', error }));
  }

  private async mightExist(key: string): Promise<boolean> {
    try {
      return await (this.bloom as BloomGate).has(key);
    } catch {
      return true; // a Bloom filter that cannot answer must not hide real items: fail open
    }
  }

  /** One Redis command, bounded by `redisTimeoutMs` and counted by the breaker. */
  private redis<R>(send: () => Promise<R>): Promise<R> {
    const timed = () =>
      new Promise<R>((resolve, reject) => {
        const command = send();
        const timer = this.clock.setTimeout(() => reject(new CacheRedisTimeoutError(this.redisTimeoutMs)), this.redisTimeoutMs);
        timer.unref();
        command.then(
          (v) => {
            this.clock.clearTimeout(timer);
            resolve(v);
          },
          (e: unknown) => {
            this.clock.clearTimeout(timer);
            reject(e);
          },
        );
      });
    const guarded = this.breaker === undefined ? timed() : this.breaker.execute(timed);
    return guarded.catch((error: unknown) => {
      if (typeof error === 'object' && error !== null) this.redisErrors.add(error);
      throw error;
    });
  }

  private async read(key: string): Promise<Entry | undefined> {
    return decodeEntry(await this.redis(() => this.client.get(this.prefix + key)));
  }

  /**
   * The miss path of one process (already deduplicated by singleflight): take the cross-process
   * lock and load, or wait for the holder's value. A loop with a deadline, never recursion.
   */
  private async rebuild<T>(key: string, loader: CacheLoader<T>, options: TakeOptions, signal: AbortSignal): Promise<Resolved<T>> {
    const name = lockName(key);
    const giveUpAt = this.clock.now() + this.lockWaitMs;
    let waiting = false;
    for (;;) {
      let lease: LockLease | undefined;
      try {
        lease = await this.lock.acquire(name, { ttlMs: this.lockTtlMs, retry: 'none' });
      } catch (error) {
        if (!(error instanceof LockBusyError)) return this.degradedLoad(key, loader, error);
      }
      if (lease !== undefined) {
        try {
          // Re-read under the lock: another process may have filled the key since our GET.
          const entry = await this.read(key);
          if (entry?.kind === 'value' && (entry.softExpiry === 0 || entry.softExpiry > this.clock.now())) {
            const value = this.codec.decode(entry.payload) as T;
            this.remember(key, value, false);
            return { value };
          }
          if (entry?.kind === 'negative') return { value: undefined };
          return { value: await this.loadAndFill(key, loader, options, entry?.version ?? 0, signal) };
        } catch (error) {
          if (!this.isRedisFailure(error)) throw error;
          return this.degradedLoad(key, loader, error);
        } finally {
          lease.release().catch(() => {});
        }
      }
      if (!waiting) {
        waiting = true;
        this.emit('lockWait', { key });
      }
      if (this.clock.now() >= giveUpAt) throw new CacheWaitTimeoutError(key, this.lockWaitMs);
      await sleep(Math.min(this.pollMs, Math.max(1, giveUpAt - this.clock.now())), { clock: this.clock, signal });
      let entry: Entry | undefined;
      try {
        entry = await this.read(key);
      } catch (error) {
        return this.degradedLoad(key, loader, error);
      }
      if (entry?.kind === 'value') {
        const value = this.codec.decode(entry.payload) as T;
        this.remember(key, value, false);
        return { value };
      }
      if (entry?.kind === 'negative') return { value: undefined };
    }
  }

  private isRedisFailure(error: unknown): boolean {
    return typeof error === 'object' && error !== null && this.redisErrors.has(error);
  }

  private async loadAndFill<T>(key: string, loader: CacheLoader<T>, options: TakeOptions, version: number, signal: AbortSignal): Promise<T | undefined> {
    const value = await this.callLoader(key, loader, signal, false);
    const redisKey = this.prefix + key;
    try {
      if (value === undefined) {
        if (options.negative === false) return undefined;
        const written = await this.redis(() => fillScript.run(this.client, [redisKey], [version, encodeNegative(version), this.negativeTtlMs, '1']));
        if (written === 1) this.remember(key, undefined, true); // refused: a value was written meanwhile
        return undefined;
      }
      const ttl = jitterTtl(options.ttlMs ?? this.ttlMs, this.jitterRatio, this.random);
      const softExpiry = this.swrMs > 0 ? Math.round(this.clock.now() + ttl) : 0;
      const written = await this.redis(() =>
        fillScript.run(this.client, [redisKey], [version, encodeValue(version, softExpiry, this.codec.encode(value)), ttl + this.swrMs, '0']),
      );
      // Refused (-1): a write happened while we loaded; our value may be older, keep it out of L1.
      if (written === 1) this.remember(key, value, false);
    } catch (error) {
      this.emit('error', { key, during: 'fill', error }); // the caller still gets the value it waited for
    }
    return value;
  }

  private async callLoader<T>(key: string, loader: CacheLoader<T>, outer: AbortSignal | undefined, degraded: boolean): Promise<T | undefined> {
    const controller = new AbortController();
    const onOuter = () => controller.abort(outer?.reason);
    outer?.addEventListener('abort', onOuter, { once: true });
    const started = this.clock.now();
    let timer: ReturnType<Clock['setTimeout']> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimeout(() => {
        const error = new CacheLoadTimeoutError(key, this.loadTimeoutMs);
        controller.abort(error);
        reject(error);
      }, this.loadTimeoutMs);
      timer.unref();
    });
    try {
      const value = await Promise.race([loader(controller.signal), timeout]);
      this.emit('load', { key, durationMs: this.clock.now() - started, found: value !== undefined, degraded });
      return value;
    } catch (error) {
      this.emit('load', { key, durationMs: this.clock.now() - started, found: false, degraded, error });
      throw error;
    } finally {
      this.clock.clearTimeout(timer);
      outer?.removeEventListener('abort', onOuter);
    }
  }

  /** Logical expiry: one background rebuild per key per process, one across processes (lock, no wait). */
  private revalidate<T>(key: string, loader: CacheLoader<T>, options: TakeOptions): void {
    if (this.refreshing.has(key) || this.closed) return;
    const run = (async () => {
      let lease: LockLease | undefined;
      try {
        lease = await this.lock.acquire(lockName(key), { ttlMs: this.lockTtlMs, retry: 'none' });
      } catch (error) {
        if (!(error instanceof LockBusyError)) this.emit('error', { key, during: 'refresh', error });
        return; // busy: another process is rebuilding it
      }
      try {
        const entry = await this.read(key);
        if (entry?.kind === 'value' && entry.softExpiry > this.clock.now()) return; // already rebuilt
        await this.loadAndFill(key, loader, options, entry?.version ?? 0, new AbortController().signal);
      } catch (error) {
        this.emit('error', { key, during: 'refresh', error });
      } finally {
        await lease.release().catch(() => {});
      }
    })().finally(() => this.refreshing.delete(key));
    this.refreshing.set(key, run);
  }

  /** Redis is unreachable (or the breaker is open): serve L1 even if stale, else load under the fallback limit. */
  private async degraded<T>(key: string, loader: CacheLoader<T>, options: TakeOptions, cause: unknown): Promise<T | undefined> {
    const entry = this.l1?.get(key);
    if (entry !== undefined) {
      this.emit('stale', { key, tier: 'l1' });
      return entry.value as T | undefined;
    }
    const flight = await this.fallbackFlights.do(key, () => this.degradedLoad(key, loader, cause), options.signal ? { signal: options.signal } : undefined);
    return flight.value.value as T | undefined;
  }

  private async degradedLoad<T>(key: string, loader: CacheLoader<T>, _cause: unknown): Promise<Resolved<T>> {
    const permit = await this.fallback.acquire();
    try {
      const value = await this.callLoader(key, loader, undefined, true);
      this.remember(key, value, value === undefined);
      return { value };
    } finally {
      permit.release();
    }
  }
}
