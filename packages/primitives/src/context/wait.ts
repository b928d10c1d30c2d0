import { type Clock, systemClock } from '../clock/index.js';
import { assertFinite } from '../errors/index.js';
import type { Context } from './context.js';
import { DeadlineExceeded } from './errors.js';

/**
 * How long a blocking call may wait, accepted by every blocking API in gopherkit: either a
 * {@link Context} (which supplies both its signal and its deadline) or a plain options bag.
 */
export type WaitOptions =
  | Context
  | {
      /** Abort to stop waiting; the call rejects with `signal.reason`. */
      signal?: AbortSignal | undefined;
      /** Stop waiting at this instant (a `Date` or ms since the epoch of `clock`) with {@link DeadlineExceeded}. */
      deadline?: Date | number | undefined;
    };

/** A signal that combines a {@link WaitOptions}' signal and deadline; dispose it when done waiting. */
export interface WaitScope extends Disposable {
  /** Aborts when the caller's signal aborts or the deadline passes; `undefined` = wait forever. */
  readonly signal: AbortSignal | undefined;
  /** Clears the deadline timer and the listener on the caller's signal. Idempotent. */
  dispose(): void;
}

const nothingToDispose: WaitScope = Object.freeze({
  signal: undefined,
  dispose() {},
  [Symbol.dispose]() {},
});

/** True when `value` is a {@link Context} (rather than `{ signal, deadline }` options). */
export function isContext(value: unknown): value is Context {
  const c = value as Context | null | undefined;
  return typeof c === 'object' && c !== null && typeof c.err === 'function' && typeof c.done === 'function' && typeof c.deadline === 'function';
}

/**
 * Turns {@link WaitOptions} into one `AbortSignal`, for implementers of blocking APIs.
 * The deadline timer comes from `clock`, so tests with a `ManualClock` never sleep.
 *
 * @example
 * ```ts
 * using wait = waitSignal(options, clock);
 * await somethingThatTakes(wait.signal);
 * ```
 */
export function waitSignal(options: WaitOptions | undefined, clock: Clock = systemClock): WaitScope {
  if (options === undefined) return nothingToDispose;
  if (isContext(options)) {
    const signal = options.signal;
    return { signal, dispose() {}, [Symbol.dispose]() {} };
  }
  const { signal, deadline } = options;
  if (deadline === undefined) {
    if (signal === undefined) return nothingToDispose;
    return { signal, dispose() {}, [Symbol.dispose]() {} };
  }
  const at = assertFinite('deadline', deadline instanceof Date ? deadline.getTime() : deadline);
  const controller = new AbortController();
  const onAbort = () => controller.abort(signal?.reason);
  let timer: ReturnType<Clock['setTimeout']> | undefined;
  if (signal?.aborted) controller.abort(signal.reason);
  else {
    signal?.addEventListener('abort', onAbort, { once: true });
    const remaining = at - clock.now();
    if (remaining <= 0) controller.abort(DeadlineExceeded);
    // Ref'd on purpose (unlike a context's own deadline timer): someone is awaiting this wait,
    // so the process must stay alive until the deadline answers it. dispose() clears it.
    else timer = clock.setTimeout(() => controller.abort(DeadlineExceeded), remaining);
  }
  const dispose = () => {
    clock.clearTimeout(timer);
    timer = undefined;
    signal?.removeEventListener('abort', onAbort);
  };
  return { signal: controller.signal, dispose, [Symbol.dispose]: dispose };
}
