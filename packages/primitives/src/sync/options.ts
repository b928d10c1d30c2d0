import type { Clock } from '../clock/index.js';

/** Options of the sync primitives' constructors. */
export interface SyncOptions {
  /** Time source for `deadline` in `WaitOptions` (default: the system clock). */
  clock?: Clock;
}
