import { type BalancerStrategy, createBalancer, type Endpoint } from '@gopherkit/primitives/balancer';
import { defineSuite } from './harness/suite.js';

const BATCH = 100;
const ENDPOINTS: Endpoint[] = Array.from({ length: 10 }, (_, i) => ({ id: `10.0.0.${i + 1}:8080`, weight: 1 + (i % 3) }));

/**
 * The cost a balancer adds to every request: `pick()` + `done()` per strategy, 10 endpoints, passive
 * health on. The reference is the seed's round robin (`instances[i++ % n]`) plus the least a
 * lease costs (one object, an in-flight counter): the floor any balancer pays. No npm package
 * offers these strategies behind one interface, so there is no peer.
 */
export default defineSuite({
  reference: 'seed round robin + a lease object: instances[i++ % n]',
  inProcess: true,
  setup(b) {
    let sink: unknown;
    let i = 0;
    const inFlight = new Int32Array(ENDPOINTS.length);
    b.add(
      'seed round robin + a lease object: instances[i++ % n]',
      () => {
        for (let k = 0; k < BATCH; k++) {
          const slot = i++ % ENDPOINTS.length;
          inFlight[slot] = (inFlight[slot] as number) + 1;
          const lease = { endpoint: ENDPOINTS[slot], slot };
          inFlight[lease.slot] = (inFlight[lease.slot] as number) - 1;
          sink = lease;
        }
      },
      { batch: BATCH },
    );
    const strategies: BalancerStrategy[] = ['round-robin', 'random', 'weighted-round-robin', 'least-in-flight', 'power-of-two', 'consistent-hash'];
    const keys = Array.from({ length: 10_000 }, (_, n) => `user:${n}`);
    for (const strategy of strategies) {
      const lb = createBalancer(ENDPOINTS, { strategy, clock: { now: () => 0, setTimeout: () => ({}) as never, clearTimeout: () => {} } });
      let k = 0;
      b.add(
        `${strategy}: pick + done`,
        () => {
          for (let n = 0; n < BATCH; n++) {
            const lease = lb.pick(keys[(k = (k + 1) % keys.length)]);
            lease.done({ ok: true, latencyMs: 1 });
            sink = lease;
          }
        },
        { batch: BATCH },
      );
    }
    const bounded = createBalancer(ENDPOINTS, { strategy: 'consistent-hash', boundedLoad: 0.25 });
    let k = 0;
    b.add(
      'consistent-hash + boundedLoad 0.25: pick + done',
      () => {
        for (let n = 0; n < BATCH; n++) {
          const lease = bounded.pick(keys[(k = (k + 1) % keys.length)]);
          lease.done({ ok: true, latencyMs: 1 });
          sink = lease;
        }
      },
      { batch: BATCH },
    );
    const held = createBalancer(ENDPOINTS, { strategy: 'least-in-flight' });
    const leases = Array.from({ length: 64 }, () => held.pick());
    let r = 0;
    b.add(
      'least-in-flight, 64 in flight: pick + done',
      () => {
        for (let n = 0; n < BATCH; n++) {
          const slot = (r = (r + 1) % leases.length);
          leases[slot]?.done({ ok: true, latencyMs: 1 });
          leases[slot] = held.pick();
        }
      },
      { batch: BATCH },
    );
    b.defer(() => void sink);
  },
});
