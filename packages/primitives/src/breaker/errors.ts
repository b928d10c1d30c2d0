import { GopherkitError } from '../errors/index.js';
import type { BreakerState } from './circuit-breaker.js';

/**
 * {@link CircuitBreaker.execute} refused to call the protected function because the breaker is
 * open (or half-open with every probe slot taken). Fail fast or serve a fallback; `retryAfterMs`
 * says when the breaker will next let a probe through.
 */
export class BreakerOpenError extends GopherkitError {
  // `declare`d and assigned in the constructor: no define-semantics field initialisers on the
  // refusal path, which runs for every call while a dependency is down
  /** The state that refused the call: `open` or `half-open`. */
  declare readonly state: BreakerState;
  /** Milliseconds until the breaker lets a probe through (0 when half-open probes are busy). */
  declare readonly retryAfterMs: number;
  /** The breaker's name, for logs when an app has several. */
  declare readonly breaker: string;

  constructor(breaker: string, state: BreakerState, retryAfterMs: number) {
    // No stack trace: a refusal is expected control flow, thrown for every call while a
    // dependency is down, and capturing a stack is most of what it would cost (Go's gobreaker
    // returns a sentinel for the same reason). `breaker`, `state` and `retryAfterMs` identify it.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(
      'ERR_BREAKER_OPEN',
      state === 'open'
        ? `circuit breaker "${breaker}" is open; next probe in ${Math.ceil(retryAfterMs)} ms`
        : `circuit breaker "${breaker}" is half-open and all probe slots are busy`,
    );
    Error.stackTraceLimit = limit;
    this.breaker = breaker;
    this.state = state;
    this.retryAfterMs = retryAfterMs;
  }
}
