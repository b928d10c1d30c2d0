import { assertFinite, InvalidArgumentError } from '@gopherkit/primitives/errors';

/** Exponential backoff with jitter: attempt n waits about `baseMs × factor^(n-1)`, capped at `maxMs`. */
export interface BackoffOptions {
  /** Delay before the first retry (default 100 ms). */
  baseMs?: number;
  /** Upper bound of any delay (default 30 000 ms). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /**
   * Fraction of the delay that is randomised, in [0, 1] (default 0.5: the delay is uniform in
   * [d/2, d]). Jitter spreads retries of many failed items so they do not hit a recovering
   * broker all at once; 0 gives deterministic delays.
   */
  jitter?: number;
}

/** A validated backoff policy; `delay(attempt)` gives the wait after the `attempt`-th failure (1-based). */
export interface Backoff {
  delay(attempt: number, random?: () => number): number;
}

/** Validates `options` once and returns the policy. */
export function exponentialBackoff(options: BackoffOptions = {}, name = 'backoff'): Backoff {
  const baseMs = assertFinite(`${name}.baseMs`, options.baseMs ?? 100, 0);
  const maxMs = assertFinite(`${name}.maxMs`, options.maxMs ?? 30_000, 0);
  const factor = assertFinite(`${name}.factor`, options.factor ?? 2, 1);
  const jitter = assertFinite(`${name}.jitter`, options.jitter ?? 0.5, 0, 1);
  if (maxMs < baseMs) throw new InvalidArgumentError(`${name}.maxMs`, `>= baseMs (${baseMs})`, maxMs);
  return {
    delay(attempt, random = Math.random) {
      const raw = Math.min(maxMs, baseMs * factor ** Math.max(0, attempt - 1));
      return Math.round(raw * (1 - jitter * random()));
    },
  };
}
