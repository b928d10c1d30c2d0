import { RedisSlidingWindow, RedisTokenBucket, TokenBucket } from '@gopherkit/primitives/ratelimit';
import { RateLimiter } from 'limiter';
import { RateLimiterRedis } from 'rate-limiter-flexible';
import { defineSuite } from './harness/suite.js';

/**
 * In-process: TokenBucket.allow() vs limiter's tryRemoveTokens (both sync, never refusing at
 * this rate). Redis: RedisTokenBucket.allow() vs rate-limiter-flexible's RateLimiterRedis.consume()
 * (on its own client with the same settings) vs a raw EVALSHA of a trivial `return 1` script on the
 * bucket's client — the ceiling any one-script
 * limiter can reach. Redis tasks run 32 calls concurrently per iteration (ioredis pipelines them),
 * as a busy server would. After the runs, a paired measurement (alternating blocks) reports the
 * bucket's share of the EVALSHA ceiling as `pctOfEvalshaCeiling` and its speed relative to
 * rate-limiter-flexible as `vsRateLimiterFlexible`.
 */
export default defineSuite({
  reference: 'limiter: tryRemoveTokens',
  inProcess: false,
  async setup(b) {
    const BATCH = 1000;
    const bucket = new TokenBucket({ ratePerSec: 1e12, burst: 1_000_000_000 });
    let sink = 0;
    b.add(
      'TokenBucket.allow',
      () => {
        for (let i = 0; i < BATCH; i++) if (bucket.allow()) sink++;
      },
      { batch: BATCH },
    );
    const limiter = new RateLimiter({ tokensPerInterval: 1e12, interval: 'second' });
    b.add(
      'limiter: tryRemoveTokens',
      () => {
        for (let i = 0; i < BATCH; i++) if (limiter.tryRemoveTokens(1)) sink++;
      },
      { batch: BATCH, peer: 'limiter' },
    );

    const server = await b.redis();
    const redis = server.client();
    const prefix = `gk:bench:rl:${process.pid}:`;
    const CONCURRENT = 32;
    const redisBucket = new RedisTokenBucket({ redis, prefix, key: 'bucket', ratePerSec: 1e6, burst: 1_000_000_000, timeoutMs: 30_000 });
    const sliding = new RedisSlidingWindow({ redis, prefix, key: 'sliding', limit: 1_000_000_000, windowMs: 50, timeoutMs: 30_000 });
    // rate-limiter-flexible calls defineCommand on the client it is given, which measurably slows
    // every other command on that client object; it gets its own client with the same settings
    const rlf = new RateLimiterRedis({ storeClient: server.client(), keyPrefix: `${prefix}rlf`, points: 1e12, duration: 60 });
    const sha = (await redis.script('LOAD', 'return 1')) as string;
    const concurrent = (once: () => Promise<unknown>) => async () => {
      await Promise.all(Array.from({ length: CONCURRENT }, once));
    };
    const bucketCall = () => redisBucket.allow();
    const ceilingCall = () => redis.evalsha(sha, 0);
    b.add('raw EVALSHA return 1 (ceiling)', concurrent(ceilingCall), { batch: CONCURRENT });
    b.add('RedisTokenBucket.allow', concurrent(bucketCall), { batch: CONCURRENT });
    const rlfCall = () => rlf.consume('k');
    b.add('rate-limiter-flexible: RateLimiterRedis.consume', concurrent(rlfCall), {
      batch: CONCURRENT,
      peer: 'rate-limiter-flexible',
    });
    b.add(
      'RedisSlidingWindow.allow (50 ms window)',
      concurrent(() => sliding.allow()),
      { batch: CONCURRENT },
    );

    b.defer(async () => {
      // paired: alternate blocks so every side sees the same machine load (the tasks above run
      // one after another, seconds apart, and this machine's speed drifts by more than the gap)
      const sides = { bucket: bucketCall, ceiling: ceilingCall, rlf: rlfCall };
      const ms = { bucket: 0, ceiling: 0, rlf: 0 };
      const block = async (call: () => Promise<unknown>) => {
        const t = performance.now();
        for (let i = 0; i < 50; i++) await concurrent(call)();
        return performance.now() - t;
      };
      for (const call of Object.values(sides)) await block(call); // warm every path first
      const order = Object.keys(sides) as (keyof typeof sides)[];
      for (let round = 0; round < (b.short ? 3 : 12); round++) {
        // rotate the order every round so no side always runs right after another
        for (let i = 0; i < order.length; i++) {
          const side = order[(i + round) % order.length] as keyof typeof sides;
          ms[side] += await block(sides[side]);
        }
      }
      b.extra('RedisTokenBucket.allow', {
        pctOfEvalshaCeiling: Math.round((ms.ceiling / ms.bucket) * 100),
        vsRateLimiterFlexible: Number((ms.rlf / ms.bucket).toFixed(2)),
        sink: sink > 0,
      });
    });
  },
});
