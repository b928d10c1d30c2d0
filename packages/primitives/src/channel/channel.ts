import { type Clock, systemClock } from '../clock/index.js';
import { type WaitOptions, type WaitScope, waitSignal } from '../context/index.js';
import { assertInteger } from '../errors/index.js';
import { ChannelClosedError } from './errors.js';
import { resolvedVoidOp, resolvedWith, settle } from './starvation-guard.js';
import { Waiter, WaitQueue } from './wait-queue.js';

/**
 * What a receive yields: `{ value, ok: true }` for a value that was sent, `{ value: undefined,
 * ok: false }` once the channel is closed and drained (Go's `v, ok := <-ch`).
 */
export type RecvResult<T> = { readonly value: T; readonly ok: true } | { readonly value: undefined; readonly ok: false };

const closedResult: RecvResult<never> = Object.freeze({ value: undefined, ok: false });

/** The receive half of a channel (Go's `<-chan T`), e.g. what `after()` returns. */
export interface ReceiveChannel<T> extends AsyncIterable<T> {
  /** See {@link Channel.recv}. */
  recv(options?: WaitOptions): Promise<RecvResult<T>>;
  /** See {@link Channel.tryRecv}. */
  tryRecv(): RecvResult<T> | undefined;
  /** See {@link Channel.values}. */
  values(options?: WaitOptions): AsyncIterableIterator<T>;
  /** Values buffered now. */
  readonly len: number;
  /** Buffer capacity (0 = unbuffered). */
  readonly cap: number;
}

/** The send half of a channel (Go's `chan<- T`). */
export interface SendChannel<T> {
  /** See {@link Channel.send}. */
  send(value: T, options?: WaitOptions): Promise<void>;
  /** See {@link Channel.trySend}. */
  trySend(value: T): boolean;
  /** See {@link Channel.close}. */
  close(): void;
  /** Values buffered now. */
  readonly len: number;
  /** Buffer capacity (0 = unbuffered). */
  readonly cap: number;
}

/** Options for {@link Channel}'s constructor. */
export interface ChannelOptions {
  /** Time source for the `deadline` of {@link WaitOptions} (default the system clock). */
  clock?: Clock;
}

/** A blocked plain `recv()`. */
class RecvWaiter<T> extends Waiter<T> {
  resolve!: (r: RecvResult<T>) => void;
  reject!: (e: unknown) => void;
  scope: WaitScope | undefined;
  onAbort: (() => void) | undefined;

  complete(value: T | undefined, ok: boolean): void {
    if (this.scope !== undefined) release(this.scope, this.onAbort);
    settle(this.resolve, ok ? { value: value as T, ok: true } : closedResult);
  }
}

/** A blocked plain `send()`. */
class SendWaiter<T> extends Waiter<T> {
  resolve!: () => void;
  reject!: (e: unknown) => void;
  scope: WaitScope | undefined;
  onAbort: (() => void) | undefined;

  complete(_value: T | undefined, ok: boolean): void {
    if (this.scope !== undefined) release(this.scope, this.onAbort);
    this.value = undefined; // do not retain the payload past the hand-off
    if (ok) settle(this.resolve, undefined);
    else this.reject(new ChannelClosedError());
  }
}

function release(scope: WaitScope, onAbort: (() => void) | undefined): void {
  if (onAbort !== undefined) scope.signal?.removeEventListener('abort', onAbort);
  scope.dispose();
}

/**
 * Go's `chan T`: a typed FIFO pipe between async tasks, with Go's exact rules.
 *
 * - **Unbuffered** (`capacity` 0, the default): `send` resolves only when a receiver has taken
 *   the value (a rendezvous), so the sender knows it was handed off.
 * - **Buffered**: `send` resolves as soon as the value is in the buffer; it blocks only when the
 *   buffer is full, which is how a bounded channel applies backpressure.
 * - **FIFO**: values come out in send order, and blocked senders and receivers are served in the
 *   order they blocked. When a full buffer has a blocked sender, a receiver takes the buffer's
 *   head and the sender's value moves to the tail.
 * - **close**: later receives drain the buffer, then yield `{ ok: false }`; every blocked
 *   receiver wakes with `{ ok: false }`; every blocked sender rejects with
 *   {@link ChannelClosedError}; `send` on a closed channel and a second `close` throw it. Only
 *   the sending side should close, as in Go.
 * - **Cancellation**: every blocking call takes {@link WaitOptions} (`{ signal, deadline }` or a
 *   `Context`). An aborted call rejects with the signal's reason and leaves the channel exactly
 *   as if it had never been made: no value is lost, none is duplicated.
 *
 * Use `select` to wait on several channels at once, `for await (const v of ch)` for Go's
 * `for v := range ch`.
 *
 * @example
 * ```ts
 * const jobs = new Channel<number>(100);
 * const worker = (async () => { for await (const j of jobs) handle(j); })();
 * for (const j of work) await jobs.send(j); // waits while the buffer is full
 * jobs.close();
 * await worker;
 * ```
 */
export class Channel<T> implements ReceiveChannel<T>, SendChannel<T> {
  private readonly buf: (T | undefined)[];
  private head = 0;
  private count = 0;
  private readonly capacity: number;
  private closed = false;
  private readonly clock: Clock;
  /** @internal blocked receivers (plain and select). */
  readonly recvq = new WaitQueue<T>();
  /** @internal blocked senders (plain and select). */
  readonly sendq = new WaitQueue<T>();
  /** @internal called when the number of blocked receivers goes 0 → 1 (`true`) or 1 → 0 (`false`). */
  onReceivers: ((waiting: boolean) => void) | undefined;

  /**
   * @param capacity - buffer size, an integer ≥ 0; 0 (the default) makes an unbuffered channel.
   * @throws `InvalidArgumentError` for a negative or fractional capacity.
   */
  constructor(capacity = 0, options: ChannelOptions = {}) {
    this.capacity = assertInteger('capacity', capacity);
    this.buf = capacity > 0 ? new Array<T | undefined>(capacity) : [];
    this.clock = options.clock ?? systemClock;
  }

  /** Values buffered now (Go's `len(ch)`); 0 for an unbuffered channel. */
  get len(): number {
    return this.count;
  }

  /** Buffer capacity (Go's `cap(ch)`). */
  get cap(): number {
    return this.capacity;
  }

  /**
   * Sends without blocking: `true` if a waiting receiver took the value or it went into the
   * buffer, `false` if the send would block (Go's `select` with a `default`).
   * @throws {@link ChannelClosedError} when the channel is closed.
   */
  trySend(value: T): boolean {
    if (this.closed) throw new ChannelClosedError();
    const r = this.recvq.shift();
    if (r !== null) {
      if (this.recvq.size === 0) this.onReceivers?.(false);
      r.complete(value, true);
      return true;
    }
    if (this.count < this.capacity) {
      this.buf[(this.head + this.count) % this.capacity] = value;
      this.count++;
      return true;
    }
    return false;
  }

  /**
   * Receives without blocking: the result if a value (or the closed state) is available now,
   * `undefined` if the receive would block.
   */
  tryRecv(): RecvResult<T> | undefined {
    if (this.count > 0) {
      const value = this.buf[this.head] as T;
      this.buf[this.head] = undefined;
      this.head = this.head + 1 === this.capacity ? 0 : this.head + 1;
      this.count--;
      // A full buffer with a blocked sender: its value moves to the tail, then it resumes.
      const s = this.sendq.shift();
      if (s !== null) {
        this.buf[(this.head + this.count) % this.capacity] = s.value;
        this.count++;
        s.complete(undefined, true);
      }
      return { value, ok: true };
    }
    const s = this.sendq.shift();
    if (s !== null) {
      const value = s.value as T;
      s.complete(undefined, true);
      return { value, ok: true };
    }
    return this.closed ? closedResult : undefined;
  }

  /**
   * Sends `value`, waiting while the channel cannot take it: until a receiver takes it
   * (unbuffered) or there is room in the buffer (buffered).
   *
   * Rejects with {@link ChannelClosedError} if the channel is closed now or closes while this
   * send waits (the value was then not delivered), and with the abort reason if `options`
   * aborts first; an already-aborted signal or past deadline rejects without sending.
   */
  send(value: T, options?: WaitOptions): Promise<void> {
    if (options === undefined) {
      if (this.closed) return Promise.reject(new ChannelClosedError());
      if (this.trySend(value)) return resolvedVoidOp();
      return this.parkSend(value, undefined);
    }
    const scope = waitSignal(options, this.clock);
    const signal = scope.signal;
    if (signal?.aborted) {
      scope.dispose();
      return Promise.reject(signal.reason);
    }
    if (this.closed) {
      scope.dispose();
      return Promise.reject(new ChannelClosedError());
    }
    if (this.trySend(value)) {
      scope.dispose();
      return resolvedVoidOp();
    }
    return this.parkSend(value, scope);
  }

  private parkSend(value: T, scope: WaitScope | undefined): Promise<void> {
    const w = new SendWaiter<T>(value);
    const p = new Promise<void>((resolve, reject) => {
      w.resolve = resolve;
      w.reject = reject;
    });
    this.sendq.push(w);
    const signal = scope?.signal;
    if (signal !== undefined) {
      w.scope = scope;
      w.onAbort = () => {
        this.sendq.remove(w);
        w.value = undefined;
        release(w.scope as WaitScope, w.onAbort);
        w.reject(signal.reason);
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
    } else scope?.dispose();
    return p;
  }

  /**
   * Receives the next value, waiting until one is sent. Once the channel is closed and its
   * buffer drained, resolves `{ value: undefined, ok: false }` immediately, forever.
   *
   * Rejects with the abort reason if `options` aborts first (nothing was taken from the
   * channel); an already-aborted signal or past deadline rejects without receiving.
   */
  recv(options?: WaitOptions): Promise<RecvResult<T>> {
    if (options === undefined) {
      const r = this.tryRecv();
      if (r !== undefined) return resolvedWith(r);
      return this.parkRecv(undefined);
    }
    const scope = waitSignal(options, this.clock);
    const signal = scope.signal;
    if (signal?.aborted) {
      scope.dispose();
      return Promise.reject(signal.reason);
    }
    const r = this.tryRecv();
    if (r !== undefined) {
      scope.dispose();
      return resolvedWith(r);
    }
    return this.parkRecv(scope);
  }

  private parkRecv(scope: WaitScope | undefined): Promise<RecvResult<T>> {
    const w = new RecvWaiter<T>(undefined);
    const p = new Promise<RecvResult<T>>((resolve, reject) => {
      w.resolve = resolve;
      w.reject = reject;
    });
    this.addReceiver(w);
    const signal = scope?.signal;
    if (signal !== undefined) {
      w.scope = scope;
      w.onAbort = () => {
        this.removeReceiver(w);
        release(w.scope as WaitScope, w.onAbort);
        w.reject(signal.reason);
      };
      signal.addEventListener('abort', w.onAbort, { once: true });
    } else scope?.dispose();
    return p;
  }

  /** @internal queues a blocked receiver (plain or select). */
  addReceiver(w: Waiter<T>): void {
    this.recvq.push(w);
    if (this.recvq.size === 1) this.onReceivers?.(true);
  }

  /** @internal unlinks a receiver that gave up (abort or a lost select case). */
  removeReceiver(w: Waiter<T>): void {
    if (w.queue !== this.recvq) return;
    this.recvq.remove(w);
    if (this.recvq.size === 0) this.onReceivers?.(false);
  }

  /** @internal whether a receive would complete now. */
  canRecv(): boolean {
    return this.count > 0 || this.sendq.size > 0 || this.closed;
  }

  /** @internal whether a send would complete now (or throw because the channel is closed). */
  canSend(): boolean {
    return this.closed || this.recvq.size > 0 || this.count < this.capacity;
  }

  /**
   * Closes the channel: no more values may be sent. Receivers drain what is buffered, then get
   * `{ ok: false }`; every blocked receiver wakes with `{ ok: false }` and every blocked sender
   * rejects with {@link ChannelClosedError}.
   * @throws {@link ChannelClosedError} when the channel is already closed (Go panics too: a
   * double close means two parties think they own the channel).
   */
  close(): void {
    if (this.closed) throw new ChannelClosedError('close of closed channel');
    this.closed = true;
    if (this.recvq.size > 0) {
      for (let r = this.recvq.shift(); r !== null; r = this.recvq.shift()) r.complete(undefined, false);
      this.onReceivers?.(false);
    }
    for (let s = this.sendq.shift(); s !== null; s = this.sendq.shift()) s.complete(undefined, false);
  }

  /**
   * Iterates the values until the channel is closed and drained (Go's `for v := range ch`).
   * With `options`, each wait is cancellable: an abort makes the loop throw the reason. Breaking
   * out of the loop takes nothing more from the channel.
   */
  values(options?: WaitOptions): AsyncIterableIterator<T> {
    const next = (): Promise<IteratorResult<T, undefined>> =>
      this.recv(options).then((r) => (r.ok ? { value: r.value, done: false } : { value: undefined, done: true }));
    const it: AsyncIterableIterator<T> = {
      next,
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  /** `for await (const v of ch)`: see {@link Channel.values}. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this.values();
  }
}
