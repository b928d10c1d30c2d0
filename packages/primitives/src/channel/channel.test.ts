import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { background, Canceled, DeadlineExceeded, withCancel } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Channel, ChannelClosedError, type RecvResult } from './index.js';

/** Lets every pending promise callback (and the starvation guard's deferrals) run. */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks whether a promise has settled, without awaiting it. */
function track<T>(p: Promise<T>) {
  const s = { settled: false, value: undefined as T | undefined, error: undefined as unknown };
  p.then(
    (v) => {
      s.settled = true;
      s.value = v;
    },
    (e) => {
      s.settled = true;
      s.error = e;
    },
  );
  return s;
}

describe('Channel construction', () => {
  it('rejects a bad capacity with a typed error naming what is allowed', () => {
    expect(() => new Channel(-1)).toThrow(InvalidArgumentError);
    expect(() => new Channel(-1)).toThrow('capacity must be an integer >= 0, got -1');
    expect(() => new Channel(1.5)).toThrow('capacity must be an integer >= 0, got 1.5');
  });
  it('reports len and cap', async () => {
    const ch = new Channel<number>(3);
    expect([ch.len, ch.cap]).toEqual([0, 3]);
    await ch.send(1);
    await ch.send(2);
    expect(ch.len).toBe(2);
    expect(new Channel().cap).toBe(0);
  });
});

describe('unbuffered channel', () => {
  it('send completes only at hand-off', async () => {
    const ch = new Channel<string>();
    const sent = track(ch.send('x'));
    await flush();
    expect(sent.settled).toBe(false);
    expect(ch.len).toBe(0);
    expect(await ch.recv()).toEqual({ value: 'x', ok: true });
    await flush();
    expect(sent.settled).toBe(true);
    expect(sent.error).toBeUndefined();
  });
  it('trySend succeeds only with a waiting receiver; tryRecv only with a waiting sender', async () => {
    const ch = new Channel<number>();
    expect(ch.trySend(1)).toBe(false);
    expect(ch.tryRecv()).toBeUndefined();
    const r = ch.recv();
    expect(ch.trySend(2)).toBe(true);
    expect(await r).toEqual({ value: 2, ok: true });
    const s = track(ch.send(3));
    expect(ch.tryRecv()).toEqual({ value: 3, ok: true });
    await flush();
    expect(s.settled).toBe(true);
  });
});

describe('FIFO', () => {
  it('values come out in send order', async () => {
    const ch = new Channel<number>(5);
    for (let i = 0; i < 5; i++) await ch.send(i);
    const got: number[] = [];
    for (let i = 0; i < 5; i++) got.push((await ch.recv()).value as number);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });
  it('blocked senders are served in the order they blocked', async () => {
    const ch = new Channel<string>();
    const order: string[] = [];
    const sends = ['a', 'b', 'c'].map((v) => ch.send(v).then(() => order.push(v)));
    const got = [await ch.recv(), await ch.recv(), await ch.recv()].map((r) => r.value);
    await Promise.all(sends);
    expect(got).toEqual(['a', 'b', 'c']);
    expect(order).toEqual(['a', 'b', 'c']);
  });
  it('blocked receivers are served in the order they blocked', async () => {
    const ch = new Channel<string>();
    const rs = [ch.recv(), ch.recv(), ch.recv()];
    expect(ch.trySend('a')).toBe(true);
    expect(ch.trySend('b')).toBe(true);
    expect(ch.trySend('c')).toBe(true);
    expect((await Promise.all(rs)).map((r) => r.value)).toEqual(['a', 'b', 'c']);
  });
  it('full buffer + waiting sender: the receiver gets the head, the sender value moves to the tail', async () => {
    const ch = new Channel<number>(2);
    await ch.send(1);
    await ch.send(2);
    const third = track(ch.send(3));
    await flush();
    expect(third.settled).toBe(false);
    expect(ch.tryRecv()).toEqual({ value: 1, ok: true });
    expect(ch.len).toBe(2); // 2 and 3 now buffered
    await flush();
    expect(third.settled).toBe(true);
    expect(ch.trySend(4)).toBe(false);
    expect([ch.tryRecv()?.value, ch.tryRecv()?.value, ch.tryRecv()]).toEqual([2, 3, undefined]);
  });
});

describe('close', () => {
  it('receives drain the buffer first, then report ok:false forever', async () => {
    const ch = new Channel<number>(3);
    await ch.send(1);
    await ch.send(2);
    ch.close();
    expect(await ch.recv()).toEqual({ value: 1, ok: true });
    expect(ch.tryRecv()).toEqual({ value: 2, ok: true });
    expect(await ch.recv()).toEqual({ value: undefined, ok: false });
    expect(await ch.recv()).toEqual({ value: undefined, ok: false });
    expect(ch.tryRecv()).toEqual({ value: undefined, ok: false });
  });
  it('wakes every blocked receiver with ok:false', async () => {
    const ch = new Channel<number>();
    const rs = Array.from({ length: 5 }, () => ch.recv());
    ch.close();
    expect(await Promise.all(rs)).toEqual(Array(5).fill({ value: undefined, ok: false }));
  });
  it('rejects every blocked sender with ChannelClosedError, and their values are never delivered', async () => {
    const ch = new Channel<number>(1);
    await ch.send(1);
    const blocked = [ch.send(2), ch.send(3)];
    ch.close();
    for (const s of blocked) await expect(s).rejects.toThrow(ChannelClosedError);
    expect(await ch.recv()).toEqual({ value: 1, ok: true });
    expect(await ch.recv()).toEqual({ value: undefined, ok: false });
  });
  it('send on a closed channel throws ChannelClosedError (rejects for send, throws for trySend)', async () => {
    const ch = new Channel<number>(1);
    ch.close();
    await expect(ch.send(1)).rejects.toThrow(ChannelClosedError);
    await expect(ch.send(1, { signal: new AbortController().signal })).rejects.toMatchObject({ code: 'ERR_CHANNEL_CLOSED' });
    expect(() => ch.trySend(1)).toThrow('send on closed channel');
  });
  it('close of a closed channel throws', () => {
    const ch = new Channel<number>();
    ch.close();
    expect(() => ch.close()).toThrow(ChannelClosedError);
    expect(() => ch.close()).toThrow('close of closed channel');
  });
});

describe('cancellation leaves the channel as if the call never happened', () => {
  it('an aborted blocked send delivers nothing and keeps the others in order', async () => {
    const ch = new Channel<string>(1);
    await ch.send('a');
    const ac = new AbortController();
    const b = ch.send('b', { signal: ac.signal });
    const c = ch.send('c');
    ac.abort(new Error('gave up'));
    await expect(b).rejects.toThrow('gave up');
    expect(ch.len).toBe(1);
    expect((await ch.recv()).value).toBe('a');
    await c;
    expect((await ch.recv()).value).toBe('c');
    expect(ch.tryRecv()).toBeUndefined();
    expect(ch.sendq.size).toBe(0);
  });
  it('an aborted blocked send on an unbuffered channel leaves no sender behind', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const s = ch.send(1, { signal: ac.signal });
    ac.abort();
    await expect(s).rejects.toMatchObject({ name: 'AbortError' });
    expect(ch.tryRecv()).toBeUndefined();
  });
  it('an aborted blocked receive takes nothing; the next receiver gets the value', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const r1 = ch.recv({ signal: ac.signal });
    const r2 = ch.recv();
    ac.abort(new Error('stop'));
    await expect(r1).rejects.toThrow('stop');
    expect(ch.trySend(7)).toBe(true);
    expect(await r2).toEqual({ value: 7, ok: true });
    expect(ch.trySend(8)).toBe(false);
  });
  it('an already-aborted signal fails fast even when the operation could complete', async () => {
    const ch = new Channel<number>(1);
    const signal = AbortSignal.abort(new Error('already'));
    await expect(ch.send(1, { signal })).rejects.toThrow('already');
    expect(ch.len).toBe(0);
    await ch.send(2);
    await expect(ch.recv({ signal })).rejects.toThrow('already');
    expect(ch.len).toBe(1);
  });
  it('a deadline from the channel clock rejects with DeadlineExceeded and unregisters the waiter', async () => {
    const clock = new ManualClock(1000);
    const ch = new Channel<number>(0, { clock });
    const r = track(ch.recv({ deadline: 1100 }));
    await clock.advance(99);
    expect(r.settled).toBe(false);
    await clock.advance(1);
    await flush();
    expect(r.error).toBe(DeadlineExceeded);
    expect(ch.trySend(1)).toBe(false);
    expect(clock.pendingTimers).toBe(0);
  });
  it('a completed wait clears its deadline timer', async () => {
    const clock = new ManualClock();
    const ch = new Channel<number>(0, { clock });
    const r = ch.recv({ deadline: new Date(500) });
    expect(clock.pendingTimers).toBe(1);
    ch.trySend(1);
    expect(await r).toEqual({ value: 1, ok: true });
    expect(clock.pendingTimers).toBe(0);
  });
  it('accepts a Context', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    const s = ch.send(1, ctx);
    cancel();
    await expect(s).rejects.toBe(Canceled);
    expect(ch.tryRecv()).toBeUndefined();
  });
  it('repeated aborted waits on a quiet channel leave no residue', async () => {
    const ch = new Channel<number>();
    const reason = new Error('timeout');
    for (let i = 0; i < 10_000; i++) {
      const ac = new AbortController();
      const r = ch.recv({ signal: ac.signal });
      ac.abort(reason);
      await r.catch(() => {});
    }
    expect(ch.recvq.size).toBe(0);
  });
});

describe('for await', () => {
  it('iterates until closed and drained (for range ch)', async () => {
    const ch = new Channel<number>(2);
    const producer = (async () => {
      for (let i = 0; i < 10; i++) await ch.send(i);
      ch.close();
    })();
    const got: number[] = [];
    for await (const v of ch) got.push(v);
    await producer;
    expect(got).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
  it('break takes nothing more from the channel', async () => {
    const ch = new Channel<number>(5);
    for (let i = 0; i < 5; i++) ch.trySend(i);
    for await (const v of ch) if (v === 1) break;
    expect(ch.len).toBe(3);
  });
  it('values({signal}) throws the abort reason out of the loop', async () => {
    const ch = new Channel<number>();
    const ac = new AbortController();
    const loop = (async () => {
      for await (const _ of ch.values({ signal: ac.signal })) {
        // never reached
      }
    })();
    ac.abort(new Error('shutdown'));
    await expect(loop).rejects.toThrow('shutdown');
  });
});

describe('under real concurrency', () => {
  it.each([0, 1, 8])('cap %i: every value whose send resolved is received exactly once, none other (random aborts)', async (cap) => {
    // Deterministic pseudo-random so a failure reproduces.
    let seed = 12345 + cap;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const ch = new Channel<number>(cap);
    const delivered: number[] = [];
    const received: number[] = [];
    const producers = Array.from({ length: 20 }, (_, p) =>
      (async () => {
        for (let i = 0; i < 200; i++) {
          const v = p * 1000 + i;
          const ac = new AbortController();
          if (rand() < 0.2) setImmediate(() => ac.abort());
          try {
            await ch.send(v, { signal: ac.signal });
            delivered.push(v);
          } catch (e) {
            if ((e as Error).name !== 'AbortError') throw e;
          }
          if (rand() < 0.3) await flush();
        }
      })(),
    );
    const consumers = Array.from({ length: 7 }, () =>
      (async () => {
        for (;;) {
          const ac = new AbortController();
          if (rand() < 0.2) setImmediate(() => ac.abort());
          let r: RecvResult<number>;
          try {
            r = await ch.recv({ signal: ac.signal });
          } catch (e) {
            if ((e as Error).name !== 'AbortError') throw e;
            continue;
          }
          if (!r.ok) return;
          received.push(r.value);
          if (rand() < 0.3) await flush();
        }
      })(),
    );
    await Promise.all(producers);
    ch.close();
    await Promise.all(consumers);
    expect(delivered.length).toBeGreaterThan(1000);
    expect(delivered.length).toBeLessThan(4000);
    expect([...received].sort((a, b) => a - b)).toEqual([...delivered].sort((a, b) => a - b));
    // Per producer, values arrive in the order they were sent.
    for (let p = 0; p < 20; p++) {
      const mine = received.filter((v) => Math.floor(v / 1000) === p);
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
  });
});
