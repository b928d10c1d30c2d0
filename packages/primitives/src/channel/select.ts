import type { Context } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Channel, type ReceiveChannel, type RecvResult, type SendChannel } from './channel.js';
import { ChannelClosedError } from './errors.js';
import { resolvedWith, settle } from './starvation-guard.js';
import { Waiter } from './wait-queue.js';

const RECV = 0;
const SEND = 1;
const DONE = 2;
type Kind = typeof RECV | typeof SEND | typeof DONE;

type AnyHandler = (arg: unknown) => unknown;
const identity: AnyHandler = (x) => x;
const toUndefined: AnyHandler = () => undefined;

/**
 * One arm of a {@link select}, built by {@link recvCase}, {@link sendCase} or {@link doneCase}.
 * `R` is what the arm's handler returns, and so what `select` resolves with when it wins.
 */
export interface SelectCase<R> {
  /** Phantom field that carries `R`; never set. */
  readonly __result?: R;
}

/** The one implementation of {@link SelectCase}; opaque to users. */
class Arm<R> implements SelectCase<R> {
  declare readonly __result?: R;
  constructor(
    readonly kind: Kind,
    readonly channel: Channel<unknown> | null,
    readonly value: unknown,
    readonly source: AbortSignal | Context | null,
    readonly handler: AnyHandler,
  ) {}
}

function checkChannel(ch: unknown): Channel<unknown> | null {
  if (ch === null || ch === undefined) return null;
  if (!(ch instanceof Channel)) throw new InvalidArgumentError('channel', 'a Channel, null or undefined', ch);
  return ch as Channel<unknown>;
}

function checkHandler(handler: unknown): void {
  if (handler !== undefined && typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function or undefined', handler);
}

/**
 * A receive arm: wins when `ch` has a value or is closed; its handler gets the
 * {@link RecvResult} (`ok: false` once closed and drained). A `null`/`undefined` channel is
 * never ready, like a nil channel in Go: use it to switch an arm off.
 */
export function recvCase<T>(ch: ReceiveChannel<T> | null | undefined): SelectCase<RecvResult<T>>;
export function recvCase<T, R>(ch: ReceiveChannel<T> | null | undefined, handler: (result: RecvResult<T>) => R): SelectCase<R>;
export function recvCase<T, R>(ch: ReceiveChannel<T> | null | undefined, handler?: (result: RecvResult<T>) => R): SelectCase<R | RecvResult<T>> {
  checkHandler(handler);
  return new Arm(RECV, checkChannel(ch), undefined, null, (handler as AnyHandler | undefined) ?? identity);
}

/**
 * A send arm: wins when `ch` can take `value` now (a waiting receiver or room in the buffer).
 * If it is chosen while `ch` is closed, `select` rejects with {@link ChannelClosedError}, as Go
 * panics. A `null`/`undefined` channel is never ready. The value is sent only if this arm wins.
 */
export function sendCase<T>(ch: SendChannel<T> | null | undefined, value: T): SelectCase<undefined>;
export function sendCase<T, R>(ch: SendChannel<T> | null | undefined, value: T, handler: () => R): SelectCase<R>;
export function sendCase<T, R>(ch: SendChannel<T> | null | undefined, value: T, handler?: () => R): SelectCase<R | undefined> {
  checkHandler(handler);
  return new Arm(SEND, checkChannel(ch), value, null, (handler as AnyHandler | undefined) ?? toUndefined);
}

/**
 * A cancellation arm (Go's `case <-ctx.Done():`): wins once the `Context` is done or the
 * `AbortSignal` aborted. Its handler gets `ctx.err()` (`Canceled` / `DeadlineExceeded`) for a
 * context, `signal.reason` for a signal. `null`/`undefined` is never ready.
 */
export function doneCase(source: Context | AbortSignal | null | undefined): SelectCase<unknown>;
export function doneCase<R>(source: Context | AbortSignal | null | undefined, handler: (reason: unknown) => R): SelectCase<R>;
export function doneCase<R>(source: Context | AbortSignal | null | undefined, handler?: (reason: unknown) => R): SelectCase<unknown> {
  checkHandler(handler);
  if (source === undefined) source = null;
  if (source !== null && !(source instanceof AbortSignal) && typeof (source as Context).err !== 'function') {
    throw new InvalidArgumentError('source', 'a Context, an AbortSignal, null or undefined', source);
  }
  return new Arm(DONE, null, undefined, source, (handler as AnyHandler | undefined) ?? identity);
}

function signalOf(source: AbortSignal | Context): AbortSignal {
  return source instanceof AbortSignal ? source : source.signal;
}

/** The reason a done arm reports: `ctx.err()` for a context, `signal.reason` for a signal. */
function doneReason(source: AbortSignal | Context): unknown {
  return source instanceof AbortSignal ? source.reason : source.err();
}

function isDone(source: AbortSignal | Context): boolean {
  return source instanceof AbortSignal ? source.aborted : source.err() !== null;
}

/** Cases `select` accepts: a case, or `null`/`undefined`/`false` for an arm that is switched off. */
export type MaybeSelectCase = SelectCase<unknown> | null | undefined | false;

/** What `select` resolves with for a list of cases: the union of the handlers' results. */
export type SelectResult<C> = C extends SelectCase<infer R> ? Awaited<R> : never;

/** Options for {@link select}. */
export interface SelectOptions<D> {
  /**
   * Makes `select` non-blocking (Go's `default:`): called, and its result returned, when no
   * case is ready right now.
   */
  default?: () => D;
  /** Aborting rejects a waiting `select` with `signal.reason`; no case is taken. */
  signal?: AbortSignal;
}

interface Outcome {
  index: number;
  value: unknown;
}

/** A `select` blocked on all its arms; the first arm to complete wins and unhooks the rest. */
class SelectOp {
  done = false;
  readonly waiters: (SelectWaiter | null)[];
  readonly listeners: ((() => void) | null)[];
  resolve!: (o: Outcome) => void;
  reject!: (e: unknown) => void;
  cancelListener: (() => void) | undefined;

  constructor(
    readonly cases: readonly MaybeSelectCase[],
    readonly signal: AbortSignal | undefined,
  ) {
    this.waiters = new Array(cases.length).fill(null);
    this.listeners = new Array(cases.length).fill(null);
  }

  /** Unhooks every arm from its channel or signal, synchronously, so losers consume nothing. */
  private unhook(): void {
    this.done = true;
    for (let i = 0; i < this.cases.length; i++) {
      const w = this.waiters[i];
      if (w != null) {
        const c = this.cases[i] as Arm<unknown>;
        const ch = c.channel as Channel<unknown>;
        if (c.kind === RECV) ch.removeReceiver(w);
        else ch.sendq.remove(w);
      }
      const l = this.listeners[i];
      if (l != null) signalOf((this.cases[i] as Arm<unknown>).source as AbortSignal | Context).removeEventListener('abort', l);
    }
    if (this.cancelListener !== undefined) this.signal?.removeEventListener('abort', this.cancelListener);
  }

  win(index: number, value: unknown): void {
    if (this.done) return;
    this.unhook();
    settle(this.resolve, { index, value });
  }

  fail(error: unknown): void {
    if (this.done) return;
    this.unhook();
    this.reject(error);
  }
}

class SelectWaiter extends Waiter<unknown> {
  constructor(
    readonly op: SelectOp,
    readonly index: number,
    value: unknown,
  ) {
    super(value);
  }

  complete(value: unknown, ok: boolean): void {
    const c = this.op.cases[this.index] as Arm<unknown>;
    if (c.kind === RECV) this.op.win(this.index, ok ? { value, ok: true } : { value: undefined, ok: false });
    else if (ok) this.op.win(this.index, undefined);
    else this.op.fail(new ChannelClosedError());
  }
}

function runHandler(c: Arm<unknown>, value: unknown): unknown {
  return c.handler(value);
}

/**
 * Go's `select`: waits until one of several channel operations can proceed, performs exactly
 * that one, and resolves with its arm's handler result.
 *
 * - When several arms are ready, one is chosen **uniformly at random** (as in Go), so no arm can
 *   starve another.
 * - Arms that lose take nothing: a losing receive consumes no value, a losing send delivers
 *   none. (Racing `ch.recv()` promises with `Promise.race` would lose the values the other
 *   receives still take; `select` registers on every channel and unhooks the losers atomically.)
 * - `null`/`undefined` channels and `null`/`undefined`/`false` entries are never ready.
 * - With `options.default`, `select` never blocks: it runs `default` when nothing is ready.
 * - With no ready arm, no default and nothing that can ever become ready, it waits forever
 *   (Go's `select {}`), unless `options.signal` aborts.
 *
 * @example
 * ```ts
 * const out = await select([
 *   recvCase(jobs, (r) => (r.ok ? `job ${r.value}` : 'closed')),
 *   sendCase(results, last, () => 'sent'),
 *   recvCase(after(1000), () => 'timeout'),
 *   doneCase(ctx, (err) => { throw err; }),
 * ]);
 * ```
 * @throws {@link ChannelClosedError} (as a rejection) when a send arm on a closed channel is chosen.
 */
export function select<const C extends readonly MaybeSelectCase[], D = never>(
  cases: C,
  options: SelectOptions<D> = {},
): Promise<SelectResult<C[number]> | Awaited<D>> {
  type Out = Promise<SelectResult<C[number]> | Awaited<D>>;
  if (!Array.isArray(cases)) throw new InvalidArgumentError('cases', 'an array of select cases', cases);
  const signal = options.signal;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const n = cases.length;
  let ready = 0;
  for (let i = 0; i < n; i++) {
    const c = cases[i];
    if (!c) continue;
    if (!(c instanceof Arm)) throw new InvalidArgumentError(`cases[${i}]`, 'a case from recvCase/sendCase/doneCase, null, undefined or false', c);
    if (isReady(c)) ready++;
  }
  if (ready > 0) {
    let k = Math.floor(Math.random() * ready);
    for (let i = 0; i < n; i++) {
      const c = cases[i] as Arm<unknown> | null | undefined | false;
      if (!c || !isReady(c)) continue;
      if (k-- > 0) continue;
      try {
        return resolvedWith(runHandler(c, perform(c))) as Out;
      } catch (e) {
        return Promise.reject(e);
      }
    }
  }
  if (options.default !== undefined) {
    try {
      return Promise.resolve(options.default()) as Out;
    } catch (e) {
      return Promise.reject(e);
    }
  }
  return park(cases, signal).then((o) => runHandler(cases[o.index] as Arm<unknown>, o.value)) as Out;
}

function isReady(c: Arm<unknown>): boolean {
  switch (c.kind) {
    case RECV:
      return c.channel?.canRecv() === true;
    case SEND:
      return c.channel?.canSend() === true;
    default:
      return c.source !== null && isDone(c.source);
  }
}

/** Performs a ready arm now and returns what its handler gets. */
function perform(c: Arm<unknown>): unknown {
  switch (c.kind) {
    case RECV:
      return (c.channel as Channel<unknown>).tryRecv();
    case SEND:
      (c.channel as Channel<unknown>).trySend(c.value); // throws ChannelClosedError when closed
      return undefined;
    default:
      return doneReason(c.source as AbortSignal | Context);
  }
}

function park(cases: readonly MaybeSelectCase[], signal: AbortSignal | undefined): Promise<Outcome> {
  const op = new SelectOp(cases, signal);
  const p = new Promise<Outcome>((resolve, reject) => {
    op.resolve = resolve;
    op.reject = reject;
  });
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i] as Arm<unknown> | null | undefined | false;
    if (!c) continue;
    if (c.kind === DONE) {
      if (c.source === null) continue;
      const source = c.source;
      const index = i;
      const l = () => op.win(index, doneReason(source));
      op.listeners[i] = l;
      signalOf(source).addEventListener('abort', l, { once: true });
    } else if (c.channel !== null) {
      const w = new SelectWaiter(op, i, c.kind === SEND ? c.value : undefined);
      op.waiters[i] = w;
      if (c.kind === RECV) c.channel.addReceiver(w);
      else c.channel.sendq.push(w);
    }
  }
  if (signal !== undefined) {
    op.cancelListener = () => op.fail(signal.reason);
    signal.addEventListener('abort', op.cancelListener, { once: true });
  }
  return p;
}
