import { getEventListeners } from 'node:events';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { background, Canceled, withCancel } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { Channel, ChannelClosedError, doneCase, type RecvResult, recvCase, select, sendCase } from './index.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('select: choosing a ready case', () => {
  it('performs a ready receive and returns its handler result', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<string>(1);
    a.trySend(41);
    const out = await select([recvCase(a, (r) => (r.ok ? r.value + 1 : -1)), recvCase(b, (r) => r.value)]);
    expect(out).toBe(42);
    expect(a.len).toBe(0);
  });
  it('without a handler a receive arm yields the RecvResult, a send arm undefined', async () => {
    const a = new Channel<number>(1);
    a.trySend(1);
    expect(await select([recvCase(a)])).toEqual({ value: 1, ok: true });
    expect(await select([sendCase(a, 2)])).toBeUndefined();
    expect(a.tryRecv()).toEqual({ value: 2, ok: true });
  });
  it('a send arm hands off to a blocked receiver', async () => {
    const ch = new Channel<string>();
    const r = ch.recv();
    expect(await select([sendCase(ch, 'hi', () => 'sent')])).toBe('sent');
    expect(await r).toEqual({ value: 'hi', ok: true });
  });
  it('a receive arm on a closed channel is ready with ok:false', async () => {
    const ch = new Channel<number>();
    ch.close();
    expect(await select([recvCase(ch)])).toEqual({ value: undefined, ok: false });
  });
  it('a chosen send arm on a closed channel rejects with ChannelClosedError', async () => {
    const ch = new Channel<number>(1);
    ch.close();
    await expect(select([sendCase(ch, 1)])).rejects.toThrow(ChannelClosedError);
  });
  it('chooses uniformly at random among ready cases', async () => {
    const chans = [new Channel<number>(4000), new Channel<number>(4000), new Channel<number>(4000)];
    for (const ch of chans) for (let i = 0; i < 4000; i++) ch.trySend(i);
    const counts = [0, 0, 0];
    const TRIALS = 3000;
    for (let t = 0; t < TRIALS; t++) {
      const i = await select(chans.map((ch, idx) => recvCase(ch, () => idx)));
      counts[i] = (counts[i] as number) + 1;
    }
    // Expected 1000 each, sd ≈ 26: a biased pick (e.g. always the first ready case) fails this bound.
    for (const c of counts) {
      expect(c).toBeGreaterThan(850);
      expect(c).toBeLessThan(1150);
    }
    // The losers consumed nothing: every trial took exactly one value.
    expect(chans.reduce((s, ch) => s + ch.len, 0)).toBe(3 * 4000 - TRIALS);
  });
  it('is random between a ready send arm and a ready receive arm too', async () => {
    const input = new Channel<number>(1000);
    const output = new Channel<number>(1000);
    for (let i = 0; i < 1000; i++) input.trySend(i);
    let recvs = 0;
    for (let t = 0; t < 600; t++) {
      const which = await select([recvCase(input, () => 'recv'), sendCase(output, t, () => 'send')]);
      if (which === 'recv') recvs++;
    }
    expect(recvs).toBeGreaterThan(200);
    expect(recvs).toBeLessThan(400);
    expect(input.len + recvs).toBe(1000);
    expect(output.len).toBe(600 - recvs);
  });
});

describe('select: default, nil channels and absent cases', () => {
  it('runs default when nothing is ready, and only then', async () => {
    const ch = new Channel<number>(1);
    expect(await select([recvCase(ch, () => 'value')], { default: () => 'idle' })).toBe('idle');
    ch.trySend(1);
    expect(await select([recvCase(ch, () => 'value')], { default: () => 'idle' })).toBe('value');
  });
  it('a null/undefined channel is never ready, for receive or send', async () => {
    let nilChan: Channel<number> | null = null;
    const out = await select([recvCase(nilChan), sendCase(nilChan, 1), recvCase(undefined)], { default: () => 'default' });
    expect(out).toBe('default');
    const ch = new Channel<number>(1);
    ch.trySend(5);
    nilChan = null;
    for (let i = 0; i < 20; i++) {
      const r = await select([recvCase(nilChan, () => 'nil'), recvCase(ch, () => 'real'), sendCase(nilChan, 9, () => 'nil-send')]);
      expect(r).toBe('real');
      ch.trySend(5);
    }
  });
  it('false/null/undefined entries are switched-off arms', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    const enabled = false;
    expect(await select([enabled && recvCase(ch, () => 'off'), null, undefined], { default: () => 'default' })).toBe('default');
    expect(ch.len).toBe(1);
  });
  it('a default that throws rejects the select', async () => {
    await expect(
      select([], {
        default: () => {
          throw new Error('boom');
        },
      }),
    ).rejects.toThrow('boom');
  });
});

describe('select: blocking', () => {
  it('waits for the first arm that becomes ready; losers consume nothing and leave no waiter', async () => {
    const a = new Channel<string>();
    const b = new Channel<string>();
    const out = select([recvCase(a, (r) => `a:${r.value}`), recvCase(b, (r) => `b:${r.value}`)]);
    await flush();
    expect(b.trySend('first')).toBe(true);
    expect(await out).toBe('b:first');
    // The select no longer waits on a: a send there finds no receiver.
    expect(a.trySend('lost?')).toBe(false);
    expect(a.recvq.size + b.recvq.size).toBe(0);
  });
  it('a blocked send arm delivers only if it wins', async () => {
    const out = new Channel<number>();
    const stop = new Channel<void>();
    const s = select([sendCase(out, 1, () => 'sent'), recvCase(stop, () => 'stopped')]);
    stop.close();
    expect(await s).toBe('stopped');
    expect(out.tryRecv()).toBeUndefined();
    expect(out.sendq.size).toBe(0);
  });
  it('a select sending and a select receiving rendezvous with each other', async () => {
    const ch = new Channel<number>();
    const receiver = select([recvCase(ch, (r) => r.value)]);
    const sender = select([sendCase(ch, 7, () => 'sent')]);
    expect(await sender).toBe('sent');
    expect(await receiver).toBe(7);
  });
  it('never matches its own send arm with its own receive arm', async () => {
    const ch = new Channel<number>();
    expect(await select([recvCase(ch, () => 'recv'), sendCase(ch, 1, () => 'send')], { default: () => 'default' })).toBe('default');
    const blocked = select([recvCase(ch, (r) => `recv ${r.value}`), sendCase(ch, 1, () => 'send')]);
    await flush();
    expect(ch.trySend(5)).toBe(true);
    expect(await blocked).toBe('recv 5');
    expect(ch.tryRecv()).toBeUndefined(); // the send arm was withdrawn
  });
  it('two arms on the same channel: only one value is taken', async () => {
    const ch = new Channel<number>(2);
    const s = select([recvCase(ch, (r) => r.value), recvCase(ch, (r) => r.value)]);
    await flush();
    ch.trySend(1);
    ch.trySend(2);
    expect(await s).toBe(1);
    expect(ch.len).toBe(1);
  });
  it('a blocked send arm rejects with ChannelClosedError when its channel closes', async () => {
    const ch = new Channel<number>();
    const other = new Channel<number>();
    const s = select([sendCase(ch, 1), recvCase(other)]);
    ch.close();
    await expect(s).rejects.toThrow(ChannelClosedError);
    expect(other.recvq.size).toBe(0);
  });
  it('a blocked receive arm wakes with ok:false on close', async () => {
    const ch = new Channel<number>();
    const s = select([recvCase(ch)]);
    ch.close();
    expect(await s).toEqual({ value: undefined, ok: false });
  });
  it('a handler that throws rejects the select after the value was taken', async () => {
    const ch = new Channel<number>(1);
    ch.trySend(1);
    await expect(
      select([
        recvCase(ch, () => {
          throw new Error('handler failed');
        }),
      ]),
    ).rejects.toThrow('handler failed');
    expect(ch.len).toBe(0);
  });
});

describe('select: done arms and cancellation', () => {
  it('a select won by a channel removes its listener from the done arm signal', async () => {
    const ac = new AbortController(); // a long-lived signal, e.g. the server's shutdown
    const ch = new Channel<number>();
    for (let i = 0; i < 20; i++) {
      const s = select([recvCase(ch), doneCase(ac.signal)]);
      ch.trySend(i);
      await s;
    }
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
  it('a Context done arm wins when the context is cancelled, with ctx.err()', async () => {
    const ch = new Channel<number>();
    const [ctx, cancel] = withCancel(background());
    const s = select([recvCase(ch, () => 'value'), doneCase(ctx, (err) => err)]);
    await flush();
    cancel();
    expect(await s).toBe(Canceled);
    expect(ch.trySend(1)).toBe(false); // the receive arm was withdrawn
  });
  it('an AbortSignal done arm is ready when already aborted, and reports the reason', async () => {
    const reason = new Error('bye');
    expect(await select([doneCase(AbortSignal.abort(reason))])).toBe(reason);
    expect(await select([doneCase(null)], { default: () => 'never ready' })).toBe('never ready');
  });
  it('options.signal rejects a blocked select with the reason and unhooks every arm', async () => {
    const a = new Channel<number>();
    const b = new Channel<number>();
    const ac = new AbortController();
    const s = select([recvCase(a), sendCase(b, 1)], { signal: ac.signal });
    ac.abort(new Error('cancelled'));
    await expect(s).rejects.toThrow('cancelled');
    expect(a.recvq.size + b.sendq.size).toBe(0);
    expect(b.tryRecv()).toBeUndefined();
    await expect(select([recvCase(a)], { signal: ac.signal })).rejects.toThrow('cancelled');
  });
  it('an empty select waits until its signal aborts', async () => {
    const ac = new AbortController();
    const s = select([], { signal: ac.signal });
    ac.abort(new Error('done waiting'));
    await expect(s).rejects.toThrow('done waiting');
  });
});

describe('select: the Promise.race pitfall', () => {
  it('racing recv() promises loses a value; select does not', async () => {
    // The naive way: race two receives. The losing recv() stays registered and swallows the
    // next value sent to its channel, which nobody ever sees.
    const a = new Channel<number>();
    const b = new Channel<number>();
    const seen: number[] = [];
    const raced = Promise.race([a.recv(), b.recv()]);
    a.trySend(1);
    seen.push((await raced).value as number);
    b.trySend(2); // taken by the abandoned b.recv()
    const next = await Promise.race([b.recv(), new Promise<null>((r) => setImmediate(() => r(null)))]);
    expect(seen).toEqual([1]);
    expect(next).toBeNull(); // value 2 is lost
    // With select, the losing arm takes nothing.
    const c = new Channel<number>();
    const d = new Channel<number>();
    const s = select([recvCase(c, (r) => r.value), recvCase(d, (r) => r.value)]);
    c.trySend(1);
    expect(await s).toBe(1);
    expect(d.trySend(2)).toBe(false); // no hidden receiver
    const r = d.recv();
    d.trySend(2);
    expect((await r).value).toBe(2);
  });
});

describe('select: bad input', () => {
  it('rejects non-cases and non-channels with typed errors', () => {
    expect(() => recvCase({} as Channel<number>)).toThrow(InvalidArgumentError);
    expect(() => recvCase({} as Channel<number>)).toThrow('channel must be a Channel, null or undefined, got a Object');
    expect(() => sendCase(new Channel<number>(), 1, 'x' as unknown as () => void)).toThrow('handler must be a function or undefined');
    expect(() => doneCase(42 as unknown as AbortSignal)).toThrow('source must be a Context, an AbortSignal, null or undefined, got 42');
    expect(() => select('x' as unknown as [])).toThrow('cases must be an array of select cases');
    expect(() => select([{} as never])).toThrow(/cases\[0\] must be a case from recvCase/);
  });
});

describe('select under real concurrency', () => {
  it('many selecting consumers over several channels receive every value exactly once', async () => {
    const chans = Array.from({ length: 4 }, (_, i) => new Channel<number>(i)); // capacities 0..3
    const quit = new AbortController();
    const received: number[] = [];
    const consumers = Array.from({ length: 8 }, () =>
      (async () => {
        for (;;) {
          const v = await select([...chans.map((ch) => recvCase(ch, (r) => r.value)), doneCase(quit.signal, () => null)]);
          if (v === null) return;
          received.push(v as number);
          if ((v as number) % 7 === 0) await flush();
        }
      })(),
    );
    const producers = chans.map((ch, c) =>
      (async () => {
        for (let i = 0; i < 500; i++) {
          await ch.send(c * 10_000 + i);
          if (i % 13 === 0) await flush();
        }
      })(),
    );
    await Promise.all(producers);
    while (chans.some((ch) => ch.len > 0)) await flush();
    quit.abort();
    await Promise.all(consumers);
    expect(received.length).toBe(2000);
    expect(new Set(received).size).toBe(2000);
    for (const ch of chans) expect(ch.recvq.size).toBe(0);
  });
});

describe('select: types', () => {
  it('resolves with the union of the arms handler results (and the default)', async () => {
    const a = new Channel<number>(1);
    const b = new Channel<string>(1);
    a.trySend(1);
    const noReceiver = new Channel<string>(); // its send arm is never ready, so the result is deterministic
    const r = await select([recvCase(a, (x) => x.value), sendCase(noReceiver, 's', () => 'sent' as const), recvCase(null), false], {
      default: () => true,
    });
    expectTypeOf(r).toEqualTypeOf<number | undefined | 'sent' | RecvResult<unknown> | boolean>();
    b.trySend('x');
    const plain = await select([recvCase(b)]);
    expectTypeOf(plain).toEqualTypeOf<RecvResult<string>>();
    expect(r).toBe(1);
  });
});
