import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../errors/index.js';
import { ManualClock, sleep, systemClock } from './index.js';

describe('systemClock', () => {
  it('reads Date.now and fires real timers', async () => {
    const before = Date.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(before);
    let fired = false;
    const t = systemClock.setTimeout(() => {
      fired = true;
    }, 1);
    expect(t.hasRef()).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(true);
  });
  it('clearTimeout cancels and tolerates undefined', async () => {
    let fired = false;
    const t = systemClock.setTimeout(() => {
      fired = true;
    }, 1);
    systemClock.clearTimeout(t);
    systemClock.clearTimeout(undefined);
    await new Promise((r) => setTimeout(r, 20));
    expect(fired).toBe(false);
  });
});

describe('ManualClock', () => {
  it('fires timers in due order, ties in creation order, with now() at the due time', async () => {
    const c = new ManualClock(1000);
    const seen: string[] = [];
    c.setTimeout(() => seen.push(`b@${c.now()}`), 20);
    c.setTimeout(() => seen.push(`a@${c.now()}`), 10);
    c.setTimeout(() => seen.push(`c@${c.now()}`), 20);
    await c.advance(15);
    expect(seen).toEqual(['a@1010']);
    expect(c.now()).toBe(1015);
    await c.advance(5);
    expect(seen).toEqual(['a@1010', 'b@1020', 'c@1020']);
    expect(c.pendingTimers).toBe(0);
  });

  it('fires timers scheduled by callbacks within the same window, and lets promises settle between', async () => {
    const c = new ManualClock();
    const seen: number[] = [];
    c.setTimeout(() => {
      seen.push(c.now());
      void Promise.resolve().then(() => c.setTimeout(() => seen.push(c.now()), 5));
    }, 5);
    await c.advance(10);
    expect(seen).toEqual([5, 10]);
  });

  it('clearTimeout removes a pending timer', async () => {
    const c = new ManualClock();
    let fired = false;
    const t = c.setTimeout(() => {
      fired = true;
    }, 5);
    c.clearTimeout(t);
    await c.advance(10);
    expect(fired).toBe(false);
  });

  it('setTime moves wall time either way without firing timers', async () => {
    const c = new ManualClock(100);
    let fired = false;
    c.setTimeout(() => {
      fired = true;
    }, 10);
    c.setTime(50);
    expect(c.now()).toBe(50);
    c.setTime(500);
    expect(fired).toBe(false);
    await c.advance(0);
    expect(fired).toBe(true);
  });

  it('runAll drains timers and refuses runaway rescheduling', async () => {
    const c = new ManualClock();
    let n = 0;
    c.setTimeout(() => n++, 100);
    await c.runAll();
    expect(n).toBe(1);
    expect(c.now()).toBe(100);
    const loop = () => c.setTimeout(loop, 1);
    loop();
    await expect(c.runAll(50)).rejects.toThrow(/keeps rescheduling/);
  });

  it('rejects invalid arguments with a typed error', async () => {
    const c = new ManualClock();
    await expect(c.advance(-1)).rejects.toThrow(InvalidArgumentError);
    expect(() => new ManualClock(Number.NaN)).toThrow('startMs must be a finite number, got NaN');
  });

  it('timers support ref/unref like Node timers', () => {
    const t = new ManualClock().setTimeout(() => {}, 1);
    expect(t.unref().hasRef()).toBe(false);
    expect(t.ref().hasRef()).toBe(true);
  });
});

describe('sleep', () => {
  it('resolves after clock time passes', async () => {
    const clock = new ManualClock();
    let done = false;
    const p = sleep(100, { clock }).then(() => {
      done = true;
    });
    await clock.advance(99);
    expect(done).toBe(false);
    await clock.advance(1);
    await p;
    expect(done).toBe(true);
  });
  it('rejects with the abort reason and clears its timer', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const p = sleep(100, { clock, signal: ac.signal });
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    expect(clock.pendingTimers).toBe(0);
    await expect(sleep(1, { signal: ac.signal })).rejects.toThrow('stop');
  });
});
