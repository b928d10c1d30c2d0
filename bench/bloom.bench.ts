import { BloomFilter, RedisBloomFilter } from '@gopherkit/primitives/bloom';
import bloomFilters from 'bloom-filters';
import { defineSuite } from './harness/suite.js';

const N = 100_000;
const P = 0.01;
const BATCH = 1000;

/**
 * Bloom filter add/has: gopherkit's in-memory filter (MurmurHash3 x64-128 in pure JS) vs
 * bloom-filters (xxhash64 via native @node-rs/xxhash), both sized for 1e5 items at 1%; plus the
 * Redis backend (one Lua call per add/has, so a round trip each; addAll batches 256 per call).
 */
export default defineSuite({
  reference: 'bloom-filters add',
  inProcess: false,
  async setup(b) {
    const members = Array.from({ length: N }, (_, i) => `product:${i}`);
    const absent = Array.from({ length: N }, (_, i) => `missing:${i}`);
    const ours = new BloomFilter({ expectedItems: N, falsePositiveRate: P });
    const peer = bloomFilters.BloomFilter.create(N, P);
    let i = 0;
    const next = () => {
      i = (i + 1) % N;
      return i;
    };
    b.add(
      'bloom-filters add',
      () => {
        for (let j = 0; j < BATCH; j++) peer.add(members[next()]!);
      },
      { peer: 'bloom-filters', batch: BATCH },
    );
    b.add(
      'gopherkit BloomFilter add',
      () => {
        for (let j = 0; j < BATCH; j++) ours.add(members[next()]!);
      },
      { batch: BATCH },
    );
    b.add(
      'bloom-filters has (absent keys)',
      () => {
        for (let j = 0; j < BATCH; j++) peer.has(absent[next()]!);
      },
      { peer: 'bloom-filters', batch: BATCH },
    );
    b.add(
      'gopherkit BloomFilter has (absent keys)',
      () => {
        for (let j = 0; j < BATCH; j++) ours.has(absent[next()]!);
      },
      { batch: BATCH },
    );
    b.add(
      'gopherkit BloomFilter has (members)',
      () => {
        for (let j = 0; j < BATCH; j++) ours.has(members[next()]!);
      },
      { batch: BATCH },
    );

    // Both filters full (every member added), then the FP rate each actually delivers.
    for (const k of members) {
      ours.add(k);
      peer.add(k);
    }
    let oursFp = 0;
    let peerFp = 0;
    for (const k of absent) {
      if (ours.has(k)) oursFp++;
      if (peer.has(k)) peerFp++;
    }
    b.extra('gopherkit BloomFilter has (absent keys)', { measuredFpRate: oursFp / N, bits: ours.bits, hashes: ours.hashes });
    b.extra('bloom-filters has (absent keys)', { measuredFpRate: peerFp / N });

    const server = await b.redis();
    const redis = server.client();
    const prefix = `gk:bench:bloom:${process.pid}:`;
    const shared = new RedisBloomFilter(redis, { prefix, name: 'bench', expectedItems: N, falsePositiveRate: P });
    b.defer(() => shared.clear());
    const RB = 50;
    b.add(
      'gopherkit RedisBloomFilter add (50 concurrent)',
      async () => {
        await Promise.all(Array.from({ length: RB }, () => shared.add(members[next()]!)));
      },
      { batch: RB },
    );
    b.add(
      'gopherkit RedisBloomFilter has (50 concurrent)',
      async () => {
        await Promise.all(Array.from({ length: RB }, () => shared.has(absent[next()]!)));
      },
      { batch: RB },
    );
    b.add(
      'gopherkit RedisBloomFilter addAll (256 per Lua call)',
      async () => {
        const start = next();
        const keys: string[] = [];
        for (let j = 0; j < 1024; j++) keys.push(members[(start + j) % N]!);
        await shared.addAll(keys);
      },
      { batch: 1024 },
    );
  },
});
