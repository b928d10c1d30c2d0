import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { RWMutex } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('RWMutex', () => {
  it('lets readers share and keeps writers alone under a random mix of 300 tasks', async () => {
    const rw = new RWMutex();
    let readers = 0;
    let writers = 0;
    let peakReaders = 0;
    let violations = 0;
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    await Promise.all(
      Array.from({ length: 300 }, async () => {
        if (rnd() < 0.8) {
          using _ = await rw.rlock();
          readers++;
          peakReaders = Math.max(peakReaders, readers);
          if (writers !== 0) violations++;
          await tick();
          readers--;
        } else {
          using _ = await rw.lock();
          writers++;
          if (writers !== 1 || readers !== 0) violations++;
          await tick();
          writers--;
        }
      }),
    );
    expect(violations).toBe(0);
    expect(peakReaders).toBeGreaterThan(1);
    expect(rw.readLocked).toBe(0);
    expect(rw.writeLocked).toBe(false);
  });

  it('is writer-preferring: once a writer waits, new readers queue behind it', async () => {
    const rw = new RWMutex();
    const r1 = await rw.rlock();
    const order: string[] = [];
    const w = rw.lock().then((g) => {
      order.push('writer');
      return g;
    });
    expect(rw.tryRLock()).toBeUndefined();
    const r2 = rw.rlock().then((g) => {
      order.push('late reader');
      return g;
    });
    await tick();
    expect(order).toEqual([]);
    r1.release();
    const wg = await w;
    await tick();
    expect(order).toEqual(['writer']);
    wg.release();
    (await r2).release();
    expect(order).toEqual(['writer', 'late reader']);
  });

  it('serves the queue in order: consecutive readers enter together, a writer alone', async () => {
    const rw = new RWMutex();
    const w0 = await rw.lock();
    const log: string[] = [];
    const take = (name: string, write: boolean) =>
      (write ? rw.lock() : rw.rlock()).then((g) => {
        log.push(`${name}:${rw.readLocked}r${rw.writeLocked ? '+w' : ''}`);
        return g;
      });
    const r1 = take('r1', false);
    const r2 = take('r2', false);
    const w1 = take('w1', true);
    const r3 = take('r3', false);
    w0.release();
    const [g1, g2] = await Promise.all([r1, r2]);
    await tick();
    expect(log).toEqual(['r1:2r', 'r2:2r']);
    g1.release();
    g2.release();
    const gw = await w1;
    await tick();
    expect(log.slice(2)).toEqual(['w1:0r+w']);
    gw.release();
    (await r3).release();
    expect(log.slice(3)).toEqual(['r3:1r']);
  });

  it('a waiting writer that aborts lets the readers queued behind it in at once', async () => {
    const rw = new RWMutex();
    const r1 = await rw.rlock();
    const ac = new AbortController();
    const w = rw.lock({ signal: ac.signal });
    let readerIn = false;
    const r2 = rw.rlock().then((g) => {
      readerIn = true;
      return g;
    });
    await tick();
    expect(readerIn).toBe(false);
    ac.abort('writer gave up');
    await expect(w).rejects.toBe('writer gave up');
    (await r2).release();
    expect(readerIn).toBe(true);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    r1.release();
    expect(rw.tryLock()).toBeDefined();
  });

  it('tryLock needs the lock fully free; guards release once', async () => {
    const rw = new RWMutex();
    const r = rw.tryRLock();
    expect(rw.tryLock()).toBeUndefined();
    r?.release();
    r?.release();
    expect(rw.readLocked).toBe(0);
    const w = rw.tryLock();
    expect(rw.tryRLock()).toBeUndefined();
    w?.release();
    expect(await rw.withReadLock(() => rw.readLocked)).toBe(1);
    expect(await rw.withLock(() => rw.writeLocked)).toBe(true);
    await expect(rw.rlock({ signal: AbortSignal.abort('x') })).rejects.toBe('x');
    expect(rw.readLocked).toBe(0);
  });
});
