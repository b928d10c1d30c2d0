import type { Clock, ClockTimer } from '../clock/index.js';

/** What one renewal attempt concluded. */
export type RenewResult = 'renewed' | 'retry' | 'stop';

/** Settings of a {@link Watchdog}. */
export interface WatchdogInit {
  clock: Clock;
  /** Pause after a confirmed renewal. */
  intervalMs: number;
  /** Pause after a renewal that got no usable answer (Redis error or timeout). */
  retryMs: number;
  /** Clock time after which no renewal is attempted (`acquiredAt + maxHoldMs`). */
  stopAt: number;
  /** Renews once; the lease decides what the answer means. */
  renew: () => Promise<RenewResult>;
  /** Called once when `stopAt` is reached with the lease still held. */
  onMaxHold: () => void;
}

/**
 * Renews a lease on a timer of the injectable clock, one renewal in flight at a time. It only
 * schedules: the owner check lives in the extend script and the loss decision in the lease, so
 * a stopped watchdog can never extend a lock someone else owns (the seed's bare `EXPIRE`
 * watchdog, seed L3108, does exactly that). Timers are unref'd: a forgotten lease never keeps
 * the process alive.
 */
export class Watchdog {
  private timer: ClockTimer | undefined;
  private stopped = false;

  constructor(private readonly init: WatchdogInit) {}

  /** Schedules the first renewal one interval from now. */
  start(): void {
    this.schedule(this.init.intervalMs);
  }

  /** Cancels the pending renewal; an in-flight one finishes but schedules nothing. Idempotent. */
  stop(): void {
    this.stopped = true;
    this.init.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.init.clock.setTimeout(() => void this.tick(), ms).unref();
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.init.clock.now() >= this.init.stopAt) {
      this.stopped = true;
      this.init.onMaxHold();
      return;
    }
    const result = await this.init.renew();
    if (result === 'renewed') this.schedule(this.init.intervalMs);
    else if (result === 'retry') this.schedule(this.init.retryMs);
    else this.stop();
  }
}
