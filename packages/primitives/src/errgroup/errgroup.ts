import { type Clock, systemClock } from '../clock/index.js';
import { background, type CancelCauseFunc, type Context, type WaitOptions, type WaitScope, waitSignal, withCancelCause } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';

/** A task of an {@link ErrGroup}: throw or reject to fail the group. */
export type GroupTask = (ctx: Context) => unknown;

/** Options of {@link ErrGroup}. */
export interface ErrGroupOptions {
  /** Time source for `deadline` in the {@link WaitOptions} of {@link ErrGroup.go} (default: the system clock). */
  clock?: Clock;
}

interface Queued {
  readonly fn: GroupTask;
  resolve(): void;
  reject(reason: unknown): void;
  scope: WaitScope | undefined;
  onAbort: (() => void) | undefined;
  /** Admitted or abandoned: either way no longer in the queue. */
  gone: boolean;
}

const admitted: Promise<void> = Promise.resolve();

/**
 * A group of tasks that fail together (Go's `golang.org/x/sync/errgroup`), the structured
 * alternative to `Promise.all`:
 *
 * - `Promise.all` rejects on the first failure and walks away: the other tasks keep running,
 *   nobody tells them to stop, nobody waits for them. An ErrGroup made with
 *   {@link ErrGroup.withContext} cancels its context on the first error (with that error as the
 *   cause, so `ctx.signal.reason` says why), and {@link ErrGroup.wait} settles only after **every**
 *   task has settled, then rejects with the first error (later errors are dropped, as in Go).
 * - The group context is also cancelled when `wait()` returns, even on success, as in Go: it
 *   scopes the tasks, not what comes after.
 * - {@link ErrGroup.setLimit} bounds how many tasks run at once; {@link ErrGroup.go} then
 *   resolves when the task is admitted (tasks are admitted in call order) and can give up waiting
 *   with a signal or deadline, which Go's blocking `Go` cannot.
 *
 * Tasks stop early only if they watch `ctx` (pass `ctx.signal` to their I/O); cancellation is a
 * request, never a kill. Tasks still queued at the limit when the first error lands are admitted
 * and run anyway (with the cancelled context), as in Go: check `ctx.err()` before doing work.
 *
 * `await using` a group cancels its context and waits for every task when the scope ends, so an
 * exception thrown between `go()` and `wait()` cannot leave tasks running unobserved.
 *
 * @example
 * ```ts
 * const [g, ctx] = ErrGroup.withContext(request);
 * g.setLimit(8);
 * for (const id of ids) await g.go(async (ctx) => load(id, { signal: ctx.signal }));
 * await g.wait(); // every load settled; rejects with the first failure
 * ```
 */
export class ErrGroup {
  private ctx: Context = background();
  private cancel: CancelCauseFunc | undefined;
  private readonly clock: Clock;
  private limit = Number.POSITIVE_INFINITY;
  private active = 0;
  /** Tasks queued or running: what `wait()` waits for. */
  private outstanding = 0;
  private queue: Queued[] = [];
  private queueHead = 0;
  private queued = 0;
  private pumping = false;
  private failure: { error: unknown } | undefined;
  private waiters: { resolve(): void; reject(e: unknown): void }[] = [];
  private readonly taskDone = () => this.finishTask();
  private readonly taskFailed = (error: unknown) => {
    this.fail(error);
    this.finishTask();
  };

  /**
   * A group without a context: tasks receive `background()`, and a failure cancels nothing (it is
   * still reported by `wait()`). Use {@link ErrGroup.withContext} to cancel siblings.
   */
  constructor(options: ErrGroupOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Returns a group and its context, a child of `parent` that is cancelled with the first task
   * error as cause, or when `wait()` returns. Pass the context (or its signal) to the tasks' I/O.
   */
  static withContext(parent: Context, options: ErrGroupOptions = {}): [ErrGroup, Context] {
    const group = new ErrGroup(options);
    [group.ctx, group.cancel] = withCancelCause(parent);
    return [group, group.ctx];
  }

  /**
   * Limits the group to `n` running tasks (an integer >= 1); a negative number or `Infinity`
   * removes the limit. Raising the limit admits queued tasks at once; lowering it lets running
   * tasks finish and admits no more until the count is below the new limit.
   */
  setLimit(n: number): void {
    if (n === Number.POSITIVE_INFINITY || (Number.isInteger(n) && n < 0)) this.limit = Number.POSITIVE_INFINITY;
    else if (Number.isInteger(n) && n >= 1) this.limit = n;
    else throw new InvalidArgumentError('limit', 'an integer >= 1, or a negative number or Infinity for no limit', n);
    this.pump();
  }

  /**
   * Runs `fn(ctx)` in the group, now if the limit allows (and nobody is queued before it), else
   * once a slot frees up. The returned promise resolves when the task is admitted; it rejects only
   * if `options` aborts first, in which case the task never runs and `wait()` does not count it.
   * Task failures never reject this promise: they go to `wait()`.
   */
  go(fn: GroupTask, options?: WaitOptions): Promise<void> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function (ctx) => unknown', fn);
    if (this.active < this.limit && this.queued === 0) {
      if (options !== undefined) {
        const scope = waitSignal(options, this.clock);
        const signal = scope.signal;
        scope.dispose();
        if (signal?.aborted) return Promise.reject(signal.reason);
      }
      this.outstanding++;
      this.run(fn);
      return admitted;
    }
    return new Promise<void>((resolve, reject) => {
      const entry: Queued = { fn, resolve, reject, scope: undefined, onAbort: undefined, gone: false };
      if (options !== undefined) {
        const scope = waitSignal(options, this.clock);
        const signal = scope.signal;
        if (signal?.aborted) {
          scope.dispose();
          reject(signal.reason);
          return;
        }
        if (signal !== undefined) {
          entry.scope = scope;
          entry.onAbort = () => {
            if (entry.gone) return;
            entry.gone = true;
            scope.dispose();
            this.queued--;
            this.outstanding--;
            reject(signal.reason);
            this.settleWaiters();
          };
          signal.addEventListener('abort', entry.onAbort, { once: true });
        }
      }
      this.queue.push(entry);
      this.queued++;
      this.outstanding++;
    });
  }

  /** Runs `fn` only if it can start right now (under the limit, nobody queued); returns whether it did. */
  tryGo(fn: GroupTask): boolean {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function (ctx) => unknown', fn);
    if (this.active >= this.limit || this.queued !== 0) return false;
    this.outstanding++;
    this.run(fn);
    return true;
  }

  /**
   * Settles once every task started or queued so far has settled: rejects with the first error,
   * else resolves. Then cancels the group context (with the first error as cause, if any).
   */
  wait(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.settleWaiters();
    });
  }

  /**
   * Cancels the group context (tasks watching it stop early) and waits for every task to settle.
   * Task errors are not rethrown here; `wait()` reports them.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.cancel?.();
    await this.wait().catch(() => undefined);
  }

  private run(fn: GroupTask): void {
    this.active++;
    let r: unknown;
    try {
      r = fn(this.ctx);
    } catch (e) {
      this.taskFailed(e);
      return;
    }
    if (r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(this.taskDone, this.taskFailed);
    } else {
      this.finishTask();
    }
  }

  private fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { error };
    this.cancel?.(error);
  }

  private finishTask(): void {
    this.active--;
    this.outstanding--;
    this.pump();
    this.settleWaiters();
  }

  /** Admits queued tasks while under the limit; iterative so synchronous tasks cannot recurse. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.active < this.limit && this.queued > 0) {
        const entry = this.queue[this.queueHead++] as Queued;
        if (entry.gone) continue;
        entry.gone = true;
        this.queued--;
        if (entry.scope !== undefined) {
          entry.scope.signal?.removeEventListener('abort', entry.onAbort as () => void);
          entry.scope.dispose();
        }
        entry.resolve();
        this.run(entry.fn);
      }
      if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
    } finally {
      this.pumping = false;
    }
  }

  private settleWaiters(): void {
    if (this.outstanding !== 0 || this.waiters.length === 0) return;
    const waiters = this.waiters;
    this.waiters = [];
    const failure = this.failure;
    this.cancel?.(failure?.error);
    for (const w of waiters) {
      if (failure === undefined) w.resolve();
      else w.reject(failure.error);
    }
  }
}
