import { BloomFilter, bloomFalsePositiveRate, RedisBloomFilter } from '@gopherkit/primitives/bloom';
import { defineDemo } from './harness/demo.js';

/**
 * Bloom filters as the seed uses them (seed L3665–3690: 1e6 IDs at 1% in front of the database):
 * the measured false-positive rate on never-added keys next to the formula, no false negatives,
 * and the Redis backend holding the very same bits as the in-memory one.
 */
export default defineDemo({
  description: 'Bloom filter: measured false-positive rate vs the formula, no false negatives, memory and Redis backends bit-for-bit identical',
  async run(d) {
    const configs = [
      { n: 1_000_000, p: 0.01, probes: 300_000 }, // the seed's NewWithEstimates(1000000, 0.01)
      { n: 100_000, p: 0.001, probes: 1_000_000 },
      { n: 10_000, p: 0.01, probes: 300_000 },
    ];
    const rows: Record<string, unknown>[] = [];
    let allWithin = true;
    let falseNegatives = 0;
    for (const { n, p, probes } of configs) {
      const f = new BloomFilter({ expectedItems: n, falsePositiveRate: p });
      const t = performance.now();
      for (let i = 0; i < n; i++) f.add(`product:${i}`);
      const addMs = performance.now() - t;
      for (let i = 0; i < n; i++) if (!f.has(`product:${i}`)) falseNegatives++;
      let fp = 0;
      for (let i = 0; i < probes; i++) if (f.has(`missing:${i}`)) fp++;
      const theory = bloomFalsePositiveRate(f.bits, f.hashes, n);
      const measured = fp / probes;
      const sigma = Math.sqrt((theory * (1 - theory)) / probes);
      const within = Math.abs(measured - theory) < 5 * sigma + 0.1 * theory;
      allWithin &&= within;
      rows.push({
        'n (items)': n,
        'target p': String(p),
        'm (bits)': f.bits,
        memory: `${(f.bytes.length / 1024 / 1024).toFixed(2)} MiB`,
        k: f.hashes,
        'formula FP': `${(theory * 100).toFixed(3)}%`,
        'measured FP': `${(measured * 100).toFixed(3)}% (${fp}/${probes})`,
        'estimatedCount()': Math.round(f.estimatedCount()),
        'add ns/op': Math.round((addMs * 1e6) / n),
      });
    }
    d.table(rows);
    d.check(falseNegatives === 0, 'a Bloom filter must never answer "absent" for an added key');
    d.check(allWithin, 'measured FP must be within 5σ (+10%) of (1 − e^(−kn/m))^k for every configuration');

    // --- memory ⇄ Redis parity -----------------------------------------------------------------
    const redis = (await d.redis()).client();
    const prefix = `gk:demo:bloom:${process.pid}:`;
    d.defer(async () => {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length) await redis.del(...keys);
    });
    const size = { expectedItems: 50_000, falsePositiveRate: 0.01 };
    const mem = new BloomFilter(size);
    // small shards on purpose, so the demo also crosses shard boundaries (production default: 2^32 bits)
    const shared = new RedisBloomFilter(redis, { prefix, name: 'product-ids', ...size, shardBits: 8 * 16_384 });
    const ids = Array.from({ length: 50_000 }, (_, i) => `product:${i}`);
    mem.addAll(ids);
    let t = performance.now();
    await shared.addAll(ids);
    const redisAddMs = performance.now() - t;
    const exported = await shared.export();
    const sameBits = Buffer.compare(Buffer.from(exported.bytes), Buffer.from(mem.bytes)) === 0;

    const loaded = new RedisBloomFilter(redis, { prefix, name: 'loaded-from-memory', ...size, shardBits: 8 * 16_384 });
    await loaded.load(mem);
    const probes = [...ids.slice(0, 5000), ...Array.from({ length: 20_000 }, (_, i) => `missing:${i}`)];
    t = performance.now();
    const redisAnswers = await Promise.all(probes.map((k) => loaded.has(k)));
    const redisHasMs = performance.now() - t;
    const disagreements = probes.filter((k, i) => redisAnswers[i] !== mem.has(k)).length;
    d.table([
      {
        backend: 'memory (Uint8Array)',
        'set bits': mem.bitsSet,
        'estimatedCount()': Math.round(mem.estimatedCount()),
        'FP rate now': mem.currentFalsePositiveRate().toExponential(2),
      },
      {
        backend: `Redis (${shared.keys.length} shard keys)`,
        'set bits': await shared.bitsSet(),
        'estimatedCount()': Math.round(await shared.estimatedCount()),
        'FP rate now': (await shared.currentFalsePositiveRate()).toExponential(2),
      },
    ]);
    d.log(
      `Redis: addAll ${ids.length} in ${redisAddMs.toFixed(0)} ms (256 items per Lua call); ${probes.length} concurrent has() in ${redisHasMs.toFixed(0)} ms (one Lua call each)`,
    );
    d.log(
      `Redis → memory export: ${sameBits ? 'identical bytes' : 'DIFFERENT bytes'}; memory → Redis load: ${disagreements} disagreements over ${probes.length} probes`,
    );
    d.check(sameBits, 'a filter built in Redis must export to exactly the bytes the memory filter holds');
    d.check(disagreements === 0, 'a memory filter loaded into Redis must answer every probe the same way');
    return `FP within tolerance=${allWithin} (seed config 1e6@1%: ${rows[0]!['measured FP']}), false negatives=${falseNegatives}, memory⇄Redis identical=${sameBits && disagreements === 0}`;
  },
});
