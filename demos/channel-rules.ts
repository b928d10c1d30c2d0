import { after, Channel, ChannelClosedError, doneCase, recvCase, select, sendCase } from '@gopherkit/primitives/channel';
import { defineDemo } from './harness/demo.js';

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Each of Go's channel rules, shown on a gopherkit Channel and checked; plus the two traps a
 * hand-rolled JS channel falls into: building select on Promise.race (losing values) and
 * ping-ponging over pure promises (starving timers and I/O).
 */
export default defineDemo({
  description: 'Channel rules: rendezvous, backpressure, FIFO, close/drain, abort, fair select, nil arms, Promise.race loss, no starvation',
  async run(d) {
    const rows: { rule: string; observed: string }[] = [];
    const rule = (name: string, ok: boolean, observed: string) => {
      rows.push({ rule: name, observed: `${ok ? '✓' : '✗'} ${observed}` });
      d.check(ok, `${name}: ${observed}`);
    };

    // 1. Unbuffered: the sender resumes only after the receiver took the value.
    {
      const ch = new Channel<string>();
      const log: string[] = [];
      const sender = ch.send('order-1').then(() => log.push('send resolved'));
      for (let i = 0; i < 3; i++) await flush();
      log.push(log.length === 0 ? 'sender still blocked after 3 event-loop turns' : 'send resolved with no receiver!');
      const r = ch.recv(); // the hand-off happens here, synchronously
      log.push('receiver took the value');
      await sender;
      const got = await r;
      rule(
        'unbuffered send completes at hand-off',
        log.join(' → ') === 'sender still blocked after 3 event-loop turns → receiver took the value → send resolved' && got.value === 'order-1',
        log.join(' → '),
      );
    }

    // 2. Buffered: sends complete at once until the buffer is full, then block (backpressure).
    {
      const ch = new Channel<number>(3);
      let completed = 0;
      const sends = [1, 2, 3, 4].map((v) => ch.send(v).then(() => completed++));
      await flush();
      const blockedAtCap = completed;
      await ch.recv();
      await Promise.all(sends);
      rule('buffered send blocks only when full', blockedAtCap === 3 && completed === 4, `cap 3: ${blockedAtCap} of 4 sends done before a receive, 4 after`);
    }

    // 3. FIFO for values and blocked senders; full buffer + waiting sender.
    {
      const ch = new Channel<string>(2);
      await ch.send('a');
      await ch.send('b');
      const waiting = ch.send('c'); // buffer full: blocks
      const first = await ch.recv(); // takes the head; 'c' moves to the tail
      await waiting;
      const rest = [(await ch.recv()).value, (await ch.recv()).value];
      const order = [first.value, ...rest].join('');
      rule('full buffer + waiting sender: head out, sender to tail', order === 'abc', `received ${order.split('').join(', ')}`);

      const u = new Channel<number>();
      const senders = [1, 2, 3, 4, 5].map((v) => u.send(v));
      const got: number[] = [];
      for (let i = 0; i < 5; i++) got.push((await u.recv()).value as number);
      await Promise.all(senders);
      rule('blocked senders served FIFO', got.join() === '1,2,3,4,5', `blocked in order 1..5, received ${got.join(', ')}`);
    }

    // 4. Close: drain first, then ok:false; waiters woken; senders rejected; double close throws.
    {
      const ch = new Channel<number>(2);
      await ch.send(1);
      await ch.send(2);
      ch.close();
      const results = [await ch.recv(), await ch.recv(), await ch.recv()].map((r) => (r.ok ? String(r.value) : 'ok:false'));
      rule('recv on closed drains the buffer, then ok:false', results.join() === '1,2,ok:false', results.join(', '));

      const idle = new Channel<number>();
      const receivers = [idle.recv(), idle.recv(), idle.recv()];
      const full = new Channel<number>();
      const blockedSenders = [full.send(1), full.send(2)];
      idle.close();
      full.close();
      const woken = (await Promise.all(receivers)).filter((r) => !r.ok).length;
      const rejected = (await Promise.allSettled(blockedSenders)).filter((s) => s.status === 'rejected' && s.reason instanceof ChannelClosedError).length;
      rule(
        'close wakes receivers (ok:false), rejects blocked senders',
        woken === 3 && rejected === 2,
        `${woken}/3 receivers woke, ${rejected}/2 senders got ChannelClosedError`,
      );

      let sendErr = '';
      let closeErr = '';
      await full.send(3).catch((e: Error) => (sendErr = e.message));
      try {
        full.close();
      } catch (e) {
        closeErr = (e as Error).message;
      }
      rule(
        'send on closed / close of closed throw',
        sendErr === 'send on closed channel' && closeErr === 'close of closed channel',
        `"${sendErr}", "${closeErr}"`,
      );
    }

    // 5. An aborted send leaves the channel as if it never happened.
    {
      const ch = new Channel<string>(1);
      await ch.send('kept');
      const ac = new AbortController();
      const aborted = ch.send('aborted', { signal: ac.signal });
      const later = ch.send('later');
      ac.abort();
      await aborted.catch(() => {});
      await flush();
      const got = [(await ch.recv()).value, (await ch.recv()).value];
      await later;
      rule(
        'aborted send: no value lost or duplicated',
        got.join() === 'kept,later' && ch.len === 0,
        `received ${got.join(', ')}; the aborted value never appears`,
      );
    }

    // 6. select picks uniformly at random among ready cases.
    {
      const TRIALS = 30_000;
      const chans = [new Channel<number>(TRIALS), new Channel<number>(TRIALS), new Channel<number>(TRIALS)];
      for (const ch of chans) for (let i = 0; i < TRIALS; i++) ch.trySend(i);
      const counts = [0, 0, 0];
      for (let t = 0; t < TRIALS; t++) {
        const i = await select(chans.map((ch, idx) => recvCase(ch, () => idx)));
        counts[i] = (counts[i] as number) + 1;
      }
      const expected = TRIALS / 3;
      const maxDev = Math.max(...counts.map((c) => Math.abs(c - expected) / expected));
      const consumed = chans.reduce((s, ch) => s + (TRIALS - ch.len), 0);
      rule(
        'select: uniform choice among ready cases',
        maxDev < 0.05 && consumed === TRIALS,
        `3 always-ready channels, ${TRIALS} selects: ${counts.join(' / ')} (max deviation ${(maxDev * 100).toFixed(1)}%), ${consumed} values taken`,
      );
    }

    // 7. Promise.race over recv() loses values; select does not.
    let raceLost = 0;
    let selectLost = 0;
    {
      const ROUNDS = 1000;
      const a = new Channel<number>();
      const b = new Channel<number>();
      let seen = 0;
      for (let i = 0; i < ROUNDS; i++) {
        const winner = Promise.race([a.recv(), b.recv()]);
        a.trySend(i); // wakes a.recv()
        b.trySend(i); // taken by the losing b.recv(), which nobody reads any more
        await winner;
        seen++;
      }
      raceLost = 2 * ROUNDS - seen;

      const c = new Channel<number>();
      const e = new Channel<number>();
      let sent = 0;
      let received = 0;
      const backlog: Channel<number>[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const s = select([recvCase(c), recvCase(e)]);
        for (const ch of [c, e]) {
          if (ch.trySend(i)) sent++;
          else backlog.push(ch); // no receiver: the producer still holds its value
        }
        await s;
        received++;
        // Deliver the held values the way a blocked producer would, once someone receives.
        while (backlog.length > 0) {
          const ch = backlog.pop() as Channel<number>;
          const r = ch.recv();
          if (ch.trySend(i)) sent++;
          await r;
          received++;
        }
      }
      selectLost = sent - received;
      rule(
        'select: losing arms take nothing',
        raceLost > 0 && selectLost === 0,
        `Promise.race of recv(): ${raceLost} of ${2 * ROUNDS} values lost; select: ${selectLost} lost`,
      );
    }

    // 8. A nil (null) channel disables an arm: the classic merge loop.
    {
      let x: Channel<number> | null = new Channel<number>(10);
      let y: Channel<number> | null = new Channel<number>(10);
      for (let i = 0; i < 5; i++) x.trySend(i);
      for (let i = 0; i < 7; i++) y.trySend(100 + i);
      x.close();
      y.close();
      let merged = 0;
      while (x !== null || y !== null) {
        const xs: Channel<number> | null = x;
        const ys: Channel<number> | null = y;
        await select([
          recvCase(xs, (r) => {
            if (r.ok) merged++;
            else x = null; // closed: switch this arm off, as Go sets the channel to nil
          }),
          recvCase(ys, (r) => {
            if (r.ok) merged++;
            else y = null;
          }),
        ]);
      }
      rule('null channel arm is never ready (merge until both closed)', merged === 12, `merged ${merged} of 12 values, loop ended when both arms were null`);
    }

    // 9. select with default never blocks; a timeout arm with after().
    {
      const quiet = new Channel<number>();
      const polled = await select([recvCase(quiet, () => 'value')], { default: () => 'default' });
      const t0 = performance.now();
      const timedOut = await select([recvCase(quiet, () => 'value'), recvCase(after(50), () => 'timeout'), doneCase(null)]);
      const waited = performance.now() - t0;
      const s = select([sendCase(quiet, 1, () => 'sent')], { default: () => 'would block' });
      rule(
        'select default / timeout arm',
        polled === 'default' && timedOut === 'timeout' && waited >= 45 && (await s) === 'would block',
        `poll → ${polled}; after(50) arm → ${timedOut} after ${waited.toFixed(0)} ms`,
      );
    }

    // 10. Microtask starvation: promise-only ping-pong starves timers; Channel yields.
    let naiveTicks = 0;
    let channelTicks = 0;
    {
      const ROUND_TRIPS = 300_000;
      let ticks = 0;
      const iv = setInterval(() => ticks++, 1);
      // Naive hand-rolled rendezvous: a resolved Promise per hand-off, never leaving the microtask queue.
      let slot: ((v: number) => void) | undefined;
      const naiveRecv = () => new Promise<number>((r) => (slot = r));
      const naiveSend = async (v: number) => {
        while (slot === undefined) await Promise.resolve();
        const s = slot;
        slot = undefined;
        s(v);
      };
      await new Promise<void>((r) => setTimeout(r, 5));
      ticks = 0;
      const t0 = performance.now();
      const naiveReceiver = (async () => {
        for (let i = 0; i < ROUND_TRIPS; i++) await naiveRecv();
      })();
      for (let i = 0; i < ROUND_TRIPS; i++) await naiveSend(i);
      await naiveReceiver;
      naiveTicks = ticks;
      const naiveMs = performance.now() - t0;

      await new Promise<void>((r) => setTimeout(r, 5));
      ticks = 0;
      const t1 = performance.now();
      const ch = new Channel<number>();
      const receiver = (async () => {
        for (let i = 0; i < ROUND_TRIPS; i++) await ch.recv();
      })();
      for (let i = 0; i < ROUND_TRIPS; i++) await ch.send(i);
      await receiver;
      channelTicks = ticks;
      const channelMs = performance.now() - t1;
      clearInterval(iv);
      rule(
        'no microtask starvation',
        naiveTicks === 0 && channelTicks > 0,
        `1 ms interval during ${ROUND_TRIPS.toLocaleString('en-US')} hand-offs: promise-only ${naiveTicks} ticks in ${naiveMs.toFixed(0)} ms; Channel ${channelTicks} ticks in ${channelMs.toFixed(0)} ms`,
      );
    }

    d.table(rows);
    const passed = rows.filter((r) => r.observed.startsWith('✓')).length;
    return `${passed}/${rows.length} rules hold; Promise.race lost ${raceLost} values vs select ${selectLost}; timer ticks during ping-pong: promise-only ${naiveTicks}, Channel ${channelTicks}`;
  },
});
