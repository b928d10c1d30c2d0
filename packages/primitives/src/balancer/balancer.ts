import { type Clock, systemClock } from '../clock/index.js';
import { assertFinite, assertInteger, assertNonEmptyString, InvalidArgumentError } from '../errors/index.js';
import { HashRing, type HashRingOptions } from '../hashring/index.js';
import { NoEndpointAvailableError } from './errors.js';

/** An instance to balance over. Extra fields (host, port, a client…) travel along untouched. */
export interface Endpoint {
  /** Unique, stable identity: health state and hash-ring placement follow it across `update()`s. */
  readonly id: string;
  /** Relative capacity (default 1); used by `'weighted-round-robin'` and `'consistent-hash'`. */
  readonly weight?: number;
}

/**
 * How {@link Balancer.pick} chooses among the healthy endpoints.
 * - `'round-robin'`: in turn (the seed's `Next`).
 * - `'random'`: uniformly (the seed's `Random`).
 * - `'weighted-round-robin'`: nginx's smooth weighted round robin — weights 5,1,1 give
 *   `a a b a c a a`, interleaved instead of bursts of `a`.
 * - `'least-in-flight'`: the fewest outstanding requests (least connections); ties in turn. Adapts
 *   to a slow instance, whose requests pile up.
 * - `'power-of-two'`: two random candidates, the one with fewer in flight (then lower latency)
 *   wins; nearly least-in-flight's balance at O(1), and no herd on one "least" instance when
 *   several balancers share the instances.
 * - `'consistent-hash'`: by `pick(key)` on a {@link HashRing} of endpoint ids (cache affinity,
 *   sticky sessions); an ejected owner's keys go to the next member clockwise and come back when
 *   it recovers. With `boundedLoad` a hot key spills over instead of overloading its owner.
 */
export type BalancerStrategy = 'round-robin' | 'random' | 'weighted-round-robin' | 'least-in-flight' | 'power-of-two' | 'consistent-hash';

const STRATEGIES: readonly BalancerStrategy[] = ['round-robin', 'random', 'weighted-round-robin', 'least-in-flight', 'power-of-two', 'consistent-hash'];

/** Passive health checking (outlier ejection), fed by {@link PickLease.done}. */
export interface PassiveHealthOptions {
  /** Consecutive failures that eject an endpoint (default 5; 0 disables ejection). */
  maxFailures?: number;
  /** How long an ejected endpoint gets no traffic before one probe request is let through (default 10 000 ms). */
  cooldownMs?: number;
  /**
   * Largest fraction of endpoints that may be ejected at once (default 1). Below 1, a widespread
   * failure (a bad deploy of a dependency) keeps sending traffic everywhere instead of piling it
   * on the few survivors; at least one endpoint can always be ejected.
   */
  maxEjectedFraction?: number;
}

/** Options of {@link createBalancer}. */
export interface BalancerOptions {
  strategy: BalancerStrategy;
  /** Passive health options, or `false` to never eject. */
  health?: PassiveHealthOptions | false;
  /** Time source for cool-downs and measured latency (default `systemClock`). */
  clock?: Clock;
  /** Uniform random numbers in [0, 1) for `'random'` and `'power-of-two'` (default `Math.random`); fix it in tests. */
  random?: () => number;
  /** Ring options for `'consistent-hash'` (default: the well-mixed placement, 160 points per unit weight). */
  ring?: HashRingOptions;
  /**
   * `'consistent-hash'` only: cap each endpoint at `⌈average in-flight × (1 + boundedLoad)⌉`
   * (consistent hashing with bounded loads); unset means pure affinity.
   */
  boundedLoad?: number;
}

/** How a request went, reported through {@link PickLease.done}. */
export interface PickOutcome {
  /** False for a failure that says something about the endpoint (connect error, 5xx, timeout) — not for a 4xx. */
  ok: boolean;
  /** Request latency; measured with the balancer's clock from `pick()` to `done()` when omitted. */
  latencyMs?: number;
}

/** One picked endpoint. Call `done()` exactly once when the request ends (extra calls are ignored). */
export interface PickLease<E extends Endpoint> {
  readonly endpoint: E;
  /** True when this request is the half-open probe that decides whether an ejected endpoint comes back. */
  readonly probe: boolean;
  /** Ends the request: releases its in-flight slot and feeds passive health. */
  done(outcome: PickOutcome): void;
  /**
   * Releases the slot without a health signal (a cancelled request), so `using lease = lb.pick()`
   * never leaks an in-flight count; an abandoned probe lets the next pick probe again.
   */
  [Symbol.dispose](): void;
}

/** Health state of one endpoint. */
export type EndpointState = 'healthy' | 'ejected' | 'half-open' | 'probing';

/** One row of {@link Balancer.stats}. */
export interface EndpointStats {
  id: string;
  state: EndpointState;
  inFlight: number;
  picks: number;
  failures: number;
  consecutiveFailures: number;
  ejections: number;
  /** Exponentially weighted moving average of reported latency (α = 0.2), `undefined` before the first report. */
  latencyMs: number | undefined;
}

/** Events a {@link Balancer} emits (for logs and metrics). */
export interface BalancerEvents {
  /** An endpoint was ejected (again, if its probe failed) until `until` (clock ms). */
  eject: { id: string; consecutiveFailures: number; until: number };
  /** A probe request is going to an ejected endpoint whose cool-down ended. */
  probe: { id: string };
  /** A probe succeeded: the endpoint is back in rotation. */
  recover: { id: string };
}

/** Picks endpoints for requests; see {@link createBalancer}. */
export interface Balancer<E extends Endpoint> {
  readonly strategy: BalancerStrategy;
  /**
   * Chooses an endpoint for one request. An ejected endpoint whose cool-down has ended gets the
   * next request as its probe, whatever the strategy. `key` is required by `'consistent-hash'`
   * and ignored by the others.
   * @throws {@link NoEndpointAvailableError} when the list is empty or every endpoint is ejected.
   */
  pick(key?: string): PickLease<E>;
  /**
   * Replaces the endpoint list (a service-discovery refresh). Endpoints that stay (same id) keep
   * their health state and in-flight counts; leases of removed endpoints can still be `done()`.
   */
  update(endpoints: readonly E[]): void;
  /** Current endpoints. */
  endpoints(): E[];
  /** Per-endpoint health and load, in list order. */
  stats(): EndpointStats[];
  /**
   * Subscribes to an event; returns the unsubscribe function. Listeners run synchronously inside
   * `pick()`/`done()`; one that throws cannot corrupt the balancer's state — its error is rethrown
   * on a microtask (an uncaught exception, as an `EventEmitter` listener's would be).
   */
  on<K extends keyof BalancerEvents>(event: K, listener: (e: BalancerEvents[K]) => void): () => void;
}

interface State<E> {
  endpoint: E;
  id: string;
  weight: number;
  inFlight: number;
  picks: number;
  failures: number;
  consecutiveFailures: number;
  ejections: number;
  out: boolean;
  /** When `out`: the clock time the cool-down ends. */
  ejectedUntil: number;
  probing: boolean;
  probeStartedAt: number;
  latencyMs: number | undefined;
  /** Smooth weighted round robin's running weight. */
  current: number;
}

/**
 * Creates a client-side load balancer (the seed's service-discovery question, seed L4045–4191)
 * with passive health: `maxFailures` consecutive failed requests eject an endpoint for
 * `cooldownMs`; then exactly one probe request decides (half-open) — success puts it back,
 * failure ejects it for another cool-down. Cool-downs are read from the clock at pick time, so a
 * balancer has no timers and nothing to close.
 *
 * @example
 * ```ts
 * const lb = createBalancer(instances, { strategy: 'least-in-flight' });
 * const lease = lb.pick();
 * try {
 *   const res = await fetch(`http://${lease.endpoint.host}/orders`);
 *   lease.done({ ok: res.status < 500 });
 * } catch (e) {
 *   lease.done({ ok: false });
 *   throw e;
 * }
 * ```
 */
export function createBalancer<E extends Endpoint>(endpoints: readonly E[], options: BalancerOptions): Balancer<E> {
  return new BalancerImpl(endpoints, options);
}

/** A class rather than an object literal with closures: picks stay allocation-light and monomorphic. */
class Lease<E extends Endpoint> implements PickLease<E> {
  private settled = false;
  readonly endpoint: E;

  constructor(
    private readonly owner: BalancerImpl<E>,
    private readonly state: State<E>,
    private readonly startedAt: number,
    readonly probe: boolean,
  ) {
    this.endpoint = state.endpoint;
  }

  done(outcome: PickOutcome): void {
    if (this.settled) return;
    if (typeof outcome !== 'object' || outcome === null || typeof outcome.ok !== 'boolean') {
      throw new InvalidArgumentError('outcome', 'an object { ok: boolean, latencyMs?: number }', outcome);
    }
    if (outcome.latencyMs !== undefined) assertFinite('outcome.latencyMs', outcome.latencyMs, 0);
    this.settled = true;
    this.owner.settle(this.state, outcome, this.startedAt, this.probe);
  }

  [Symbol.dispose](): void {
    if (this.settled) return;
    this.settled = true;
    this.owner.abandon(this.state, this.probe);
  }
}

class BalancerImpl<E extends Endpoint> implements Balancer<E> {
  readonly strategy: BalancerStrategy;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxFailures: number;
  private readonly cooldownMs: number;
  private readonly maxEjectedFraction: number;
  private readonly boundedLoad: number | undefined;
  private readonly ring: HashRing | undefined;
  private states: State<E>[] = [];
  private byId = new Map<string, State<E>>();
  private ejected = 0;
  private cursor = 0;
  private readonly listeners: { [K in keyof BalancerEvents]: Set<(e: BalancerEvents[K]) => void> } = {
    eject: new Set(),
    probe: new Set(),
    recover: new Set(),
  };

  constructor(endpoints: readonly E[], options: BalancerOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'an object with a strategy', options);
    if (!STRATEGIES.includes(options.strategy)) {
      throw new InvalidArgumentError('strategy', `one of ${STRATEGIES.map((s) => `'${s}'`).join(', ')}`, options.strategy);
    }
    this.strategy = options.strategy;
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    const health = options.health === false ? { maxFailures: 0 } : (options.health ?? {});
    this.maxFailures = assertInteger('health.maxFailures', health.maxFailures ?? 5);
    this.cooldownMs = assertFinite('health.cooldownMs', health.cooldownMs ?? 10_000, 0);
    this.maxEjectedFraction = assertFinite('health.maxEjectedFraction', health.maxEjectedFraction ?? 1, 0, 1);
    if (options.boundedLoad !== undefined) {
      if (this.strategy !== 'consistent-hash') throw new InvalidArgumentError('boundedLoad', "unset unless strategy is 'consistent-hash'", options.boundedLoad);
      this.boundedLoad = assertFinite('boundedLoad', options.boundedLoad, 0);
    }
    if (this.strategy === 'consistent-hash') this.ring = new HashRing([], options.ring);
    this.update(endpoints);
  }

  pick(key?: string): PickLease<E> {
    if (this.strategy === 'consistent-hash' && typeof key !== 'string') {
      throw new InvalidArgumentError('key', "a string (the 'consistent-hash' strategy routes by key)", key);
    }
    const n = this.states.length;
    if (n === 0) throw new NoEndpointAvailableError('empty', 0);
    const now = this.clock.now();
    if (this.ejected > 0) {
      for (const s of this.states) {
        if (s.out && now >= s.ejectedUntil && (!s.probing || now >= s.probeStartedAt + this.cooldownMs)) {
          s.probing = true;
          s.probeStartedAt = now;
          this.emit('probe', { id: s.id });
          return this.lease(s, now, true);
        }
      }
    }
    const s = this.ejected === 0 || this.ejected < n ? this.choose(key as string) : undefined;
    if (s === undefined) {
      let next = Number.POSITIVE_INFINITY;
      for (const e of this.states) if (e.out) next = Math.min(next, e.probing ? e.probeStartedAt + this.cooldownMs : e.ejectedUntil);
      throw new NoEndpointAvailableError('all-ejected', n, Math.max(0, next - now));
    }
    return this.lease(s, now, false);
  }

  update(endpoints: readonly E[]): void {
    if (!Array.isArray(endpoints)) throw new InvalidArgumentError('endpoints', 'an array of { id, weight? }', endpoints);
    const next = new Map<string, State<E>>();
    for (const [i, e] of endpoints.entries()) {
      const id = assertNonEmptyString(`endpoints[${i}].id`, e?.id);
      const weight = e.weight ?? 1;
      if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0)
        throw new InvalidArgumentError(`endpoints[${i}].weight`, 'a finite number > 0', weight);
      if (next.has(id)) throw new InvalidArgumentError(`endpoints[${i}].id`, 'unique within the list', id);
      const old = this.byId.get(id);
      next.set(
        id,
        old !== undefined
          ? Object.assign(old, { endpoint: e, weight })
          : {
              endpoint: e,
              id,
              weight,
              inFlight: 0,
              picks: 0,
              failures: 0,
              consecutiveFailures: 0,
              ejections: 0,
              out: false,
              ejectedUntil: 0,
              probing: false,
              probeStartedAt: 0,
              latencyMs: undefined,
              current: 0,
            },
      );
    }
    if (this.ring !== undefined) {
      for (const id of this.byId.keys()) if (!next.has(id)) this.ring.remove(id);
      for (const s of next.values()) this.ring.add(s.id, s.weight);
    }
    this.byId = next;
    this.states = [...next.values()];
    this.ejected = this.states.filter((s) => s.out).length;
    this.cursor = 0;
  }

  endpoints(): E[] {
    return this.states.map((s) => s.endpoint);
  }

  stats(): EndpointStats[] {
    const now = this.clock.now();
    return this.states.map((s) => ({
      id: s.id,
      state: !s.out ? 'healthy' : s.probing ? 'probing' : now >= s.ejectedUntil ? 'half-open' : 'ejected',
      inFlight: s.inFlight,
      picks: s.picks,
      failures: s.failures,
      consecutiveFailures: s.consecutiveFailures,
      ejections: s.ejections,
      latencyMs: s.latencyMs,
    }));
  }

  on<K extends keyof BalancerEvents>(event: K, listener: (e: BalancerEvents[K]) => void): () => void {
    const set = this.listeners[event] as Set<(e: BalancerEvents[K]) => void> | undefined;
    if (set === undefined) throw new InvalidArgumentError('event', "'eject', 'probe' or 'recover'", event);
    set.add(listener);
    return () => void set.delete(listener);
  }

  /** The strategy's choice among healthy endpoints (`undefined` if there is none). */
  private choose(key: string): State<E> | undefined {
    const states = this.states;
    const n = states.length;
    switch (this.strategy) {
      case 'round-robin': {
        for (let k = 0; k < n; k++) {
          const i = (this.cursor + k) % n;
          const s = states[i] as State<E>;
          if (!s.out) {
            this.cursor = i + 1;
            return s;
          }
        }
        return undefined;
      }
      case 'random': {
        const s = states[Math.floor(this.random() * n)] as State<E>;
        return s.out ? this.randomHealthy() : s;
      }
      case 'weighted-round-robin': {
        // nginx ngx_http_upstream_get_peer: every healthy peer gains its weight, the largest wins and pays the total back.
        let best: State<E> | undefined;
        let total = 0;
        for (const s of states) {
          if (s.out) continue;
          s.current += s.weight;
          total += s.weight;
          if (best === undefined || s.current > best.current) best = s;
        }
        if (best !== undefined) best.current -= total;
        return best;
      }
      case 'least-in-flight': {
        let best: State<E> | undefined;
        let bestIndex = 0;
        for (let k = 0; k < n; k++) {
          const i = (this.cursor + k) % n;
          const s = states[i] as State<E>;
          if (!s.out && (best === undefined || s.inFlight < best.inFlight)) {
            best = s;
            bestIndex = i;
          }
        }
        this.cursor = bestIndex + 1; // rotate among ties
        return best;
      }
      case 'power-of-two': {
        let a: State<E> | undefined;
        let b: State<E> | undefined;
        if (this.ejected === 0) {
          if (n === 1) return states[0];
          const i = Math.floor(this.random() * n);
          let j = Math.floor(this.random() * (n - 1));
          if (j >= i) j++;
          a = states[i];
          b = states[j];
        } else {
          const healthy = states.filter((s) => !s.out);
          if (healthy.length <= 1) return healthy[0];
          const i = Math.floor(this.random() * healthy.length);
          let j = Math.floor(this.random() * (healthy.length - 1));
          if (j >= i) j++;
          a = healthy[i];
          b = healthy[j];
        }
        const x = a as State<E>;
        const y = b as State<E>;
        if (x.inFlight !== y.inFlight) return x.inFlight < y.inFlight ? x : y;
        return (y.latencyMs ?? 0) < (x.latencyMs ?? 0) ? y : x;
      }
      case 'consistent-hash': {
        const ring = this.ring as HashRing;
        if (this.boundedLoad === undefined && this.ejected === 0) return this.byId.get(ring.get(key) as string);
        if (this.boundedLoad === undefined) return this.byId.get(ring.getMatching(key, (id) => !(this.byId.get(id) as State<E>).out) ?? '');
        let total = 0;
        let totalWeight = 0;
        for (const s of states) {
          if (s.out) continue;
          total += s.inFlight;
          totalWeight += s.weight;
        }
        const factor = ((total + 1) / totalWeight) * (1 + this.boundedLoad);
        const id = ring.getMatching(key, (id) => {
          const s = this.byId.get(id) as State<E>;
          const cap = s.weight * factor;
          return !s.out && s.inFlight < Math.ceil(cap - cap * 1e-12);
        });
        return id === undefined ? undefined : this.byId.get(id);
      }
    }
  }

  private randomHealthy(): State<E> | undefined {
    const healthy = this.states.filter((s) => !s.out);
    return healthy[Math.floor(this.random() * healthy.length)];
  }

  private lease(s: State<E>, startedAt: number, probe: boolean): PickLease<E> {
    s.inFlight++;
    s.picks++;
    return new Lease(this, s, startedAt, probe);
  }

  /** @internal Called once per lease by {@link Lease.done}. */
  settle(s: State<E>, outcome: PickOutcome, startedAt: number, probe: boolean): void {
    const now = this.clock.now();
    const latency = outcome.latencyMs === undefined ? now - startedAt : assertFinite('outcome.latencyMs', outcome.latencyMs, 0);
    s.inFlight--;
    this.report(s, outcome.ok, latency, probe, now);
  }

  /** @internal Called once per lease by {@link Lease}'s dispose when `done()` never came. */
  abandon(s: State<E>, probe: boolean): void {
    s.inFlight--;
    if (probe) s.probing = false;
  }

  private report(s: State<E>, ok: boolean, latencyMs: number, probe: boolean, now: number): void {
    s.latencyMs = s.latencyMs === undefined ? latencyMs : s.latencyMs + 0.2 * (latencyMs - s.latencyMs);
    if (!ok) s.failures++;
    if (this.byId.get(s.id) !== s) return; // removed by update(): no health bookkeeping
    if (probe) {
      s.probing = false;
      if (ok) {
        s.out = false;
        s.consecutiveFailures = 0;
        s.current = 0;
        this.ejected--;
        this.emit('recover', { id: s.id });
      } else {
        s.consecutiveFailures++;
        this.eject(s, now);
      }
      return;
    }
    if (s.out) return; // a request picked before the ejection: the probe decides now
    if (ok) {
      s.consecutiveFailures = 0;
      return;
    }
    s.consecutiveFailures++;
    if (this.maxFailures > 0 && s.consecutiveFailures >= this.maxFailures) {
      const allowed = Math.max(1, Math.floor(this.maxEjectedFraction * this.states.length));
      if (this.ejected < allowed) {
        this.ejected++;
        s.ejections++;
        this.eject(s, now);
      }
    }
  }

  private eject(s: State<E>, now: number): void {
    s.out = true;
    s.ejectedUntil = now + this.cooldownMs;
    this.emit('eject', { id: s.id, consecutiveFailures: s.consecutiveFailures, until: s.ejectedUntil });
  }

  private emit<K extends keyof BalancerEvents>(event: K, e: BalancerEvents[K]): void {
    for (const listener of this.listeners[event] as Set<(e: BalancerEvents[K]) => void>) {
      try {
        listener(e);
      } catch (err) {
        queueMicrotask(() => {
          throw err; // a broken listener must not corrupt balancer state; surface it like an EventEmitter would
        });
      }
    }
  }
}
