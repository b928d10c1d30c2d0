import { RedisSlidingWindow } from '@gopherkit/primitives/ratelimit';
import { defineScript } from '@gopherkit/primitives/redis';
import { defineDemo } from './harness/demo.js';

/**
 * A fixed-window limiter (INCR a per-window counter + PEXPIRE, as go-zero's PeriodLimit and most
 * "rate limit with Redis" answers do) resets at every window boundary, so a client that sends its
 * full quota just before the boundary and again just after gets 2× the limit through in a span
 * much shorter than one window (go-zero#1567). The demo forces exactly that interleaving — two
 * bursts timed by Redis TIME around a boundary — against both limiters on the same Redis.
 */
const fixedWindow = defineScript<[number, number]>(
  'demo-fixed-window',
  `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[2])
local key = KEYS[1] .. ':' .. math.floor(now / window)
local n = redis.call('INCR', key)
if n == 1 then redis.call('PEXPIRE', key, window) end
if n <= tonumber(ARGV[1]) then return {1, now} end
return {0, now}`,
  1,
);

/** Most events inside any span shorter than `windowMs`. */
function maxInAnyWindow(times: number[], windowMs: number): number {
  const ts = [...times].sort((a, b) => a - b);
  let best = 0;
  let i = 0;
  for (let j = 0; j < ts.length; j++) {
    while ((ts[j] as number) - (ts[i] as number) >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

export default defineDemo({
  description: 'Fixed vs sliding window: two bursts around a window boundary get 2× the limit through a fixed window; the Redis sliding window holds the limit',
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const LIMIT = 100;
    const WINDOW = 2_000;
    const prefix = `gk:demo:fvs:${process.pid}:`;
    const sliding = new RedisSlidingWindow({ redis, prefix, key: 'api', limit: LIMIT, windowMs: WINDOW, timeoutMs: 10_000 });
    const redisNow = async () => {
      const [s, us] = await redis.time();
      return Number(s) * 1000 + Math.floor(Number(us) / 1000);
    };
    const sleepUntil = async (at: number) => {
      const ms = at - (await redisNow());
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
    };

    // the next window boundary at least 800 ms away, so the first burst lands well before it
    const now = await redisNow();
    let boundary = Math.ceil(now / WINDOW) * WINDOW;
    if (boundary - now < 800) boundary += WINDOW;

    const fixedAdmitted: number[] = [];
    let slidingAdmitted = 0;
    const burst = async () => {
      await Promise.all(
        Array.from({ length: LIMIT }, async () => {
          const [ok, at] = await fixedWindow.run(redis, [`${prefix}fixed`], [LIMIT, WINDOW]);
          if (ok === 1) fixedAdmitted.push(at);
          if ((await sliding.allow()).allowed) slidingAdmitted++;
        }),
      );
    };
    await sleepUntil(boundary - 400);
    await burst(); // quota spent just before the boundary...
    await sleepUntil(boundary + 100);
    await burst(); // ...and again just after it

    const slidingTimes = (await redis.zrange(sliding.redisKey, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    const fixedMax = maxInAnyWindow(fixedAdmitted, WINDOW);
    const slidingMax = maxInAnyWindow(slidingTimes, WINDOW);
    const fixedSpan = Math.max(...fixedAdmitted) - Math.min(...fixedAdmitted);
    d.table([
      { limiter: 'fixed window (INCR + PEXPIRE)', requests: 2 * LIMIT, admitted: fixedAdmitted.length, 'max in any 2 s span': fixedMax, limit: LIMIT },
      { limiter: 'RedisSlidingWindow (sorted set)', requests: 2 * LIMIT, admitted: slidingAdmitted, 'max in any 2 s span': slidingMax, limit: LIMIT },
    ]);
    d.log(`fixed window: ${fixedAdmitted.length} admitted within ${fixedSpan} ms, across the boundary at Redis time ${boundary}`);
    d.check(fixedMax >= 1.5 * LIMIT, `the fixed window must let ~2× the limit through around the boundary, got ${fixedMax}`);
    d.check(slidingMax <= LIMIT, `the sliding window never admits more than ${LIMIT} in any ${WINDOW} ms, got ${slidingMax}`);
    d.check(slidingAdmitted === LIMIT, `the sliding window admits exactly the limit over both bursts, got ${slidingAdmitted}`);
    d.record('boundary', { limit: LIMIT, windowMs: WINDOW, fixedMax, slidingMax, fixedSpan });
    return `max admitted in any ${WINDOW} ms (limit ${LIMIT}): fixed window=${fixedMax} (${(fixedMax / LIMIT).toFixed(1)}×), sliding window=${slidingMax}`;
  },
});
