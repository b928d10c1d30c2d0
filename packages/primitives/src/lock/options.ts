import { type Clock, sleep } from '../clock/index.js';
import type { Context } from '../context/index.js';
import { DeadlineExceededError } from '../context/index.js';
import { assertFinite, assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';

/** How `acquire` retries while the lock is busy. */
export interface LockRetryOptions {
  /** Total tries including the first; `Infinity` = until the signal or deadline stops it. Default 10. */
  attempts?: number;
  /** Base pause between tries, ms. Default 100. */
  delayMs?: number;
  /** A random 0..jitterMs is added to each pause, so contenders that collided do not collide again in lockstep. Default 100. */
  jitterMs?: number;
}

/** Watchdog settings; `true` means renew every `ttlMs / 3` with no cap. */
export interface LockWatchdogOptions {
  /** Renewal period, ms; must be shorter than `ttlMs`. Default `ttlMs / 3` (Redisson's choice). */
  intervalMs?: number;
  /**
   * Stop renewing once the lease has been held this long, so a stuck holder cannot keep a lock
   * forever; the lease then lapses (and `signal` aborts) at most one TTL later. Default `Infinity`.
   */
  maxHoldMs?: number;
}

/** Options of `acquire` and `using`. */
export interface LockAcquireOptions {
  /** Lease time-to-live, ms (integer ≥ 10). Default: the lock's `ttlMs` (10 000). */
  ttlMs?: number;
  /** Retry policy while busy, or `'none'` for a single try. Default: the lock's `retry`. */
  retry?: LockRetryOptions | 'none';
  /** Keep the lease alive while the holder works (see {@link LockWatchdogOptions}). Default off. */
  watchdog?: boolean | LockWatchdogOptions;
  /** Abort to stop waiting; `acquire` rejects with `signal.reason`. */
  signal?: AbortSignal;
  /** Stop waiting at this instant (a `Date` or ms of the lock's clock) with `DeadlineExceeded`. */
  deadline?: Date | number;
  /**
   * Wait no longer than this context: its cancel (with its cause) or deadline ends the wait, as
   * `signal` and `deadline` do. Give either `context` or `signal`/`deadline`, not both.
   */
  context?: Context;
}

/** Normalised retry policy. */
export interface RetryPolicy {
  attempts: number;
  delayMs: number;
  jitterMs: number;
}

/** Normalised watchdog settings. */
export interface WatchdogPolicy {
  intervalMs: number;
  maxHoldMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = Object.freeze({ attempts: 10, delayMs: 100, jitterMs: 100 });
export const DEFAULT_TTL_MS = 10_000;
const MAX_TTL_MS = 2 ** 31 - 1;

export function checkKey(key: unknown): string {
  assertNonEmptyString('key', key);
  if ((key as string).includes('{') || (key as string).includes('}')) {
    throw new InvalidArgumentError('key', 'a lock name without "{" or "}" (it becomes a Redis Cluster hash tag)', key);
  }
  return key as string;
}

export function checkTtl(argument: string, ttlMs: unknown): number {
  return assertInteger(argument, ttlMs, 10, MAX_TTL_MS);
}

export function checkRetry(argument: string, retry: LockRetryOptions | 'none' | undefined, fallback: RetryPolicy): RetryPolicy {
  if (retry === undefined) return fallback;
  if (retry === 'none') return { attempts: 1, delayMs: 0, jitterMs: 0 };
  if (typeof retry !== 'object' || retry === null) throw new InvalidArgumentError(argument, "an object {attempts, delayMs, jitterMs} or 'none'", retry);
  const attempts = retry.attempts ?? fallback.attempts;
  if (attempts !== Number.POSITIVE_INFINITY) assertInteger(`${argument}.attempts`, attempts, 1);
  return {
    attempts,
    delayMs: assertFinite(`${argument}.delayMs`, retry.delayMs ?? fallback.delayMs, 0),
    jitterMs: assertFinite(`${argument}.jitterMs`, retry.jitterMs ?? fallback.jitterMs, 0),
  };
}

export function checkWatchdog(watchdog: LockAcquireOptions['watchdog'], ttlMs: number): WatchdogPolicy | undefined {
  if (watchdog === undefined || watchdog === false) return undefined;
  if (watchdog === true) return { intervalMs: Math.max(1, Math.floor(ttlMs / 3)), maxHoldMs: Number.POSITIVE_INFINITY };
  if (typeof watchdog !== 'object' || watchdog === null) throw new InvalidArgumentError('watchdog', 'a boolean or {intervalMs, maxHoldMs}', watchdog);
  const intervalMs = watchdog.intervalMs ?? Math.max(1, Math.floor(ttlMs / 3));
  assertInteger('watchdog.intervalMs', intervalMs, 1, ttlMs - 1);
  const maxHoldMs = watchdog.maxHoldMs ?? Number.POSITIVE_INFINITY;
  if (maxHoldMs !== Number.POSITIVE_INFINITY) assertFinite('watchdog.maxHoldMs', maxHoldMs, 0);
  return { intervalMs, maxHoldMs };
}

/**
 * Clock-drift allowance subtracted from every validity window: `ttl·driftFactor + 2 ms`, the
 * figure of the Redlock spec and its reference clients (redlock-rb, node-redlock).
 */
export function driftMs(ttlMs: number, driftFactor: number): number {
  return Math.round(ttlMs * driftFactor) + 2;
}

/** The pause before retry number `attempt` (1-based): `delayMs + random()·jitterMs`. */
export function retryPause(policy: RetryPolicy, random: () => number): number {
  return policy.delayMs + Math.floor(random() * policy.jitterMs);
}

/** Sleeps between tries; rejects with the signal's reason when the caller gives up. */
export function pause(ms: number, signal: AbortSignal | undefined, clock: Clock): Promise<void> {
  return ms > 0 ? sleep(ms, { signal, clock }) : signal?.aborted ? Promise.reject(signal.reason) : Promise.resolve();
}

/**
 * Resolves with `p`, or rejects with `DeadlineExceededError` after `ms` of `clock` time. A hung
 * Redis (SIGSTOP, a network partition) keeps ioredis commands pending forever; every lock call is
 * bounded with this instead. The timer is unref'd; `p`'s late rejection is swallowed.
 */
export function withTimeout<T>(p: Promise<T>, ms: number, clock: Clock, what: string): Promise<T> {
  if (!Number.isFinite(ms)) return p;
  return new Promise<T>((resolve, reject) => {
    const timer = clock
      .setTimeout(() => reject(new DeadlineExceededError(`${what}: no answer from Redis within ${Math.round(ms)} ms`)), Math.max(0, ms))
      .unref();
    p.then(
      (v) => {
        clock.clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clock.clearTimeout(timer);
        reject(e);
      },
    );
  });
}
