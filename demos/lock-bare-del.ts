import { LockBusyError, LockNotHeldError, RedisLock } from '@gopherkit/primitives/lock';
import type { Redis } from 'ioredis';
import { defineDemo } from './harness/demo.js';

/**
 * The seed unlocks with a bare `DEL` (seed L3014, L3721, L3888) on a lock whose value is `1`.
 * Forced interleaving, identical every run: A's lock expires while A still works, B takes it,
 * A finishes and `DEL`s — deleting **B's** lock — and C walks in while B is still inside.
 * Then the same sequence with RedisLock's compare-and-delete: A's release touches nothing and
 * reports `LockNotHeldError`; C is told the lock is busy.
 */
export default defineDemo({
  description: "Bare DEL unlock: A's expired lock, B takes it, A's DEL frees B's lock and C gets in; compare-and-delete stops it",
  async run(d) {
    const server = await d.redis();
    const redis = server.client();
    const TTL = 150;
    const prefix = `gk:demo:bare-del:${process.pid}:`;
    // owners holding a lock they believe valid, inside the critical section
    const inside = new Set<string>();
    let maxInside = 0;
    const enter = (who: string) => {
      inside.add(who);
      maxInside = Math.max(maxInside, inside.size);
    };
    const waitExpired = async (key: string) => {
      while ((await redis.exists(key)) === 1) await new Promise((r) => setTimeout(r, 5));
    };

    // --- the seed's lock: SET key 1 NX PX ttl, unlock = DEL -----------------------------------
    const naiveKey = `${prefix}naive:order:42`;
    const naiveLock = async (c: Redis) => (await c.set(naiveKey, '1', 'PX', TTL, 'NX')) === 'OK';
    const naiveUnlock = (c: Redis) => c.del(naiveKey);
    const naive: Record<string, unknown>[] = [];
    const step = (rows: Record<string, unknown>[], who: string, action: string, result: string) => rows.push({ step: rows.length + 1, who, action, result });

    step(naive, 'A', 'SET lock 1 NX PX 150', String(await naiveLock(redis)));
    enter('A');
    await waitExpired(naiveKey); // A's work outlives the TTL
    inside.delete('A'); // A's lease is over (its stale writes are the fencing-token demo's subject)
    step(naive, '-', `${TTL} ms pass, A still working`, 'lock expired');
    const bGot = await naiveLock(redis);
    step(naive, 'B', 'SET lock 1 NX PX 150', String(bGot));
    if (bGot) enter('B');
    step(naive, 'A', 'work done: DEL lock', `deleted ${await naiveUnlock(redis)} key (B's!)`);
    const cGot = await naiveLock(redis);
    step(naive, 'C', 'SET lock 1 NX PX 150', String(cGot));
    if (cGot) enter('C');
    const naiveOverlap = [...inside].join('+');
    step(naive, '-', 'inside the critical section now', naiveOverlap);
    const naiveMax = maxInside;
    d.log('Seed-style lock (value "1", unlock = bare DEL):');
    d.table(naive);

    // --- RedisLock: token value, compare-and-delete -------------------------------------------
    inside.clear();
    maxInside = 0;
    const lock = new RedisLock(redis, { prefix });
    const fixed: Record<string, unknown>[] = [];
    const a = await lock.acquire('order:42', { ttlMs: TTL, retry: 'none' });
    step(fixed, 'A', 'acquire (SET token NX PX 150)', `fence ${a.fence}`);
    enter('A');
    await waitExpired(`${prefix}lock:{order:42}`);
    inside.delete('A');
    step(fixed, '-', `${TTL} ms pass, A still working`, `lock expired; A.signal.aborted=${a.signal.aborted}`);
    const b = await lock.acquire('order:42', { ttlMs: 5000, retry: 'none' });
    enter('B');
    step(fixed, 'B', 'acquire', `fence ${b.fence}`);
    const aRelease = await a.release().then(
      () => 'released (?!)',
      (e) => (e instanceof LockNotHeldError ? 'LockNotHeldError: B’s key left untouched' : `error ${e}`),
    );
    step(fixed, 'A', 'work done: release (compare-and-delete)', aRelease);
    const c = await lock.acquire('order:42', { retry: 'none' }).then(
      (l) => l,
      (e) => e as Error,
    );
    const cBusy = c instanceof LockBusyError;
    step(fixed, 'C', 'acquire', cBusy ? 'LockBusyError (B holds it)' : 'ACQUIRED');
    if (!cBusy) enter('C');
    const bKeyIntact = (await redis.get(`${prefix}lock:{order:42}`)) === b.token;
    step(fixed, '-', 'inside the critical section now', [...inside].join('+'));
    await b.release();
    d.log('\nRedisLock (random token, compare-and-delete Lua):');
    d.table(fixed);

    d.check(naiveMax >= 2, "the seed's bare DEL must let C in while B holds the lock (the failure this demo shows)");
    d.check(maxInside === 1, 'with compare-and-delete only one owner with a live lock may be inside at a time');
    d.check(cBusy, 'C must get LockBusyError while B holds the lock');
    d.check(aRelease.startsWith('LockNotHeldError'), 'A’s late release must report LockNotHeldError');
    d.check(bKeyIntact, 'B’s key must survive A’s release');
    await redis.del(`${prefix}fence:{order:42}`);
    return `bare DEL: ${naiveMax} live owners inside at once (${naiveOverlap}); compare-and-delete: ${maxInside}, A got LockNotHeldError, C got LockBusyError`;
  },
});
