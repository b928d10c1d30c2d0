import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { DeadlineExceeded } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Semaphore } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Semaphore', () => {
  it('a release that frees too little for the head grants nobody behind it (no overtaking)', async () => {
    const s = new Semaphore(10);
    const six = await s.acquire(6);
    const two = await s.acquire(2);
    const granted: string[] = [];
    const big = s.acquire(5).then((p) => {
      granted.push('big');
      return p;
    });
    const small = s.acquire(1).then((p) => {
      granted.push('small');
      return p;
    });
    two.release(); // 4 free: enough for `small`, not for the head
    await tick();
    expect(granted).toEqual([]);
    six.release();
    (await big).release();
    (await small).release();
    expect(granted).toEqual(['big', 'small']);
    expect(s.available).toBe(10);
  });
  it('rejects bad sizes and weights with typed errors that say what is allowed', () => {
    expect(() => new Semaphore(0)).toThrow(InvalidArgumentError);
    expect(() => new Semaphore(1.5)).toThrow('size must be an integer >= 1, got 1.5');
    const s = new Semaphore(3);
    expect(() => s.acquire(4)).toThrow('weight must be an integer in [1, 3], got 4');
    expect(() => s.tryAcquire(0)).toThrow(InvalidArgumentError);
  });

  it('never lets more than size tokens out under 100 concurrent weighted tasks', async () => {
    const s = new Semaphore(5);
    let used = 0;
    let peak = 0;
    let done = 0;
    await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const w = (i % 3) + 1;
        using _p = await s.acquire(w);
        used += w;
        peak = Math.max(peak, used);
        await tick();
        used -= w;
        done++;
      }),
    );
    expect(done).toBe(100);
    expect(peak).toBeLessThanOrEqual(5);
    expect(peak).toBeGreaterThan(1);
    expect(s.available).toBe(5);
  });

  it('is FIFO with no barging: a large waiter at the head is not overtaken by smaller ones', async () => {
    const s = new Semaphore(10);
    const held = await s.acquire(8);
    const order: string[] = [];
    const big = s.acquire(5).then((p) => {
      order.push('big');
      return p;
    });
    // 2 tokens are free, but the big waiter came first: small ones must queue behind it.
    expect(s.tryAcquire(1)).toBeUndefined();
    const small = s.acquire(1).then((p) => {
      order.push('small');
      return p;
    });
    await tick();
    expect(order).toEqual([]);
    expect(s.available).toBe(2);
    held.release();
    const [pb, ps] = await Promise.all([big, small]);
    expect(order).toEqual(['big', 'small']);
    expect(s.available).toBe(4);
    pb.release();
    ps.release();
    expect(s.available).toBe(10);
  });

  it('when the head waiter gives up, the waiters it was blocking are woken at once', async () => {
    const s = new Semaphore(10);
    const held = await s.acquire(8);
    const ac = new AbortController();
    const big = s.acquire(5, { signal: ac.signal });
    let smallGot = false;
    const small = s.acquire(2).then((p) => {
      smallGot = true;
      return p;
    });
    await tick();
    expect(smallGot).toBe(false);
    ac.abort(new Error('gave up'));
    await expect(big).rejects.toThrow('gave up');
    (await small).release();
    expect(smallGot).toBe(true);
    held.release();
    expect(s.available).toBe(10);
  });

  it('an aborted acquire leaves tokens, queue and listeners exactly as before', async () => {
    const s = new Semaphore(4);
    const held = await s.acquire(4);
    const before = { available: s.available, waiting: s.waiting };
    const ac = new AbortController();
    const p = s.acquire(3, { signal: ac.signal });
    expect(s.waiting).toBe(1);
    ac.abort('stop');
    await expect(p).rejects.toBe('stop');
    expect({ available: s.available, waiting: s.waiting }).toEqual(before);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    await expect(s.acquire(1, { signal: ac.signal })).rejects.toBe('stop');
    held.release();
    expect(s.available).toBe(4);
    // an already-aborted signal takes nothing even when tokens are free
    await expect(s.acquire(1, { signal: ac.signal })).rejects.toBe('stop');
    expect(s.available).toBe(4);
  });

  it('a deadline gives up on the injected clock and returns nothing it did not get', async () => {
    const clock = new ManualClock();
    const s = new Semaphore(2, { clock });
    const held = await s.acquire(2);
    const p = s.acquire(1, { deadline: 50 });
    const rejected = expect(p).rejects.toBe(DeadlineExceeded);
    await clock.advance(50);
    await rejected;
    expect(clock.pendingTimers).toBe(0);
    held.release();
    expect(s.available).toBe(2);
  });

  it('a permit releases exactly its weight, once', async () => {
    const s = new Semaphore(3);
    const p = await s.acquire(2);
    expect(p.weight).toBe(2);
    p.release();
    p.release();
    expect(s.available).toBe(3);
    const q = s.tryAcquire(3);
    p[Symbol.dispose]();
    expect(s.available).toBe(0);
    q?.release();
    expect(await s.withPermit(() => s.available, 2)).toBe(1);
    expect(s.available).toBe(3);
  });
});

describe('Semaphore under random aborts', () => {
  it('500 weighted acquirers, a third of them aborting at random moments: no token leaks, bound always held', async () => {
    const s = new Semaphore(6);
    let seed = 11;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let used = 0;
    let peak = 0;
    let served = 0;
    let aborted = 0;
    await Promise.all(
      Array.from({ length: 500 }, async () => {
        const weight = 1 + Math.floor(rnd() * 4);
        const ac = new AbortController();
        if (rnd() < 0.33) {
          const ticks = Math.floor(rnd() * 5);
          void (async () => {
            for (let i = 0; i < ticks; i++) await tick();
            ac.abort('timeout');
          })();
        }
        let permit: Awaited<ReturnType<Semaphore['acquire']>>;
        try {
          permit = await s.acquire(weight, { signal: ac.signal });
        } catch (e) {
          expect(e).toBe('timeout');
          aborted++;
          return;
        }
        used += weight;
        peak = Math.max(peak, used);
        expect(used).toBeLessThanOrEqual(6);
        await tick();
        used -= weight;
        served++;
        permit.release();
      }),
    );
    expect(served + aborted).toBe(500);
    expect(aborted).toBeGreaterThan(0);
    expect(served).toBeGreaterThan(0);
    expect(peak).toBeLessThanOrEqual(6);
    expect(s.available).toBe(6);
    expect(s.waiting).toBe(0);
  });
});
