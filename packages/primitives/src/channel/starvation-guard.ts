/**
 * Keeps tight channel loops from starving timers and I/O.
 *
 * Every channel operation that completes resolves a Promise, and Promise callbacks run on the
 * microtask queue, which Node drains completely before it looks at timers, I/O or
 * `setImmediate`. Two tasks ping-ponging over a channel therefore never leave the microtask
 * queue: a `setTimeout` or an incoming socket waits until the loop ends. Go's scheduler preempts
 * goroutines; we approximate that by letting at most {@link YIELD_EVERY} operations complete per
 * event-loop turn. Past that budget, the caller's continuation is parked until a `setImmediate`
 * fires, which lets the event loop run its timer and poll phases. The operation itself has
 * already taken effect (the value was handed off), so channel semantics do not change; only when
 * the awaiting code resumes does.
 *
 * The fast path costs one comparison and one increment per operation; the yield costs one
 * `setImmediate` per {@link YIELD_EVERY} operations.
 * @internal
 */

/** Operations allowed to complete within one event-loop turn before continuations are deferred. */
export const YIELD_EVERY = 1024;

let ops = 0;
let immediate: NodeJS.Immediate | undefined;
let deferred: (() => void)[] = [];

function onTurn(): void {
  immediate = undefined;
  ops = 0;
  const run = deferred;
  deferred = [];
  for (const fn of run) fn();
}

/**
 * Counts one completed operation; `true` when the caller must {@link deferToNextTurn} instead of
 * resuming now. The reset is an unref'd `setImmediate`, so an idle process is never kept alive.
 */
export function overBudget(): boolean {
  if (immediate === undefined) immediate = setImmediate(onTurn).unref();
  return ++ops > YIELD_EVERY;
}

/** Runs `fn` after the event loop has had a turn (timers, I/O, immediates). */
export function deferToNextTurn(fn: () => void): void {
  deferred.push(fn);
  // Someone is waiting on this turn now: keep the process alive until it comes.
  (immediate ??= setImmediate(onTurn)).ref();
}

/** Resolves `resolve(value)` now, or after the next turn when over budget. */
export function settle<V>(resolve: (value: V) => void, value: V): void {
  if (overBudget()) deferToNextTurn(() => resolve(value));
  else resolve(value);
}

const resolvedVoid: Promise<void> = Promise.resolve();

/** An already-resolved Promise of `value`, or one that resolves after the next turn when over budget. */
export function resolvedWith<V>(value: V): Promise<V> {
  if (overBudget()) return new Promise<V>((resolve) => deferToNextTurn(() => resolve(value)));
  return Promise.resolve(value);
}

/** {@link resolvedWith} for `void`, reusing one resolved Promise on the fast path. */
export function resolvedVoidOp(): Promise<void> {
  if (overBudget()) return new Promise<void>((resolve) => deferToNextTurn(resolve));
  return resolvedVoid;
}
