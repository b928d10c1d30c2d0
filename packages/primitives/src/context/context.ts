import { type Clock, type ClockTimer, systemClock } from '../clock/index.js';
import { assertFinite, InvalidArgumentError } from '../errors/index.js';
import { Canceled, DeadlineExceeded } from './errors.js';

/**
 * A typed key for {@link withValue}. Keys compare by identity, so two packages can never
 * collide on a name (Go's unexported key type idiom).
 */
export class ContextKey<T> {
  /** Phantom field that carries `T`; never set. */
  declare readonly __type?: T;
  constructor(readonly name: string) {}
  toString(): string {
    return `ContextKey(${this.name})`;
  }
}

/** Creates a {@link ContextKey}; `name` only shows up in debugging output. */
export function createContextKey<T>(name: string): ContextKey<T> {
  return new ContextKey<T>(name);
}

/**
 * Carries a cancellation signal, a deadline and request-scoped values across API boundaries,
 * like Go's `context.Context`. Contexts are immutable: derive children with
 * {@link withCancel}, {@link withTimeout}, {@link withValue}…
 */
export interface Context {
  /** The effective deadline (the earliest in the chain), or `undefined` when there is none. */
  deadline(): Date | undefined;
  /** Resolves (never rejects) once the context is done. */
  done(): Promise<void>;
  /** `null` while running; then {@link Canceled} or {@link DeadlineExceeded}, forever. */
  err(): Error | null;
  /** The value stored under `key` by this context or the nearest ancestor that has one. */
  value<T>(key: ContextKey<T>): T | undefined;
  /** Aborts when the context is done; `signal.reason` is the cause (see {@link cause}). */
  readonly signal: AbortSignal;
}

/** Cancels a context; calling it again (or after the deadline) does nothing. */
export type CancelFunc = () => void;
/** Cancels a context with a cause that {@link cause} and `ctx.signal.reason` report. */
export type CancelCauseFunc = (cause?: unknown) => void;

/** Options for the deadline-carrying constructors. */
export interface DeadlineOptions {
  /** Time source for the deadline timer; defaults to the parent's clock, else the system clock. */
  clock?: Clock;
}

const neverAborted = new AbortController().signal;
const neverDone = new Promise<void>(() => {});

abstract class BaseContext implements Context {
  abstract deadline(): Date | undefined;
  abstract done(): Promise<void>;
  abstract err(): Error | null;
  abstract value<T>(key: ContextKey<T>): T | undefined;
  abstract get signal(): AbortSignal;
  /** @internal */
  abstract get clock(): Clock;
  /** @internal nearest ancestor that can be cancelled (or is foreign), undefined = never done. */
  abstract get canceller(): CancelContext | Context | undefined;
}

class EmptyContext extends BaseContext {
  constructor(private readonly label: string) {
    super();
  }
  override deadline(): undefined {
    return undefined;
  }
  override done(): Promise<void> {
    return neverDone;
  }
  override err(): null {
    return null;
  }
  override value(): undefined {
    return undefined;
  }
  override get signal(): AbortSignal {
    return neverAborted;
  }
  override get clock(): Clock {
    return systemClock;
  }
  override get canceller(): undefined {
    return undefined;
  }
  override toString(): string {
    return this.label;
  }
}

const backgroundCtx = new EmptyContext('context.Background');
const todoCtx = new EmptyContext('context.TODO');

/** The root of every context tree: never cancelled, no deadline, no values. */
export function background(): Context {
  return backgroundCtx;
}

/** Like {@link background}; marks code where the right context is not yet plumbed through. */
export function todo(): Context {
  return todoCtx;
}

function asBase(parent: Context): BaseContext | undefined {
  return parent instanceof BaseContext ? parent : undefined;
}

function clockOf(parent: Context): Clock {
  return asBase(parent)?.clock ?? systemClock;
}

function checkParent(parent: unknown): Context {
  if (parent == null || typeof (parent as Context).err !== 'function' || typeof (parent as Context).done !== 'function') {
    throw new InvalidArgumentError('parent', 'a Context (use background() for a root)', parent);
  }
  return parent as Context;
}

class CancelContext extends BaseContext {
  private error: Error | null = null;
  private causeValue: unknown;
  private controller: AbortController | undefined;
  private donePromise: Promise<void> | undefined;
  private resolveDone: (() => void) | undefined;
  /** Children registered with us; they are removed when they are cancelled (no leak). */
  children: Set<CancelContext> | undefined;
  private detachFromParent: (() => void) | undefined;
  timer: ClockTimer | undefined;
  private readonly ownDeadline: number | undefined;

  constructor(
    readonly parent: Context,
    readonly ownClock: Clock,
    deadlineMs?: number,
  ) {
    super();
    this.ownDeadline = deadlineMs;
  }

  override get clock(): Clock {
    return this.ownClock;
  }
  override get canceller(): CancelContext {
    return this;
  }

  override deadline(): Date | undefined {
    if (this.ownDeadline !== undefined) return new Date(this.ownDeadline);
    return this.parent.deadline();
  }

  override value<T>(key: ContextKey<T>): T | undefined {
    return this.parent.value(key);
  }

  override err(): Error | null {
    return this.error;
  }

  /** @internal */
  get cause(): unknown {
    return this.causeValue;
  }

  override done(): Promise<void> {
    if (this.error !== null) return Promise.resolve();
    if (this.donePromise === undefined) {
      this.donePromise = new Promise<void>((resolve) => {
        this.resolveDone = resolve;
      });
    }
    return this.donePromise;
  }

  override get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.error !== null) this.controller.abort(this.causeValue);
    }
    return this.controller.signal;
  }

  /** Links this context under its parent so a parent cancel cascades down. */
  attach(): void {
    const p = this.parent;
    const holder = asBase(p) ? (p as BaseContext).canceller : p;
    if (holder === undefined) return; // parent chain can never be cancelled
    if (holder.err() !== null) {
      this.cancel(holder.err() as Error, causeOf(holder));
      return;
    }
    if (holder instanceof CancelContext) {
      holder.children ??= new Set();
      holder.children.add(this);
      this.detachFromParent = () => holder.children?.delete(this);
      return;
    }
    // A foreign Context implementation: listen to its signal, and stop listening when we end.
    const signal = holder.signal;
    const onAbort = () => this.cancel(holder.err() ?? Canceled, signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    this.detachFromParent = () => signal.removeEventListener('abort', onAbort);
  }

  cancel(err: Error, cause: unknown): void {
    if (this.error !== null) return;
    this.error = err;
    this.causeValue = cause === undefined ? err : cause;
    if (this.timer !== undefined) {
      this.ownClock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.detachFromParent?.();
    this.detachFromParent = undefined;
    const children = this.children;
    this.children = undefined;
    if (children) for (const child of children) child.cancel(err, this.causeValue);
    this.resolveDone?.();
    this.controller?.abort(this.causeValue);
  }
}

class ValueContext extends BaseContext {
  constructor(
    readonly parent: Context,
    readonly key: ContextKey<unknown>,
    readonly val: unknown,
  ) {
    super();
  }
  override deadline(): Date | undefined {
    return this.parent.deadline();
  }
  override done(): Promise<void> {
    return this.parent.done();
  }
  override err(): Error | null {
    return this.parent.err();
  }
  override value<T>(key: ContextKey<T>): T | undefined {
    // Walk the value chain iteratively so deep trees do not recurse.
    let c: Context = this;
    while (c instanceof ValueContext) {
      if (c.key === key) return c.val as T;
      c = c.parent;
    }
    return c.value(key);
  }
  override get signal(): AbortSignal {
    return this.parent.signal;
  }
  override get clock(): Clock {
    return clockOf(this.parent);
  }
  override get canceller(): CancelContext | Context | undefined {
    const b = asBase(this.parent);
    return b ? b.canceller : this.parent;
  }
}

class WithoutCancelContext extends BaseContext {
  constructor(readonly parent: Context) {
    super();
  }
  override deadline(): undefined {
    return undefined;
  }
  override done(): Promise<void> {
    return neverDone;
  }
  override err(): null {
    return null;
  }
  override value<T>(key: ContextKey<T>): T | undefined {
    return this.parent.value(key);
  }
  override get signal(): AbortSignal {
    return neverAborted;
  }
  override get clock(): Clock {
    return clockOf(this.parent);
  }
  override get canceller(): undefined {
    return undefined;
  }
}

function causeOf(ctx: Context): unknown {
  if (ctx instanceof CancelContext) return ctx.cause;
  const b = asBase(ctx);
  if (b) {
    const c = b.canceller;
    return c === undefined ? undefined : causeOf(c);
  }
  return ctx.err() !== null ? ctx.signal.reason : undefined;
}

/**
 * Returns a child of `parent` and a function that cancels it. Cancelling is idempotent and
 * cascades to every descendant, never upward. Always call `cancel` once done with the context,
 * or it stays registered with its parent until the parent is cancelled (as in Go).
 */
export function withCancel(parent: Context): [Context, CancelFunc] {
  const ctx = new CancelContext(checkParent(parent), clockOf(parent));
  ctx.attach();
  return [ctx, () => ctx.cancel(Canceled, undefined)];
}

/** Like {@link withCancel}, but `cancel(cause)` records a cause reported by {@link cause}. */
export function withCancelCause(parent: Context): [Context, CancelCauseFunc] {
  const ctx = new CancelContext(checkParent(parent), clockOf(parent));
  ctx.attach();
  return [ctx, (c?: unknown) => ctx.cancel(Canceled, c)];
}

function toMs(deadline: Date | number, argument: string): number {
  const ms = deadline instanceof Date ? deadline.getTime() : deadline;
  return assertFinite(argument, ms);
}

/**
 * Returns a child that is cancelled with {@link DeadlineExceeded} at `deadline` (a `Date` or ms
 * since the epoch). The effective deadline is the earlier of the parent's and this one.
 */
export function withDeadline(parent: Context, deadline: Date | number, options: DeadlineOptions = {}): [Context, CancelFunc] {
  return withDeadlineCause(parent, deadline, undefined, options);
}

/** Like {@link withDeadline}; when the deadline passes, {@link cause} reports `deadlineCause`. */
export function withDeadlineCause(parent: Context, deadline: Date | number, deadlineCause: unknown, options: DeadlineOptions = {}): [Context, CancelFunc] {
  checkParent(parent);
  const at = toMs(deadline, 'deadline');
  const parentDeadline = parent.deadline();
  if (parentDeadline !== undefined && parentDeadline.getTime() <= at) {
    // The parent ends first: a plain cancel context already has the right deadline.
    return withCancel(parent);
  }
  const clock = options.clock ?? clockOf(parent);
  const ctx = new CancelContext(parent, clock, at);
  ctx.attach();
  const cancel = () => ctx.cancel(Canceled, undefined);
  if (ctx.err() !== null) return [ctx, cancel];
  const remaining = at - clock.now();
  if (remaining <= 0) {
    ctx.cancel(DeadlineExceeded, deadlineCause);
    return [ctx, cancel];
  }
  ctx.timer = clock.setTimeout(() => ctx.cancel(DeadlineExceeded, deadlineCause), remaining);
  ctx.timer.unref();
  return [ctx, cancel];
}

/** `withDeadline(parent, clock.now() + timeoutMs)`. */
export function withTimeout(parent: Context, timeoutMs: number, options: DeadlineOptions = {}): [Context, CancelFunc] {
  assertFinite('timeoutMs', timeoutMs);
  const clock = options.clock ?? clockOf(checkParent(parent));
  return withDeadlineCause(parent, clock.now() + timeoutMs, undefined, { clock });
}

/** Like {@link withTimeout}; when the timeout fires, {@link cause} reports `timeoutCause`. */
export function withTimeoutCause(parent: Context, timeoutMs: number, timeoutCause: unknown, options: DeadlineOptions = {}): [Context, CancelFunc] {
  assertFinite('timeoutMs', timeoutMs);
  const clock = options.clock ?? clockOf(checkParent(parent));
  return withDeadlineCause(parent, clock.now() + timeoutMs, timeoutCause, { clock });
}

/** Returns a child that carries `value` under `key`, and everything else of `parent`. */
export function withValue<T>(parent: Context, key: ContextKey<T>, value: T): Context {
  checkParent(parent);
  if (!(key instanceof ContextKey)) throw new InvalidArgumentError('key', 'a ContextKey (see createContextKey)', key);
  return new ValueContext(parent, key as ContextKey<unknown>, value);
}

/**
 * Returns a context with the values of `parent` that is never cancelled and has no deadline:
 * for work that must outlive the request that started it (audit logs, cache refills).
 */
export function withoutCancel(parent: Context): Context {
  return new WithoutCancelContext(checkParent(parent));
}

/**
 * The reason `ctx` was cancelled: the cause given to a {@link CancelCauseFunc} or a
 * `*Cause` deadline, else `ctx.err()`; `undefined` while the context is running.
 */
export function cause(ctx: Context): unknown {
  if (ctx.err() === null) return undefined;
  const c = causeOf(ctx);
  return c === undefined ? ctx.err() : c;
}

/**
 * Runs `fn` (asynchronously) once `ctx` is done. The returned `stop()` unregisters it and
 * returns `true` if that prevented `fn` from running, `false` if it already started or stopped.
 */
export function afterFunc(ctx: Context, fn: () => void): () => boolean {
  let state: 'waiting' | 'ran' | 'stopped' = 'waiting';
  const [watch, detach] = withCancel(ctx);
  void watch.done().then(() => {
    if (state !== 'waiting' || ctx.err() === null) return;
    state = 'ran';
    fn();
  });
  return () => {
    if (state !== 'waiting') return false;
    state = 'stopped';
    detach();
    return true;
  };
}

/**
 * Wraps an `AbortSignal` as a Context. `err()` is {@link DeadlineExceeded} when the signal
 * aborted with a `TimeoutError` (as `AbortSignal.timeout()` does), else {@link Canceled};
 * {@link cause} is `signal.reason`.
 */
export function fromSignal(signal: AbortSignal, parent: Context = background()): Context {
  if (!(signal instanceof AbortSignal)) throw new InvalidArgumentError('signal', 'an AbortSignal', signal);
  const ctx = new CancelContext(checkParent(parent), clockOf(parent));
  ctx.attach();
  const errOf = () => ((signal.reason as { name?: string } | undefined)?.name === 'TimeoutError' ? DeadlineExceeded : Canceled);
  if (signal.aborted) {
    ctx.cancel(errOf(), signal.reason);
    return ctx;
  }
  const onAbort = () => ctx.cancel(errOf(), signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  // Stop listening once the context ends for another reason (parent cancel), so long-lived
  // signals do not accumulate listeners.
  void ctx.done().then(() => signal.removeEventListener('abort', onAbort));
  return ctx;
}
