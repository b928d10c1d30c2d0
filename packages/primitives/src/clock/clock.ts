/**
 * A timer handle returned by {@link Clock.setTimeout}. Mirrors the part of Node's `Timeout`
 * that gopherkit uses: background timers are `unref()`'d so they never keep a process alive.
 */
export interface ClockTimer {
  ref(): this;
  unref(): this;
  hasRef(): boolean;
}

/**
 * The one source of time for everything time-based in gopherkit (contexts, timers, tickers,
 * token buckets, breakers, Snowflake, lock watchdogs, caches). Inject a {@link ManualClock} in
 * tests to drive time without sleeping.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch (may be fractional). */
  now(): number;
  /** Calls `callback` once, `ms` milliseconds from now. */
  setTimeout(callback: () => void, ms: number): ClockTimer;
  /** Cancels a timer; a no-op for `undefined` or an already-fired timer. */
  clearTimeout(timer: ClockTimer | undefined): void;
}

/** The real clock: `Date.now()` and Node's timers. */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimeout: (callback: () => void, ms: number): ClockTimer => setTimeout(callback, Math.max(0, ms)),
  clearTimeout: (timer: ClockTimer | undefined): void => {
    if (timer !== undefined) clearTimeout(timer as unknown as NodeJS.Timeout);
  },
});
