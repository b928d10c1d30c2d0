import { stat } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { Channel, recvCase, select, sendCase, YIELD_EVERY } from './index.js';

/**
 * These tests use the real event loop on purpose: the property under test is that timers and
 * I/O get their turn while channel code runs, which a fake clock cannot show. No assertion is
 * about speed; each asserts *when* (at which iteration) the event-loop work ran.
 */
describe('microtask starvation guard', () => {
  it('a setTimeout and an fs callback fire while two tasks ping-pong 1e6 times', async () => {
    const N = 1_000_000;
    let i = 0;
    let timerAt = -1;
    let ioAt = -1;
    setTimeout(() => {
      timerAt = i;
    }, 1);
    void stat('.').then(() => {
      ioAt = i;
    });
    const ping = new Channel<number>();
    const pong = new Channel<number>();
    const a = (async () => {
      for (i = 0; i < N; i++) {
        await ping.send(i);
        await pong.recv();
      }
    })();
    const b = (async () => {
      for (let j = 0; j < N; j++) {
        const r = await ping.recv();
        await pong.send(r.value as number);
      }
    })();
    await Promise.all([a, b]);
    // Without the guard both callbacks run only after the loop, at i === N.
    expect(timerAt).toBeGreaterThanOrEqual(0);
    expect(timerAt).toBeLessThan(N);
    expect(ioAt).toBeGreaterThanOrEqual(0);
    expect(ioAt).toBeLessThan(N);
  }, 120_000);

  it('a buffered producer/consumer loop and a select loop yield too', async () => {
    const N = 200_000;
    let i = 0;
    let timerAt = -1;
    setTimeout(() => {
      timerAt = i;
    }, 1);
    const ch = new Channel<number>(16);
    const consumer = (async () => {
      let n = 0;
      for await (const _ of ch) n++;
      return n;
    })();
    for (i = 0; i < N; i++) await ch.send(i);
    ch.close();
    expect(await consumer).toBe(N);
    expect(timerAt).toBeGreaterThanOrEqual(0);
    expect(timerAt).toBeLessThan(N);

    let k = 0;
    let selectTimerAt = -1;
    setTimeout(() => {
      selectTimerAt = k;
    }, 1);
    const x = new Channel<number>(1);
    for (k = 0; k < N; k++) {
      await select([sendCase(x, k)]);
      await select([recvCase(x)]);
    }
    expect(selectTimerAt).toBeGreaterThanOrEqual(0);
    expect(selectTimerAt).toBeLessThan(N);
  }, 120_000);

  it('does not yield before the budget is spent: a short burst completes within one turn', async () => {
    let immediateRan = false;
    // Start on a fresh turn so the budget is full.
    await new Promise<void>((r) => setImmediate(r));
    setImmediate(() => {
      immediateRan = true;
    });
    const ch = new Channel<number>(1);
    const ops = Math.floor(YIELD_EVERY / 2) - 1;
    for (let n = 0; n < ops; n++) {
      await ch.send(n);
      await ch.recv();
    }
    expect(immediateRan).toBe(false);
  });
});
