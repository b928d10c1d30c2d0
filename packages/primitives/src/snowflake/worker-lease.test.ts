import { startRedis } from '@gopherkit/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { leaseWorkerId, NoWorkerIdAvailableError, Snowflake, WorkerIdLeaseLostError } from './index.js';

const server = await startRedis();
const redis = server.client();
afterAll(() => server.stop());
let n = 0;
const prefix = () => `gk:test:${process.pid}:${n++}:`;

describe('leaseWorkerId', () => {
  it('many concurrent leasers on separate connections never share an ID; the surplus gets a typed error', async () => {
    const p = prefix();
    const clients = Array.from({ length: 24 }, () => server.client());
    const results = await Promise.allSettled(clients.map((c) => leaseWorkerId(c, { prefix: p, workerBits: 4, namespace: 'orders' })));
    const leases = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : []));
    expect(leases).toHaveLength(16);
    expect(new Set(leases.map((l) => l.workerId)).size).toBe(16);
    expect(failures).toHaveLength(8);
    for (const f of failures) expect(f).toBeInstanceOf(NoWorkerIdAvailableError);
    expect(failures[0].message).toBe('all 16 worker IDs of "orders" are leased; raise workerBits or wait for a lease to expire');
    // keys are namespaced under the prefix with a hash tag
    expect(await redis.exists(`${p}snowflake:{orders}:worker:${leases[0]!.workerId}`)).toBe(1);
    await Promise.all(leases.map((l) => l.close()));
    for (const c of clients) c.disconnect();
  });

  it('close() releases the ID for the next process; a released lease cannot delete a newer owner', async () => {
    const p = prefix();
    const a = await leaseWorkerId(redis, { prefix: p, workerBits: 0 });
    expect(a.workerId).toBe(0);
    await expect(leaseWorkerId(redis, { prefix: p, workerBits: 0 })).rejects.toThrow(NoWorkerIdAvailableError);
    await a.close();
    expect(await redis.exists(a.key)).toBe(0);
    const b = await leaseWorkerId(redis, { prefix: p, workerBits: 0 });
    await a.close(); // idempotent, must not touch b's key
    expect(await redis.exists(b.key)).toBe(1);
    await b.close();
  });

  it('the heartbeat extends the TTL (unref timer on the injected clock)', async () => {
    const clock = new ManualClock(0);
    const lease = await leaseWorkerId(redis, { prefix: prefix(), workerBits: 2, ttlMs: 60_000, heartbeatMs: 1000, clock });
    let renewed = 0;
    lease.on('renewed', () => renewed++);
    await redis.pexpire(lease.key, 5_000); // pretend time has eaten most of the TTL
    const once = new Promise<void>((resolve) => lease.once('renewed', () => resolve()));
    await clock.advance(1000);
    await once; // the Redis round trip completed
    expect(renewed).toBe(1);
    expect(await redis.pttl(lease.key)).toBeGreaterThan(50_000);
    expect(clock.pendingTimers).toBe(1); // rescheduled
    await lease.close();
    expect(clock.pendingTimers).toBe(0);
  });

  it('detects lease loss (key taken over) on the next heartbeat and the Snowflake refuses to generate', async () => {
    const clock = new ManualClock(Date.UTC(2025, 0, 1));
    const lease = await leaseWorkerId(redis, { prefix: prefix(), workerBits: 3, ttlMs: 60_000, heartbeatMs: 1000, clock });
    const sf = new Snowflake({ workerId: lease, clock });
    expect(sf.decompose(sf.next()).workerId).toBe(lease.workerId);
    const lost = new Promise<Error>((resolve) => lease.once('lost', resolve));
    await redis.set(lease.key, 'someone-else'); // e.g. our TTL lapsed during a long pause and another process took the ID
    await clock.advance(1000);
    const reason = await lost;
    expect(reason.message).toMatch(/expired or is held by another process/);
    expect(lease.lost).toBe(true);
    expect(() => sf.next()).toThrow(WorkerIdLeaseLostError);
    await lease.close();
    expect(await redis.get(lease.key)).toBe('someone-else'); // close never deletes another owner's key
  });

  it('a lease whose heartbeats keep failing for a whole TTL is declared lost', async () => {
    const clock = new ManualClock(0);
    const c = server.client();
    const lease = await leaseWorkerId(c, { prefix: prefix(), workerBits: 3, ttlMs: 3000, heartbeatMs: 1000, clock });
    const errors: unknown[] = [];
    lease.on('error', (e) => errors.push(e));
    c.disconnect(); // Redis unreachable from this process
    for (let i = 0; i < 3; i++) {
      const failed = new Promise((resolve) => lease.once('error', resolve));
      await clock.advance(1000);
      await failed;
      expect(lease.lost).toBe(i === 2); // lost only once a whole TTL passed without a renewal
    }
    expect(errors).toHaveLength(3);
    expect(lease.lost).toBe(true);
    expect(lease.signal.reason.message).toMatch(/no successful heartbeat for 3000 ms/);
    await lease.close();
  });

  it("a crashed process's ID frees itself after the TTL", async () => {
    const p = prefix();
    const c = server.client();
    const crashed = await leaseWorkerId(c, { prefix: p, workerBits: 0, ttlMs: 150, heartbeatMs: 100, clock: new ManualClock(0) });
    c.disconnect(); // the process dies: no heartbeat, no release
    await expect(leaseWorkerId(redis, { prefix: p, workerBits: 0 })).rejects.toThrow(NoWorkerIdAvailableError);
    let next: Awaited<ReturnType<typeof leaseWorkerId>> | undefined;
    for (let i = 0; i < 100 && !next; i++) {
      next = await leaseWorkerId(redis, { prefix: p, workerBits: 0 }).catch(() => undefined);
      if (!next) await new Promise((r) => setTimeout(r, 20)); // waiting on the server-side TTL
    }
    expect(next?.workerId).toBe(crashed.workerId);
    await next?.close();
  });

  it('validates options', async () => {
    await expect(leaseWorkerId(redis, { ttlMs: 5 })).rejects.toThrow('ttlMs must be a finite number >= 10, got 5');
    await expect(leaseWorkerId(redis, { ttlMs: 1000, heartbeatMs: 1000 })).rejects.toThrow(InvalidArgumentError);
    await expect(leaseWorkerId(redis, { namespace: '' })).rejects.toThrow('namespace must be a non-empty string');
    await expect(leaseWorkerId(redis, { workerBits: 21 })).rejects.toThrow(InvalidArgumentError);
  });
});
