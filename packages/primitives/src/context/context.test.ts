import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import {
  afterFunc,
  background,
  Canceled,
  CanceledError,
  type Context,
  cause,
  createContextKey,
  DeadlineExceeded,
  DeadlineExceededError,
  fromSignal,
  todo,
  waitSignal,
  withCancel,
  withCancelCause,
  withDeadline,
  withDeadlineCause,
  withoutCancel,
  withTimeout,
  withTimeoutCause,
  withValue,
} from './index.js';

const flush = () => new Promise((r) => setImmediate(r));

describe('background and todo', () => {
  it('are never done, have no deadline and no values', async () => {
    for (const ctx of [background(), todo()]) {
      expect(ctx.err()).toBeNull();
      expect(ctx.deadline()).toBeUndefined();
      expect(ctx.value(createContextKey('k'))).toBeUndefined();
      expect(ctx.signal.aborted).toBe(false);
      let done = false;
      void ctx.done().then(() => {
        done = true;
      });
      await flush();
      expect(done).toBe(false);
    }
    expect(String(background())).toBe('context.Background');
  });
});

describe('withCancel', () => {
  it('cancel reaches every descendant, through value contexts, not only direct children', () => {
    const [root, cancel] = withCancel(background());
    const [a] = withCancel(root);
    const [b] = withCancel(withValue(a, createContextKey<number>('k'), 1));
    const [c] = withCancel(b);
    cancel();
    expect([a.err(), b.err(), c.err()]).toEqual([Canceled, Canceled, Canceled]);
    expect(c.signal.aborted).toBe(true);
  });
  it('err() is null until cancelled, then Canceled forever; cancel is idempotent', async () => {
    const [ctx, cancel] = withCancel(background());
    expect(ctx.err()).toBeNull();
    const signal = ctx.signal;
    let aborts = 0;
    signal.addEventListener('abort', () => aborts++);
    cancel();
    cancel();
    expect(ctx.err()).toBe(Canceled);
    expect(ctx.err()).toBeInstanceOf(CanceledError);
    await ctx.done();
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe(Canceled);
    expect(aborts).toBe(1);
  });

  it('parent cancel cascades to all descendants, never upward', () => {
    const [root, cancelRoot] = withCancel(background());
    const [a, cancelA] = withCancel(root);
    const [a1] = withCancel(a);
    const a2 = withValue(a, createContextKey<number>('x'), 1);
    const [a2x] = withCancel(a2);
    const [b] = withCancel(root);
    cancelA();
    expect([a.err(), a1.err(), a2.err(), a2x.err()]).toEqual([Canceled, Canceled, Canceled, Canceled]);
    expect(root.err()).toBeNull();
    expect(b.err()).toBeNull();
    cancelRoot();
    expect(b.err()).toBe(Canceled);
  });

  it('a child of an already-cancelled parent is born cancelled', () => {
    const [p, cancel] = withCancelCause(background());
    cancel(new Error('boom'));
    const [c] = withCancel(p);
    expect(c.err()).toBe(Canceled);
    expect((cause(c) as Error).message).toBe('boom');
    expect(c.signal.aborted).toBe(true);
  });

  it('rejects a non-context parent with a typed error', () => {
    expect(() => withCancel(null as unknown as Context)).toThrow(InvalidArgumentError);
    expect(() => withCancel({} as Context)).toThrow('parent must be a Context');
  });

  it('detaches children from the parent on cancel: 1e5 children leave no trace', () => {
    const [parent, cancelParent] = withCancel(background());
    const signal = parent.signal;
    const before = getEventListeners(signal, 'abort').length;
    globalThis.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 100_000; i++) {
      const [child, cancel] = withCancel(parent);
      void child.signal; // force the lazy AbortController into existence
      cancel();
    }
    globalThis.gc?.();
    const heapAfter = process.memoryUsage().heapUsed;
    expect(getEventListeners(signal, 'abort').length).toBe(before);
    expect((parent as unknown as { children?: Set<unknown> }).children?.size ?? 0).toBe(0);
    // 1e5 retained children would hold well over 20 MB; allow GC noise well below that.
    expect(heapAfter - heapBefore).toBeLessThan(15 * 1024 * 1024);
    cancelParent();
  });

  it('a foreign Context parent is followed through its signal, and the listener is removed on cancel', () => {
    const ac = new AbortController();
    const foreign: Context = {
      deadline: () => undefined,
      done: () => new Promise(() => {}),
      err: () => (ac.signal.aborted ? Canceled : null),
      value: () => undefined,
      signal: ac.signal,
    };
    const [c1, cancel1] = withCancel(foreign);
    expect(getEventListeners(ac.signal, 'abort').length).toBe(1);
    cancel1();
    expect(getEventListeners(ac.signal, 'abort').length).toBe(0);
    expect(c1.err()).toBe(Canceled);
    const [c2] = withCancel(foreign);
    ac.abort('why');
    expect(c2.err()).toBe(Canceled);
    expect(cause(c2)).toBe('why');
  });
});

describe('withCancelCause and cause()', () => {
  it('reports the cause, and err() stays Canceled', () => {
    const [ctx, cancel] = withCancelCause(background());
    expect(cause(ctx)).toBeUndefined();
    const why = new Error('upstream failed');
    cancel(why);
    cancel(new Error('second'));
    expect(ctx.err()).toBe(Canceled);
    expect(cause(ctx)).toBe(why);
    expect(ctx.signal.reason).toBe(why);
  });
  it('without a cause, cause() is err()', () => {
    const [ctx, cancel] = withCancelCause(background());
    cancel();
    expect(cause(ctx)).toBe(Canceled);
  });
  it('children inherit the cause of the cancel that reached them', () => {
    const [p, cancel] = withCancelCause(background());
    const [c] = withCancel(withValue(p, createContextKey('k'), 1));
    cancel('because');
    expect(cause(c)).toBe('because');
  });
});

describe('deadlines', () => {
  it('withTimeout fires DeadlineExceeded at the deadline, driven by the clock', async () => {
    const clock = new ManualClock(10_000);
    const [ctx] = withTimeout(background(), 100, { clock });
    expect(ctx.deadline()?.getTime()).toBe(10_100);
    await clock.advance(99);
    expect(ctx.err()).toBeNull();
    await clock.advance(1);
    expect(ctx.err()).toBe(DeadlineExceeded);
    expect(ctx.err()).toBeInstanceOf(DeadlineExceededError);
    expect(cause(ctx)).toBe(DeadlineExceeded);
    expect(ctx.signal.reason).toBe(DeadlineExceeded);
  });

  it('effective deadline = min(parent, own)', () => {
    const clock = new ManualClock(0);
    const [p] = withDeadline(background(), 1000, { clock });
    const [later] = withDeadline(p, 5000);
    const [earlier] = withDeadline(p, 300);
    expect(later.deadline()?.getTime()).toBe(1000);
    expect(earlier.deadline()?.getTime()).toBe(300);
    expect(withValue(earlier, createContextKey('k'), 1).deadline()?.getTime()).toBe(300);
  });

  it('children inherit the parent clock; parent deadline cascades with DeadlineExceeded', async () => {
    const clock = new ManualClock(0);
    const [p] = withTimeout(background(), 50, { clock });
    const [c] = withTimeout(p, 10_000);
    const [c2] = withCancel(p);
    await clock.advance(50);
    expect(c.err()).toBe(DeadlineExceeded);
    expect(c2.err()).toBe(DeadlineExceeded);
  });

  it('a deadline already passed cancels at once', () => {
    const clock = new ManualClock(1000);
    const [ctx] = withDeadline(background(), new Date(999), { clock });
    expect(ctx.err()).toBe(DeadlineExceeded);
    expect(clock.pendingTimers).toBe(0);
  });

  it('cancel before the deadline clears the timer and reports Canceled', async () => {
    const clock = new ManualClock(0);
    const [ctx, cancel] = withTimeout(background(), 100, { clock });
    expect(clock.pendingTimers).toBe(1);
    cancel();
    expect(clock.pendingTimers).toBe(0);
    await clock.advance(200);
    expect(ctx.err()).toBe(Canceled);
  });

  it('withTimeoutCause / withDeadlineCause report their cause when the deadline fires', async () => {
    const clock = new ManualClock(0);
    const why = new Error('payment provider too slow');
    const [a] = withTimeoutCause(background(), 10, why, { clock });
    const [b] = withDeadlineCause(background(), 10, 'late', { clock });
    const [c, cancelC] = withTimeoutCause(background(), 10, why, { clock });
    cancelC();
    await clock.advance(10);
    expect(a.err()).toBe(DeadlineExceeded);
    expect(cause(a)).toBe(why);
    expect(cause(b)).toBe('late');
    expect(cause(c)).toBe(Canceled);
  });

  it('deadline timers are unref()d so they never keep a process alive', () => {
    const clock = new ManualClock(0);
    const timers: { hasRef(): boolean }[] = [];
    const spy = {
      ...clock,
      now: () => clock.now(),
      clearTimeout: (t: never) => clock.clearTimeout(t),
      setTimeout: (f: () => void, ms: number) => {
        const t = clock.setTimeout(f, ms);
        timers.push(t);
        return t;
      },
    };
    withTimeout(background(), 100, { clock: spy });
    expect(timers[0]?.hasRef()).toBe(false);
  });

  it('rejects bad deadlines with a typed error', () => {
    expect(() => withTimeout(background(), Number.NaN)).toThrow(InvalidArgumentError);
    expect(() => withDeadline(background(), new Date('nope'))).toThrow('deadline must be a finite number');
  });
});

describe('withValue', () => {
  it('finds the nearest value by key identity, typed', () => {
    const user = createContextKey<string>('user');
    const other = createContextKey<string>('user');
    const ctx = withValue(withValue(background(), user, 'alice'), other, 'bob');
    const [child] = withCancel(ctx);
    expect(child.value(user)).toBe('alice');
    expect(child.value(other)).toBe('bob');
    expect(withValue(child, user, 'carol').value(user)).toBe('carol');
    expect(String(user)).toBe('ContextKey(user)');
  });
  it('rejects a non-key', () => {
    expect(() => withValue(background(), 'user' as never, 1)).toThrow(InvalidArgumentError);
  });
});

describe('withoutCancel', () => {
  it('keeps values, drops cancellation and deadline', () => {
    const k = createContextKey<number>('k');
    const clock = new ManualClock(0);
    const [p, cancel] = withTimeout(withValue(background(), k, 7), 10, { clock });
    const detached = withoutCancel(p);
    const [child] = withCancel(detached);
    cancel();
    expect(detached.err()).toBeNull();
    expect(detached.deadline()).toBeUndefined();
    expect(detached.value(k)).toBe(7);
    expect(child.err()).toBeNull();
    expect(detached.signal.aborted).toBe(false);
  });
});

describe('afterFunc', () => {
  it('runs fn once after the context is done', async () => {
    const [ctx, cancel] = withCancel(background());
    let runs = 0;
    const stop = afterFunc(ctx, () => runs++);
    cancel();
    await flush();
    expect(runs).toBe(1);
    expect(stop()).toBe(false);
  });
  it('stop() before done prevents fn and returns true once', async () => {
    const [ctx, cancel] = withCancel(background());
    let runs = 0;
    const stop = afterFunc(ctx, () => runs++);
    expect(stop()).toBe(true);
    expect(stop()).toBe(false);
    cancel();
    await flush();
    expect(runs).toBe(0);
  });
});

describe('fromSignal', () => {
  it('maps an AbortController abort to Canceled with the reason as cause', () => {
    const ac = new AbortController();
    const ctx = fromSignal(ac.signal);
    ac.abort('user left');
    expect(ctx.err()).toBe(Canceled);
    expect(cause(ctx)).toBe('user left');
  });
  it('maps AbortSignal.timeout() to DeadlineExceeded', async () => {
    const ctx = fromSignal(AbortSignal.timeout(1));
    await ctx.done();
    expect(ctx.err()).toBe(DeadlineExceeded);
    expect((cause(ctx) as Error).name).toBe('TimeoutError');
  });
  it('an already-aborted signal gives a done context; a parent cancel removes the signal listener', async () => {
    const ac = new AbortController();
    ac.abort();
    expect(fromSignal(ac.signal).err()).toBe(Canceled);
    const live = new AbortController();
    const [p, cancel] = withCancel(background());
    const ctx = fromSignal(live.signal, p);
    expect(getEventListeners(live.signal, 'abort').length).toBe(1);
    cancel();
    await flush();
    expect(ctx.err()).toBe(Canceled);
    expect(getEventListeners(live.signal, 'abort').length).toBe(0);
  });
  it('rejects a non-signal', () => {
    expect(() => fromSignal({} as AbortSignal)).toThrow(InvalidArgumentError);
  });
});

describe('waitSignal', () => {
  it('passes a context signal and a bare signal through', () => {
    const [ctx] = withCancel(background());
    expect(waitSignal(ctx).signal).toBe(ctx.signal);
    const ac = new AbortController();
    expect(waitSignal({ signal: ac.signal }).signal).toBe(ac.signal);
    expect(waitSignal(undefined).signal).toBeUndefined();
    expect(waitSignal({}).signal).toBeUndefined();
  });
  it('a deadline aborts with DeadlineExceeded on the clock; dispose clears the timer and listener', async () => {
    const clock = new ManualClock(0);
    const ac = new AbortController();
    const w = waitSignal({ signal: ac.signal, deadline: 50 }, clock);
    expect(clock.pendingTimers).toBe(1);
    await clock.advance(50);
    expect(w.signal?.reason).toBe(DeadlineExceeded);
    const w2 = waitSignal({ signal: ac.signal, deadline: new Date(500) }, clock);
    w2.dispose();
    expect(clock.pendingTimers).toBe(0);
    expect(getEventListeners(ac.signal, 'abort').length).toBe(1); // only w's, which was not disposed
    w[Symbol.dispose]();
    expect(getEventListeners(ac.signal, 'abort').length).toBe(0);
  });
  it("keeps its deadline timer ref'd while someone waits (the process must not exit under the waiter)", () => {
    const clock = new ManualClock(0);
    const timers: { hasRef(): boolean }[] = [];
    const spy = {
      now: () => clock.now(),
      clearTimeout: (t: never) => clock.clearTimeout(t),
      setTimeout: (f: () => void, ms: number) => {
        const t = clock.setTimeout(f, ms);
        timers.push(t);
        return t;
      },
    };
    const w = waitSignal({ deadline: 100 }, spy);
    expect(timers[0]?.hasRef()).toBe(true);
    w.dispose();
    expect(clock.pendingTimers).toBe(0);
  });
  it('the caller signal aborts with its reason; past deadlines abort at once', () => {
    const clock = new ManualClock(100);
    const ac = new AbortController();
    const w = waitSignal({ signal: ac.signal, deadline: 1000 }, clock);
    ac.abort('gone');
    expect(w.signal?.reason).toBe('gone');
    expect(waitSignal({ deadline: 50 }, clock).signal?.reason).toBe(DeadlineExceeded);
    expect(waitSignal({ signal: ac.signal, deadline: 5000 }, clock).signal?.reason).toBe('gone');
  });
});
