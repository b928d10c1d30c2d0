/**
 * Client-side load balancing (the seed's service-discovery question): six strategies behind one
 * {@link Balancer} interface — round robin, random, nginx's smooth weighted round robin, least
 * in-flight, power of two choices, consistent hash (optionally with bounded loads) — and passive
 * health on every one of them.
 *
 * Rules: `pick()` returns a lease whose `done({ ok, latencyMs })` releases the in-flight slot and
 * feeds health; `maxFailures` consecutive failures eject an endpoint for `cooldownMs` (read from
 * the injectable clock), then one probe request decides (half-open); an empty or all-ejected list
 * throws {@link NoEndpointAvailableError}, never a crash.
 * @module
 */
export {
  type Balancer,
  type BalancerEvents,
  type BalancerOptions,
  type BalancerStrategy,
  createBalancer,
  type Endpoint,
  type EndpointState,
  type EndpointStats,
  type PassiveHealthOptions,
  type PickLease,
  type PickOutcome,
} from './balancer.js';
export { NoEndpointAvailableError } from './errors.js';
