import { Cache } from '@gopherkit/patterns/cache';
import type { RedisServer } from '@gopherkit/testkit';
import { defineDemo, mulberry32 } from './harness/demo.js';

/**
 * Cache avalanche (缓存雪崩, seed L3772–3847), both kinds:
 * 1. Many keys written together with one TTL expire together. 10 000 keys are written at once
 *    with a fixed 120 s TTL and another 10 000 with the default ±10% jitter; every key's PTTL is
 *    read back from Redis and we chart expirations per second. When every key is hot, each
 *    expiry is one reload, so the peak second is the peak DB load.
 * 2. Redis itself goes down mid-run. Naive cache-aside treats the error as a miss and sends every
 *    request to the DB (seed defect: "any Redis error counts as a miss"); the `Cache` breaker opens,
 *    L1 serves what it has (stale) and the rest load under `fallbackConcurrency`.
 */
const KEYS = 10_000;
const TTL_MS = 120_000;
const BUCKET_MS = 1000;

/**
 * Writes KEYS keys with a fixed TTL and KEYS keys with the default ±10% jitter, then reads every
 * key's remaining PTTL back from Redis and buckets the instants they will expire (relative to the
 * first write) per second.
 */
async function expiryHistogram(server: RedisServer): Promise<{ fixed: number[]; jittered: number[]; writeMs: number; firstBucketMs: number }> {
  const redis = server.client();
  const prefix = `demo:aval:${Date.now()}:`;
  const fixed = new Cache(redis, { prefix: `${prefix}fixed:`, ttlMs: TTL_MS, jitter: 0, redisTimeoutMs: 10_000 });
  const jittered = new Cache(redis, { prefix: `${prefix}jit:`, ttlMs: TTL_MS, random: mulberry32(11), redisTimeoutMs: 10_000 }); // default jitter ±10%
  await Promise.all([fixed.set('warm-up', 0), jittered.set('warm-up', 0)]); // scripts loaded: the burst below is plain EVALSHA
  const t0 = Date.now();
  for (let i = 0; i < KEYS; i += 1000) {
    await Promise.all(Array.from({ length: 1000 }, (_, j) => Promise.all([fixed.set(`k${i + j}`, { i }), jittered.set(`k${i + j}`, { i })])));
  }
  const writeMs = Date.now() - t0;
  const expiries = async (mode: string) => {
    const pipeline = redis.pipeline();
    for (let i = 0; i < KEYS; i++) pipeline.pttl(`${prefix}${mode}:cache:k${i}`);
    const now = Date.now();
    const answers = (await pipeline.exec()) ?? [];
    return answers.map(([, pttl]) => now + Number(pttl) - t0);
  };
  const [fx, jt] = [await expiries('fixed'), await expiries('jit')];
  await Promise.all([fixed.close(), jittered.close()]);
  const firstBucketMs = Math.floor((TTL_MS * 0.9) / BUCKET_MS) * BUCKET_MS - BUCKET_MS;
  const buckets = Math.ceil((TTL_MS * 1.1 + writeMs + BUCKET_MS - firstBucketMs) / BUCKET_MS) + 1;
  const hist = (offsets: number[]) => {
    const h = new Array<number>(buckets).fill(0);
    for (const t of offsets) {
      const b = Math.min(buckets - 1, Math.max(0, Math.floor((t - firstBucketMs) / BUCKET_MS)));
      h[b] = (h[b] ?? 0) + 1;
    }
    return h;
  };
  return { fixed: hist(fx), jittered: hist(jt), writeMs, firstBucketMs };
}

interface OutageResult {
  requests: number;
  dbCallsWhileDown: number;
  /** Peak concurrent DB queries while Redis was down. */
  peakDbConcurrency: number;
  staleServed: number;
  errors: number;
  breakerOpened: boolean;
  recovered: boolean;
}

/** 40 workers loop over 2000 product keys; Redis is killed at 1 s and restarted at 3 s. */
async function outage(server: RedisServer, mode: 'naive' | 'gopherkit'): Promise<OutageResult> {
  const client = server.client({ enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 100 });
  client.on('error', () => {});
  const prefix = `demo:aval:outage:${mode}:`;
  let inDb = 0;
  let peak = 0;
  let down = false;
  let dbCallsWhileDown = 0;
  const loader = async (key: string) => {
    inDb++;
    if (down) {
      peak = Math.max(peak, inDb);
      dbCallsWhileDown++;
    }
    await new Promise((r) => setTimeout(r, 5)); // a 5 ms query
    inDb--;
    return { key, price: 1 };
  };
  const cache = new Cache(client, { prefix, ttlMs: 60_000, redisTimeoutMs: 200, fallbackConcurrency: 8, l1: { maxEntries: 500, ttlMs: 200 } });
  let staleServed = 0;
  let breakerOpened = false;
  cache.on('stale', () => staleServed++);
  cache.on('breakerOpen', () => {
    breakerOpened = true;
  });
  await cache.ready();
  const naive = async (key: string) => {
    try {
      const hit = await client.get(prefix + key);
      if (hit !== null) return JSON.parse(hit);
    } catch {
      // seed L3002: an error is treated like a miss
    }
    const v = await loader(key);
    await client.set(prefix + key, JSON.stringify(v), 'PX', 60_000).catch(() => {});
    return v;
  };
  const take = mode === 'naive' ? naive : (key: string) => cache.take(key, () => loader(key));
  const rnd = mulberry32(5);
  const started = Date.now();
  let requests = 0;
  let errors = 0;
  let stop = false;
  const workers = Array.from({ length: 40 }, async () => {
    while (!stop) {
      requests++;
      try {
        await take(`product:${Math.floor(rnd() * 2000)}`);
      } catch {
        errors++;
      }
      if (!down) await new Promise((r) => setImmediate(r));
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  await server.kill();
  down = true;
  await new Promise((r) => setTimeout(r, 2000));
  await server.restart();
  down = false;
  let recovered = mode === 'naive';
  while (!recovered && Date.now() - started < 15_000) {
    await new Promise((r) => setTimeout(r, 100));
    recovered = cache.redisBreaker?.state === 'closed' && (await client.exists(`${prefix}product:1`).catch(() => -1)) >= 0;
  }
  await new Promise((r) => setTimeout(r, 500));
  stop = true;
  await Promise.all(workers);
  await cache.close();
  client.disconnect();
  return { requests, dbCallsWhileDown, peakDbConcurrency: peak, staleServed, errors, breakerOpened, recovered };
}

export default defineDemo({
  description: 'Cache avalanche: 10k keys with fixed vs jittered TTL (expiry histogram, peak DB load); Redis killed mid-run, breaker bounds DB load',
  async run(d) {
    const [server] = await d.redisServers(1);
    if (!server) throw new Error('no Redis server');
    const { fixed, jittered, writeMs, firstBucketMs } = await expiryHistogram(server);
    const toRows = (h: number[]) => h.map((v, i) => ({ label: `+${(i * BUCKET_MS + firstBucketMs) / 1000} s`, value: v }));
    d.log(`${KEYS} keys per mode written in ${writeMs} ms; expirations per second after the first write (PTTL read back from Redis):`);
    d.log('fixed TTL (120 s):');
    d.bars(toRows(fixed).filter((r) => r.value > 0));
    d.log('jittered TTL (120 s ±10%):');
    d.bars(toRows(jittered));
    d.record('expirations', { bucketMs: BUCKET_MS, ttlMs: TTL_MS, keys: KEYS, writeMs, fixed: toRows(fixed), jittered: toRows(jittered) });
    const peakFixed = Math.max(...fixed);
    const peakJitter = Math.max(...jittered);
    d.table([
      { ttl: 'fixed 120 s', expired: fixed.reduce((a, b) => a + b, 0), 'peak reloads/s (all keys hot)': peakFixed },
      { ttl: '120 s ±10%', expired: jittered.reduce((a, b) => a + b, 0), 'peak reloads/s (all keys hot)': peakJitter },
    ]);
    d.check(peakJitter * 3 <= peakFixed, `jitter cuts the peak expiry rate at least 3x (${peakFixed}/s → ${peakJitter}/s)`);

    const naive = await outage(server, 'naive');
    const kit = await outage(server, 'gopherkit');
    d.table([
      { mode: 'naive (error = miss)', ...naive },
      { mode: 'gopherkit Cache', ...kit },
    ]);
    d.record('outage', { naive, gopherkit: kit });
    d.check(naive.peakDbConcurrency >= 30, `naive: Redis down sends every worker to the DB at once (peak ${naive.peakDbConcurrency} concurrent queries)`);
    d.check(kit.breakerOpened, 'gopherkit: the Redis breaker opened');
    d.check(kit.peakDbConcurrency <= 8, `gopherkit: DB concurrency stays within fallbackConcurrency=8 (peak ${kit.peakDbConcurrency})`);
    d.check(kit.staleServed > 0, `gopherkit: L1 served stale values while Redis was down (${kit.staleServed})`);
    d.check(kit.errors === 0, `gopherkit: no request failed (${kit.errors} errors)`);
    d.check(kit.recovered, 'gopherkit: breaker closed again after Redis came back');
    return `peak expirations/s fixed=${peakFixed} jittered=${peakJitter}; Redis down: naive peak DB concurrency=${naive.peakDbConcurrency}, gopherkit=${kit.peakDbConcurrency} (breaker open, ${kit.staleServed} stale served)`;
  },
});
