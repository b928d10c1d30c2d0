import { type Clock, type ClockTimer, systemClock } from '../clock/index.js';
import { assertFinite, InvalidArgumentError } from '../errors/index.js';
import { Channel, type ReceiveChannel } from './channel.js';

/** Options for {@link timer}, {@link after} and {@link tick}. */
export interface TimerOptions {
  /** Time source (default the system clock); pass a `ManualClock` in tests. */
  clock?: Clock;
  /** Aborting stops the timer or ticker (nothing more is delivered on its channel). */
  signal?: AbortSignal;
}

/** A one-shot timer whose channel delivers the time it fired (Go's `*time.Timer`). */
export interface Timer extends Disposable {
  /** Receives one `Date` when the timer fires; never closed, as in Go. */
  readonly c: ReceiveChannel<Date>;
  /**
   * Stops the timer: `true` if it had not fired yet or its value was still unread (that value
   * is discarded), `false` if it was already received or stopped. After `stop()` no stale
   * value can be received (Go 1.23 semantics).
   */
  stop(): boolean;
  /** Re-arms the timer `ms` from now, discarding any unread value; returns what `stop()` would have. */
  reset(ms: number): boolean;
}

/** A periodic ticker (Go's `*time.Ticker`). */
export interface Ticker extends Disposable {
  /** Receives the time of each tick. Holds one tick; ticks a slow receiver misses are dropped. */
  readonly c: ReceiveChannel<Date>;
  /** Stops ticking and discards an unread tick; the channel is not closed, as in Go. */
  stop(): void;
  /** Stops, then ticks every `ms` from now. */
  reset(ms: number): void;
}

/**
 * Keeps the process alive only while somebody waits on the channel: a pending `await
 * after(1000).recv()` holds the process like `sleep` does, but a timeout arm that lost a
 * `select` (nobody waits on it any more) never delays exit.
 */
function linkRef(ch: Channel<Date>, handle: () => ClockTimer | undefined): void {
  ch.onReceivers = (waiting) => {
    const t = handle();
    if (t === undefined) return;
    if (waiting) t.ref();
    else t.unref();
  };
}

/**
 * Stops `owner` when `signal` aborts. The listener is attached only while the timer is armed, so
 * one long-lived signal (an app's shutdown signal) shared by many timers collects no listeners.
 */
class AbortLink {
  private attached = false;
  constructor(
    private readonly signal: AbortSignal | undefined,
    private readonly onAbort: () => void,
  ) {}
  get aborted(): boolean {
    return this.signal?.aborted === true;
  }
  attach(): void {
    if (this.signal === undefined || this.attached) return;
    this.signal.addEventListener('abort', this.onAbort, { once: true });
    this.attached = true;
  }
  detach(): void {
    if (!this.attached) return;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.attached = false;
  }
}

class ClockTimerChannel implements Timer {
  readonly c: Channel<Date>;
  private handle: ClockTimer | undefined;
  private readonly clock: Clock;
  private readonly link: AbortLink;

  constructor(ms: number, options: TimerOptions) {
    this.clock = options.clock ?? systemClock;
    this.c = new Channel<Date>(1);
    this.link = new AbortLink(options.signal, () => this.stop());
    linkRef(this.c, () => this.handle);
    this.arm(ms);
  }

  private arm(ms: number): void {
    if (this.link.aborted) return;
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      this.link.detach();
      this.c.trySend(new Date(this.clock.now()));
    }, ms);
    if (this.c.recvq.size === 0) this.handle.unref();
    this.link.attach();
  }

  stop(): boolean {
    this.link.detach();
    if (this.handle !== undefined) {
      this.clock.clearTimeout(this.handle);
      this.handle = undefined;
      return true;
    }
    return this.c.tryRecv() !== undefined;
  }

  reset(ms: number): boolean {
    assertFinite('ms', ms, 0);
    const active = this.stop();
    this.arm(ms);
    return active;
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

class ClockTicker implements Ticker {
  readonly c: Channel<Date>;
  private handle: ClockTimer | undefined;
  private readonly clock: Clock;
  private period = 0;
  private next = 0;
  private readonly link: AbortLink;

  constructor(ms: number, options: TimerOptions) {
    this.clock = options.clock ?? systemClock;
    this.c = new Channel<Date>(1);
    this.link = new AbortLink(options.signal, () => this.stop());
    linkRef(this.c, () => this.handle);
    this.start(ms);
  }

  private start(ms: number): void {
    if (this.link.aborted) return;
    this.period = ms;
    this.next = this.clock.now() + ms;
    this.schedule();
    this.link.attach();
  }

  private schedule(): void {
    this.handle = this.clock.setTimeout(() => this.fire(), this.next - this.clock.now());
    if (this.c.recvq.size === 0) this.handle.unref();
  }

  private fire(): void {
    const now = this.clock.now();
    this.c.trySend(new Date(now)); // full = the receiver is behind: drop this tick, as Go does
    // Stay on the original grid; if we fell behind by whole periods, skip them instead of bursting.
    this.next += this.period;
    if (this.next <= now) this.next = now + this.period - ((now - this.next) % this.period);
    this.schedule();
  }

  stop(): void {
    this.link.detach();
    this.clock.clearTimeout(this.handle);
    this.handle = undefined;
    this.c.tryRecv();
  }

  reset(ms: number): void {
    checkPeriod(ms);
    this.stop();
    this.start(ms);
  }

  [Symbol.dispose](): void {
    this.stop();
  }
}

function checkPeriod(ms: unknown): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) throw new InvalidArgumentError('ms', 'a finite number > 0', ms);
  return ms;
}

/**
 * A one-shot timer (Go's `time.NewTimer`): its channel receives the current time once, `ms`
 * from now. Use `stop()` when the result is no longer wanted (e.g. the other arm of a
 * `select` won) to free the timer at once.
 * @throws `InvalidArgumentError` unless `ms` is a finite number ≥ 0.
 */
export function timer(ms: number, options: TimerOptions = {}): Timer {
  assertFinite('ms', ms, 0);
  return new ClockTimerChannel(ms, options);
}

/**
 * A channel that receives the current time once, `ms` from now (Go's `time.After`): the
 * timeout arm of a {@link select}. The timer holds the process open only while someone waits on
 * the channel, and it is freed when it fires; call {@link timer} instead to stop it early.
 * @throws `InvalidArgumentError` unless `ms` is a finite number ≥ 0.
 */
export function after(ms: number, options: TimerOptions = {}): ReceiveChannel<Date> {
  return timer(ms, options).c;
}

/**
 * A ticker (Go's `time.NewTicker`): its channel receives the time every `ms`, on a fixed grid
 * (no drift). The channel holds one tick, so a slow receiver gets the latest-but-one tick and
 * missed ticks are dropped instead of queueing up, unlike `setInterval` with async work. Always
 * `stop()` it (or `using t = tick(…)`), or pass a `signal`.
 * @throws `InvalidArgumentError` unless `ms` is a finite number > 0.
 */
export function tick(ms: number, options: TimerOptions = {}): Ticker {
  return new ClockTicker(checkPeriod(ms), options);
}
