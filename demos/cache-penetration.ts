import { Cache, type CacheOptions } from '@gopherkit/patterns/cache';
import { BloomFilter } from '@gopherkit/primitives/bloom';
import { defineDemo } from './harness/demo.js';

/**
 * Cache penetration (缓存穿透, seed L3613–3691): 80% of requests ask for ids that do not exist, so
 * cache-aside never caches them and every one reaches the database. Requests arrive at a fixed
 * 1000/s (seeded ids, same sequence every run); we count database calls per mode:
 * no defence, negative caching (against repeating unknown ids, and against random ones) and the
 * Bloom gate. The seed's "DB QPS 1000 → 200" is the Bloom row.
 */
export default defineDemo({
  description: 'Cache penetration: 80% unknown ids at 1000 req/s; DB calls with no defence, negative caching, Bloom gate',
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const RATE = 1000; // requests per second
    const SECONDS = 2;
    const KNOWN = 1000;
    const REQUESTS = RATE * SECONDS;
    const known = Array.from({ length: KNOWN }, (_, i) => `product:${i + 1}`);
    const bloom = new BloomFilter({ expectedItems: KNOWN, falsePositiveRate: 0.01 });
    bloom.addAll(known);

    /** One run: `REQUESTS` requests at `RATE`/s; returns DB calls counted by the loader. */
    async function run(mode: string, options: CacheOptions, unknownId: (rnd: () => number) => string) {
      const rnd = d.random(7);
      const cache = new Cache(redis, { prefix: `demo:pen:${mode}:`, ttlMs: 60_000, ...options });
      let dbCalls = 0;
      let bloomRejects = 0;
      let negativeHits = 0;
      cache.on('bloomReject', () => bloomRejects++);
      cache.on('negativeHit', () => negativeHits++);
      const loader = (id: string) => async () => {
        dbCalls++;
        await new Promise((r) => setTimeout(r, 2)); // a 2 ms primary-key lookup
        return id.startsWith('product:') ? { id, price: 100 } : undefined;
      };
      const pending: Promise<unknown>[] = [];
      const perTick = RATE / 100;
      const started = performance.now();
      for (let tick = 0; tick < SECONDS * 100; tick++) {
        for (let i = 0; i < perTick; i++) {
          const id = rnd() < 0.8 ? unknownId(rnd) : (known[Math.floor(rnd() * KNOWN)] as string);
          pending.push(cache.take(id, loader(id), { negative: options.negativeTtlMs !== undefined }));
        }
        const due = started + (tick + 1) * 10;
        await new Promise((r) => setTimeout(r, Math.max(0, due - performance.now())));
      }
      await Promise.all(pending);
      await cache.close();
      return { mode, dbCalls, bloomRejects, negativeHits, dbQps: Math.round((dbCalls / REQUESTS) * RATE) };
    }
    const randomUnknown = (rnd: () => number) => `ghost:${Math.floor(rnd() * 1e9)}`;
    const repeatingUnknown = (rnd: () => number) => `ghost:${Math.floor(rnd() * 200)}`; // a crawler on 200 deleted ids

    const none = await run('none', {}, randomUnknown);
    const negRepeat = await run('negative-repeat', { negativeTtlMs: 30_000 }, repeatingUnknown);
    const negRandom = await run('negative-random', { negativeTtlMs: 30_000 }, randomUnknown);
    const gated = await run('bloom', { negativeTtlMs: 30_000, bloom }, randomUnknown);
    const rows = [
      { defence: 'none (cache-aside only)', unknown: 'random', ...pick(none) },
      { defence: 'negative caching', unknown: '200 repeating', ...pick(negRepeat) },
      { defence: 'negative caching', unknown: 'random', ...pick(negRandom) },
      { defence: 'Bloom gate + negative', unknown: 'random', ...pick(gated) },
    ];
    d.table(rows);
    d.bars(
      rows.map((r) => ({ label: `${r.defence} (${r.unknown})`, value: r['db qps'] })),
      { unit: ' DB calls/s' },
    );
    d.record('db-qps', { rate: RATE, unknownShare: 0.8, rows });
    d.log(`Bloom filter: ${(bloom.bits / 8 / 1024).toFixed(1)} KiB for ${KNOWN} ids at 1% false positives`);

    d.check(none.dbQps >= 800, `no defence: every unknown id reaches the DB (${none.dbQps}/s >= 800/s)`);
    d.check(negRepeat.dbQps <= 350, `negative caching absorbs repeating unknown ids (${negRepeat.dbQps}/s <= 350/s)`);
    d.check(negRandom.dbQps >= 750, `negative caching cannot help against random ids (${negRandom.dbQps}/s stays >= 750/s)`);
    d.check(gated.dbQps <= 250 && gated.bloomRejects >= REQUESTS * 0.75, `Bloom gate: ${gated.dbQps}/s, ${gated.bloomRejects} requests answered before Redis`);
    return `DB calls/s at ${RATE} req/s, 80% unknown: none=${none.dbQps}, negative(repeating)=${negRepeat.dbQps}, negative(random)=${negRandom.dbQps}, bloom=${gated.dbQps}`;
  },
});

function pick(r: { dbCalls: number; dbQps: number; bloomRejects: number; negativeHits: number }) {
  return { 'db calls': r.dbCalls, 'db qps': r.dbQps, 'bloom rejects': r.bloomRejects, 'negative hits': r.negativeHits };
}
