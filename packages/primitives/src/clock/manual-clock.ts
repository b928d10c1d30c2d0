import { assertFinite } from '../errors/index.js';
import type { Clock, ClockTimer } from './clock.js';

class ManualTimer implements ClockTimer {
  private refed = true;
  constructor(
    readonly dueAt: number,
    readonly seq: number,
    readonly callback: () => void,
  ) {}
  ref(): this {
    this.refed = true;
    return this;
  }
  unref(): this {
    this.refed = false;
    return this;
  }
  hasRef(): boolean {
    return this.refed;
  }
}

/** Lets pending promise callbacks and `setImmediate` work run before the next timer fires. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * A clock that moves only when told to. Timers fire in due-time order (ties in creation order)
 * during {@link ManualClock.advance}, which lets the promise work each timer triggers settle
 * before the next one fires, so code under test sees time pass exactly as it would in production.
 *
 * @example
 * ```ts
 * const clock = new ManualClock();
 * const [ctx] = withTimeout(background(), 1000, { clock });
 * await clock.advance(1000);
 * ctx.err(); // DeadlineExceeded
 * ```
 */
export class ManualClock implements Clock {
  private current: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  /** @param startMs - initial value of `now()`, in ms since the epoch (default 0). */
  constructor(startMs = 0) {
    this.current = assertFinite('startMs', startMs);
  }

  now(): number {
    return this.current;
  }

  setTimeout(callback: () => void, ms: number): ClockTimer {
    const t = new ManualTimer(this.current + Math.max(0, Number.isFinite(ms) ? ms : 0), this.seq++, callback);
    this.timers.push(t);
    return t;
  }

  clearTimeout(timer: ClockTimer | undefined): void {
    const i = this.timers.indexOf(timer as ManualTimer);
    if (i >= 0) this.timers.splice(i, 1);
  }

  /** Number of timers scheduled and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.timers.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, in order, with
   * `now()` equal to each timer's due time while it runs. Timers scheduled by those callbacks
   * fire too if they fall due within the window.
   */
  async advance(ms: number): Promise<void> {
    assertFinite('ms', ms, 0);
    await this.advanceTo(this.current + ms);
  }

  /** Moves time forward to `targetMs` (see {@link ManualClock.advance}). */
  async advanceTo(targetMs: number): Promise<void> {
    assertFinite('targetMs', targetMs, this.current);
    await settle();
    for (;;) {
      const next = this.nextDue();
      if (next === undefined || next.dueAt > targetMs) break;
      this.timers.splice(this.timers.indexOf(next), 1);
      this.current = Math.max(this.current, next.dueAt);
      next.callback();
      await settle();
    }
    this.current = targetMs;
    await settle();
  }

  /** Fires every pending timer (and those they schedule), advancing time as needed. */
  async runAll(maxTimers = 100_000): Promise<void> {
    for (let i = 0; i < maxTimers; i++) {
      const next = this.nextDue();
      if (next === undefined) return;
      await this.advanceTo(Math.max(this.current, next.dueAt));
    }
    throw new Error(`ManualClock.runAll: more than ${maxTimers} timers fired; a timer keeps rescheduling itself`);
  }

  /**
   * Sets the wall time directly, **without** firing timers; it may move backwards. For testing
   * code that must tolerate clock jumps (NTP corrections), e.g. Snowflake and token buckets.
   */
  setTime(ms: number): void {
    this.current = assertFinite('ms', ms);
  }

  private nextDue(): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.timers) {
      if (best === undefined || t.dueAt < best.dueAt || (t.dueAt === best.dueAt && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
