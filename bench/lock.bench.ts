import { RedisLock, Redlock } from '@gopherkit/primitives/lock';
import { startRedisServers } from '@gopherkit/testkit';
import type { Redis } from 'ioredis';
import { Mutex, RedlockMutex } from 'redis-semaphore';
// @ts-expect-error redlock 5.0.0-beta.2 ships types its package.json "exports" does not expose (TS7016); typed below
import NodeRedlockImpl from 'redlock';
import { defineSuite } from './harness/suite.js';

/** The part of node-redlock v5's API this suite uses (`new Redlock(clients)`, `acquire`, `lock.release`). */
const NodeRedlock = NodeRedlockImpl as new (
  clients: Redis[],
  settings?: { retryCount?: number },
) => { acquire(resources: string[], durationMs: number): Promise<{ release(): Promise<unknown> }> };

// Throughput tasks are `async` functions on purpose: tinybench probes a non-async function by
// calling it once without awaiting, which would leave 50 leases held during the first iteration.

/**
 * Acquire + release of an uncontended lock (one task iteration = one lock round trip pair), on
 * one Redis and on a 5-instance Redlock, against redis-semaphore (Mutex / RedlockMutex) and
 * node-redlock 5.0.0-beta.2. Every implementation runs without auto-refresh (gopherkit's
 * watchdog is opt-in; redis-semaphore's refresh timer is turned off with `refreshInterval: 0`)
 * and without retry, so the tasks measure the same work: one SET NX PX (or Lua) per instance
 * to acquire, one compare-and-delete Lua per instance to release. Throughput tasks run 50
 * acquire+release pairs on distinct keys concurrently per iteration.
 */
export default defineSuite({
  reference: 'redis-semaphore Mutex: acquire+release (1 instance)',
  inProcess: false,
  async setup(b) {
    const server = await b.redis();
    const redis = server.client();
    const servers = await startRedisServers(5);
    b.defer(() => Promise.all(servers.map((s) => s.stop())));
    const five = servers.map((s) => s.client());
    await Promise.all([redis.ping(), ...five.map((c) => c.ping())]);
    const prefix = `gk:bench:lock:${process.pid}:`;
    const TTL = 10_000;
    const CONCURRENT = 50;
    const semOptions = { lockTimeout: TTL, acquireAttemptsLimit: 1, refreshInterval: 0 };

    const ours = new RedisLock(redis, { prefix, retry: 'none', ttlMs: TTL });
    const ours5 = new Redlock(five, { prefix, retry: 'none', ttlMs: TTL });
    const nodeRedlock1 = new NodeRedlock([redis], { retryCount: 0 });
    const nodeRedlock5 = new NodeRedlock(five, { retryCount: 0 });

    // Let the freshly spawned servers (and redis-memory-server's helper processes) finish starting,
    // then warm every implementation up (JIT, script caches, connections): without this the task
    // that happens to run first was measured at a fraction of its later speed.
    await new Promise((r) => setTimeout(r, b.short ? 500 : 3000));
    for (let i = 0; i < 300; i++) {
      await (await ours.acquire('warm')).release();
      const m = new Mutex(redis, `${prefix}sem:warm`, semOptions);
      await m.acquire();
      await m.release();
      await (await nodeRedlock1.acquire([`${prefix}rl:warm`], TTL)).release();
      if (i % 3 === 0) {
        await (await ours5.acquire('warm')).release();
        const m5 = new RedlockMutex(five, `${prefix}sem:warm5`, semOptions);
        await m5.acquire();
        await m5.release();
        await (await nodeRedlock5.acquire([`${prefix}rl:warm5`], TTL)).release();
      }
    }

    // --- single instance: latency of one acquire+release ----------------------------------------
    b.add('gopherkit RedisLock: acquire+release (1 instance)', async () => {
      const lease = await ours.acquire('one');
      await lease.release();
    });
    b.add(
      'redis-semaphore Mutex: acquire+release (1 instance)',
      async () => {
        const m = new Mutex(redis, `${prefix}sem:one`, semOptions);
        await m.acquire();
        await m.release();
      },
      { peer: 'redis-semaphore' },
    );
    b.add(
      'redlock 5.0.0-beta.2: acquire+release (1 instance)',
      async () => {
        const lock = await nodeRedlock1.acquire([`${prefix}rl:one`], TTL);
        await lock.release();
      },
      { peer: 'redlock' },
    );

    // --- single instance: throughput, 50 concurrent pairs on distinct keys ----------------------
    const keys = Array.from({ length: CONCURRENT }, (_, i) => `k${i}`);
    b.add(
      `gopherkit RedisLock: ${CONCURRENT} concurrent acquire+release (1 instance, per op)`,
      async () => {
        await Promise.all(
          keys.map(async (k) => {
            const lease = await ours.acquire(k);
            await lease.release();
          }),
        );
      },
      { batch: CONCURRENT },
    );
    b.add(
      `redis-semaphore Mutex: ${CONCURRENT} concurrent acquire+release (1 instance, per op)`,
      async () => {
        await Promise.all(
          keys.map(async (k) => {
            const m = new Mutex(redis, `${prefix}sem:${k}`, semOptions);
            await m.acquire();
            await m.release();
          }),
        );
      },
      { peer: 'redis-semaphore', batch: CONCURRENT },
    );
    b.add(
      `redlock 5.0.0-beta.2: ${CONCURRENT} concurrent acquire+release (1 instance, per op)`,
      async () => {
        await Promise.all(
          keys.map(async (k) => {
            const lock = await nodeRedlock1.acquire([`${prefix}rl:${k}`], TTL);
            await lock.release();
          }),
        );
      },
      { peer: 'redlock', batch: CONCURRENT },
    );

    // --- 5 instances (Redlock): latency of one acquire+release ---------------------------------
    b.add('gopherkit Redlock: acquire+release (5 instances)', async () => {
      const lease = await ours5.acquire('five');
      await lease.release();
    });
    b.add(
      'redis-semaphore RedlockMutex: acquire+release (5 instances)',
      async () => {
        const m = new RedlockMutex(five, `${prefix}sem:five`, semOptions);
        await m.acquire();
        await m.release();
      },
      { peer: 'redis-semaphore' },
    );
    b.add(
      'redlock 5.0.0-beta.2: acquire+release (5 instances)',
      async () => {
        const lock = await nodeRedlock5.acquire([`${prefix}rl:five`], TTL);
        await lock.release();
      },
      { peer: 'redlock' },
    );
    b.add(
      `gopherkit Redlock: ${CONCURRENT} concurrent acquire+release (5 instances, per op)`,
      async () => {
        await Promise.all(
          keys.map(async (k) => {
            const lease = await ours5.acquire(k);
            await lease.release();
          }),
        );
      },
      { batch: CONCURRENT },
    );
    b.add(
      `redis-semaphore RedlockMutex: ${CONCURRENT} concurrent acquire+release (5 instances, per op)`,
      async () => {
        await Promise.all(
          keys.map(async (k) => {
            const m = new RedlockMutex(five, `${prefix}sem:${k}`, semOptions);
            await m.acquire();
            await m.release();
          }),
        );
      },
      { peer: 'redis-semaphore', batch: CONCURRENT },
    );
    b.add(
      `redlock 5.0.0-beta.2: ${CONCURRENT} concurrent acquire+release (5 instances, per op)`,
      async () => {
        await Promise.all(
          keys.map(async (k) => {
            const lock = await nodeRedlock5.acquire([`${prefix}rl:${k}`], TTL);
            await lock.release();
          }),
        );
      },
      { peer: 'redlock', batch: CONCURRENT },
    );
    b.extra('gopherkit RedisLock: acquire+release (1 instance)', { note: 'includes the fencing-token INCR in the acquire script' });
  },
});
