import { Cache } from '@gopherkit/patterns/cache';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { createCache } from 'cache-manager';
import { defineSuite } from './harness/suite.js';

/**
 * The hot paths of a read-through cache, one awaited call per iteration, against the same Redis:
 * - L1 hit: the value is in process memory (gopherkit's L1 tier, bentocache's memory layer,
 *   cache-manager's default in-memory Keyv store);
 * - L2 hit: one Redis GET plus decoding (gopherkit without L1, bentocache with only its Redis layer);
 * - miss + load: a new key every iteration, the loader resolves at once. gopherkit's miss path is
 *   GET, lock acquire, GET under the lock, fill script, lock release (it must be one load across
 *   processes); bentocache locks in-process only.
 * The reference is a raw ioredis GET round trip: the floor for every Redis-bound path.
 */
export default defineSuite({
  reference: 'raw GET round trip (ioredis)',
  inProcess: false,
  async setup(b) {
    const server = await b.redis();
    const raw = server.client();
    const value = { id: 42, name: 'gopher', price: 1999, tags: ['a', 'b'] };
    const loader = async () => value;
    await raw.set('bench:raw', JSON.stringify(value));

    b.add('raw GET round trip (ioredis)', async () => {
      JSON.parse((await raw.get('bench:raw')) as string);
    });

    // --- L1 hit ---------------------------------------------------------------------------
    const l1 = new Cache(server.client(), { prefix: 'bench:gk1:', l1: { maxEntries: 10_000, ttlMs: 600_000 } });
    b.defer(() => l1.close());
    await l1.ready();
    await l1.take('hot', loader);
    b.add('Cache.take: L1 hit', () => l1.take('hot', loader));

    const bento = new BentoCache({
      default: 'layered',
      stores: {
        layered: bentostore()
          .useL1Layer(memoryDriver({ maxItems: 10_000 }))
          .useL2Layer(redisDriver({ connection: server.client() })),
        redis: bentostore().useL2Layer(redisDriver({ connection: server.client() })),
      },
    });
    b.defer(() => bento.disconnectAll());
    const layered = bento.use('layered');
    const bentoRedis = bento.use('redis');
    await layered.getOrSet({ key: 'hot', factory: loader, ttl: '10m' });
    b.add('bentocache getOrSet: L1 hit (memory + redis store)', () => layered.getOrSet({ key: 'hot', factory: loader, ttl: '10m' }), { peer: 'bentocache' });

    const cm = createCache();
    await cm.wrap('hot', loader, 600_000);
    b.add('cache-manager wrap: memory hit', () => cm.wrap('hot', loader, 600_000), { peer: 'cache-manager' });

    // --- L2 hit ---------------------------------------------------------------------------
    const l2 = new Cache(server.client(), { prefix: 'bench:gk2:' });
    b.defer(() => l2.close());
    await l2.take('hot', loader);
    b.add('Cache.take: L2 hit (Redis)', () => l2.take('hot', loader));
    await bentoRedis.getOrSet({ key: 'hot', factory: loader, ttl: '10m' });
    b.add('bentocache getOrSet: L2 hit (redis store)', () => bentoRedis.getOrSet({ key: 'hot', factory: loader, ttl: '10m' }), { peer: 'bentocache' });

    // --- miss + load ----------------------------------------------------------------------
    const miss = new Cache(server.client(), { prefix: 'bench:gk3:', ttlMs: 30_000 });
    b.defer(() => miss.close());
    let n = 0;
    await miss.take('warm', loader); // scripts loaded
    b.add('Cache.take: miss + load (lock, fill)', () => miss.take(`k${++n}`, loader));
    let m = 0;
    b.add('bentocache getOrSet: miss + load (redis store)', () => bentoRedis.getOrSet({ key: `miss${++m}`, factory: loader, ttl: '30s' }), {
      peer: 'bentocache',
    });
  },
});
