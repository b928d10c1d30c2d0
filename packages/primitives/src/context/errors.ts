import { GopherkitError } from '../errors/index.js';

/** The error a context reports once it was cancelled (Go's `context.Canceled`). */
export class CanceledError extends GopherkitError {
  constructor(message = 'context canceled', options?: { cause?: unknown }) {
    super('ERR_CONTEXT_CANCELED', message, options);
  }
}

/** The error a context reports once its deadline passed (Go's `context.DeadlineExceeded`). */
export class DeadlineExceededError extends GopherkitError {
  constructor(message = 'context deadline exceeded', options?: { cause?: unknown }) {
    super('ERR_DEADLINE_EXCEEDED', message, options);
  }
}

/**
 * `ctx.err()` of every cancelled context is this very object, so `ctx.err() === Canceled` works
 * as in Go; `instanceof CanceledError` works as well.
 */
export const Canceled: CanceledError = new CanceledError();

/** `ctx.err()` of every context whose deadline passed is this very object. */
export const DeadlineExceeded: DeadlineExceededError = new DeadlineExceededError();
