/**
 * Go's `context` package: cancellation, deadlines and request-scoped values that flow down a
 * tree of calls, bridged to `AbortSignal` both ways.
 *
 * Rules: cancel is idempotent; a parent's cancel cascades to every descendant and never upward;
 * the effective deadline is the earliest in the chain; cancelling detaches a context from its
 * parent and clears its timer, so short-lived children of a long-lived parent do not leak.
 * @module
 */
export {
  afterFunc,
  background,
  type CancelCauseFunc,
  type CancelFunc,
  type Context,
  ContextKey,
  cause,
  createContextKey,
  type DeadlineOptions,
  fromSignal,
  todo,
  withCancel,
  withCancelCause,
  withDeadline,
  withDeadlineCause,
  withoutCancel,
  withTimeout,
  withTimeoutCause,
  withValue,
} from './context.js';
export { Canceled, CanceledError, DeadlineExceeded, DeadlineExceededError } from './errors.js';
export { isContext, type WaitOptions, type WaitScope, waitSignal } from './wait.js';
