import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '../clock/index.js';
import { isContext, waitSignal } from '../context/index.js';
import { assertFinite, InvalidArgumentError } from '../errors/index.js';
import { hashTag, loadScript, type RedisClient, type RedisKeyOptions } from '../redis/index.js';
import { LockBusyError } from './errors.js';
import { Lease, type LeaseBackend, type LockLease, type OwnerCheck, runHoldingLease } from './lease.js';
import {
  checkKey,
  checkRetry,
  checkTtl,
  checkWatchdog,
  DEFAULT_RETRY,
  DEFAULT_TTL_MS,
  type LockAcquireOptions,
  type LockRetryOptions,
  pause,
  type RetryPolicy,
  retryPause,
  type WatchdogPolicy,
  withTimeout,
} from './options.js';

const acquireScript = loadScript<number>(new URL('./acquire.lua', import.meta.url), 2, 'lock-acquire');
const releaseScript = loadScript<number>(new URL('./release.lua', import.meta.url), 1, 'lock-release');
const extendScript = loadScript<number>(new URL('./extend.lua', import.meta.url), 1, 'lock-extend');

/** Options of {@link RedisLock}. */
export interface RedisLockOptions extends RedisKeyOptions {
  /** Default lease TTL, ms. Default 10 000. */
  ttlMs?: number;
  /** Default retry policy of `acquire`. Default `{attempts: 10, delayMs: 100, jitterMs: 100}`. */
  retry?: LockRetryOptions | 'none';
  /** Upper bound of every Redis call (acquire try, extend, release), ms. Default 2000. */
  commandTimeoutMs?: number;
  /** Fraction of the TTL assumed lost to clock drift (validity = ttl − elapsed − ttl·driftFactor − 2 ms). Default 0.01. */
  driftFactor?: number;
  /** Time source for validity, retries and the watchdog. Default `systemClock`. */
  clock?: Clock;
  /** Random source of the retry jitter, in [0, 1). Default `Math.random`. */
  random?: () => number;
  /**
   * Issue fencing tokens (default true): every acquire also `INCR`s a counter key per lock name,
   * which lives forever (an expiring counter could go backwards). With `false`, acquire is a plain
   * `SET key token NX PX ttl`, no counter key is created, and `lease.fence` is 0 — for locks on
   * many short-lived names (per order, per cache key) whose holders write nothing a stale holder
   * could corrupt.
   */
  fencing?: boolean;
}

/** Maps a compare-and-x script answer (1 / 0 / -1) to what it means. */
export function ownerCheck(answer: number): OwnerCheck {
  return answer === 1 ? 'ok' : answer === 0 ? 'missing' : 'taken';
}

/** Shared option handling of {@link RedisLock} and {@link Redlock}. */
export interface LockSettings {
  prefix: string;
  ttlMs: number;
  retry: RetryPolicy;
  commandTimeoutMs: number;
  driftFactor: number;
  clock: Clock;
  random: () => number;
}

export function lockSettings(options: RedisLockOptions): LockSettings {
  return {
    prefix: options.prefix ?? 'gk:',
    ttlMs: checkTtl('ttlMs', options.ttlMs ?? DEFAULT_TTL_MS),
    retry: checkRetry('retry', options.retry, DEFAULT_RETRY),
    commandTimeoutMs: assertFinite('commandTimeoutMs', options.commandTimeoutMs ?? 2000, 1),
    driftFactor: assertFinite('driftFactor', options.driftFactor ?? 0.01, 0, 0.5),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
  };
}

/** Redis keys of one lock name: `<prefix>lock:{name}` and its fencing counter `<prefix>fence:{name}` (same hash slot). */
export function lockKeys(prefix: string, key: string): { lock: string; fence: string } {
  const tag = hashTag(key);
  return { lock: `${prefix}lock:${tag}`, fence: `${prefix}fence:${tag}` };
}

// Owner tokens come from a pool of CSPRNG bytes refilled 256 tokens at a time: one
// `randomBytes(16)` per acquire was the single largest CPU cost of an acquire (crypto's own
// randomUUID caches the same way).
const TOKEN_BYTES = 16;
const POOL_BYTES = TOKEN_BYTES * 256;
let pool = Buffer.alloc(0);
let offset = 0;

/** A random 128-bit owner token, as 32 hex characters. */
export function newToken(): string {
  if (offset + TOKEN_BYTES > pool.length) {
    pool = randomBytes(POOL_BYTES);
    offset = 0;
  }
  const token = pool.toString('hex', offset, offset + TOKEN_BYTES);
  offset += TOKEN_BYTES;
  return token;
}

/** One acquisition try of a lock, as the shared retry loop sees it. */
export interface Attempt<L> {
  /** Resolves a lease, `null` for "not this time" (busy), or rejects (Redis errors pass through). */
  once(): Promise<L | null>;
  /** The error to throw after the last unsuccessful try. */
  failure(attempts: number): Error;
}

/**
 * The retry loop of `acquire`, shared by both locks. Waits honour the caller's signal/deadline;
 * a try still in flight when the caller gives up is released as soon as it lands.
 */
export async function acquireWithRetry<L extends { release(): Promise<void> }>(
  options: LockAcquireOptions,
  settings: LockSettings,
  attempt: Attempt<L>,
): Promise<L> {
  const retry = checkRetry('retry', options.retry, settings.retry);
  const { context } = options;
  if (context !== undefined) {
    if (!isContext(context)) throw new InvalidArgumentError('context', 'a Context (see @gopherkit/primitives/context)', context);
    if (options.signal !== undefined || options.deadline !== undefined)
      throw new InvalidArgumentError('options', 'either `context` or `signal`/`deadline`, not both', options);
  }
  using wait = waitSignal(context ?? { signal: options.signal, deadline: options.deadline }, settings.clock);
  const signal = wait.signal;
  for (let n = 1; ; n++) {
    if (signal?.aborted) throw signal.reason;
    const result = signal ? await raceAbort(attempt.once(), signal) : await attempt.once();
    if (result !== null) return result;
    if (n >= retry.attempts) throw attempt.failure(n);
    await pause(retryPause(retry, settings.random), signal, settings.clock);
  }
}

function raceAbort<L extends { release(): Promise<void> }>(pending: Promise<L | null>, signal: AbortSignal): Promise<L | null> {
  return new Promise((resolve, reject) => {
    let gaveUp = false;
    const onAbort = () => {
      gaveUp = true;
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        if (!gaveUp) resolve(v);
        else if (v !== null) v.release().catch(() => {}); // the caller left; give the late lock back
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        if (!gaveUp) reject(e);
      },
    );
  });
}

/** Owner-checked extend/release of one key on one Redis (a class: no per-lease closures). */
class SingleBackend implements LeaseBackend {
  constructor(
    private readonly client: RedisClient,
    private readonly lockKey: string,
    private readonly token: string,
  ) {}
  async extend(ttlMs: number): Promise<OwnerCheck> {
    return ownerCheck(await extendScript.run(this.client, [this.lockKey], [this.token, ttlMs]));
  }
  async release(): Promise<OwnerCheck> {
    return ownerCheck(await releaseScript.run(this.client, [this.lockKey], [this.token]));
  }
}

type PlainSet = { set(key: string, value: string, px: 'PX', ms: number, nx: 'NX'): Promise<'OK' | null> };

/** One try of `RedisLock.acquire`. */
class SingleAttempt implements Attempt<Lease<number>> {
  constructor(
    private readonly client: RedisClient,
    private readonly settings: LockSettings,
    private readonly registry: Set<Lease<number>>,
    private readonly key: string,
    private readonly keys: { lock: string; fence: string },
    private readonly ttlMs: number,
    private readonly watchdog: WatchdogPolicy | undefined,
    private readonly fencing: boolean,
  ) {}

  async once(): Promise<Lease<number> | null> {
    const { clock, commandTimeoutMs, driftFactor } = this.settings;
    const token = newToken();
    const startedAt = clock.now();
    const fence = await withTimeout(
      this.fencing
        ? acquireScript.run(this.client, [this.keys.lock, this.keys.fence], [token, this.ttlMs])
        : (this.client as unknown as PlainSet).set(this.keys.lock, token, 'PX', this.ttlMs, 'NX').then((ok) => (ok === 'OK' ? -1 : 0)),
      commandTimeoutMs,
      clock,
      `acquire of lock "${this.key}"`,
    );
    if (fence === 0) return null;
    return new Lease<number>({
      key: this.key,
      token,
      fence: Math.max(fence, 0), // -1: acquired without fencing
      ttlMs: this.ttlMs,
      driftFactor,
      startedAt,
      clock,
      commandTimeoutMs,
      backend: new SingleBackend(this.client, this.keys.lock, token),
      watchdog: this.watchdog,
      registry: this.registry,
    });
  }

  failure(attempts: number): Error {
    return new LockBusyError(this.key, attempts);
  }
}

/**
 * A lease lock on one Redis: `SET key token NX PX ttl` plus a fencing counter `INCR` in the same
 * script, released and renewed by owner-checked Lua (compare-and-delete, compare-and-pexpire).
 *
 * What it guarantees: two leases for one key never overlap **as far as Redis's clock and this
 * process's clock agree**; a holder learns of loss through `lease.signal`; fencing tokens let the
 * protected resource reject a holder that stalled past its TTL (no timeout can, see the guide).
 * What it does not: survive a Redis failover (use {@link Redlock} or, better, fencing).
 *
 * @example
 * ```ts
 * const lock = new RedisLock(redis, { prefix: 'shop:' });
 * await using lease = await lock.acquire('order:42', { ttlMs: 5000, watchdog: true });
 * await db.update(order, { fence: lease.fence, signal: lease.signal });
 * ```
 */
export class RedisLock implements AsyncDisposable {
  private readonly settings: LockSettings;
  private readonly leases = new Set<Lease<number>>();
  private readonly fencing: boolean;

  constructor(
    private readonly client: RedisClient,
    options: RedisLockOptions = {},
  ) {
    this.settings = lockSettings(options);
    if (options.fencing !== undefined && typeof options.fencing !== 'boolean') throw new InvalidArgumentError('fencing', 'a boolean', options.fencing);
    this.fencing = options.fencing ?? true;
  }

  /**
   * Takes the lock, retrying while it is busy. Rejects with {@link LockBusyError} after the last
   * retry, with the signal's reason (or `DeadlineExceeded`) when the caller gives up, and with the
   * Redis error (or `DeadlineExceededError` after `commandTimeoutMs`) when Redis fails — a Redis
   * failure is never reported as "busy".
   */
  async acquire(key: string, options: LockAcquireOptions = {}): Promise<LockLease> {
    checkKey(key);
    const ttlMs = checkTtl('ttlMs', options.ttlMs ?? this.settings.ttlMs);
    const watchdog = checkWatchdog(options.watchdog, ttlMs);
    const keys = lockKeys(this.settings.prefix, key);
    return acquireWithRetry(options, this.settings, new SingleAttempt(this.client, this.settings, this.leases, key, keys, ttlMs, watchdog, this.fencing));
  }

  /**
   * Runs `fn` under the lock and releases it afterwards, passing the lease signal so `fn` can
   * stop when the lease is lost. `fn`'s error wins over a release error; when `fn` succeeds but
   * the lease turned out lost, the {@link LockNotHeldError} is thrown, because the work ran
   * without exclusion for a while.
   */
  async using<T>(key: string, options: LockAcquireOptions, fn: (signal: AbortSignal, lease: LockLease) => Promise<T> | T): Promise<T> {
    return runHoldingLease(await this.acquire(key, options), fn);
  }

  /** Number of leases of this lock object that are neither released nor lost. */
  get activeLeases(): number {
    return this.leases.size;
  }

  /** Releases every lease this lock object still holds (stopping their watchdogs). Release errors are ignored. */
  async close(): Promise<void> {
    await Promise.all([...this.leases].map((l) => l.release().catch(() => {})));
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
