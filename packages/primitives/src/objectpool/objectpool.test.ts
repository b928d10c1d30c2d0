import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { ObjectPool } from './index.js';

describe('ObjectPool', () => {
  it('reuses put objects before creating new ones, most recent first', () => {
    let made = 0;
    const pool = new ObjectPool({ create: () => ({ id: made++ }) });
    const a = pool.get();
    const b = pool.get();
    pool.put(a);
    pool.put(b);
    expect(pool.get()).toBe(b);
    expect(pool.get()).toBe(a);
    expect(pool.get().id).toBe(2);
    expect(pool.stats()).toEqual({ created: 3, reused: 2, dropped: 0, idle: 0 });
  });

  it('resets objects on put, so get never hands out old data', () => {
    const pool = new ObjectPool({ create: () => new Uint8Array(16), reset: (b) => b.fill(0) });
    const buf = pool.get();
    buf.set([1, 2, 3]);
    pool.put(buf);
    const again = pool.get();
    expect(again).toBe(buf);
    expect(Array.from(again.subarray(0, 3))).toEqual([0, 0, 0]);
  });

  it('drops objects beyond maxIdle, and on clear()', () => {
    const pool = new ObjectPool({ create: () => ({}), maxIdle: 2 });
    const objs = [pool.get(), pool.get(), pool.get()];
    for (const o of objs) pool.put(o);
    expect(pool.idle).toBe(2);
    expect(pool.stats().dropped).toBe(1);
    pool.clear();
    expect(pool.idle).toBe(0);
    expect(pool.stats().dropped).toBe(3);
    const none = new ObjectPool({ create: () => ({}), maxIdle: 0 });
    const o = none.get();
    none.put(o);
    expect(none.get()).not.toBe(o);
  });

  it('a reset that throws drops the object and reports the error', () => {
    const pool = new ObjectPool<{ broken?: boolean }>({
      create: () => ({}),
      reset: (o) => {
        if (o.broken) throw new Error('cannot reset');
      },
    });
    const o = pool.get();
    o.broken = true;
    expect(() => pool.put(o)).toThrow('cannot reset');
    expect(pool.idle).toBe(0);
    expect(pool.get()).not.toBe(o);
  });

  it('rejects bad options and puts with typed errors', () => {
    expect(() => new ObjectPool({} as never)).toThrow('create must be a function returning a new object, got undefined');
    expect(() => new ObjectPool({ create: () => 1, maxIdle: -1 })).toThrow(InvalidArgumentError);
    expect(() => new ObjectPool({ create: () => 1, reset: 5 as never })).toThrow(InvalidArgumentError);
    const pool = new ObjectPool<object>({ create: () => ({}) });
    expect(() => pool.put(null as never)).toThrow('obj must be an object obtained from get(), got null');
  });
});
