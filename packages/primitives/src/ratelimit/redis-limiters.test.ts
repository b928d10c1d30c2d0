import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { DeadlineExceededError } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { RedisSlidingWindow, RedisTokenBucket } from './index.js';

const server = await startRedis();
const redis = server.client();
const extra = Array.from({ length: 4 }, () => server.client());
const prefix = `gk:test:${process.pid}:`;
let n = 0;
const key = () => `k${n++}`;

/** Redis' clock as token-bucket.lua counts it: ms (with µs fractions) since Unix 1700000000. */
async function redisNow(): Promise<number> {
  const [sec, usec] = await redis.time();
  return (Number(sec) - 1_700_000_000) * 1000 + Number(usec) / 1000;
}
/** The tokens a bucket holds now, read from its stored time (when it will be full again). */
async function tokensIn(b: RedisTokenBucket): Promise<number> {
  const tat = Number(await redis.get(b.redisKey));
  const now = await redisNow();
  return b.burst - (Math.max(tat, now) - now) / (1000 / b.ratePerSec);
}

afterAll(async () => {
  await server.stop();
});

describe('RedisTokenBucket', () => {
  it('spends the burst, then refuses with remaining 0 and when to retry', async () => {
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 0.5, burst: 3 });
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await b.allow());
    expect(rs.map((r) => [r.allowed, r.remaining, r.source])).toEqual([
      [true, 2, 'redis'],
      [true, 1, 'redis'],
      [true, 0, 'redis'],
      [false, 0, 'redis'],
    ]);
    // at 0.5 tokens/s a whole token takes up to 2 s to come back
    expect(rs[3]?.retryAfterMs).toBeGreaterThan(1000);
    expect(rs[3]?.retryAfterMs).toBeLessThanOrEqual(2000);
  });

  it('many clients at once admit exactly the burst (the script is atomic)', async () => {
    const k = key();
    const clients = [redis, ...extra];
    const buckets = clients.map((c) => new RedisTokenBucket({ redis: c, prefix, key: k, ratePerSec: 0.001, burst: 50, timeoutMs: 30_000 }));
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => (buckets[i % buckets.length] as RedisTokenBucket).allow()));
    expect(results.every((r) => r.source === 'redis')).toBe(true);
    expect(results.filter((r) => r.allowed)).toHaveLength(50);
  });

  it('refills from Redis TIME with sub-ms precision, capped at burst', async () => {
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 10, burst: 5 });
    await b.allow();
    // a bucket refilled for the last 250 ms since it was empty (by Redis' clock): 2.5 tokens are
    // due, i.e. it is full again in (5 - 2.5) × 100 ms
    const now = await redisNow();
    await redis.set(b.redisKey, now + 250); // no TTL
    const r = await b.allow();
    expect(r.allowed).toBe(true);
    expect(r.remaining).toBe(1); // 2.5 (+ a few ms of refill) - 1 → 1 whole token
    expect(await tokensIn(b)).toBeGreaterThanOrEqual(1.5);
    expect(await tokensIn(b)).toBeLessThan(1.6);
    await redis.set(b.redisKey, now - 3_600_000); // full an hour ago: capped at burst, not 36 005
    expect((await b.allow()).remaining).toBe(4);
  });

  it('ignores the client clock and never moves the stored time backwards', async () => {
    const clock = new ManualClock(0); // a client clock 56 years off changes nothing
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 1000, burst: 1, clock });
    expect((await b.allow()).allowed).toBe(true);
    // stored time an hour ahead of Redis' clock (as if Redis' clock stepped back): empty until
    // then, and nothing moves the stored time back to "now"
    const future = String((await redisNow()) + 3_600_000);
    await redis.set(b.redisKey, future); // no TTL
    const r = await b.allow();
    expect(r.allowed).toBe(false);
    expect(r.retryAfterMs).toBeGreaterThan(3_599_000);
    expect(await redis.get(b.redisKey)).toBe(future);
  });

  it('expires between 1 and 2 × burst / rate after the bucket is full again, setting the TTL only when needed', async () => {
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 10, burst: 10 });
    const fullMs = 1000; // burst / rate, in ms
    const lifetime = async () => {
      // ms the key outlives the moment the bucket is full again
      const [pttl, tat, now] = await Promise.all([redis.pttl(b.redisKey), redis.get(b.redisKey), redisNow()]);
      return pttl - (Number(tat) - now);
    };
    await b.allow(5);
    let after = await lifetime();
    expect(after).toBeGreaterThan(fullMs - 20);
    expect(after).toBeLessThanOrEqual(2 * fullMs + 20);
    expect(b.redisKey).toBe(`${prefix}tb:{${b.redisKey.slice(prefix.length + 4, -1)}}`);
    // draining the bucket moves tat ~1 s ahead: still expires after it, within the bound
    await b.allow(5);
    after = await lifetime();
    expect(after).toBeGreaterThan(fullMs - 20);
    expect(after).toBeLessThanOrEqual(2 * fullMs + 20);
    // a reservation ahead moves tat past burst / rate from now: the key still outlives it
    const clock = new ManualClock(0);
    const slow = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 1, burst: 1, clock });
    await slow.allow();
    const waiting = slow.wait(1); // reserves the next token, 1 s ahead
    for (let i = 0; i < 50 && clock.pendingTimers === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const [pttl, tat, now] = await Promise.all([redis.pttl(slow.redisKey), redis.get(slow.redisKey), redisNow()]);
    expect(Number(tat) - now).toBeGreaterThan(1_900);
    expect(pttl).toBeGreaterThan(Number(tat) - now);
    await clock.advance(1_000);
    await waiting;
  });

  it('many calls in one slot set the expiry once (KEEPTTL), and the key still lives until full', async () => {
    // full = burst / rate = 10^9 ms (11.6 days): 21 calls move tat by 21 ms, so they stay in one slot unless
    // the first lands within 21 ms of a slot's end (odds 2 × 10^-8)
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 1, burst: 1_000_000 });
    await b.allow();
    const first = await redis.pexpiretime(b.redisKey);
    for (let i = 0; i < 20; i++) await b.allow();
    expect(await redis.pexpiretime(b.redisKey)).toBe(first); // same slot: the expiry did not move
    const tat = Number(await redis.get(b.redisKey)) + 1_700_000_000_000; // Unix ms
    expect(first).toBeGreaterThan(tat + 1_000_000_000);
    expect(first).toBeLessThanOrEqual(tat + 2_000_000_001);
  });

  it('n > burst can never succeed; bad options are typed errors', async () => {
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 1, burst: 2 });
    const r = await b.allow(3);
    expect(r).toMatchObject({ allowed: false, retryAfterMs: Number.POSITIVE_INFINITY });
    expect((await b.allow(2)).allowed).toBe(true); // nothing was taken by the refused call
    await expect(b.wait(3)).rejects.toThrow('n must be an integer <= burst (2) for wait, got 3');
    await expect(b.allow(-1)).rejects.toThrow('n must be an integer >= 0, got -1');
    expect(() => new RedisTokenBucket({ redis, key: 'x', ratePerSec: 0, burst: 1 })).toThrow(/ratePerSec must be a finite number >= /);
    expect(() => new RedisTokenBucket({ redis, key: 'x', ratePerSec: 1e-300, burst: 1 })).toThrow(
      'ratePerSec must be a rate that refills burst (1) within 2^53 ms',
    );
    expect(() => new RedisTokenBucket({ redis, key: 'x', ratePerSec: 2e6, burst: 1 })).toThrow(
      'ratePerSec must be a number <= 1000000 (Redis TIME resolves microseconds), got 2000000',
    );
    expect(() => new RedisTokenBucket({ redis, key: '', ratePerSec: 1, burst: 1 })).toThrow(InvalidArgumentError);
    expect(() => new RedisTokenBucket({ redis, key: 'a}b', ratePerSec: 1, burst: 1 })).toThrow(/braces/);
    expect(() => new RedisTokenBucket({ redis, key: 'x', ratePerSec: 1, burst: 1, failPolicy: 'maybe' as 'local' })).toThrow(
      'failPolicy must be "failOpen", "failClosed" or "local", got "maybe"',
    );
  });

  it('wait reserves ahead in Redis and sleeps on the clock; a deadline too close takes nothing', async () => {
    const clock = new ManualClock(0);
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 1, burst: 1, clock });
    await b.wait(1); // the burst
    await expect(b.wait(1, { deadline: clock.now() + 100 })).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(await tokensIn(b)).toBeLessThan(0.2); // no debt taken
    expect(await tokensIn(b)).toBeGreaterThanOrEqual(0);
    let done = false;
    const p = b.wait(1).then(() => (done = true));
    for (let i = 0; i < 50 && clock.pendingTimers === 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    expect(await tokensIn(b)).toBeLessThan(-0.5); // reserved ahead
    await clock.advance(1_000);
    await p;
    expect(done).toBe(true);
  });

  it('survives SCRIPT FLUSH (NOSCRIPT → EVAL fallback): Redis itself answers, not the fail policy', async () => {
    const b = new RedisTokenBucket({ redis, prefix, key: key(), ratePerSec: 1, burst: 1 });
    await redis.script('FLUSH');
    const r = await b.allow();
    expect(r.allowed).toBe(true);
    expect(r.source).toBe('redis');
    expect(b.degraded).toBe(false);
  });
});

describe('RedisSlidingWindow', () => {
  it('admits limit calls per window and says when the oldest leaves', async () => {
    const w = new RedisSlidingWindow({ redis, prefix, key: key(), limit: 3, windowMs: 1000 });
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await w.allow());
    expect(rs.map((r) => [r.allowed, r.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(rs[3]?.retryAfterMs).toBeGreaterThan(900);
    expect(rs[3]?.retryAfterMs).toBeLessThanOrEqual(1000);
    const pttl = await redis.pttl(w.redisKey);
    expect(pttl).toBeGreaterThan(0); // the log expires (-1 would be a key kept forever)
    expect(pttl).toBeLessThanOrEqual(1000);
    expect((await w.allow(4)).retryAfterMs).toBe(Number.POSITIVE_INFINITY);
  });

  it('slides: calls leave the window one by one, not all at a boundary', async () => {
    const w = new RedisSlidingWindow({ redis, prefix, key: key(), limit: 4, windowMs: 10_000 });
    await w.allow(2);
    // age the two admitted calls by 9 s; two more now fill the window
    const members = await redis.zrange(w.redisKey, 0, -1, 'WITHSCORES');
    for (let i = 0; i < members.length; i += 2) await redis.zadd(w.redisKey, Number(members[i + 1]) - 9_000, members[i] as string);
    expect((await w.allow(2)).allowed).toBe(true);
    const refused = await w.allow();
    expect(refused.allowed).toBe(false);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(1_000); // the aged pair leaves in ≤ 1 s...
    const two = await w.allow(3);
    expect(two.retryAfterMs).toBeGreaterThan(9_000); // ...but 3 slots need one of the fresh calls gone
  });

  it('a call exactly windowMs old (by Redis TIME) has left the window', async () => {
    // Redis TIME cannot be frozen: an attempt is conclusive when the script ran in the same ms
    // as the TIME read before it (checked by a TIME read after it); a few attempts suffice
    const ms = async () => {
      const [sec, usec] = await redis.time();
      return Number(sec) * 1000 + Math.floor(Number(usec) / 1000);
    };
    let conclusive = 0;
    for (let attempt = 0; attempt < 50 && conclusive < 3; attempt++) {
      const w = new RedisSlidingWindow({ redis, prefix, key: key(), limit: 1, windowMs: 1000 });
      const before = await ms();
      await redis.zadd(w.redisKey, before - 1000, 'old');
      const r = await w.allow();
      if ((await ms()) !== before) continue;
      conclusive++;
      expect(r.allowed).toBe(true);
      expect(await redis.zscore(w.redisKey, 'old')).toBeNull();
    }
    expect(conclusive).toBeGreaterThan(0);
  });

  it('many clients at once admit exactly the limit', async () => {
    const k = key();
    const ws = [redis, ...extra].map((c) => new RedisSlidingWindow({ redis: c, prefix, key: k, limit: 60, windowMs: 60_000, timeoutMs: 30_000 }));
    const results = await Promise.all(Array.from({ length: 400 }, (_, i) => (ws[i % ws.length] as RedisSlidingWindow).allow()));
    expect(results.every((r) => r.source === 'redis')).toBe(true);
    expect(results.filter((r) => r.allowed)).toHaveLength(60);
    expect(await redis.zcard(`${prefix}sw:{${k}}`)).toBe(60);
  });
});
