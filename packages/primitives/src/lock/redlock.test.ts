import { type RedisServer, startRedisServers } from '@gopherkit/testkit';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { LockBusyError, LockLostError, QuorumError, Redlock } from './index.js';

let servers: RedisServer[] = [];
let clients: Redis[] = [];
let n = 0;
const prefix = () => `gk:test:redlock:${process.pid}:${n++}:`;

beforeAll(async () => {
  servers = await startRedisServers(5);
  clients = servers.map((s) => s.client({ retryStrategy: () => 50 }));
});
afterAll(() => Promise.all(servers.map((s) => s.stop())));

const fast = { attempts: 1, delayMs: 0, jitterMs: 0 };

/**
 * Barrier: resolves once `key` has the expected existence on the given instances. The probe goes
 * over the same connection as the lock's own commands, so their replies have been processed too.
 */
async function until(indexes: number[], key: string, exists: 0 | 1) {
  await vi.waitFor(async () => expect(await Promise.all(indexes.map((i) => clients[i]?.exists(key)))).toEqual(indexes.map(() => exists)), {
    timeout: 10_000,
    interval: 10,
  });
}

describe('Redlock', () => {
  it('takes the lock on every instance at once and releases it everywhere', async () => {
    const p = prefix();
    const rl = new Redlock(clients, { prefix: p });
    expect(rl.quorum).toBe(3);
    const lease = await rl.acquire('r', { ttlMs: 5000 });
    const values = await Promise.all(clients.map((c) => c.get(`${p}lock:{r}`)));
    expect(values).toEqual(Array(5).fill(lease.token));
    expect(lease.fence).toBeUndefined(); // no designated fencing instance
    await expect(rl.acquire('r', { retry: 'none' })).rejects.toBeInstanceOf(LockBusyError);
    await lease.release();
    expect(await Promise.all(clients.map((c) => c.exists(`${p}lock:{r}`)))).toEqual([0, 0, 0, 0, 0]);
  });

  it('validity = ttl − elapsed − drift, acquisition in parallel: two hung instances cost one instance timeout, not two', async () => {
    const clock = new ManualClock(0);
    const p = prefix();
    const rl = new Redlock(clients, { prefix: p, clock, instanceTimeoutMs: 200 });
    servers[3]?.freeze();
    servers[4]?.freeze();
    try {
      const pending = rl.acquire('par', { ttlMs: 10_000, retry: 'none' });
      // wait until the three live instances have answered, then let the per-instance timeout pass once
      await until([0, 1, 2], `${p}lock:{par}`, 1);
      await clock.advance(200);
      const lease = await pending;
      // elapsed 200 (one shared timeout), drift 10 000·0.01 + 2 = 102
      expect(lease.expiresAt).toBe(10_000 - 102);
      expect(lease.validityMs).toBe(10_000 - 200 - 102);
      const rel = lease.release().then(
        () => 'released',
        (e) => e,
      );
      await until([0, 1, 2], `${p}lock:{par}`, 0);
      await clock.advance(200); // the hung instances time out on release too; 3 deletes are a majority
      expect(await rel).toBe('released');
    } finally {
      servers[3]?.thaw();
      servers[4]?.thaw();
    }
  });

  it('a majority that answers too late leaves no validity: QuorumError says so, and the keys are taken back', async () => {
    const clock = new ManualClock(0);
    const p = prefix();
    const rl = new Redlock(clients, { prefix: p, clock, instanceTimeoutMs: 150 });
    for (const i of [2, 3, 4]) servers[i]?.freeze();
    try {
      const pending = rl.acquire('late', { ttlMs: 100, retry: 'none' }).catch((e) => e);
      await until([0, 1], `${p}lock:{late}`, 1); // 2 of 5: no majority yet
      await clock.advance(100); // elapsed 100 ≥ ttl 100 − drift 3, before the 150 ms instance timeout
      servers[2]?.thaw(); // the third "ok" arrives now: a majority, but too late
      await until([0, 1, 2], `${p}lock:{late}`, 0); // cleanup released what it got
      await clock.advance(150); // cleanup's release times out on the two still hung
      const err = await pending;
      expect(err).toBeInstanceOf(QuorumError);
      expect(err.message).toMatch(/reached 3 of 5 instances, quorum is 3, but validity ttl − elapsed − drift = -3 ms left nothing/);
    } finally {
      for (const i of [2, 3, 4]) servers[i]?.thaw();
    }
    await until([3, 4], `${p}lock:{late}`, 0); // their SETs landed after thawing; the release sent after them removed them
  });

  it('acquire and extend resolve once a majority said ok, without waiting for the slowest instance', async () => {
    const clock = new ManualClock(0);
    const p = prefix();
    const rl = new Redlock(clients, { prefix: p, clock, instanceTimeoutMs: 1000 });
    servers[4]?.freeze();
    try {
      // with a ManualClock nobody advances, waiting for #4 would never end
      const lease = await rl.acquire('fast', { ttlMs: 10_000, retry: 'none' });
      expect(lease.held).toBe(true);
      await lease.extend(20_000);
      // a majority confirmed the extend; the 4th live instance may still be running it (after a
      // NOSCRIPT its EVAL fallback is sent later than this PTTL on the same connection)
      expect(await Promise.all(clients.slice(0, 4).map((c) => c.pttl(`${p}lock:{fast}`)))).toSatisfy((t: number[]) => t.filter((x) => x > 10_000).length >= 3);
      const released = lease.release(); // release waits for every instance (or the instance timeout)
      await until([0, 1, 2, 3], `${p}lock:{fast}`, 0);
      servers[4]?.thaw();
      await released;
    } finally {
      servers[4]?.thaw();
    }
    // the frozen instance ran the SET, the extend and the release in the order they were sent
    await until([4], `${p}lock:{fast}`, 0);
  });

  it('never deletes a key whose token differs: not on release, not when cleaning up a failed acquire', async () => {
    const p = prefix();
    const k = `${p}lock:{own}`;
    const rl = new Redlock(clients, { prefix: p });
    // another owner holds 3 instances: we get 2, lose, clean up our 2 and leave theirs alone
    await Promise.all([0, 1, 2].map((i) => clients[i]?.set(k, 'other', 'PX', 10_000)));
    await expect(rl.acquire('own', { retry: 'none' })).rejects.toBeInstanceOf(LockBusyError);
    expect(await Promise.all(clients.map((c) => c.get(k)))).toEqual(['other', 'other', 'other', null, null]);
    await Promise.all(clients.map((c) => c.del(k)));
    // we hold all 5; two instances get re-owned behind our back; release deletes only our 3
    const lease = await rl.acquire('own', { ttlMs: 10_000 });
    await Promise.all([3, 4].map((i) => clients[i]?.set(k, 'other')));
    await lease.release();
    expect(await Promise.all(clients.map((c) => c.get(k)))).toEqual([null, null, null, 'other', 'other']);
    await Promise.all(clients.map((c) => c.del(k)));
  });

  it('extend needs a quorum: ok on 3 of 5, lost when 3 of 5 are gone', async () => {
    const p = prefix();
    const k = `${p}lock:{ext}`;
    const rl = new Redlock(clients, { prefix: p });
    const lease = await rl.acquire('ext', { ttlMs: 10_000 });
    await Promise.all([0, 1].map((i) => clients[i]?.del(k)));
    await lease.extend(20_000);
    expect(await clients[2]?.pttl(k)).toBeGreaterThan(10_000);
    expect(await clients[0]?.exists(k)).toBe(0); // extend never re-creates a missing key
    await clients[2]?.del(k);
    const err = await lease.extend().catch((e) => e);
    expect(err).toBeInstanceOf(LockLostError);
    expect(lease.signal.reason).toBe(err);
    await Promise.all(clients.map((c) => c.del(k)));
  });

  it('a designated fencing instance issues increasing tokens; without it acquire fails rather than go unfenced', async () => {
    const p = prefix();
    const [fencer] = await startRedisServers(1);
    if (!fencer) throw new Error('no server');
    try {
      const rl = new Redlock(clients, { prefix: p, fencingClient: fencer.client({ retryStrategy: () => 50 }), instanceTimeoutMs: 300 });
      const a = await rl.acquire('f');
      await a.release();
      const b = await rl.acquire('f');
      expect([a.fence, b.fence]).toEqual([1, 2]);
      await b.release();
      await fencer.kill();
      await expect(rl.acquire('f', { retry: 'none' })).rejects.not.toBeInstanceOf(LockBusyError);
      // and the majority was cleaned up
      expect(await Promise.all(clients.map((c) => c.exists(`${p}lock:{f}`)))).toEqual([0, 0, 0, 0, 0]);
    } finally {
      await fencer.stop();
    }
  });

  it('using(key, opts, fn) runs fn with the lease signal and releases on every instance; close() releases what is left', async () => {
    const p = prefix();
    const rl = new Redlock(clients, { prefix: p });
    const out = await rl.using('u', { ttlMs: 5000 }, async (signal, lease) => {
      expect(signal.aborted).toBe(false);
      expect(await Promise.all(clients.map((c) => c.get(`${p}lock:{u}`)))).toEqual(Array(5).fill(lease.token));
      return 'done';
    });
    expect(out).toBe('done');
    expect(await Promise.all(clients.map((c) => c.exists(`${p}lock:{u}`)))).toEqual([0, 0, 0, 0, 0]);
    await rl.acquire('left', { watchdog: true });
    expect(rl.activeLeases).toBe(1);
    await rl.close();
    expect(rl.activeLeases).toBe(0);
    expect(await Promise.all(clients.map((c) => c.exists(`${p}lock:{left}`)))).toEqual([0, 0, 0, 0, 0]);
  });

  it('rejects bad configuration with typed errors', () => {
    expect(() => new Redlock([])).toThrow('clients must be a non-empty array of Redis clients, got an array of length 0');
    expect(() => new Redlock(clients, { instanceTimeoutMs: 0 })).toThrow(InvalidArgumentError);
  });

  it('kill 2 of 5 → still acquires and releases; kill a 3rd → QuorumError listing every instance, no hang; restart → works again', {
    timeout: 60_000,
  }, async () => {
    const p = prefix();
    const rl = new Redlock(clients, { prefix: p, instanceTimeoutMs: 500 });
    await servers[0]?.kill();
    await servers[1]?.kill();
    const lease = await rl.acquire('kill', { ttlMs: 5000, retry: fast });
    expect(lease.held).toBe(true);
    await lease.release();
    expect(await Promise.all(clients.slice(2).map((c) => c.exists(`${p}lock:{kill}`)))).toEqual([0, 0, 0]);

    await servers[2]?.kill();
    const started = Date.now();
    const err = await rl.acquire('kill', { ttlMs: 5000, retry: { attempts: 2, delayMs: 10, jitterMs: 10 } }).catch((e) => e);
    expect(Date.now() - started).toBeLessThan(10_000); // bounded by per-instance timeouts, not a hang
    expect(err).toBeInstanceOf(QuorumError);
    expect(err.quorum).toBe(3);
    expect(err.outcomes.map((o: { outcome: string }) => o.outcome === 'ok')).toEqual([false, false, false, true, true]);
    expect(err.outcomes.slice(0, 3).every((o: { outcome: string }) => o.outcome === 'error' || o.outcome === 'timeout')).toBe(true);
    expect(err.message).toMatch(/^acquire of lock "kill" reached 2 of 5 instances, quorum is 3: #0 127\.0\.0\.1:\d+: (error|timeout)/);
    // the two instances it did get were given back
    expect(await Promise.all(clients.slice(3).map((c) => c.exists(`${p}lock:{kill}`)))).toEqual([0, 0]);

    await Promise.all(servers.slice(0, 3).map((s) => s.restart()));
    await vi.waitFor(async () => expect(await Promise.all(clients.map((c) => c.ping()))).toEqual(Array(5).fill('PONG')), { timeout: 10_000, interval: 100 });
    const again = await rl.acquire('kill', { ttlMs: 5000, retry: fast });
    expect(await Promise.all(clients.map((c) => c.get(`${p}lock:{kill}`)))).toEqual(Array(5).fill(again.token));
    await again.release(); // restarted servers lost their script cache: EVALSHA → NOSCRIPT → EVAL
    expect(await Promise.all(clients.map((c) => c.exists(`${p}lock:{kill}`)))).toEqual([0, 0, 0, 0, 0]);
  });

  it('watchdog over 5 instances: a frozen majority makes the loss show once validity runs out', async () => {
    const clock = new ManualClock(0);
    const rl = new Redlock(clients, { prefix: prefix(), clock, instanceTimeoutMs: 200 });
    const lease = await rl.acquire('wd', { ttlMs: 3000, watchdog: true });
    await clock.advance(1000);
    await vi.waitFor(() => expect(lease.expiresAt).toBe(1000 + 2968));
    for (const s of servers.slice(0, 3)) s.freeze();
    try {
      await clock.advance(1000); // renewal: 2 ok, 3 hang → times out after 200 → retried, still no quorum
      await clock.advanceTo(3967);
      expect(lease.signal.aborted).toBe(false);
      await clock.advanceTo(3968);
      expect(lease.signal.aborted).toBe(true);
      expect(lease.signal.reason.message).toMatch(
        /no renewal was confirmed before the validity ran out \(last renewal: extend of lock "wd" reached [0-2] of 5 instances, quorum is 3/,
      );
    } finally {
      for (const s of servers.slice(0, 3)) s.thaw();
    }
  });
});
