import { startRedis, startRedisServers } from '@gopherkit/testkit';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { LockBusyError, LockLostError, RedisLock } from './index.js';

const server = await startRedis();
const redis = server.client();
let n = 0;
const prefix = () => `gk:test:watchdog:${process.pid}:${n++}:`;
afterAll(() => server.stop());

/** Counts the extend-script calls that reach Redis (EVALSHA of lock-extend). */
function countExtends(client: Redis, sha: () => Promise<string>): { count: () => number } {
  let calls = 0;
  type AnyFn = (...args: unknown[]) => unknown;
  const target = client as unknown as Record<'evalsha', AnyFn>;
  const original = target.evalsha.bind(client);
  let extendSha: string | undefined;
  void sha().then((s) => {
    extendSha = s;
  });
  target.evalsha = (...args) => {
    if (args[0] === extendSha) calls++;
    return original(...args);
  };
  return { count: () => calls };
}

const extendSha = async () => {
  const { readFileSync } = await import('node:fs');
  const { createHash } = await import('node:crypto');
  return createHash('sha1')
    .update(readFileSync(new URL('./extend.lua', import.meta.url), 'utf8'))
    .digest('hex');
};

describe('watchdog (ManualClock)', () => {
  it('renews every ttl/3 while held — 5x the TTL and beyond — and stops renewing after release', async () => {
    const client = server.client();
    const spy = countExtends(client, extendSha);
    const clock = new ManualClock(1_000_000);
    const p = prefix();
    const lock = new RedisLock(client, { prefix: p, clock });
    const lease = await lock.acquire('job', { ttlMs: 3000, watchdog: true });
    expect(lease.expiresAt).toBe(1_000_000 + 3000 - 32); // ttl − (ttl·0.01 + 2)
    for (let t = 1; t <= 15; t++) {
      await clock.advance(1000);
      // the renewal is a real Redis round trip: wait for its answer before moving time on
      await vi.waitFor(() => expect(lease.expiresAt).toBe(1_000_000 + t * 1000 + 3000 - 32));
      expect(spy.count()).toBe(t);
    }
    expect(lease.held).toBe(true);
    expect(lease.signal.aborted).toBe(false);
    expect(await client.pttl(`${p}lock:{job}`)).toBeGreaterThan(2000); // PEXPIRE really reset it
    await lease.release();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(30_000);
    expect(spy.count()).toBe(15);
    expect(await client.exists(`${p}lock:{job}`)).toBe(0);
  });

  it("never extends a key that another owner now holds (the seed's bare-EXPIRE watchdog bug): it reports the loss instead", async () => {
    const clock = new ManualClock(0);
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p, clock });
    const lease = await lock.acquire('job', { ttlMs: 60_000, watchdog: true });
    // our key vanished (expired) and another process took the lock for 5 s
    await redis.set(`${p}lock:{job}`, 'someone-else', 'PX', 5000);
    await clock.advance(20_000);
    await vi.waitFor(() => expect(lease.signal.aborted).toBe(true));
    expect(lease.signal.reason).toBeInstanceOf(LockLostError);
    expect(lease.signal.reason.message).toBe('lock "job" lost: another owner holds the key now');
    const pttl = await redis.pttl(`${p}lock:{job}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5000); // not extended to 60 s
    expect(await redis.get(`${p}lock:{job}`)).toBe('someone-else');
    expect(clock.pendingTimers).toBe(0);
  });

  it('maxHoldMs caps renewals; the lease then lapses and the signal says why', async () => {
    const clock = new ManualClock(0);
    const lock = new RedisLock(redis, { prefix: prefix(), clock });
    const lease = await lock.acquire('job', { ttlMs: 1000, watchdog: { intervalMs: 300, maxHoldMs: 1000 } });
    for (const t of [300, 600, 900]) {
      await clock.advanceTo(t);
      await vi.waitFor(() => expect(lease.expiresAt).toBe(t + 1000 - 12));
    }
    await clock.advance(300); // the tick at 1200 is past maxHoldMs: no renewal
    expect(lease.expiresAt).toBe(1888);
    await clock.advanceTo(1887);
    expect(lease.signal.aborted).toBe(false);
    await clock.advanceTo(1888);
    expect(lease.signal.aborted).toBe(true);
    expect(lease.signal.reason.message).toBe('lock "job" lost: held longer than watchdog.maxHoldMs=1000; renewals stopped and the lease ran out');
  });

  it('without a watchdog the signal aborts when the TTL runs out', async () => {
    const clock = new ManualClock(0);
    const lock = new RedisLock(redis, { prefix: prefix(), clock });
    const lease = await lock.acquire('job', { ttlMs: 1000 });
    await clock.advance(987);
    expect(lease.held).toBe(true);
    await clock.advance(1);
    expect(lease.held).toBe(false);
    expect(lease.signal.reason.message).toBe('lock "job" lost: its 1000 ms TTL ran out (no watchdog)');
  });

  it('a frozen Redis (SIGSTOP) hangs the renewal; the loss is reported exactly when the validity runs out', async () => {
    const [s] = await startRedisServers(1);
    if (!s) throw new Error('no server');
    try {
      const client = s.client();
      const clock = new ManualClock(0);
      const lock = new RedisLock(client, { prefix: prefix(), clock });
      const lease = await lock.acquire('job', { ttlMs: 3000, watchdog: true });
      await clock.advance(1000); // one good renewal
      await vi.waitFor(() => expect(lease.expiresAt).toBe(1000 + 2968));
      s.freeze();
      await clock.advance(1000); // renewal sent, no answer
      await clock.advanceTo(1000 + 2967);
      expect(lease.signal.aborted).toBe(false);
      await clock.advanceTo(1000 + 2968);
      expect(lease.signal.aborted).toBe(true);
      expect(lease.signal.reason).toBeInstanceOf(LockLostError);
      expect(lease.signal.reason.message).toMatch(/^lock "job" lost: no renewal was confirmed before the validity ran out/);
      expect(clock.pendingTimers).toBe(0);
      s.thaw();
    } finally {
      await s.stop();
    }
  });
});

describe('watchdog (real Redis TTL)', () => {
  // 500 ms rather than less: a loaded CI machine can stall the event loop for a couple of hundred ms
  it('keeps a 500 ms lock alive for 5x its TTL while the holder works, then lets it go on release', { timeout: 20_000 }, async () => {
    const p = prefix();
    const holder = new RedisLock(server.client(), { prefix: p });
    const rival = new RedisLock(server.client(), { prefix: p });
    const lease = await holder.acquire('job', { ttlMs: 500, watchdog: true });
    const started = Date.now();
    let rivalTries = 0;
    while (Date.now() - started < 2500) {
      await expect(rival.acquire('job', { retry: 'none' })).rejects.toBeInstanceOf(LockBusyError);
      rivalTries++;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(rivalTries).toBeGreaterThan(5);
    expect(lease.held).toBe(true);
    expect(await redis.get(`${p}lock:{job}`)).toBe(lease.token);
    await lease.release();
    await new Promise((r) => setTimeout(r, 600)); // longer than a renewal interval and the TTL: nothing may re-create it
    expect(await redis.exists(`${p}lock:{job}`)).toBe(0);
    const next = await rival.acquire('job', { retry: 'none' });
    await next.release();
  });

  it('without a watchdog the same 300 ms lock lapses and a rival gets in', async () => {
    const p = prefix();
    const holder = new RedisLock(server.client(), { prefix: p });
    const rival = new RedisLock(server.client(), { prefix: p });
    const lease = await holder.acquire('job', { ttlMs: 300 });
    const rivalLease = await rival.acquire('job', { retry: { attempts: 100, delayMs: 20, jitterMs: 0 } });
    expect(rivalLease.fence).toBe(lease.fence + 1);
    expect(lease.signal.aborted).toBe(true);
    await rivalLease.release();
  });
});
