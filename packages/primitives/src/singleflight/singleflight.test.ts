import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { background, DeadlineExceeded, withCancel } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { SingleFlight } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('1000 concurrent callers for one key run fn once and all get its value, shared', async () => {
    const sf = new SingleFlight<string, number>();
    let calls = 0;
    const results = await Promise.all(
      Array.from({ length: 1000 }, () =>
        sf.do('user:1', async () => {
          calls++;
          await tick();
          return 42;
        }),
      ),
    );
    expect(calls).toBe(1);
    expect(results.every((r) => r.value === 42 && r.shared)).toBe(true);
    expect(sf.size).toBe(0);
  });

  it('different keys fly separately; a settled key runs again and is not shared', async () => {
    const sf = new SingleFlight<number, number>();
    const calls: number[] = [];
    const fn = (k: number) => async () => {
      calls.push(k);
      await tick();
      return k * 10;
    };
    const [a, b] = await Promise.all([sf.do(1, fn(1)), sf.do(2, fn(2))]);
    expect([a.value, b.value, a.shared, b.shared]).toEqual([10, 20, false, false]);
    await sf.do(1, fn(1));
    expect(calls).toEqual([1, 2, 1]);
  });

  it('a rejection reaches every waiter as the same error, never a silent undefined', async () => {
    const sf = new SingleFlight<string, string>();
    const boom = new Error('db down');
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () =>
        sf.do('k', async () => {
          await tick();
          throw boom;
        }),
      ),
    );
    expect(outcomes.every((o) => o.status === 'rejected' && o.reason === boom)).toBe(true);
    expect(sf.size).toBe(0);
  });

  it('a synchronous throw or a non-Error throw value rejects every waiter too', async () => {
    const sf = new SingleFlight<string, string>();
    await expect(
      sf.do('k', () => {
        throw new TypeError('bad input');
      }),
    ).rejects.toThrow(TypeError);
    const d = deferred<string>();
    const both = [sf.do('k', () => d.promise), sf.do('k', () => 'never called')];
    d.reject('plain string reason');
    for (const p of both) await expect(p).rejects.toBe('plain string reason');
  });

  it('a caller that aborts leaves alone: others still get the value and fn is not aborted', async () => {
    const sf = new SingleFlight<string, number>();
    const d = deferred<number>();
    let fnSignal: AbortSignal | undefined;
    const ac = new AbortController();
    const stay1 = sf.do('k', (s) => {
      fnSignal = s;
      return d.promise;
    });
    const leaver = sf.do('k', () => 0, { signal: ac.signal });
    const stay2 = sf.do('k', () => 0, { signal: new AbortController().signal });
    ac.abort(new Error('caller timed out'));
    await expect(leaver).rejects.toThrow('caller timed out');
    expect(fnSignal?.aborted).toBe(false);
    d.resolve(7);
    expect((await stay1).value).toBe(7);
    expect(await stay2).toEqual({ value: 7, shared: true });
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it("fn's signal aborts only when every waiter has left; a later caller starts a fresh flight", async () => {
    const sf = new SingleFlight<string, string>();
    const old = deferred<string>();
    let fnSignal: AbortSignal | undefined;
    const a = new AbortController();
    const b = new AbortController();
    const pa = sf.do(
      'k',
      (s) => {
        fnSignal = s;
        return old.promise;
      },
      { signal: a.signal },
    );
    const pb = sf.do('k', () => 'x', b);
    a.abort('a left');
    await expect(pa).rejects.toBe('a left');
    expect(fnSignal?.aborted).toBe(false);
    b.abort('b left');
    await expect(pb).rejects.toBe('b left');
    expect(fnSignal?.aborted).toBe(true);
    expect(fnSignal?.reason).toBe('b left');
    expect(sf.size).toBe(0);
    // a late joiner is not poisoned by the abandoned flight
    const fresh = deferred<string>();
    const pc = sf.do('k', () => fresh.promise);
    old.resolve('stale'); // the abandoned fn finishing late must not touch the new flight
    await tick();
    expect(sf.size).toBe(1);
    fresh.resolve('fresh');
    expect(await pc).toEqual({ value: 'fresh', shared: false });
  });

  it('a caller without a signal keeps the flight alive when the others leave', async () => {
    const sf = new SingleFlight<string, number>();
    const d = deferred<number>();
    let fnSignal: AbortSignal | undefined;
    const stay = sf.do('k', (s) => {
      fnSignal = s;
      return d.promise;
    });
    const [ctx, cancel] = withCancel(background());
    const leaver = sf.do('k', () => 0, ctx);
    cancel();
    await expect(leaver).rejects.toBeDefined();
    expect(fnSignal?.aborted).toBe(false);
    d.resolve(1);
    expect((await stay).value).toBe(1);
  });

  it('forget then do starts a new flight; the old one completes for its callers without corrupting the new', async () => {
    const sf = new SingleFlight<string, string>();
    const first = deferred<string>();
    const second = deferred<string>();
    let calls = 0;
    const old1 = sf.do('k', () => {
      calls++;
      return first.promise;
    });
    const old2 = sf.do('k', () => {
      calls++;
      return first.promise;
    });
    sf.forget('k');
    const new1 = sf.do('k', () => {
      calls++;
      return second.promise;
    });
    expect(calls).toBe(2);
    first.resolve('v1');
    expect((await old1).value).toBe('v1');
    expect((await old2).value).toBe('v1');
    expect(sf.size).toBe(1); // the old flight's completion did not delete the new flight
    const new2 = sf.do('k', () => {
      calls++;
      return second.promise;
    });
    expect(calls).toBe(2);
    second.resolve('v2');
    expect(await new1).toEqual({ value: 'v2', shared: true });
    expect((await new2).value).toBe('v2');
  });

  it('a caller deadline runs on the injected clock; an already-aborted caller starts nothing', async () => {
    const clock = new ManualClock();
    const sf = new SingleFlight<string, number>({ clock });
    let calls = 0;
    await expect(sf.do('k', () => calls++, { signal: AbortSignal.abort('no') })).rejects.toBe('no');
    expect(calls).toBe(0);
    const d = deferred<number>();
    const p = sf.do('k', () => d.promise, { deadline: 100 });
    const rejected = expect(p).rejects.toBe(DeadlineExceeded);
    await clock.advance(100);
    await rejected;
    expect(clock.pendingTimers).toBe(0);
    expect(sf.size).toBe(0);
  });

  it('a synchronous fn value is shared like an async one; a non-function fn is a typed error', async () => {
    const sf = new SingleFlight<string, number>();
    expect(() => sf.do('k', 5 as never)).toThrow(InvalidArgumentError);
    expect(sf.size).toBe(0);
    expect(await sf.do('k', () => 5)).toEqual({ value: 5, shared: false });
  });
  it('an error reaches waiters that passed a signal or a deadline too', async () => {
    const sf = new SingleFlight<string, string>();
    const d = deferred<string>();
    const boom = new Error('db down');
    const first = sf.do('k', () => d.promise, { signal: new AbortController().signal });
    const second = sf.do('k', () => 'unused', { deadline: Date.now() + 60_000 });
    d.reject(boom);
    await expect(first).rejects.toBe(boom);
    await expect(second).rejects.toBe(boom);
  });
  it('after forget, the old flight failing leaves the new flight in place', async () => {
    const sf = new SingleFlight<string, string>();
    const old = deferred<string>();
    const next = deferred<string>();
    let calls = 0;
    const o = sf.do('k', () => {
      calls++;
      return old.promise;
    });
    sf.forget('k');
    const n1 = sf.do('k', () => {
      calls++;
      return next.promise;
    });
    old.reject(new Error('old failed'));
    await expect(o).rejects.toThrow('old failed');
    const n2 = sf.do('k', () => {
      calls++;
      return next.promise;
    }); // joins the new flight
    expect(calls).toBe(2);
    next.resolve('v');
    expect([(await n1).value, (await n2).shared]).toEqual(['v', true]);
  });
  it('after forget, every old caller leaving leaves the new flight in place', async () => {
    const sf = new SingleFlight<string, string>();
    const old = deferred<string>();
    const next = deferred<string>();
    let calls = 0;
    const ac = new AbortController();
    const o = sf.do(
      'k',
      () => {
        calls++;
        return old.promise;
      },
      ac,
    );
    sf.forget('k');
    const n1 = sf.do('k', () => {
      calls++;
      return next.promise;
    });
    ac.abort('left');
    await expect(o).rejects.toBe('left');
    const n2 = sf.do('k', () => {
      calls++;
      return next.promise;
    });
    expect(calls).toBe(2);
    next.resolve('v');
    expect([(await n1).value, (await n2).shared]).toEqual(['v', true]);
  });
});
