import { EventEmitter } from 'node:events';
import { type Clock, type ClockTimer, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger } from '@gopherkit/primitives/errors';
import type { RedisStock } from './redis-stock.js';

/** Options of {@link ReservationSweeper}. */
export interface ReservationSweeperOptions {
  /** Pause between sweeps (default 1000 ms). */
  intervalMs?: number;
  /** Reservations released per script call (default 100); a full batch sweeps again at once. */
  batch?: number;
  clock?: Clock;
}

/** Events of {@link ReservationSweeper}. */
export interface ReservationSweeperEvents {
  /** Order ids whose reservations were released because nobody settled them in time. */
  released: [orderIds: string[]];
  /** A sweep failed (e.g. Redis unavailable); the next one runs on schedule. */
  error: [error: unknown];
}

/**
 * Background backstop for {@link RedisStock.reserve}: every `intervalMs` it releases
 * reservations past their deadline, so locked stock comes back even when every timeout handler
 * crashed. Timers are unref'd; `close()` waits for a sweep in progress.
 */
export class ReservationSweeper extends EventEmitter<ReservationSweeperEvents> {
  private timer: ClockTimer | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private readonly intervalMs: number;
  private readonly batch: number;
  private readonly clock: Clock;

  constructor(
    private readonly stock: RedisStock,
    options: ReservationSweeperOptions = {},
  ) {
    super();
    this.intervalMs = assertInteger('intervalMs', options.intervalMs ?? 1000, 1);
    this.batch = assertInteger('batch', options.batch ?? 100, 1, 10_000);
    this.clock = options.clock ?? systemClock;
    this.schedule();
  }

  private schedule(): void {
    if (this.closed) return;
    this.timer = this.clock.setTimeout(() => {
      this.running = this.sweepNow().then(
        () => this.schedule(),
        () => this.schedule(),
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Sweeps until a batch comes back short; returns how many reservations were released. */
  async sweepNow(): Promise<number> {
    let total = 0;
    try {
      for (;;) {
        const ids = await this.stock.sweepExpired(this.batch);
        if (ids.length > 0) this.emit('released', ids);
        total += ids.length;
        if (ids.length < this.batch || this.closed) return total;
      }
    } catch (e) {
      if (this.listenerCount('error') > 0) this.emit('error', e);
      return total;
    }
  }

  /** Stops sweeping and waits for a sweep in progress. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.timer);
    await this.running;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
