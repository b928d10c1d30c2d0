import { type Clock, systemClock } from '../clock/index.js';
import { assertFinite, assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import { BreakerOpenError } from './errors.js';
import { RollingWindow } from './rolling-window.js';

/** `closed`: calls flow; `open`: calls fail fast; `half-open`: a few probes test recovery. */
export type BreakerState = 'closed' | 'open' | 'half-open';

/** Options of {@link CircuitBreaker}. Defaults suit a dependency called a few times a second or more. */
export interface CircuitBreakerOptions {
  /** Shown in errors and events. Default `"breaker"`. */
  name?: string;
  /** Length of the rolling window of outcomes the error ratio is computed over. Default 10 000 ms. */
  windowMs?: number;
  /**
   * Slots the window is split into; outcomes age out one slot at a time. More slots = smoother
   * ageing, slightly more memory. Default 10.
   */
  buckets?: number;
  /**
   * Calls the window must hold before the breaker may trip, so two failures out of three calls at
   * 3 a.m. do not open it. Default 20.
   */
  minRequests?: number;
  /** Failure ratio in (0, 1] at or above which the breaker opens. Default 0.5. */
  errorRatio?: number;
  /** How long the breaker stays open before letting probes through. Default 5 000 ms. */
  openMs?: number;
  /**
   * Probes allowed at once in half-open; that many consecutive successes close the breaker, one
   * failure re-opens it. Default 1.
   */
  halfOpenProbes?: number;
  /**
   * Which errors count against the dependency. Errors for which it returns false (a 404, a
   * validation error) are rethrown but count as successes. Default: every error counts.
   */
  isFailure?: (error: unknown) => boolean;
  /** Time source; tests pass a `ManualClock`. */
  clock?: Clock;
}

/** Options of one {@link CircuitBreaker.execute} call. */
export interface BreakerExecuteOptions {
  /**
   * Passed to the protected function. A call that fails after this signal aborted is the caller
   * giving up, not the dependency failing, so it is not counted.
   */
  signal?: AbortSignal | undefined;
}

/** Payloads of the events a {@link CircuitBreaker} emits. */
export interface BreakerEvents {
  /** The state changed; `reason` says why (`error ratio 0.6 >= 0.5 over 20 calls`, `probe failed`, …). */
  stateChange: { from: BreakerState; to: BreakerState; reason: string };
  /** A call was refused without running. */
  rejected: BreakerOpenError;
  /** The protected function succeeded (or failed with an error `isFailure` ignores). */
  success: { durationMs: number };
  /** The protected function failed with an error that counts. */
  failure: { error: unknown; durationMs: number };
}

/** A snapshot from {@link CircuitBreaker.stats}. */
export interface BreakerStats {
  state: BreakerState;
  /** Calls counted in the rolling window (closed state only). */
  total: number;
  /** Failures counted in the rolling window. */
  failures: number;
  /** `failures / total`, 0 when the window is empty. */
  errorRatio: number;
}

type Listener<K extends keyof BreakerEvents> = (event: BreakerEvents[K]) => void;

/**
 * A circuit breaker (closed → open → half-open → closed) that stops a caller from hammering a
 * dependency that is failing, and lets a few probes find out when it has recovered.
 *
 * The breaker trips on the **error ratio** over a bucketed rolling window, once the window holds
 * `minRequests` calls. Open, it fails fast with {@link BreakerOpenError} for `openMs`; then it lets
 * `halfOpenProbes` calls through at once; that many successes close it, one failure re-opens it.
 * Refused calls are never counted as failures (counting them keeps a breaker open forever), and
 * outcomes of calls that started before a state change are ignored, so a slow call from the last
 * closed period cannot re-open a breaker that just recovered. There are no timers: the open →
 * half-open move happens on the next call or `state` read, so a breaker needs no `close()`.
 *
 * @example
 * ```ts
 * const breaker = new CircuitBreaker({ name: 'redis', errorRatio: 0.5, minRequests: 20 });
 * try {
 *   return await breaker.execute((signal) => fetchUser(id, signal), { signal });
 * } catch (e) {
 *   if (e instanceof BreakerOpenError) return staleCopy(id); // degrade instead of waiting
 *   throw e;
 * }
 * ```
 */
export class CircuitBreaker {
  readonly name: string;
  private readonly window: RollingWindow;
  private readonly minRequests: number;
  private readonly errorRatio: number;
  private readonly openMs: number;
  private readonly halfOpenProbes: number;
  private readonly isFailure: (error: unknown) => boolean;
  private readonly clock: Clock;
  private current: BreakerState = 'closed';
  private generation = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;
  private readonly listeners: { [K in keyof BreakerEvents]: Listener<K>[] } = {
    stateChange: [],
    rejected: [],
    success: [],
    failure: [],
  };

  constructor(options: CircuitBreakerOptions = {}) {
    this.name = assertNonEmptyString('name', options.name ?? 'breaker');
    const windowMs = assertFinite('windowMs', options.windowMs ?? 10_000, 1);
    const buckets = assertInteger('buckets', options.buckets ?? 10, 1, 10_000);
    this.minRequests = assertInteger('minRequests', options.minRequests ?? 20, 1);
    this.errorRatio = assertFinite('errorRatio', options.errorRatio ?? 0.5, 0, 1);
    if (this.errorRatio === 0) throw new InvalidArgumentError('errorRatio', 'a number in (0, 1]', 0);
    this.openMs = assertFinite('openMs', options.openMs ?? 5_000, 0);
    this.halfOpenProbes = assertInteger('halfOpenProbes', options.halfOpenProbes ?? 1, 1);
    if (options.isFailure !== undefined && typeof options.isFailure !== 'function') {
      throw new InvalidArgumentError('isFailure', 'a function', options.isFailure);
    }
    this.isFailure = options.isFailure ?? (() => true);
    this.clock = options.clock ?? systemClock;
    this.window = new RollingWindow(windowMs, buckets);
  }

  /** The current state; reading it moves an expired `open` breaker to `half-open`. */
  get state(): BreakerState {
    if (this.current === 'open' && this.clock.now() - this.openedAt >= this.openMs) {
      this.transition('half-open', `open for ${this.openMs} ms`);
    }
    return this.current;
  }

  /**
   * Runs `fn` if the breaker lets the call through, records the outcome and returns or rethrows
   * `fn`'s result. Rejects with {@link BreakerOpenError} (without calling `fn`) when open or when
   * every half-open probe slot is busy; rejects with `signal.reason` if the signal already aborted.
   */
  execute<T>(fn: (signal: AbortSignal | undefined) => T | PromiseLike<T>, options: BreakerExecuteOptions = {}): Promise<T> {
    // admission is synchronous and a refusal is a plain rejected promise: the open state is the
    // path that must stay cheap, since it is taken by every call while a dependency is down
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const state = this.state;
    if (state === 'open') {
      return Promise.reject(this.reject(new BreakerOpenError(this.name, 'open', Math.max(0, this.openedAt + this.openMs - this.clock.now()))));
    }
    if (state === 'half-open') {
      if (this.probesInFlight >= this.halfOpenProbes) return Promise.reject(this.reject(new BreakerOpenError(this.name, 'half-open', 0)));
      this.probesInFlight++;
    }
    return this.run(fn, signal, this.generation);
  }

  private async run<T>(fn: (signal: AbortSignal | undefined) => T | PromiseLike<T>, signal: AbortSignal | undefined, generation: number): Promise<T> {
    const started = this.clock.now();
    let result: T;
    try {
      result = await fn(signal);
    } catch (error) {
      const durationMs = this.clock.now() - started;
      if (signal?.aborted) this.settle(generation, 'ignored');
      else if (this.isFailure(error)) {
        this.emit('failure', { error, durationMs });
        this.settle(generation, 'failure');
      } else {
        this.emit('success', { durationMs });
        this.settle(generation, 'success');
      }
      throw error;
    }
    this.emit('success', { durationMs: this.clock.now() - started });
    this.settle(generation, 'success');
    return result;
  }

  /** Counts in the rolling window right now. */
  stats(): BreakerStats {
    const state = this.state;
    const { total, failures } = this.window.counts(this.clock.now());
    return { state, total, failures, errorRatio: total === 0 ? 0 : failures / total };
  }

  /** Subscribes to an event; returns a function that unsubscribes. Listener errors propagate to the caller of `execute`. */
  on<K extends keyof BreakerEvents>(event: K, listener: (event: BreakerEvents[K]) => void): () => void {
    const list = this.listeners[event] as Listener<K>[];
    list.push(listener);
    return () => {
      const i = list.indexOf(listener);
      if (i >= 0) list.splice(i, 1);
    };
  }

  private settle(generation: number, outcome: 'success' | 'failure' | 'ignored'): void {
    // A call that started before the last state change says nothing about the current state.
    if (generation !== this.generation) return;
    if (this.current === 'half-open') {
      this.probesInFlight--;
      if (outcome === 'failure') this.trip('probe failed');
      else if (outcome === 'success' && ++this.probeSuccesses >= this.halfOpenProbes) {
        this.transition('closed', `${this.probeSuccesses} probe(s) succeeded`);
      }
      return;
    }
    if (this.current !== 'closed' || outcome === 'ignored') return;
    const now = this.clock.now();
    this.window.record(now, outcome === 'failure');
    if (outcome === 'failure') {
      const { total, failures } = this.window.counts(now);
      if (total >= this.minRequests && failures / total >= this.errorRatio) {
        this.trip(`error ratio ${(failures / total).toFixed(2)} >= ${this.errorRatio} over ${total} calls`);
      }
    }
  }

  private trip(reason: string): void {
    this.openedAt = this.clock.now();
    this.transition('open', reason);
  }

  private transition(to: BreakerState, reason: string): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    if (to === 'closed') this.window.reset();
    this.emit('stateChange', { from, to, reason });
  }

  private reject(error: BreakerOpenError): BreakerOpenError {
    this.emit('rejected', error);
    return error;
  }

  private emit<K extends keyof BreakerEvents>(event: K, payload: BreakerEvents[K]): void {
    const list = this.listeners[event] as Listener<K>[];
    for (const listener of list.length === 1 ? list : [...list]) listener(payload);
  }
}
