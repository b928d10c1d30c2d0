import { type Clock, systemClock } from './clock.js';

/** Options for {@link sleep}. */
export interface SleepOptions {
  /** Aborting rejects the sleep with `signal.reason`. */
  signal?: AbortSignal;
  /** Time source (default {@link systemClock}). */
  clock?: Clock;
}

/**
 * Resolves after `ms` milliseconds of `clock` time; rejects with `signal.reason` when aborted
 * first. Unlike background timers, the sleep keeps the process alive, as an awaited delay should.
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<void> {
  const { signal, clock = systemClock } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = () => {
      clock.clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = clock.setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
