import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { DeadlineExceeded } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { NegativeWaitGroupCounterError, WaitGroup } from './index.js';

const tick = () => new Promise<void>((r) => setImmediate(r));

describe('WaitGroup', () => {
  it('wait() resolves only when every added piece of work is done', async () => {
    const wg = new WaitGroup();
    let finished = 0;
    wg.add(50);
    for (let i = 0; i < 50; i++) {
      setTimeout(() => {
        finished++;
        wg.done();
      }, i % 5);
    }
    const waiters = [wg.wait(), wg.wait()];
    await Promise.all(waiters);
    expect(finished).toBe(50);
    expect(wg.count).toBe(0);
  });

  it('wait() with nothing outstanding resolves at once', async () => {
    await new WaitGroup().wait();
  });

  it('a negative counter throws a typed error and leaves the counter unchanged', () => {
    const wg = new WaitGroup();
    wg.add(1);
    wg.done();
    expect(() => wg.done()).toThrow(NegativeWaitGroupCounterError);
    expect(() => wg.add(-2)).toThrow('WaitGroup counter must stay >= 0: add(-2) on a counter of 0 would make it -2');
    expect(wg.count).toBe(0);
    expect(() => wg.add(0.5)).toThrow(InvalidArgumentError);
    expect(() => wg.go(null as never)).toThrow('fn must be a function, got null');
    expect(wg.count).toBe(0);
  });

  it('go() tracks a task and passes its outcome through', async () => {
    const wg = new WaitGroup();
    const ok = wg.go(async () => {
      await tick();
      return 7;
    });
    const bad = wg.go(() => {
      throw new Error('sync throw');
    });
    expect(wg.count).toBe(1);
    await expect(bad).rejects.toThrow('sync throw');
    await wg.wait();
    expect(await ok).toBe(7);
  });

  it('an aborted wait stops waiting without touching the counter', async () => {
    const clock = new ManualClock();
    const wg = new WaitGroup({ clock });
    wg.add(1);
    const p = wg.wait({ deadline: 10 });
    const rejected = expect(p).rejects.toBe(DeadlineExceeded);
    await clock.advance(10);
    await rejected;
    expect(wg.count).toBe(1);
    const later = wg.wait();
    wg.done();
    await later;
  });
});
