/**
 * The injectable time source used by every time-based piece of gopherkit.
 *
 * Production code uses {@link systemClock}; tests pass a {@link ManualClock} and call
 * `advance(ms)` instead of sleeping.
 * @module
 */
export { type Clock, type ClockTimer, systemClock } from './clock.js';
export { ManualClock } from './manual-clock.js';
export { type SleepOptions, sleep } from './sleep.js';
