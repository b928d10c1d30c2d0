import { describe, expect, it } from 'vitest';
import { createKeyedPool, PoolClosedError } from './index.js';

describe('KeyedPool', () => {
  it('limits and keeps idle resources per key, so one busy key cannot starve another', async () => {
    const live = new Map<string, number>();
    const made: string[] = [];
    const pool = createKeyedPool({
      maxPerKey: 2,
      maxIdlePerKey: 1,
      create: async (host: string) => {
        live.set(host, (live.get(host) ?? 0) + 1);
        made.push(host);
        return { host };
      },
      destroy: (c) => void live.set(c.host, (live.get(c.host) ?? 0) - 1),
    });
    const a1 = await pool.acquire('a');
    const a2 = await pool.acquire('a');
    let a3done = false;
    const a3 = pool.acquire('a').then((l) => {
      a3done = true;
      return l;
    });
    const b1 = await pool.acquire('b'); // 'a' is at its max; 'b' is not affected
    expect(b1.value.host).toBe('b');
    expect(a3done).toBe(false);
    a1.release(); // goes to the waiter for 'a'
    (await a3).release();
    a2.release(); // second idle for 'a' exceeds maxIdlePerKey: destroyed
    b1.release();
    const stats = pool.stats();
    expect(stats.get('a')).toMatchObject({ idle: 1, open: 1, maxIdleClosed: 1, waitCount: 1 });
    expect(stats.get('b')).toMatchObject({ idle: 1, open: 1 });
    expect(made).toEqual(['a', 'a', 'b']);
    await pool.close();
    expect([...live.values()]).toEqual([0, 0]);
    await expect(pool.acquire('a')).rejects.toBeInstanceOf(PoolClosedError);
    expect(pool.close()).toBe(pool.close());
  });

  it('after close(), acquire and use for a key never seen before reject with PoolClosedError and open no new pool', async () => {
    let created = 0;
    const pool = createKeyedPool({ maxPerKey: 1, create: async (host: string) => ({ host, n: ++created }) });
    (await pool.acquire('a')).release();
    await pool.close();
    await expect(pool.acquire('a-new-key')).rejects.toBeInstanceOf(PoolClosedError);
    await expect(pool.use('another-new-key', () => {})).rejects.toBeInstanceOf(PoolClosedError);
    expect([...pool.stats().keys()]).toEqual(['a']);
    expect(created).toBe(1);
  });

  it('rejects bad options', () => {
    expect(() => createKeyedPool({ create: async () => ({}), maxPerKey: 2, maxIdlePerKey: 3 })).toThrow('maxIdlePerKey must be an integer in [0, 2], got 3');
  });
});
