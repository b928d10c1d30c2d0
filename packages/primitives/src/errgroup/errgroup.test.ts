import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { background, Canceled, type Context, cause, DeadlineExceeded, withCancel } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { ErrGroup } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

function deferred<T = void>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves when `signal` aborts, rejects with its reason (like any signal-aware I/O). */
const untilAborted = (signal: AbortSignal) => new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }));

describe('ErrGroup.withContext', () => {
  it('the first error cancels the group context with that error as cause; siblings see it', async () => {
    const [g, ctx] = ErrGroup.withContext(background());
    const boom = new Error('payment declined');
    const seen: unknown[] = [];
    for (let i = 0; i < 5; i++) {
      g.go(async (c) => {
        try {
          await untilAborted(c.signal);
        } catch (e) {
          seen.push(e);
          throw e;
        }
      });
    }
    g.go(async () => {
      await tick();
      throw boom;
    });
    await expect(g.wait()).rejects.toBe(boom);
    expect(seen).toEqual([boom, boom, boom, boom, boom]);
    expect(ctx.err()).toBe(Canceled);
    expect(cause(ctx)).toBe(boom);
  });

  it('wait() settles only after every task settled, then rejects with the first error', async () => {
    const [g] = ErrGroup.withContext(background());
    const slow = deferred();
    let slowFinished = false;
    g.go(async () => {
      throw new Error('first');
    });
    g.go(async () => {
      await slow.promise;
      slowFinished = true;
      throw new Error('second, dropped');
    });
    let settled = false;
    const w = g.wait().catch((e: Error) => {
      settled = true;
      return e;
    });
    for (let i = 0; i < 5; i++) await tick();
    expect(settled).toBe(false); // Promise.all would have rejected already
    slow.resolve();
    const err = await w;
    expect(slowFinished).toBe(true);
    expect((err as Error).message).toBe('first');
  });

  it('cancels the group context when wait() returns, even on success', async () => {
    const [g, ctx] = ErrGroup.withContext(background());
    g.go(async () => 1);
    g.go(() => 2);
    expect(ctx.err()).toBeNull();
    await g.wait();
    expect(ctx.err()).toBe(Canceled);
    expect(cause(ctx)).toBe(Canceled);
  });

  it('a parent cancel reaches the tasks through the group context', async () => {
    const [parent, cancel] = withCancel(background());
    const [g] = ErrGroup.withContext(parent);
    g.go((c) => untilAborted(c.signal));
    cancel();
    await expect(g.wait()).rejects.toBe(Canceled);
  });

  it('a synchronous throw fails the group like a rejection', async () => {
    const [g, ctx] = ErrGroup.withContext(background());
    g.go(() => {
      throw new TypeError('bad');
    });
    expect(cause(ctx)).toBeInstanceOf(TypeError);
    await expect(g.wait()).rejects.toThrow(TypeError);
  });
});

describe('ErrGroup lifecycle', () => {
  it('tasks queued when the first error lands still run, with the cancelled context (as in Go)', async () => {
    const [g] = ErrGroup.withContext(background());
    g.setLimit(1);
    const boom = new Error('boom');
    void g.go(async () => {
      await tick();
      throw boom;
    });
    const seen: unknown[] = [];
    void g.go((ctx) => {
      seen.push(ctx.err(), cause(ctx));
    });
    await expect(g.wait()).rejects.toBe(boom);
    expect(seen).toEqual([Canceled, boom]);
  });

  it('await using cancels the context and waits for every task when the scope throws before wait()', async () => {
    let finished = 0;
    let ctxAtEnd: Error | null = null;
    const scope = async () => {
      await using g = new ErrGroup();
      const [inner, ctx] = ErrGroup.withContext(background());
      await using _inner = inner;
      for (let i = 0; i < 3; i++) {
        inner.go(async (c) => {
          await untilAborted(c.signal).catch(() => undefined);
          finished++;
        });
      }
      g.go(async () => {
        await tick();
        finished++;
      });
      ctxAtEnd = ctx.err();
      throw new Error('handler failed before wait()');
    };
    await expect(scope()).rejects.toThrow('handler failed before wait()');
    expect(ctxAtEnd).toBeNull();
    expect(finished).toBe(4);
  });
});

describe('new ErrGroup()', () => {
  it('tasks get background(); a failure is reported by wait() but cancels nothing', async () => {
    const g = new ErrGroup();
    let ctxSeen: Context | undefined;
    let otherFinished = false;
    g.go(async (c) => {
      ctxSeen = c;
      throw new Error('x');
    });
    g.go(async () => {
      await tick();
      otherFinished = true;
    });
    await expect(g.wait()).rejects.toThrow('x');
    expect(ctxSeen).toBe(background());
    expect(otherFinished).toBe(true);
  });

  it('wait() with no tasks resolves at once', async () => {
    await new ErrGroup().wait();
  });

  it('rejects a non-function task with a typed error', () => {
    expect(() => new ErrGroup().go(42 as never)).toThrow(InvalidArgumentError);
  });
});

describe('ErrGroup.setLimit', () => {
  it('go() and tryGo() from a task admitted by setLimit queue behind the tasks already waiting', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    const gate = deferred();
    const order: string[] = [];
    let tried: boolean | undefined;
    void g.go(() => gate.promise);
    void g.go(() => {
      order.push('C');
      void g.go(() => {
        order.push('E');
      });
      tried = g.tryGo(() => {
        order.push('T');
      });
    });
    void g.go(() => {
      order.push('D');
    });
    g.setLimit(3);
    gate.resolve();
    await g.wait();
    expect(order).toEqual(['C', 'D', 'E']);
    expect(tried).toBe(false);
  });
  it('an aborted go() queued ahead of another never runs; the one behind it still does', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    const gate = deferred();
    void g.go(() => gate.promise);
    const ac = new AbortController();
    let abortedRan = false;
    let behindRan = false;
    const aborted = g.go(() => {
      abortedRan = true;
    }, ac);
    const behind = g.go(() => {
      behindRan = true;
    });
    ac.abort('left');
    await expect(aborted).rejects.toBe('left');
    gate.resolve();
    await behind;
    await g.wait();
    expect([abortedRan, behindRan]).toEqual([false, true]);
  });
  it('never runs more than the limit; go() resolves when its task is admitted, in call order', async () => {
    const g = new ErrGroup();
    g.setLimit(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 6 }, () => deferred());
    const admitted: number[] = [];
    const admissions = gates.map((gate, i) =>
      g
        .go(async () => {
          started.push(i);
          running++;
          peak = Math.max(peak, running);
          await gate.promise;
          running--;
        })
        .then(() => admitted.push(i)),
    );
    await tick();
    expect(started).toEqual([0, 1]);
    expect(admitted).toEqual([0, 1]);
    gates[1]?.resolve();
    await tick();
    expect(started).toEqual([0, 1, 2]);
    expect(admitted).toEqual([0, 1, 2]);
    for (const gate of gates) gate.resolve();
    await Promise.all(admissions);
    await g.wait();
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(2);
  });

  it('wait() also waits for tasks still queued at the limit', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    let ran = 0;
    for (let i = 0; i < 20; i++)
      void g.go(async () => {
        await tick();
        ran++;
      });
    await g.wait();
    expect(ran).toBe(20);
  });

  it('tryGo runs only when a slot is free and nobody is queued', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    const gate = deferred();
    expect(g.tryGo(() => gate.promise)).toBe(true);
    expect(g.tryGo(() => undefined)).toBe(false);
    const queued = g.go(() => undefined);
    gate.resolve();
    await queued;
    await g.wait();
    expect(g.tryGo(() => undefined)).toBe(true);
  });

  it('an aborted go() while queued never runs its task and is not waited for', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    const gate = deferred();
    void g.go(() => gate.promise);
    const ac = new AbortController();
    let ran = false;
    const p = g.go(() => {
      ran = true;
    }, ac);
    ac.abort('caller gave up');
    await expect(p).rejects.toBe('caller gave up');
    gate.resolve();
    await g.wait();
    await tick();
    expect(ran).toBe(false);
  });

  it('a deadline on go() uses the injected clock', async () => {
    const clock = new ManualClock();
    const g = new ErrGroup({ clock });
    g.setLimit(1);
    const gate = deferred();
    void g.go(() => gate.promise);
    const p = g.go(() => undefined, { deadline: 20 });
    const rejected = expect(p).rejects.toBe(DeadlineExceeded);
    await clock.advance(20);
    await rejected;
    expect(clock.pendingTimers).toBe(0);
    gate.resolve();
    await g.wait();
  });

  it('raising the limit admits queued tasks at once; bad limits are typed errors', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    const gate = deferred();
    void g.go(() => gate.promise);
    let ran = false;
    const p = g.go(() => {
      ran = true;
    });
    g.setLimit(-1);
    await p;
    expect(ran).toBe(true);
    expect(() => g.setLimit(0)).toThrow(InvalidArgumentError);
    expect(() => g.setLimit(1.5)).toThrow('limit must be an integer >= 1, or a negative number or Infinity for no limit, got 1.5');
    gate.resolve();
    await g.wait();
  });

  it('100,000 synchronous tasks through a limit of 1 do not overflow the stack', async () => {
    const g = new ErrGroup();
    g.setLimit(1);
    const gate = deferred();
    void g.go(() => gate.promise);
    let n = 0;
    for (let i = 0; i < 100_000; i++) void g.go(() => void n++);
    gate.resolve();
    await g.wait();
    expect(n).toBe(100_000);
  });
});
