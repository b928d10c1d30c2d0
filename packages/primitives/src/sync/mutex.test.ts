import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { background, DeadlineExceeded, withCancelCause } from '../context/index.js';
import { Mutex } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('Mutex', () => {
  it('a read-modify-write spanning await loses no update under 200 concurrent tasks; one holder at a time', async () => {
    const mu = new Mutex();
    let balance = 0;
    let inside = 0;
    let maxInside = 0;
    await Promise.all(
      Array.from({ length: 200 }, async () => {
        using _ = await mu.lock();
        inside++;
        maxInside = Math.max(maxInside, inside);
        const read = balance;
        await tick();
        balance = read + 1;
        inside--;
      }),
    );
    expect(balance).toBe(200);
    expect(maxInside).toBe(1);
    expect(mu.locked).toBe(false);
  });

  it('serves waiters in arrival order', async () => {
    const mu = new Mutex();
    const first = await mu.lock();
    const order: number[] = [];
    const all = [1, 2, 3, 4, 5].map((i) =>
      mu.lock().then((g) => {
        order.push(i);
        g.release();
      }),
    );
    expect(mu.waiting).toBe(5);
    first.release();
    await Promise.all(all);
    expect(order).toEqual([1, 2, 3, 4, 5]);
  });

  it('hands the lock to the next waiter on release: tryLock cannot barge in between', async () => {
    const mu = new Mutex();
    const g = mu.tryLock();
    expect(g).toBeDefined();
    let waiterGot = false;
    const w = mu.lock().then((g2) => {
      waiterGot = true;
      return g2;
    });
    g?.release();
    expect(mu.locked).toBe(true); // owned by the waiter already, before its continuation runs
    expect(mu.tryLock()).toBeUndefined();
    (await w).release();
    expect(waiterGot).toBe(true);
    expect(mu.locked).toBe(false);
  });

  it('an aborted waiter leaves the queue as if it never came; others keep their order', async () => {
    const mu = new Mutex();
    const held = await mu.lock();
    const ac = new AbortController();
    const order: string[] = [];
    const a = mu.lock().then((g) => {
      order.push('a');
      g.release();
    });
    const leaver = mu.lock({ signal: ac.signal });
    const b = mu.lock().then((g) => {
      order.push('b');
      g.release();
    });
    expect(mu.waiting).toBe(3);
    const why = new Error('client went away');
    ac.abort(why);
    await expect(leaver).rejects.toBe(why);
    expect(mu.waiting).toBe(2);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    held.release();
    await Promise.all([a, b]);
    expect(order).toEqual(['a', 'b']);
    expect(mu.locked).toBe(false);
  });

  it('a granted waiter drops its abort listener, so a later abort does nothing', async () => {
    const mu = new Mutex();
    const held = await mu.lock();
    const ac = new AbortController();
    const p = mu.lock({ signal: ac.signal });
    held.release();
    const g = await p;
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    ac.abort();
    expect(mu.locked).toBe(true);
    g.release();
    expect(mu.locked).toBe(false);
  });

  it('an already-aborted signal rejects even when the lock is free, and takes nothing', async () => {
    const mu = new Mutex();
    await expect(mu.lock({ signal: AbortSignal.abort('nope') })).rejects.toBe('nope');
    expect(mu.locked).toBe(false);
  });

  it('a deadline rejects with DeadlineExceeded on the injected clock; a grant clears the timer', async () => {
    const clock = new ManualClock(0);
    const mu = new Mutex({ clock });
    const held = await mu.lock();
    const timedOut = mu.lock({ deadline: 100 });
    const granted = mu.lock({ deadline: 1000 });
    expect(clock.pendingTimers).toBe(2);
    const rejected = expect(timedOut).rejects.toBe(DeadlineExceeded);
    await clock.advance(100);
    await rejected;
    expect(clock.pendingTimers).toBe(1);
    held.release();
    const g = await granted;
    expect(clock.pendingTimers).toBe(0);
    g.release();
  });

  it('accepts a Context: cancelling it rejects with the cause', async () => {
    const mu = new Mutex();
    const held = await mu.lock();
    const [ctx, cancel] = withCancelCause(background());
    const p = mu.lock(ctx);
    cancel(new Error('shutdown'));
    await expect(p).rejects.toThrow('shutdown');
    expect(mu.waiting).toBe(0);
    held.release();
  });

  it('release is idempotent: a second release never frees a lock someone else holds', async () => {
    const mu = new Mutex();
    const g1 = await mu.lock();
    const p2 = mu.lock();
    g1.release();
    const g2 = await p2;
    g1.release();
    g1[Symbol.dispose]();
    expect(mu.locked).toBe(true);
    expect(g1.released).toBe(true);
    expect(g2.released).toBe(false);
    g2.release();
    expect(mu.locked).toBe(false);
  });

  it('withLock releases on throw and returns the value otherwise', async () => {
    const mu = new Mutex();
    await expect(
      mu.withLock(async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(mu.locked).toBe(false);
    expect(await mu.withLock(() => 42)).toBe(42);
  });

  it('works with await using: released at block end, also when the block throws', async () => {
    const mu = new Mutex();
    const critical = async (fail: boolean) => {
      await using _ = await mu.lock();
      expect(mu.locked).toBe(true);
      await tick();
      if (fail) throw new Error('inside');
    };
    await critical(false);
    expect(mu.locked).toBe(false);
    await expect(critical(true)).rejects.toThrow('inside');
    expect(mu.locked).toBe(false);
  });
});
