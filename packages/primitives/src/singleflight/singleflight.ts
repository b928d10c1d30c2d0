import { type Clock, systemClock } from '../clock/index.js';
import { type WaitOptions, waitSignal } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';

/** What {@link SingleFlight.do} resolves with. */
export interface FlightResult<V> {
  /** The value `fn` produced. */
  readonly value: V;
  /** True when more than one caller joined this flight (the value was shared). */
  readonly shared: boolean;
}

/** Options of {@link SingleFlight}. */
export interface SingleFlightOptions {
  /** Time source for `deadline` in {@link WaitOptions} (default: the system clock). */
  clock?: Clock;
}

interface Flight<V> {
  promise: Promise<FlightResult<V>>;
  /** Callers still waiting for this flight. */
  waiting: number;
  /** Callers that joined after the first. */
  dups: number;
  settled: boolean;
  readonly controller: AbortController;
}

/**
 * Collapses concurrent calls for the same key into one execution (Go's `x/sync/singleflight`),
 * the in-process defence against a cache stampede: 1000 requests missing the same key run one
 * database query and all get its result.
 *
 * Rules:
 * - Only calls *in flight* are shared; once `fn` settles the key is forgotten, so the next
 *   `do` runs `fn` again (cache the result elsewhere if you want it kept).
 * - A rejection (or a synchronous throw) reaches every waiter as the same error.
 * - Each caller may pass its own signal/deadline/Context: an aborted caller leaves with its abort
 *   reason and the others keep waiting. `fn` receives a signal that aborts only when **every**
 *   waiter has left; the flight is then dropped, so a later caller starts a fresh one instead of
 *   inheriting a cancelled result.
 * - {@link SingleFlight.forget} makes the next `do` start a new flight; callers of the old one still
 *   get its result, and its completion never disturbs the new one.
 * - A `fn` that calls `do` for its own key waits for itself forever (as in Go).
 */
export class SingleFlight<K, V> {
  private readonly flights = new Map<K, Flight<V>>();
  private readonly clock: Clock;

  constructor(options: SingleFlightOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Runs `fn` for `key` unless a call for `key` is already in flight, in which case it waits for
   * that call's outcome. `fn` gets an `AbortSignal` that aborts once every waiter has given up.
   */
  do(key: K, fn: (signal: AbortSignal) => V | PromiseLike<V>, options?: WaitOptions): Promise<FlightResult<V>> {
    if (typeof fn !== 'function') throw new InvalidArgumentError('fn', 'a function (signal) => value or promise', fn);
    if (options === undefined) return this.join(key, fn).promise;
    const scope = waitSignal(options, this.clock);
    const signal = scope.signal;
    if (signal === undefined) return this.join(key, fn).promise;
    if (signal.aborted) {
      scope.dispose();
      return Promise.reject(signal.reason);
    }
    const flight = this.join(key, fn);
    return new Promise<FlightResult<V>>((resolve, reject) => {
      let left = false;
      const onAbort = () => {
        left = true;
        scope.dispose();
        reject(signal.reason);
        this.leave(key, flight, signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const finish = () => {
        signal.removeEventListener('abort', onAbort);
        scope.dispose();
      };
      flight.promise.then(
        (result) => {
          if (left) return;
          finish();
          resolve(result);
        },
        (error: unknown) => {
          if (left) return;
          finish();
          reject(error);
        },
      );
    });
  }

  /**
   * Forgets the in-flight call for `key`: the next `do(key)` starts a new call. Waiters of the
   * forgotten call still get its outcome. Use it when the running call is known to be stale (the
   * data changed under it).
   */
  forget(key: K): void {
    this.flights.delete(key);
  }

  /** Keys with a call in flight. */
  get size(): number {
    return this.flights.size;
  }

  private join(key: K, fn: (signal: AbortSignal) => V | PromiseLike<V>): Flight<V> {
    const existing = this.flights.get(key);
    if (existing !== undefined) {
      existing.dups++;
      existing.waiting++;
      return existing;
    }
    let resolve!: (r: FlightResult<V>) => void;
    let reject!: (e: unknown) => void;
    const flight: Flight<V> = {
      promise: new Promise<FlightResult<V>>((res, rej) => {
        resolve = res;
        reject = rej;
      }),
      waiting: 1,
      dups: 0,
      settled: false,
      controller: new AbortController(),
    };
    // Waiters that abort stop listening; nobody may be left to observe a rejection.
    flight.promise.catch(() => {});
    this.flights.set(key, flight);
    const onValue = (value: V) => {
      flight.settled = true;
      if (this.flights.get(key) === flight) this.flights.delete(key);
      resolve(Object.freeze({ value, shared: flight.dups > 0 }));
    };
    const onError = (error: unknown) => {
      flight.settled = true;
      if (this.flights.get(key) === flight) this.flights.delete(key);
      reject(error);
    };
    try {
      const r = fn(flight.controller.signal);
      if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<V>).then === 'function') (r as PromiseLike<V>).then(onValue, onError);
      else onValue(r as V);
    } catch (e) {
      onError(e);
    }
    return flight;
  }

  private leave(key: K, flight: Flight<V>, reason: unknown): void {
    flight.waiting--;
    if (flight.waiting > 0 || flight.settled) return;
    // Last waiter gone: stop the work and make sure nobody joins a doomed flight.
    if (this.flights.get(key) === flight) this.flights.delete(key);
    flight.controller.abort(reason);
  }
}
