import { startRedis, startRedisServers } from '@gopherkit/testkit';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { type Clock, ManualClock, systemClock } from '../clock/index.js';
import { background, Canceled, DeadlineExceeded, DeadlineExceededError, withCancel, withCancelCause, withTimeout } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { FencedStore, LockBusyError, LockLostError, LockNotHeldError, RedisLock, Redlock, StaleFenceError } from './index.js';

const server = await startRedis();
const redis = server.client();
let n = 0;
const prefix = () => `gk:test:lock:${process.pid}:${n++}:`;
afterAll(() => server.stop());

/** Counts EVALSHA/EVAL calls that reach Redis through a client. */
function countScripts(client: Redis): { count: () => number } {
  let calls = 0;
  type AnyFn = (...args: unknown[]) => unknown;
  const target = client as unknown as Record<'evalsha' | 'eval', AnyFn>;
  for (const name of ['evalsha', 'eval'] as const) {
    const original = target[name].bind(client);
    target[name] = (...args) => {
      calls++;
      return original(...args);
    };
  }
  return { count: () => calls };
}

describe('RedisLock: acquire / release', () => {
  it('stores a random 128-bit token under <prefix>lock:{key} with the TTL, and issues increasing fencing tokens', async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p });
    const a = await lock.acquire('order:1', { ttlMs: 5000 });
    expect(a.token).toMatch(/^[0-9a-f]{32}$/);
    expect(await redis.get(`${p}lock:{order:1}`)).toBe(a.token);
    const pttl = await redis.pttl(`${p}lock:{order:1}`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(5000);
    expect(a.held).toBe(true);
    expect(a.validityMs).toBeLessThanOrEqual(5000 - 52);
    await a.release();
    expect(await redis.exists(`${p}lock:{order:1}`)).toBe(0);
    const b = await lock.acquire('order:1', { ttlMs: 5000 });
    const c = await lock.acquire('order:2', { ttlMs: 5000 });
    expect(a.fence).toBe(1);
    expect(b.fence).toBe(2);
    expect(c.fence).toBe(1);
    expect(b.token).not.toBe(a.token);
    await b.release();
    await c.release();
  });

  it('a second owner gets LockBusyError while it is held, and the lock after release', async () => {
    const lock = new RedisLock(redis, { prefix: prefix() });
    const a = await lock.acquire('k', { ttlMs: 5000 });
    const err = await lock.acquire('k', { retry: 'none' }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.message).toBe('lock "k" is held by another owner; gave up after 1 attempt(s)');
    await a.release();
    const b = await lock.acquire('k', { retry: 'none' });
    await b.release();
  });

  it('release is idempotent: one promise, one script call', async () => {
    const client = server.client();
    const spy = countScripts(client);
    const lock = new RedisLock(client, { prefix: prefix() });
    const a = await lock.acquire('k');
    const before = spy.count();
    const r1 = a.release();
    const r2 = a.release();
    expect(r2).toBe(r1);
    await r1;
    await a.release();
    await a[Symbol.asyncDispose]();
    expect(spy.count() - before).toBe(1);
    expect(a.held).toBe(false);
    expect(a.signal.aborted).toBe(false); // a normal release is not a loss
    await expect(a.extend()).rejects.toBeInstanceOf(LockNotHeldError);
  });

  it("releasing after the key expired and another owner took it: LockNotHeldError, the other owner's key untouched", async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p });
    const a = await lock.acquire('k', { ttlMs: 5000 });
    await redis.del(`${p}lock:{k}`); // A's TTL ran out (simulated without sleeping)
    const b = await lock.acquire('k', { ttlMs: 5000, retry: 'none' });
    const err = await a.release().catch((e) => e);
    expect(err).toBeInstanceOf(LockNotHeldError);
    expect(err.message).toMatch(/another owner holds it now; its key was left untouched/);
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBeInstanceOf(LockLostError);
    expect(await redis.get(`${p}lock:{k}`)).toBe(b.token);
    expect(await a.release().catch((e) => e)).toBe(err); // still idempotent
    await b.release();
  });

  it('releasing an expired lease: LockNotHeldError saying nothing was deleted', async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p });
    const a = await lock.acquire('k', { ttlMs: 5000 });
    await redis.del(`${p}lock:{k}`);
    await expect(a.release()).rejects.toThrow('lock "k" is not held by this lease: it had already expired, nothing was deleted');
  });

  it('extend: owner-checked PEXPIRE moves expiresAt; on a lost key it throws LockLostError and aborts the signal', async () => {
    const p = prefix();
    const clock = new ManualClock(Date.now());
    const lock = new RedisLock(redis, { prefix: p, clock });
    const lease = await lock.acquire('e', { ttlMs: 5000 });
    const signal = lease.signal; // listened to before the loss
    await clock.advance(1000);
    await lease.extend(20_000);
    expect(lease.expiresAt).toBe(clock.now() + 20_000 - 202);
    expect(await redis.pttl(`${p}lock:{e}`)).toBeGreaterThan(15_000);
    await redis.set(`${p}lock:{e}`, 'intruder');
    const err = await lease.extend().catch((e) => e);
    expect(err).toBeInstanceOf(LockLostError);
    expect(err.message).toBe('lock "e" lost: another owner holds the key now');
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(err);
    expect(await redis.get(`${p}lock:{e}`)).toBe('intruder');
    expect(await redis.pttl(`${p}lock:{e}`)).toBe(-1); // not given our TTL
    await redis.del(`${p}lock:{e}`);
  });

  it('await using releases on scope exit', async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p });
    {
      await using lease = await lock.acquire('scoped');
      expect(await redis.get(`${p}lock:{scoped}`)).toBe(lease.token);
      expect(lock.activeLeases).toBe(1);
    }
    expect(await redis.exists(`${p}lock:{scoped}`)).toBe(0);
    expect(lock.activeLeases).toBe(0);
  });

  it('using(key, opts, fn) passes the lease signal, returns fn’s value and releases even when fn throws', async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p });
    const out = await lock.using('u', { ttlMs: 5000 }, async (signal, lease) => {
      expect(signal).toBe(lease.signal);
      expect(await redis.get(`${p}lock:{u}`)).toBe(lease.token);
      return 42;
    });
    expect(out).toBe(42);
    expect(await redis.exists(`${p}lock:{u}`)).toBe(0);
    await expect(
      lock.using('u', {}, () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await redis.exists(`${p}lock:{u}`)).toBe(0);
    // fn finished but the lease was lost meanwhile: the caller must hear about it
    await expect(lock.using('u', {}, async () => void (await redis.del(`${p}lock:{u}`)))).rejects.toBeInstanceOf(LockNotHeldError);
  });

  it('retries with delay + jitter, then LockBusyError; each pause lies in [delayMs, delayMs + jitterMs)', async () => {
    const p = prefix();
    const lock0 = new RedisLock(redis, { prefix: p });
    const holder = await lock0.acquire('busy', { ttlMs: 10_000 });
    const pauses: number[] = [];
    const recording: Clock = {
      now: () => systemClock.now(),
      setTimeout(cb, ms) {
        if (ms < 1000) pauses.push(ms); // retry pauses (not lease/command timers)
        return systemClock.setTimeout(cb, ms);
      },
      clearTimeout: (t) => systemClock.clearTimeout(t),
    };
    const seq = [0, 0.5, 0.99];
    let i = 0;
    const lock = new RedisLock(redis, { prefix: p, clock: recording, random: () => seq[i++ % 3] as number });
    const err = await lock.acquire('busy', { retry: { attempts: 4, delayMs: 5, jitterMs: 20 } }).catch((e) => e);
    expect(err).toBeInstanceOf(LockBusyError);
    expect(err.attempts).toBe(4);
    expect(pauses).toEqual([5, 15, 24]);
    await holder.release();
  });

  it('stops waiting when the signal aborts or the deadline passes, with their reasons', async () => {
    const clock = new ManualClock(Date.now());
    const lock = new RedisLock(redis, { prefix: prefix(), clock });
    const holder = await lock.acquire('w', { ttlMs: 60_000 });
    const ac = new AbortController();
    const waiting = lock.acquire('w', { signal: ac.signal, retry: { attempts: Number.POSITIVE_INFINITY, delayMs: 50, jitterMs: 0 } });
    const settled = waiting.catch((e) => e);
    await clock.advance(200);
    ac.abort(new Error('user left'));
    expect((await settled).message).toBe('user left');
    const byDeadline = lock
      .acquire('w', { deadline: clock.now() + 300, retry: { attempts: Number.POSITIVE_INFINITY, delayMs: 50, jitterMs: 0 } })
      .catch((e) => e);
    await clock.advance(300);
    expect(await byDeadline).toBe(DeadlineExceeded);
    await holder.release();
  });

  it('takes a Context instead: its cancel cause or its deadline ends the wait (for Redlock too)', async () => {
    const clock = new ManualClock(Date.now());
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p, clock });
    const holder = await lock.acquire('c', { ttlMs: 60_000 });
    const forever = { attempts: Number.POSITIVE_INFINITY, delayMs: 50, jitterMs: 0 };
    const [ctx, cancel] = withCancelCause(background());
    const waiting = lock.acquire('c', { context: ctx, retry: forever }).catch((e) => e);
    await clock.advance(200);
    cancel(new Error('request gone'));
    expect((await waiting).message).toBe('request gone');
    const [timed, stop] = withTimeout(background(), 300, { clock });
    const byDeadline = lock.acquire('c', { context: timed, retry: forever }).catch((e) => e);
    await clock.advance(300);
    expect(await byDeadline).toBe(DeadlineExceeded);
    stop();
    const rl = new Redlock([redis], { prefix: p, clock });
    const [rctx, rcancel] = withCancel(background());
    const rwaiting = rl.acquire('c', { context: rctx, retry: forever }).catch((e) => e);
    await clock.advance(100);
    rcancel();
    expect(await rwaiting).toBe(Canceled);
    await expect(lock.acquire('c', { context: ctx, signal: new AbortController().signal })).rejects.toThrow(
      'options must be either `context` or `signal`/`deadline`, not both',
    );
    await expect(lock.acquire('c', { context: {} as never })).rejects.toThrow('context must be a Context');
    await holder.release();
  });

  it('fencing: false is a plain SET NX PX: still mutually exclusive, fence 0, and no counter key is left behind', async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p, fencing: false, retry: 'none' });
    const a = await lock.acquire('nf', { ttlMs: 5000 });
    expect(a.fence).toBe(0);
    await expect(lock.acquire('nf')).rejects.toBeInstanceOf(LockBusyError);
    await expect(new RedisLock(redis, { prefix: p, retry: 'none' }).acquire('nf')).rejects.toBeInstanceOf(LockBusyError); // same key either way
    await a.extend(8000);
    expect(await redis.pttl(`${p}lock:{nf}`)).toBeGreaterThan(5000);
    await a.release();
    expect(await redis.exists(`${p}lock:{nf}`, `${p}fence:{nf}`)).toBe(0);
    expect(() => new RedisLock(redis, { fencing: 'no' as never })).toThrow('fencing must be a boolean');
  });

  it('rejects bad input with typed errors that say what is allowed', async () => {
    const lock = new RedisLock(redis, { prefix: prefix() });
    await expect(lock.acquire('')).rejects.toThrow('key must be a non-empty string, got ""');
    await expect(lock.acquire('a{b}')).rejects.toThrow(InvalidArgumentError);
    await expect(lock.acquire('k', { ttlMs: 1.5 })).rejects.toThrow('ttlMs must be an integer in [10, 2147483647], got 1.5');
    await expect(lock.acquire('k', { retry: { attempts: 0 } })).rejects.toThrow('retry.attempts must be an integer >= 1, got 0');
    await expect(lock.acquire('k', { retry: { delayMs: -1 } })).rejects.toThrow('retry.delayMs must be a finite number >= 0, got -1');
    await expect(lock.acquire('k', { ttlMs: 900, watchdog: { intervalMs: 900 } })).rejects.toThrow(
      'watchdog.intervalMs must be an integer in [1, 899], got 900',
    );
    expect(() => new RedisLock(redis, { commandTimeoutMs: 0 })).toThrow('commandTimeoutMs must be a finite number >= 1, got 0');
    expect(() => new RedisLock(redis, { driftFactor: 2 })).toThrow(InvalidArgumentError);
  });

  it('a close() releases every lease still held', async () => {
    const p = prefix();
    const lock = new RedisLock(redis, { prefix: p });
    await lock.acquire('x', { watchdog: true });
    await lock.acquire('y');
    expect(lock.activeLeases).toBe(2);
    await lock.close();
    expect(lock.activeLeases).toBe(0);
    expect(await redis.exists(`${p}lock:{x}`, `${p}lock:{y}`)).toBe(0);
  });
});

describe('RedisLock: Redis failures pass through, never as "busy"', () => {
  it('a dead server rejects acquire with the connection error; a hung one (acquire and release) with DeadlineExceededError after commandTimeoutMs', async () => {
    const [s] = await startRedisServers(1);
    if (!s) throw new Error('no server');
    try {
      const client = s.client({ enableOfflineQueue: false, retryStrategy: () => 50 });
      await new Promise((r) => client.once('ready', r));
      const clock = new ManualClock(Date.now());
      const lock = new RedisLock(client, { prefix: prefix(), clock, commandTimeoutMs: 1000 });
      const held = await lock.acquire('held', { ttlMs: 60_000 });
      s.freeze();
      // release is bounded too: it gives up after commandTimeoutMs (the key then lapses at its TTL)
      const releasing = held.release().catch((e) => e);
      await clock.advance(1000);
      const relErr = await releasing;
      expect(relErr).toBeInstanceOf(DeadlineExceededError);
      expect(relErr.message).toBe('release of lock "held": no answer from Redis within 1000 ms');
      expect(await held.release().catch((e) => e)).toBe(relErr); // idempotent: same outcome
      const hung = lock.acquire('k', { retry: 'none' }).catch((e) => e);
      await clock.advance(1000);
      const err = await hung;
      expect(err).toBeInstanceOf(DeadlineExceededError);
      expect(err.message).toBe('acquire of lock "k": no answer from Redis within 1000 ms');
      s.thaw();
      await s.kill();
      const dead = await lock.acquire('k', { retry: { attempts: 3, delayMs: 0, jitterMs: 0 } }).catch((e) => e);
      expect(dead).not.toBeInstanceOf(LockBusyError);
      expect(dead).toBeInstanceOf(Error);
    } finally {
      await s.stop();
    }
  });
});

describe('RedisLock: a caller that gives up while its SET is in flight', () => {
  it('rejects with the signal reason at once, and releases the lock the late SET took', async () => {
    const [s] = await startRedisServers(1);
    if (!s) throw new Error('no server');
    try {
      const client = s.client();
      await client.ping();
      const p = prefix();
      const lock = new RedisLock(client, { prefix: p });
      s.freeze();
      const ac = new AbortController();
      const pending = lock.acquire('late', { signal: ac.signal, retry: 'none' }).catch((e) => e);
      ac.abort(new Error('caller left'));
      expect((await pending).message).toBe('caller left');
      s.thaw(); // the queued acquire script now runs and takes the lock...
      const probe = s.client();
      await vi.waitFor(
        async () => {
          // ...and the abandoned lease is released: fencing counter moved, lock key gone
          expect([await probe.get(`${p}fence:{late}`), await probe.exists(`${p}lock:{late}`)]).toEqual(['1', 0]);
          // the lease bookkeeping settles right after the release reply, so poll it too
          expect(lock.activeLeases).toBe(0);
        },
        { timeout: 5000, interval: 20 },
      );
    } finally {
      await s.stop();
    }
  });
});

describe('RedisLock: mutual exclusion under real contention', () => {
  // 20 workers x 200 critical sections = 4000 lock round trips against one real Redis.
  const WORKERS = 20;
  const SECTIONS = 200;

  async function increment(client: Redis, key: string) {
    const v = Number((await client.get(key)) ?? 0); // read
    await new Promise((r) => setImmediate(r)); // let every other worker run in between
    await client.set(key, String(v + 1)); // write
  }

  it('without the lock the read-await-write counter loses updates (the test can fail)', async () => {
    const key = `${prefix()}counter`;
    const clients = Array.from({ length: 4 }, () => server.client());
    await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        (async () => {
          for (let i = 0; i < 20; i++) await increment(clients[w % 4] as Redis, key);
        })(),
      ),
    );
    expect(Number(await redis.get(key))).toBeLessThan(WORKERS * 20);
  });

  it(`with the lock: ${WORKERS} workers x ${SECTIONS} sections → exact count, fences strictly increasing in lock order`, { timeout: 180_000 }, async () => {
    const p = prefix();
    const key = `${p}counter`;
    const clients = Array.from({ length: 4 }, () => server.client());
    const fences: number[] = [];
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: WORKERS }, (_, w) =>
        (async () => {
          const client = clients[w % 4] as Redis;
          const lock = new RedisLock(client, { prefix: p, ttlMs: 10_000, retry: { attempts: Number.POSITIVE_INFINITY, delayMs: 1, jitterMs: 4 } });
          for (let i = 0; i < SECTIONS; i++) {
            await using lease = await lock.acquire('counter');
            inside++;
            maxInside = Math.max(maxInside, inside);
            fences.push(lease.fence);
            await increment(client, key);
            inside--;
          }
        })(),
      ),
    );
    expect(Number(await redis.get(key))).toBe(WORKERS * SECTIONS);
    expect(maxInside).toBe(1);
    expect(fences).toEqual(Array.from({ length: WORKERS * SECTIONS }, (_, i) => i + 1));
  });
});

describe('RedisLock: a holder that stalls past its TTL', () => {
  it('loses the lock to another owner, its signal aborts, and its late write is rejected by FencedStore', async () => {
    const p = prefix();
    const store = new FencedStore(redis, { prefix: p });
    const lock = new RedisLock(redis, { prefix: p });
    const a = await lock.acquire('acct', { ttlMs: 200, watchdog: true });
    // A stalls: the event loop is blocked (a long GC pause), so not even the watchdog can run.
    const until = Date.now() + 400;
    while (Date.now() < until) {
      /* stalled */
    }
    const b = await lock.acquire('acct', { ttlMs: 5000, retry: 'none' });
    expect(b.fence).toBeGreaterThan(a.fence);
    await store.write('acct', 'written by B', b.fence);
    // A resumes: its timers catch up and the signal reports the loss...
    await new Promise((r) => setTimeout(r, 0));
    expect(a.signal.aborted).toBe(true);
    expect(a.signal.reason).toBeInstanceOf(LockLostError);
    // ...but a holder that does not look still gets stopped at the resource.
    const err = await store.write('acct', 'written by A (stale)', a.fence).catch((e) => e);
    expect(err).toBeInstanceOf(StaleFenceError);
    expect(err.message).toBe(`write to "acct" rejected: fencing token ${a.fence} is older than ${b.fence}, which the store has already seen`);
    expect(await store.read('acct')).toEqual({ value: 'written by B', fence: b.fence });
    await expect(a.release()).rejects.toBeInstanceOf(LockNotHeldError);
    expect(await redis.get(`${p}lock:{acct}`)).toBe(b.token);
    await b.release();
  });

  it('FencedStore accepts equal and newer tokens and validates input', async () => {
    const store = new FencedStore(redis, { prefix: prefix() });
    expect(await store.read('r')).toBeNull();
    await store.write('r', 'one', 3);
    await store.write('r', 'two', 3);
    await store.write('r', 'three', 7);
    expect(await store.read('r')).toEqual({ value: 'three', fence: 7 });
    await expect(store.write('r', 'x', 0)).rejects.toThrow('fence must be an integer >= 1, got 0');
  });
});
