import { type RedisServer, startRedisServers } from '@gopherkit/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { DeadlineExceededError } from '../context/index.js';
import { RateLimiterUnavailableError, type RateLimitSource, type RedisFailPolicy, RedisSlidingWindow, RedisTokenBucket } from './index.js';

// One server of our own that the tests kill and restart while limiters are in use.
let server: RedisServer;
beforeAll(async () => {
  [server] = (await startRedisServers(1)) as [RedisServer];
});
afterAll(async () => {
  await server.stop();
});

const tick = () => new Promise((r) => setTimeout(r, 10));

/** Calls `allow` in a loop (like live traffic) until `stop()`; records who answered. */
function traffic(allow: () => Promise<{ source: RateLimitSource; allowed: boolean }>) {
  const seen: { source: RateLimitSource; allowed: boolean }[] = [];
  let running = true;
  let failures = 0;
  const loop = (async () => {
    while (running) {
      try {
        seen.push(await allow());
      } catch {
        failures++;
      }
      await tick();
    }
  })();
  return {
    seen,
    async until(pred: (s: RateLimitSource) => boolean, maxMs = 20_000) {
      const start = Date.now();
      while (!seen.some((x) => pred(x.source))) {
        if (Date.now() - start > maxMs) throw new Error(`no answer from ${pred} within ${maxMs} ms: ${JSON.stringify(seen.slice(-5))}`);
        await tick();
      }
    },
    async stop() {
      running = false;
      await loop;
      return failures;
    },
  };
}

describe.each<[RedisFailPolicy, RateLimitSource, boolean]>([
  ['local', 'local', true],
  ['failOpen', 'failOpen', true],
  ['failClosed', 'failClosed', false],
])('Redis killed mid-run, failPolicy %s', (policy, fallbackSource, admitsWhileDown) => {
  it('keeps answering through the outage with the policy, emits events, and returns to Redis after restart', async () => {
    const redis = server.client({ maxRetriesPerRequest: 1 });
    const bucket = new RedisTokenBucket({
      redis,
      key: `kill-${policy}`,
      prefix: `gk:test:${process.pid}:`,
      ratePerSec: 1000,
      burst: 1000,
      failPolicy: policy,
      timeoutMs: 1_000, // a backstop only: a killed server fails calls fast; a loaded machine must not look like an outage
      probeIntervalMs: 50,
    });
    const events: string[] = [];
    bucket.on('degraded', (e) => events.push(`degraded:${e.policy}`));
    bucket.on('recovered', () => events.push('recovered'));
    let redisErrors = 0;
    bucket.on('redisError', () => redisErrors++);

    const t = traffic(() => bucket.allow());
    await t.until((s) => s === 'redis');
    await server.kill();
    let before = 0;
    try {
      await t.until((s) => s === fallbackSource);
      expect(bucket.degraded).toBe(true);
      const during = t.seen.filter((x) => x.source === fallbackSource);
      expect(during.every((x) => x.allowed === admitsWhileDown)).toBe(true);
    } finally {
      before = t.seen.length;
      await server.restart();
    }
    const start = Date.now();
    while (!t.seen.slice(before).some((x) => x.source === 'redis')) {
      if (Date.now() - start > 20_000) throw new Error('never went back to Redis');
      await tick();
    }
    const failures = await t.stop();
    expect(failures).toBe(0); // no call ever threw: the policy answered every one
    expect(bucket.degraded).toBe(false);
    // degraded first, recovered last, alternating (a slow moment may add a pair, never break the order)
    expect(events[0]).toBe(`degraded:${policy}`);
    expect(events.at(-1)).toBe('recovered');
    expect(events.every((e, i) => e === (i % 2 === 0 ? `degraded:${policy}` : 'recovered'))).toBe(true);
    expect(redisErrors).toBeGreaterThanOrEqual(1);
    redis.disconnect();
  }, 60_000);
});

describe('while Redis hangs (SIGSTOP)', () => {
  it('a call slower than timeoutMs is answered by the fail policy, on the injected clock', async () => {
    const redis = server.client({ maxRetriesPerRequest: 1 });
    const clock = new ManualClock(Date.now());
    const bucket = new RedisTokenBucket({ redis, key: 'frozen', ratePerSec: 1, burst: 5, timeoutMs: 300, clock });
    const errors: unknown[] = [];
    bucket.on('redisError', (e) => errors.push(e.error));
    expect((await bucket.allow()).source).toBe('redis');
    server.freeze();
    try {
      let settled = false;
      const p = bucket.allow().then((r) => {
        settled = true;
        return r;
      });
      await clock.advance(299);
      expect(settled).toBe(false);
      await clock.advance(100); // the shared watchdog checks every timeoutMs / 4
      const r = await p;
      expect(r).toMatchObject({ source: 'local', allowed: true });
      expect((errors[0] as Error).message).toBe('Redis did not answer within 300 ms');
    } finally {
      server.thaw();
    }
    redis.disconnect();
  });
});

describe('while Redis is down', () => {
  it('local fallback still meters: a burst-3 bucket admits 3, then refuses', async () => {
    const redis = server.client({ maxRetriesPerRequest: 1 });
    const bucket = new RedisTokenBucket({ redis, key: 'down-local', ratePerSec: 0.01, burst: 3, timeoutMs: 100, probeIntervalMs: 60_000 });
    const window = new RedisSlidingWindow({ redis, key: 'down-sw', limit: 2, windowMs: 60_000, timeoutMs: 100, probeIntervalMs: 60_000 });
    await server.kill();
    const rs = [];
    for (let i = 0; i < 4; i++) rs.push(await bucket.allow());
    expect(rs.map((r) => `${r.source}:${r.allowed}`)).toEqual(['local:true', 'local:true', 'local:true', 'local:false']);
    expect(rs[3]?.retryAfterMs).toBeGreaterThan(0);
    const ws = [];
    for (let i = 0; i < 3; i++) ws.push(await window.allow());
    expect(ws.map((r) => `${r.source}:${r.allowed}`)).toEqual(['local:true', 'local:true', 'local:false']);
    await server.restart();
    redis.disconnect();
  }, 30_000);

  it('wait rejects with RateLimiterUnavailableError under failClosed and resolves under failOpen', async () => {
    const redis = server.client({ maxRetriesPerRequest: 1 });
    const closed = new RedisTokenBucket({ redis, key: 'w1', ratePerSec: 1, burst: 1, failPolicy: 'failClosed', timeoutMs: 100 });
    const open = new RedisTokenBucket({ redis, key: 'w2', ratePerSec: 1, burst: 1, failPolicy: 'failOpen', timeoutMs: 100 });
    await server.kill();
    await expect(closed.wait(1)).rejects.toBeInstanceOf(RateLimiterUnavailableError);
    await expect(closed.wait(1)).rejects.toThrow(/Redis is unavailable and failPolicy is failClosed/);
    await open.wait(1);
    await open.wait(1);
    await server.restart();
    redis.disconnect();
  }, 30_000);
});

describe('a client that throws instead of rejecting', () => {
  it('counts as a failed call: the policy answers, redisError fires, and no call is left in flight', async () => {
    const clock = new ManualClock(0);
    const broken = {
      evalsha() {
        throw new Error('client is closed');
      },
      eval() {
        throw new Error('client is closed');
      },
    };
    const bucket = new RedisTokenBucket({ redis: broken as never, key: 'throws', ratePerSec: 1, burst: 2, timeoutMs: 100, clock });
    const events: string[] = [];
    bucket.on('redisError', (e) => events.push(`error:${(e.error as Error).message}`));
    bucket.on('degraded', (e) => events.push(`degraded:${e.policy}`));
    expect(await bucket.allow()).toMatchObject({ source: 'local', allowed: true });
    expect(events).toEqual(['error:client is closed', 'degraded:local']);
    // the watchdog finds nothing left to time out: no second error, no timer left pending
    await clock.advance(1_000);
    expect(events).toHaveLength(2);
    expect(clock.pendingTimers).toBe(0);
  });
});

/** A client whose script calls fail with `fail` while `down()` says so, else answer `answer`; counts EVALSHA calls. */
function fakeRedis(down: () => boolean, answer: unknown = 1) {
  const client = {
    evalshaCalls: 0,
    evalsha() {
      client.evalshaCalls++;
      return down() ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(answer);
    },
    eval() {
      return down() ? Promise.reject(new Error('ECONNREFUSED')) : Promise.resolve(answer);
    },
  };
  return client;
}

describe('degraded mode, with a fake client and a manual clock', () => {
  it('wait under failPolicy local meters with the local bucket while Redis is down', async () => {
    const clock = new ManualClock(0);
    const bucket = new RedisTokenBucket({ redis: fakeRedis(() => true) as never, key: 'wait-local', ratePerSec: 1, burst: 1, clock });
    await bucket.wait(1); // the burst
    expect(bucket.degraded).toBe(true);
    await expect(bucket.wait(1, { deadline: clock.now() + 100 })).rejects.toBeInstanceOf(DeadlineExceededError); // the next token is 1 s away
    const p = bucket.wait(1);
    await clock.advance(1_000);
    await expect(p).resolves.toBeUndefined();
  });

  it('while degraded, Redis is probed one call at a time, at most once per probeIntervalMs', async () => {
    const clock = new ManualClock(0);
    const redis = fakeRedis(() => true);
    const bucket = new RedisTokenBucket({ redis: redis as never, key: 'probe', ratePerSec: 1, burst: 1_000, probeIntervalMs: 1_000, clock });
    expect((await bucket.allow()).source).toBe('local'); // fails: degraded from now on
    expect(redis.evalshaCalls).toBe(1);
    for (let i = 0; i < 20; i++) expect((await bucket.allow()).source).toBe('local');
    await clock.advance(999);
    for (let i = 0; i < 20; i++) await bucket.allow();
    expect(redis.evalshaCalls).toBe(1); // no probe within the interval
    await clock.advance(1);
    const rs = await Promise.all(Array.from({ length: 20 }, () => bucket.allow())); // concurrent: one probe, the rest answered locally
    expect(rs.every((r) => r.source === 'local')).toBe(true);
    expect(redis.evalshaCalls).toBe(2);
    for (let i = 0; i < 20; i++) await bucket.allow();
    expect(redis.evalshaCalls).toBe(2); // the failed probe starts a new interval
    await clock.advance(1_000);
    await bucket.allow();
    expect(redis.evalshaCalls).toBe(3);
  });

  it('degraded fires once per outage, however many calls fail, and recovered once when Redis answers', async () => {
    const clock = new ManualClock(0);
    let failures = 2;
    const redis = fakeRedis(() => failures-- > 0, 4);
    const bucket = new RedisTokenBucket({ redis: redis as never, key: 'events', ratePerSec: 1, burst: 5, probeIntervalMs: 100, clock });
    const events: string[] = [];
    bucket.on('degraded', (e) => events.push(`degraded:${e.policy}`));
    bucket.on('recovered', (e) => events.push(`recovered:${e.degradedMs}`));
    let errors = 0;
    bucket.on('redisError', () => errors++);
    expect((await bucket.allow()).source).toBe('local'); // failure 1: degraded
    await clock.advance(100);
    expect((await bucket.allow()).source).toBe('local'); // failure 2, a probe: still the same outage
    await clock.advance(100);
    expect((await bucket.allow()).source).toBe('redis'); // the probe answers: recovered
    expect(errors).toBe(2);
    expect(events).toEqual(['degraded:local', 'recovered:200']);
    expect(bucket.degraded).toBe(false);
  });

  it('the local sliding window lets a call leave exactly windowMs after it was admitted', async () => {
    const clock = new ManualClock(0);
    const window = new RedisSlidingWindow({
      redis: fakeRedis(() => true) as never,
      key: 'sw-local',
      limit: 2,
      windowMs: 1_000,
      probeIntervalMs: 60_000,
      clock,
    });
    expect((await window.allow(2)).allowed).toBe(true);
    await clock.advance(999);
    const refused = await window.allow();
    expect(refused).toMatchObject({ source: 'local', allowed: false, retryAfterMs: 1 });
    await clock.advance(1); // the two calls are exactly windowMs old: out of the window
    expect(await window.allow(2)).toMatchObject({ source: 'local', allowed: true, remaining: 0 });
  });
});
