import { describe, expect, it } from 'vitest';
import { type Clock, type ClockTimer, ManualClock } from '../clock/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { after, Channel, recvCase, select, tick, timer } from './index.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A ManualClock that remembers every timer it created, to observe ref/unref. */
class RecordingClock extends ManualClock implements Clock {
  readonly created: ClockTimer[] = [];
  override setTimeout(callback: () => void, ms: number): ClockTimer {
    const t = super.setTimeout(callback, ms);
    this.created.push(t);
    return t;
  }
}

describe('after', () => {
  it('delivers the clock time once, exactly when due', async () => {
    const clock = new ManualClock(1000);
    const c = after(100, { clock });
    await clock.advance(99);
    expect(c.tryRecv()).toBeUndefined();
    await clock.advance(1);
    expect(c.tryRecv()).toEqual({ value: new Date(1100), ok: true });
    await clock.advance(1000);
    expect(c.tryRecv()).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });
  it('is the timeout arm of a select', async () => {
    const clock = new ManualClock();
    const work = new Channel<string>();
    const s = select([recvCase(work, (r) => r.value), recvCase(after(50, { clock }), () => 'timeout')]);
    await clock.advance(49);
    await clock.advance(1);
    expect(await s).toBe('timeout');
    expect(work.trySend('late')).toBe(false);
  });
  it('after(0) fires on the next clock turn; a signal stops it', async () => {
    const clock = new ManualClock();
    const c = after(0, { clock });
    await clock.advance(0);
    expect(c.tryRecv()?.ok).toBe(true);
    const ac = new AbortController();
    const d = after(10, { clock, signal: ac.signal });
    ac.abort();
    await clock.advance(20);
    expect(d.tryRecv()).toBeUndefined();
    expect(after(10, { clock, signal: AbortSignal.abort() }).len).toBe(0);
    expect(clock.pendingTimers).toBe(0);
  });
  it('holds the process open only while someone waits on it', async () => {
    const clock = new RecordingClock();
    const c = after(100, { clock });
    const t = clock.created[0] as ClockTimer;
    expect(t.hasRef()).toBe(false);
    const ac = new AbortController();
    const r = c.recv({ signal: ac.signal });
    expect(t.hasRef()).toBe(true);
    ac.abort();
    await r.catch(() => {});
    expect(t.hasRef()).toBe(false);
  });
  it('a shared long-lived signal collects no listeners from timers that fired or stopped', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    let added = 0;
    let removed = 0;
    const add = ac.signal.addEventListener.bind(ac.signal);
    const remove = ac.signal.removeEventListener.bind(ac.signal);
    ac.signal.addEventListener = ((...args: Parameters<typeof add>) => {
      added++;
      add(...args);
    }) as typeof add;
    ac.signal.removeEventListener = ((...args: Parameters<typeof remove>) => {
      removed++;
      remove(...args);
    }) as typeof remove;
    for (let i = 0; i < 100; i++) {
      const c = after(10, { clock, signal: ac.signal });
      await clock.advance(10);
      expect(c.tryRecv()?.ok).toBe(true);
      timer(50, { clock, signal: ac.signal }).stop();
      tick(5, { clock, signal: ac.signal }).stop();
    }
    expect(added).toBe(300);
    expect(removed).toBe(300);
    // Re-armed timers listen again, so the signal still stops them.
    const t = timer(10, { clock, signal: ac.signal });
    t.stop();
    t.reset(10);
    ac.abort();
    await clock.advance(20);
    expect(t.c.tryRecv()).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });
  it('rejects a bad duration', () => {
    expect(() => after(-1)).toThrow(InvalidArgumentError);
    expect(() => after(Number.NaN)).toThrow('ms must be a finite number >= 0, got NaN');
  });
});

describe('timer', () => {
  it('stop before it fires returns true and nothing is ever delivered', async () => {
    const clock = new ManualClock();
    const t = timer(100, { clock });
    expect(t.stop()).toBe(true);
    expect(t.stop()).toBe(false);
    await clock.advance(200);
    expect(t.c.tryRecv()).toBeUndefined();
  });
  it('stop after it fired but before the value was read discards the stale value (Go 1.23)', async () => {
    const clock = new ManualClock();
    const t = timer(10, { clock });
    await clock.advance(10);
    expect(t.c.len).toBe(1);
    expect(t.stop()).toBe(true);
    expect(t.c.tryRecv()).toBeUndefined();
  });
  it('stop after the value was read returns false', async () => {
    const clock = new ManualClock();
    const t = timer(10, { clock });
    await clock.advance(10);
    await t.c.recv();
    expect(t.stop()).toBe(false);
  });
  it('reset re-arms from now and discards an unread value', async () => {
    const clock = new ManualClock();
    const t = timer(10, { clock });
    await clock.advance(10);
    expect(t.reset(50)).toBe(true);
    expect(t.c.tryRecv()).toBeUndefined();
    await clock.advance(49);
    expect(t.c.tryRecv()).toBeUndefined();
    await clock.advance(1);
    expect(t.c.tryRecv()?.value).toEqual(new Date(60));
    expect(t.reset(5)).toBe(false);
    expect(() => t.reset(-5)).toThrow(InvalidArgumentError);
  });
  it('a blocked receiver wakes when it fires; using disposes it', async () => {
    const clock = new ManualClock();
    const got = (async () => {
      using t = timer(30, { clock });
      return (await t.c.recv()).value;
    })();
    await clock.advance(30);
    expect(await got).toEqual(new Date(30));
    {
      using _t = timer(30, { clock });
    }
    expect(clock.pendingTimers).toBe(0);
  });
});

describe('tick', () => {
  it('a late fire delivers one tick to a waiting receiver, not one per missed period', async () => {
    const clock = new ManualClock();
    const t = tick(100, { clock });
    let received = 0;
    let running = true;
    const loop = (async () => {
      while (running && (await t.c.recv()).ok) received++;
    })();
    clock.setTime(350); // three periods late
    await clock.advance(0);
    expect(received).toBe(1);
    running = false;
    t.stop();
    void loop;
  });
  it('ticks every period on a fixed grid', async () => {
    const clock = new ManualClock();
    const t = tick(100, { clock });
    const seen: number[] = [];
    for (let i = 0; i < 3; i++) {
      const r = t.c.recv();
      await clock.advance(100);
      seen.push(((await r).value as Date).getTime());
    }
    expect(seen).toEqual([100, 200, 300]);
    t.stop();
    expect(clock.pendingTimers).toBe(0);
  });
  it('drops ticks a slow receiver misses instead of queueing them', async () => {
    const clock = new ManualClock();
    const t = tick(100, { clock });
    await clock.advance(550); // ticks at 100..500; the channel holds only the first
    expect(t.c.len).toBe(1);
    expect(t.c.tryRecv()?.value).toEqual(new Date(100));
    expect(t.c.tryRecv()).toBeUndefined();
    await clock.advance(50);
    expect(t.c.tryRecv()?.value).toEqual(new Date(600)); // still on the grid
    t.stop();
  });
  it('skips whole missed periods when the clock jumps, staying on the grid', async () => {
    const clock = new ManualClock();
    const t = tick(100, { clock });
    // A timer that fires late (an overloaded event loop): simulate by moving time past several periods at once.
    clock.setTime(350);
    await clock.advance(0);
    expect(t.c.tryRecv()?.value).toEqual(new Date(350));
    await clock.advance(49);
    expect(t.c.tryRecv()).toBeUndefined();
    await clock.advance(1);
    expect(t.c.tryRecv()?.value).toEqual(new Date(400));
    t.stop();
  });
  it('stop ends ticking and discards an unread tick; reset changes the period', async () => {
    const clock = new ManualClock();
    const t = tick(10, { clock });
    await clock.advance(10);
    t.stop();
    expect(t.c.tryRecv()).toBeUndefined();
    await clock.advance(100);
    expect(t.c.tryRecv()).toBeUndefined();
    t.reset(30);
    await clock.advance(30);
    expect(t.c.tryRecv()?.value).toEqual(new Date(140));
    t[Symbol.dispose]();
    expect(clock.pendingTimers).toBe(0);
  });
  it('a signal stops the ticker', async () => {
    const clock = new ManualClock();
    const ac = new AbortController();
    const t = tick(10, { clock, signal: ac.signal });
    await clock.advance(10);
    ac.abort();
    expect(t.c.tryRecv()).toBeUndefined();
    await clock.advance(100);
    expect(t.c.tryRecv()).toBeUndefined();
    expect(clock.pendingTimers).toBe(0);
  });
  it('keeps its timer unref-ed unless someone waits on the channel', async () => {
    const clock = new RecordingClock();
    const t = tick(10, { clock });
    expect(clock.created.at(-1)?.hasRef()).toBe(false);
    const r = t.c.recv();
    expect(clock.created.at(-1)?.hasRef()).toBe(true);
    await clock.advance(10);
    await r;
    await flush();
    expect(clock.created.at(-1)?.hasRef()).toBe(false);
    t.stop();
  });
  it('rejects a period that is not > 0', () => {
    expect(() => tick(0)).toThrow('ms must be a finite number > 0, got 0');
    expect(() => tick(Number.POSITIVE_INFINITY)).toThrow(InvalidArgumentError);
    const t = tick(10, { clock: new ManualClock() });
    expect(() => t.reset(-1)).toThrow(InvalidArgumentError);
    t.stop();
  });
});
