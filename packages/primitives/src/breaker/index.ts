/**
 * A circuit breaker: stop calling a dependency that keeps failing, fail fast (or serve a
 * fallback) while it recovers, and let a few probes find out when it is back.
 *
 * Rules: trips on the error ratio over a bucketed rolling window once it holds `minRequests`
 * calls; stays open `openMs`; half-open admits at most `halfOpenProbes` calls at once; refused
 * calls and calls the caller aborted never count as failures.
 * @module
 */
export {
  type BreakerEvents,
  type BreakerExecuteOptions,
  type BreakerState,
  type BreakerStats,
  CircuitBreaker,
  type CircuitBreakerOptions,
} from './circuit-breaker.js';
export { BreakerOpenError } from './errors.js';
