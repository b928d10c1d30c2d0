import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BloomFilter, RedisBloomFilter } from '@gopherkit/primitives/bloom';
import { CircuitBreaker } from '@gopherkit/primitives/breaker';
import { ManualClock } from '@gopherkit/primitives/clock';
import { InvalidArgumentError } from '@gopherkit/primitives/errors';
import { startRedis, startRedisServers } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { Cache, CacheClosedError, CacheLoadTimeoutError, type CacheOptions, CacheWaitTimeoutError, jitterTtl } from './index.js';

const server = await startRedis();
const redis = server.client();
const other = server.client();
let n = 0;
const fresh = () => `gk:test:cache:${process.pid}:${++n}:`;
const caches: Cache[] = [];
function open(options: CacheOptions = {}, client = redis): Cache {
  const c = new Cache(client, options);
  caches.push(c);
  return c;
}
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()));
  await server.stop();
});

/** A promise with its resolve/reject exposed (no Promise.withResolvers on Node 20). */
function gate<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((a, b) => {
    resolve = a;
    reject = b;
  });
  return { promise, resolve, reject };
}

/** Advances a ManualClock step by step until `p` settles (each step lets real Redis I/O run). */
async function driveUntilSettled<T>(clock: ManualClock, p: Promise<T>, stepMs: number, maxSteps = 2000): Promise<T> {
  let settled = false;
  p.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  for (let i = 0; i < maxSteps && !settled; i++) {
    await clock.advance(stepMs);
    await new Promise((r) => setImmediate(r));
  }
  return p;
}

describe('penetration: negative sentinel', () => {
  it('caches "not found" with its own short TTL and answers it without the loader', async () => {
    const prefix = fresh();
    const cache = open({ prefix, negativeTtlMs: 3000 });
    const events: string[] = [];
    cache.on('negativeHit', (e) => events.push(`neg:${e.tier}`));
    let calls = 0;
    const loader = async () => {
      calls++;
      return undefined;
    };
    expect(await cache.take('user:404', loader)).toBeUndefined();
    expect(await cache.take('user:404', loader)).toBeUndefined();
    expect(calls).toBe(1);
    expect(events).toEqual(['neg:redis']);
    const pttl = await redis.pttl(`${prefix}cache:user:404`);
    expect(pttl).toBeGreaterThan(0);
    expect(pttl).toBeLessThanOrEqual(3000);
  });

  it('a real value equal to any classic sentinel ("NULL", "", null, "!0") is a value, not a miss', async () => {
    const cache = open({ prefix: fresh() });
    for (const [i, v] of (['NULL', '', null, '!0', '~1'] as const).entries()) {
      let calls = 0;
      const loader = async () => {
        calls++;
        return v;
      };
      expect(await cache.take(`k${i}`, loader)).toBe(v);
      expect(await cache.take(`k${i}`, loader)).toBe(v);
      expect(calls).toBe(1);
    }
  });

  it('never overwrites a real value: a "not found" that races a write is dropped', async () => {
    const prefix = fresh();
    const cache = open({ prefix });
    const writer = open({ prefix }, other);
    const loading = gate<undefined>();
    const started = gate();
    const pending = cache.take('item', () => {
      started.resolve();
      return loading.promise;
    });
    await started.promise;
    await writer.set('item', { id: 'item', v: 2 });
    loading.resolve(undefined);
    expect(await pending).toBeUndefined(); // the caller gets what its loader saw
    expect(await cache.take('item', async () => 'loader must not run')).toEqual({ id: 'item', v: 2 });
  });

  it('a "not found" never replaces a real value another process filled at the same version', async () => {
    const prefix = fresh();
    const cache = open({ prefix });
    const pending = cache.take('item', async () => {
      // another process's fill lands while this loader runs: same version 0, a real value
      await redis.set(`${prefix}cache:item`, '=0:0:"filled"');
      return undefined;
    });
    expect(await pending).toBeUndefined();
    expect(await redis.get(`${prefix}cache:item`)).toBe('=0:0:"filled"');
    expect(await cache.take('item', async () => 'loader must not run')).toBe('filled');
  });

  it('per-call opt-out: negative: false calls the loader every time', async () => {
    const cache = open({ prefix: fresh() });
    let calls = 0;
    const loader = async () => {
      calls++;
      return undefined;
    };
    await cache.take('x', loader, { negative: false });
    await cache.take('x', loader, { negative: false });
    expect(calls).toBe(2);
  });
});

describe('penetration: Bloom gate', () => {
  it('answers ids the filter never saw without Redis or the loader; bloom: false opts out', async () => {
    const bloom = new BloomFilter({ expectedItems: 1000, falsePositiveRate: 0.001 });
    bloom.add('user:1');
    const prefix = fresh();
    const cache = open({ prefix, bloom });
    const rejects: string[] = [];
    cache.on('bloomReject', (e) => rejects.push(e.key));
    let calls = 0;
    const loader = async () => {
      calls++;
      return { ok: true };
    };
    expect(await cache.take('user:2', loader)).toBeUndefined();
    expect(calls).toBe(0);
    expect(rejects).toEqual(['user:2']);
    expect(await redis.exists(`${prefix}cache:user:2`)).toBe(0);
    expect(await cache.take('user:1', loader)).toEqual({ ok: true });
    expect(await cache.take('user:3', loader, { bloom: false })).toEqual({ ok: true });
    expect(calls).toBe(2);
  });

  it('takes the Redis Bloom filter of the primitives as the gate (async has), shared by every process', async () => {
    const prefix = fresh();
    const filter = new RedisBloomFilter(redis, { name: 'users', prefix, expectedItems: 1000, falsePositiveRate: 0.001 });
    await filter.add('user:1'); // added where the user is created; other processes see it at once
    const a = open({ prefix, bloom: filter });
    const b = open({ prefix, bloom: new RedisBloomFilter(other, { name: 'users', prefix, expectedItems: 1000, falsePositiveRate: 0.001 }) }, other);
    let calls = 0;
    const loader = async (key: string) => {
      calls++;
      return { key };
    };
    expect(await a.take('user:2', () => loader('user:2'))).toBeUndefined();
    expect(await b.take('user:9', () => loader('user:9'))).toBeUndefined();
    expect(calls).toBe(0);
    expect(await b.take('user:1', () => loader('user:1'))).toEqual({ key: 'user:1' });
    await filter.add('user:2'); // created later: the gate lets it through from now on
    expect(await a.take('user:2', () => loader('user:2'))).toEqual({ key: 'user:2' });
    expect(calls).toBe(2);
  });

  it('fails open when the filter throws (a broken filter must not hide real items)', async () => {
    const cache = open({
      prefix: fresh(),
      bloom: {
        has: () => {
          throw new Error('bloom down');
        },
      },
    });
    expect(await cache.take('a', async () => 1)).toBe(1);
  });
});

describe('breakdown: one load across callers and processes', () => {
  it('two instances x 300 concurrent callers on a missing key: exactly one loader call', async () => {
    const prefix = fresh();
    const a = open({ prefix, lock: { pollMs: 5 } });
    const b = open({ prefix, lock: { pollMs: 5 } }, other);
    let calls = 0;
    let waits = 0;
    b.on('lockWait', () => waits++);
    a.on('lockWait', () => waits++);
    const loader = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 50));
      return { hot: true };
    };
    const all = await Promise.all(Array.from({ length: 600 }, (_, i) => (i % 2 ? a : b).take('hot', loader)));
    expect(calls).toBe(1);
    expect(waits).toBe(1); // one process waited on the other's lock
    expect(all.every((v) => (v as { hot: boolean }).hot)).toBe(true);
  });

  it('3 child processes x 200 callers on an expired hot key: exactly one loader call (counted in Redis)', async () => {
    const prefix = fresh();
    const child = fileURLToPath(new URL('./testdata/stampede-child.ts', import.meta.url));
    const startAt = Date.now() + 1500;
    const runs = Array.from(
      { length: 3 },
      () =>
        new Promise<{ values: number }>((resolve, reject) => {
          const p = spawn(process.execPath, ['--conditions=@gopherkit/source', '--import', 'tsx', child, server.url, prefix, 'hot', '200', String(startAt)], {
            stdio: ['ignore', 'pipe', 'inherit'],
          });
          let out = '';
          p.stdout.on('data', (d) => {
            out += d;
          });
          p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`child exited ${code}`))));
        }),
    );
    const results = await Promise.all(runs);
    expect(results.map((r) => r.values)).toEqual([200, 200, 200]);
    expect(await redis.get(`${prefix}loader-calls`)).toBe('1');
  }, 30_000);

  it('the lock holder re-reads the key: a value filled between its miss and its lock is served without loading', async () => {
    const prefix = fresh();
    const writer = open({ prefix }, other);
    let fillOnce: (() => Promise<void>) | undefined = () => writer.set('hot', 'filled by another process');
    // the GET that misses is answered, then another process fills the key before this one takes the lock
    const spy = new Proxy(redis, {
      get(target, p) {
        if (p === 'get') {
          return async (k: string) => {
            const v = await target.get(k);
            const fill = fillOnce;
            fillOnce = undefined;
            await fill?.();
            return v;
          };
        }
        const v = Reflect.get(target, p, target);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const cache = open({ prefix }, spy);
    let loads = 0;
    expect(
      await cache.take('hot', async () => {
        loads++;
        return 'loaded';
      }),
    ).toBe('filled by another process');
    expect(loads).toBe(0);
  });

  it('followers wait with a deadline and never call the loader while the lock is held', async () => {
    const prefix = fresh();
    const holder = open({ prefix }, other);
    const clock = new ManualClock(Date.now());
    const follower = open({ prefix, clock, lock: { waitMs: 300, pollMs: 20 }, breaker: false, redisTimeoutMs: 60_000 });
    const release = gate<string>();
    const started = gate();
    const held = holder.take('slow', () => {
      started.resolve();
      return release.promise;
    });
    await started.promise;
    let followerCalls = 0;
    const waiting = follower.take('slow', async () => {
      followerCalls++;
      return 'follower';
    });
    await expect(driveUntilSettled(clock, waiting, 20)).rejects.toBeInstanceOf(CacheWaitTimeoutError);
    expect(followerCalls).toBe(0);
    release.resolve('holder');
    expect(await held).toBe('holder');
    // the value the holder wrote is what the next follower call gets
    expect(await follower.take('slow', async () => 'follower')).toBe('holder');
  });
});

describe('breakdown: a holder that crashed', () => {
  it('followers take over once the dead holder lock expires (no recursion, one load)', async () => {
    const prefix = fresh();
    const { RedisLock } = await import('@gopherkit/primitives/lock');
    const dead = new RedisLock(other, { prefix });
    await dead.acquire('cache:orphan', { ttlMs: 150, retry: 'none' }); // never released: the process "died"
    const cache = open({ prefix, lock: { ttlMs: 5000, waitMs: 3000, pollMs: 10 } });
    let calls = 0;
    let waits = 0;
    cache.on('lockWait', () => waits++);
    const values = await Promise.all(
      Array.from({ length: 20 }, () =>
        cache.take('orphan', async () => {
          calls++;
          return 'rebuilt';
        }),
      ),
    );
    expect(values.every((v) => v === 'rebuilt')).toBe(true);
    expect(calls).toBe(1);
    expect(waits).toBe(1);
  });
});

describe('loader failures', () => {
  it('an error reaches every waiter, is not cached, and the next take retries', async () => {
    const cache = open({ prefix: fresh() });
    let calls = 0;
    const boom = new Error('db down');
    const failing = async () => {
      calls++;
      await new Promise((r) => setTimeout(r, 20));
      throw boom;
    };
    const outcomes = await Promise.allSettled(Array.from({ length: 50 }, () => cache.take('k', failing)));
    expect(calls).toBe(1);
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === boom)).toBe(true);
    expect(await cache.take('k', async () => 'ok')).toBe('ok');
  });

  it('a loader past loadTimeoutMs fails every waiter with CacheLoadTimeoutError and sees its signal abort', async () => {
    const clock = new ManualClock(Date.now());
    const cache = open({ prefix: fresh(), clock, loadTimeoutMs: 1000, breaker: false, redisTimeoutMs: 60_000 });
    let seen: AbortSignal | undefined;
    const started = gate();
    const hang = (signal: AbortSignal) => {
      seen = signal;
      started.resolve();
      return new Promise<string>(() => {});
    };
    const waiters = Promise.allSettled([cache.take('t', hang), cache.take('t', hang), cache.take('t', hang)]);
    await started.promise;
    await clock.advance(1000);
    const outcomes = await waiters;
    expect(outcomes.map((o) => o.status === 'rejected' && o.reason instanceof CacheLoadTimeoutError)).toEqual([true, true, true]);
    expect(seen?.aborted).toBe(true);
    expect(await cache.take('t', async () => 'later')).toBe('later');
  });
});

describe('stale-while-revalidate', () => {
  it('serves the stale value at once while exactly one background rebuild runs', async () => {
    const clock = new ManualClock(Date.now());
    const prefix = fresh();
    const cache = open({ prefix, clock, ttlMs: 1000, jitter: 0, staleWhileRevalidateMs: 60_000, breaker: false, redisTimeoutMs: 60_000 });
    const peer = open({ prefix, clock, ttlMs: 1000, jitter: 0, staleWhileRevalidateMs: 60_000, breaker: false, redisTimeoutMs: 60_000 }, other);
    expect(await cache.take('p', async () => 'v1')).toBe('v1');
    await clock.advance(1500);
    const rebuild = gate<string>();
    let calls = 0;
    const loader = () => {
      calls++;
      return rebuild.promise;
    };
    let stale = 0;
    cache.on('stale', () => stale++);
    peer.on('stale', () => stale++);
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? cache : peer).take('p', loader)));
    expect(answers.every((v) => v === 'v1')).toBe(true);
    expect(stale).toBe(100);
    // both processes saw it stale; background rebuilds are deduped per process and by the lock across them
    for (let i = 0; i < 50 && calls === 0; i++) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(1);
    rebuild.resolve('v2');
    for (let i = 0; i < 100; i++) {
      if ((await cache.take('p', loader)) === 'v2') break;
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(await peer.take('p', loader)).toBe('v2');
    expect(calls).toBe(1);
  });
});

describe('stale-while-revalidate: the hard expiry', () => {
  it('Redis keeps the entry for ttl + staleWhileRevalidateMs: after ttl the stale value is served, not a synchronous load', async () => {
    const cache = open({ prefix: fresh(), ttlMs: 30, jitter: 0, staleWhileRevalidateMs: 60_000 });
    expect(await cache.take('s', async () => 'v1')).toBe('v1');
    await new Promise((r) => setTimeout(r, 120)); // real time: Redis expiry is Redis's own clock
    const rebuild = gate<string>();
    expect(await cache.take('s', () => rebuild.promise)).toBe('v1');
    rebuild.resolve('v2');
  });
});

describe('avalanche: jitter, L1 and invalidation', () => {
  it('jitterTtl stays within ±ratio and spreads values; bad input is typed', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    const ttls = Array.from({ length: 1000 }, () => jitterTtl(10_000, 0.1, random));
    expect(Math.min(...ttls)).toBeGreaterThanOrEqual(9000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(11_000);
    expect(new Set(ttls).size).toBeGreaterThan(500);
    expect(jitterTtl(5000, 0)).toBe(5000);
    expect(() => jitterTtl(1000, 1.5)).toThrow('ratio must be a finite number in [0, 0.99], got 1.5');
  });

  it('keys loaded together get TTLs spread over ±10% by default', async () => {
    const prefix = fresh();
    const cache = open({ prefix, ttlMs: 100_000 });
    await Promise.all(Array.from({ length: 200 }, (_, i) => cache.take(`j${i}`, async () => i)));
    const ttls = await Promise.all(Array.from({ length: 200 }, (_, i) => redis.pttl(`${prefix}cache:j${i}`)));
    expect(Math.min(...ttls)).toBeGreaterThan(89_000);
    expect(Math.max(...ttls)).toBeLessThanOrEqual(110_000);
    expect(Math.max(...ttls) - Math.min(...ttls)).toBeGreaterThan(10_000);
  });

  it('an L1 entry past its own short TTL falls through to Redis (Redis up), not to the loader', async () => {
    const clock = new ManualClock(Date.now());
    const cache = open({ prefix: fresh(), clock, ttlMs: 600_000, l1: { maxEntries: 100, ttlMs: 100 } });
    const tiers: string[] = [];
    cache.on('hit', (e) => tiers.push(e.tier));
    let loads = 0;
    const loader = async () => ++loads;
    expect(await cache.take('k', loader)).toBe(1);
    expect(await cache.take('k', loader)).toBe(1);
    await clock.advance(99);
    expect(await cache.take('k', loader)).toBe(1);
    await clock.advance(2); // 101 ms after it was stored in L1
    expect(await cache.take('k', loader)).toBe(1);
    expect(await cache.take('k', loader)).toBe(1); // refilled into L1 by that Redis read
    expect(tiers).toEqual(['l1', 'l1', 'redis', 'l1']);
    expect(loads).toBe(1);
  });

  it('L1 answers without Redis; set/delete in one process drop the key from the other process L1', async () => {
    const prefix = fresh();
    const a = open({ prefix, l1: { maxEntries: 100, ttlMs: 600_000 } });
    const b = open({ prefix, l1: { maxEntries: 100, ttlMs: 600_000 } }, other);
    await Promise.all([a.ready(), b.ready()]);
    const tiers: string[] = [];
    b.on('hit', (e) => tiers.push(e.tier));
    expect(await a.take('cfg', async () => 'v1')).toBe('v1');
    expect(await b.take('cfg', async () => 'never')).toBe('v1');
    expect(await b.take('cfg', async () => 'never')).toBe('v1');
    expect(tiers).toEqual(['redis', 'l1']);
    await a.set('cfg', 'v2');
    const seen = async (want: unknown) => {
      for (let i = 0; i < 200; i++) {
        if ((await b.take('cfg', async () => 'loaded')) === want) return true;
        await new Promise((r) => setTimeout(r, 5));
      }
      return false;
    };
    expect(await seen('v2')).toBe(true);
    await a.delete('cfg');
    expect(await seen('loaded')).toBe(true);
  });

  it('a subscriber that reconnects clears L1: invalidations sent while it was away are not lost', async () => {
    const prefix = fresh();
    const sub = server.client();
    const a = open({ prefix, subscriber: sub, l1: { maxEntries: 100, ttlMs: 600_000 } });
    const b = open({ prefix }, other);
    await a.ready();
    expect(await a.take('cfg', async () => 'v1')).toBe('v1'); // now in a's L1
    const reconnected = new Promise((r) => sub.once('ready', r));
    await redis.client('KILL', 'TYPE', 'pubsub'); // a's subscription drops…
    await b.set('cfg', 'v2'); // …so the invalidation of this write never reaches a
    await reconnected;
    expect(await a.take('cfg', async () => 'never')).toBe('v2'); // not the stale 'v1' from L1
    sub.disconnect();
  });

  it('a "not found" held in L1 is reported as a negative hit from L1, never as a value hit', async () => {
    const cache = open({ prefix: fresh(), negativeTtlMs: 60_000, l1: { maxEntries: 100, ttlMs: 600_000 } });
    const events: string[] = [];
    cache.on('hit', (e) => events.push(`hit ${e.tier}`));
    cache.on('negativeHit', (e) => events.push(`negativeHit ${e.tier}`));
    let loads = 0;
    const loader = async () => {
      loads++;
      return undefined;
    };
    for (let i = 0; i < 3; i++) expect(await cache.take('ghost', loader)).toBeUndefined();
    expect(loads).toBe(1);
    expect(events).toEqual(['negativeHit l1', 'negativeHit l1']);
  });

  it('delete drops the key from this process L1 at once, not only from the others', async () => {
    const cache = open({ prefix: fresh(), l1: { maxEntries: 100, ttlMs: 600_000 } });
    await cache.ready();
    let loads = 0;
    const loader = async () => `v${++loads}`;
    expect(await cache.take('own', loader)).toBe('v1');
    expect(await cache.take('own', loader)).toBe('v1'); // from L1
    await cache.delete('own');
    expect(await cache.take('own', loader)).toBe('v2');
  });

  it('a set() during a slow load wins: the older loaded value or "not found" reaches neither Redis nor L1', async () => {
    const prefix = fresh();
    const cache = open({ prefix, l1: { maxEntries: 100, ttlMs: 600_000 } });
    await cache.ready();
    for (const [key, loaded] of [
      ['value', 'old'],
      ['missing', undefined],
    ] as const) {
      const started = gate();
      const finish = gate();
      const slow = cache.take(key, async () => {
        started.resolve();
        await finish.promise;
        return loaded;
      });
      await started.promise;
      await cache.set(key, 'new'); // the write path, while the loader that read the old state stalls
      finish.resolve();
      expect(await slow).toBe(loaded); // the caller gets what its loader saw...
      expect(await cache.take(key, async () => 'loader must not run')).toBe('new'); // ...everyone after gets the write
      expect((await redis.get(`${prefix}cache:${key}`))?.endsWith(':"new"')).toBe(true);
    }
  });

  it('the L1 tier is bounded: least recently used entries go first', async () => {
    const cache = open({ prefix: fresh(), l1: { maxEntries: 2, ttlMs: 600_000 } });
    const l1Hits: string[] = [];
    cache.on('hit', (e) => e.tier === 'l1' && l1Hits.push(e.key));
    await cache.take('a', async () => 1);
    await cache.take('b', async () => 2);
    await cache.take('a', async () => 1); // a is now most recent
    await cache.take('c', async () => 3); // evicts b
    await cache.take('b', async () => 2);
    expect(l1Hits).toEqual(['a']);
  });
});

describe('Redis killed and restarted', () => {
  it('breaker opens, L1/stale and a concurrency-limited loader serve, then the cache recovers', async () => {
    const [s] = await startRedisServers(1);
    if (!s) throw new Error('no server');
    const client = s.client({ maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 50 });
    client.on('error', () => {});
    const prefix = fresh();
    const breaker = new CircuitBreaker({ name: 'cache-redis', minRequests: 5, openMs: 300 });
    const cache = new Cache(client, { prefix, breaker, fallbackConcurrency: 3, redisTimeoutMs: 200, l1: { maxEntries: 100, ttlMs: 1 } });
    const events: string[] = [];
    cache.on('breakerOpen', () => events.push('breakerOpen'));
    cache.on('stale', (e) => events.push(`stale:${e.tier}`));
    try {
      await cache.ready();
      expect(await cache.take('known', async () => 'k1')).toBe('k1');
      await s.kill();
      await new Promise((r) => setTimeout(r, 5)); // the L1 entry (ttl 1 ms) is now past its TTL
      expect(await cache.take('known', async () => 'loader must not run')).toBe('k1');
      expect(events).toContain('stale:l1');
      let running = 0;
      let peak = 0;
      let calls = 0;
      const loader = async () => {
        calls++;
        peak = Math.max(peak, ++running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return 'from-db';
      };
      const values = await Promise.all(Array.from({ length: 60 }, (_, i) => cache.take(`k${i % 20}`, loader)));
      expect(values.every((v) => v === 'from-db')).toBe(true);
      expect(peak).toBeLessThanOrEqual(3);
      expect(calls).toBeLessThanOrEqual(20); // one load per key even without Redis
      expect(events).toContain('breakerOpen');
      expect(breaker.state).not.toBe('closed');
      await s.restart();
      let recovered = false;
      for (let i = 0; i < 200 && !recovered; i++) {
        await new Promise((r) => setTimeout(r, 25));
        await cache.take(`after${i}`, async () => 'x').catch(() => {});
        recovered = breaker.state === 'closed' && (await client.exists(`${prefix}cache:after${i}`).catch(() => 0)) === 1;
      }
      expect(recovered).toBe(true);
    } finally {
      await cache.close();
      await s.stop();
    }
  }, 30_000);
});

describe('consistency', () => {
  it('a slow loader that read before a write cannot put its old value back (go-zero#3000)', async () => {
    const prefix = fresh();
    const reader = open({ prefix });
    const writer = open({ prefix }, other);
    let db = 'old';
    const started = gate();
    const finish = gate();
    const slowRead = reader.take('row', async () => {
      const seen = db; // reads the database before the write...
      started.resolve();
      await finish.promise; // ...and stalls
      return seen;
    });
    await started.promise;
    db = 'new';
    await writer.delete('row');
    finish.resolve();
    expect(await slowRead).toBe('old');
    expect((await redis.get(`${prefix}cache:row`))?.startsWith('~')).toBe(true); // the fill was refused
    expect(await writer.take('row', async () => db)).toBe('new');
  });

  it('after a delete the next load fills the cache again (the fill carries the tombstone version)', async () => {
    const cache = open({ prefix: fresh() });
    let loads = 0;
    const loader = async () => `v${++loads}`;
    expect(await cache.take('r', loader)).toBe('v1');
    await cache.delete('r');
    expect(await cache.take('r', loader)).toBe('v2');
    expect(await cache.take('r', loader)).toBe('v2');
    expect(loads).toBe(2);
  });

  it('delayed double delete wipes a stale value written between the two deletes; close() runs a pending one', async () => {
    const clock = new ManualClock(Date.now());
    const prefix = fresh();
    const cache = new Cache(redis, { prefix, clock, breaker: false, redisTimeoutMs: 60_000 });
    await cache.set('d', 'v1');
    await cache.delayedDoubleDelete('d', 1000);
    await redis.set(`${prefix}cache:d`, '=0:0:"stale"'); // a writer outside the version protocol
    expect(await cache.take('d', async () => 'fresh')).toBe('stale');
    await clock.advance(1000);
    for (let i = 0; i < 100 && (await redis.get(`${prefix}cache:d`))?.startsWith('='); i++) await new Promise((r) => setTimeout(r, 5));
    expect(await cache.take('d', async () => 'fresh')).toBe('fresh');
    await cache.delayedDoubleDelete('e', 60_000);
    await redis.set(`${prefix}cache:e`, '=0:0:"stale"');
    await cache.close();
    expect((await redis.get(`${prefix}cache:e`))?.startsWith('~')).toBe(true);
  });
});

describe('codec, events, signal and close', () => {
  it('a pluggable codec encodes what Redis stores', async () => {
    const prefix = fresh();
    const upper = { encode: (v: unknown) => String(v).toUpperCase(), decode: (t: string) => `decoded:${t}` };
    const cache = open({ prefix, codec: upper });
    expect(await cache.take('c', async () => 'abc')).toBe('abc'); // the loader's value is returned as is
    expect(await redis.get(`${prefix}cache:c`)).toMatch(/^=0:0:ABC$/);
    expect(await cache.take('c', async () => 'never')).toBe('decoded:ABC');
  });

  it('emits miss, load and hit with the tier that answered', async () => {
    const cache = open({ prefix: fresh(), l1: { maxEntries: 10 } });
    const seen: string[] = [];
    cache.on('miss', (e) => seen.push(`miss:${e.key}`));
    cache.on('load', (e) => seen.push(`load:${e.key}:${e.found}:${e.degraded}`));
    const off = cache.on('hit', (e) => seen.push(`hit:${e.tier}`));
    await cache.take('e', async () => 1);
    await cache.take('e', async () => 1);
    off();
    await cache.take('e', async () => 1);
    expect(seen).toEqual(['miss:e', 'load:e:true:false', 'hit:l1']);
  });

  it('a caller that aborts leaves with its reason; the shared load still fills the cache', async () => {
    const cache = open({ prefix: fresh() });
    const release = gate<string>();
    const ac = new AbortController();
    const leaving = cache.take('s', () => release.promise, { signal: ac.signal });
    const staying = cache.take('s', () => release.promise);
    ac.abort(new Error('client went away'));
    await expect(leaving).rejects.toThrow('client went away');
    release.resolve('v');
    expect(await staying).toBe('v');
    expect(await cache.take('s', async () => 'never')).toBe('v');
  });

  it('close() ends the owned invalidation subscription', async () => {
    const prefix = fresh();
    const cache = new Cache(redis, { prefix, l1: { maxEntries: 10 } });
    await cache.ready();
    const channel = `${prefix}cache:invalidate`;
    expect(await redis.pubsub('NUMSUB', channel)).toEqual([channel, 1]);
    await cache.close();
    for (let i = 0; i < 100 && ((await redis.pubsub('NUMSUB', channel)) as [string, number])[1] !== 0; i++) await new Promise((r) => setTimeout(r, 5));
    expect(await redis.pubsub('NUMSUB', channel)).toEqual([channel, 0]);
  });
});

describe('surface', () => {
  it('keeps every key under the prefix', async () => {
    const prefix = fresh();
    const cache = open({ prefix, l1: { maxEntries: 10 } });
    await cache.take('a', async () => 1);
    await cache.take('b{x}', async () => undefined);
    await cache.set('c', 3);
    await cache.delete('a');
    const keys = await redis.keys('*');
    // a (its tombstone), b{x} (negative entry), c; the rebuild lock is gone and leaves no fencing counter
    expect(keys.filter((k) => k.startsWith(prefix)).sort()).toEqual([`${prefix}cache:a`, `${prefix}cache:b{x}`, `${prefix}cache:c`]);
    expect(keys.filter((k) => !k.startsWith('gk:test:cache:'))).toEqual([]); // no piece writes outside its prefix
  });

  it('refuses bad input with typed errors and refuses work after close', async () => {
    expect(() => new Cache(redis, { ttlMs: 0 })).toThrow('ttlMs must be an integer >= 1, got 0');
    expect(() => new Cache(redis, { jitter: 2 })).toThrow(InvalidArgumentError);
    expect(() => new Cache(redis, { tombstoneTtlMs: 100, loadTimeoutMs: 1000 })).toThrow(/tombstoneTtlMs must be greater than loadTimeoutMs/);
    expect(() => new Cache(redis, { bloom: {} as never })).toThrow(/bloom must be an object with has/);
    const cache = new Cache(redis, { prefix: fresh() });
    await expect(cache.take('', async () => 1)).rejects.toThrow('key must be a non-empty string, got ""');
    await expect(cache.take('k', 'x' as never)).rejects.toThrow(InvalidArgumentError);
    await expect(cache.set('k', undefined)).rejects.toThrow(/value must be a value other than undefined/);
    expect(() => cache.on('nope' as never, () => {})).toThrow(InvalidArgumentError);
    await cache.close();
    await expect(cache.take('k', async () => 1)).rejects.toBeInstanceOf(CacheClosedError);
  });
});
