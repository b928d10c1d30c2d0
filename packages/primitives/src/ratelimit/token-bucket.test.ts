import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { background, DeadlineExceededError, withTimeout } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import { TokenBucket } from './index.js';

function make(ratePerSec: number, burst: number) {
  const clock = new ManualClock(1_000_000);
  return { clock, bucket: new TokenBucket({ ratePerSec, burst, clock }) };
}

describe('TokenBucket.allow', () => {
  it('starts full, spends the burst, then admits exactly at the refill rate', async () => {
    const { bucket, clock } = make(10, 5);
    for (let i = 0; i < 5; i++) expect(bucket.allow()).toBe(true);
    expect(bucket.allow()).toBe(false);
    await clock.advance(99);
    expect(bucket.allow()).toBe(false);
    await clock.advance(1);
    expect(bucket.allow()).toBe(true);
    expect(bucket.allow()).toBe(false);
  });

  it('keeps fractional refill across calls faster than 1/rate (the seed bug it must not have)', async () => {
    const { bucket, clock } = make(100, 1000);
    let admitted = 0;
    // 1 kHz for 30 s: calls every 1 ms, each earns 0.1 token
    for (let t = 0; t < 30_000; t++) {
      if (bucket.allow()) admitted++;
      clock.setTime(clock.now() + 1);
    }
    expect(admitted).toBeGreaterThanOrEqual(1000 + 100 * 30 - 1);
    expect(admitted).toBeLessThanOrEqual(1000 + 100 * 30);
  });

  it('never holds more than burst after a long idle period', async () => {
    const { bucket, clock } = make(1000, 3);
    await clock.advance(3_600_000);
    expect(bucket.tokens()).toBe(3);
    expect(bucket.allow(3)).toBe(true);
    expect(bucket.allow()).toBe(false);
  });

  it('n > burst never succeeds and takes nothing; n = 0 always succeeds', () => {
    const { bucket } = make(10, 5);
    expect(bucket.allow(6)).toBe(false);
    expect(bucket.tokens()).toBe(5);
    expect(bucket.allow(0)).toBe(true);
  });

  it('tolerates the clock going backwards: no refill, no drain, resumes from the new time', async () => {
    const { bucket, clock } = make(10, 10);
    expect(bucket.allow(10)).toBe(true);
    clock.setTime(clock.now() - 60_000);
    expect(bucket.tokens()).toBe(0);
    expect(bucket.allow()).toBe(false);
    await clock.advance(100);
    expect(bucket.tokens()).toBeCloseTo(1, 9);
  });

  it('rate 0 leaves only the initial burst; Infinity admits everything', async () => {
    const { bucket, clock } = make(0, 2);
    expect(bucket.allow(2)).toBe(true);
    await clock.advance(1e9);
    expect(bucket.allow()).toBe(false);
    expect(bucket.reserve().ok).toBe(false);
    const inf = make(Number.POSITIVE_INFINITY, 0).bucket;
    expect(inf.allow(1_000_000)).toBe(true);
  });
});

describe('TokenBucket.reserve', () => {
  it('lends tokens ahead: each reservation queues behind the last one', () => {
    const { bucket } = make(10, 1);
    const a = bucket.reserve();
    const b = bucket.reserve();
    const c = bucket.reserve(1);
    expect([a.delayMs, b.delayMs, c.delayMs]).toEqual([0, 100, 200]);
    expect(bucket.tokens()).toBeCloseTo(-2, 9);
    expect(bucket.reserve(2).ok).toBe(false);
  });

  it('cancel gives tokens back only when no later reservation relies on them', async () => {
    const { bucket, clock } = make(10, 5);
    bucket.allow(5);
    const a = bucket.reserve(2); // due at +200
    const b = bucket.reserve(1); // due at +300
    b.cancel();
    expect(bucket.tokens()).toBeCloseTo(-2, 9);
    b.cancel(); // idempotent
    expect(bucket.tokens()).toBeCloseTo(-2, 9);
    const c = bucket.reserve(1); // due at +300 again, b's slot was freed
    expect(c.delayMs).toBeCloseTo(300, 6);
    a.cancel(); // c was granted counting on a's tokens: a gets back 2 - 1 = 1
    expect(bucket.tokens()).toBeCloseTo(-2, 9);
    await clock.advance(400);
    c.cancel(); // its time has passed: nothing to give back
    expect(bucket.tokens()).toBeCloseTo(2, 9);
  });

  it('cancelling reservations newest first gives every one of them back', () => {
    const { bucket } = make(10, 1);
    bucket.allow();
    const before = bucket.tokens();
    expect(before).toBeCloseTo(0, 9);
    const a = bucket.reserve(1); // due at +100
    const c = bucket.reserve(1); // due at +200
    c.cancel(); // the newest: nobody counted on it, and the queue end moves back to a's slot
    expect(bucket.tokens()).toBeCloseTo(-1, 9);
    a.cancel(); // now the newest again: nobody counts on its token either
    expect(bucket.tokens()).toBeCloseTo(before, 9);
    expect(bucket.reserve(1).delayMs).toBeCloseTo(100, 6);
  });

  it('a cancel exactly at the time to act still gives the tokens back; only a time already past is a no-op (x/time/rate)', async () => {
    const { bucket, clock } = make(10, 1);
    bucket.allow();
    const r = bucket.reserve(1); // due at +100
    await clock.advance(100);
    expect(bucket.tokens()).toBeCloseTo(0, 9);
    r.cancel();
    expect(bucket.tokens()).toBeCloseTo(1, 9);
    const late = bucket.reserve(1); // due now: delay 0
    expect(late.delayMs).toBe(0);
    await clock.advance(1);
    late.cancel(); // 1 ms past its time: nothing back
    expect(bucket.tokens()).toBeCloseTo(0.01, 9);
  });
});

describe('TokenBucket.wait', () => {
  it('resolves when the tokens are ours, in FIFO order, with no polling timers', async () => {
    const { bucket, clock } = make(10, 1);
    const order: number[] = [];
    const ws = [1, 2, 3].map((i) => bucket.wait(1).then(() => order.push(i)));
    await clock.advance(0);
    expect(order).toEqual([1]);
    expect(clock.pendingTimers).toBe(2);
    await clock.advance(100);
    expect(order).toEqual([1, 2]);
    await clock.advance(100);
    await Promise.all(ws);
    expect(order).toEqual([1, 2, 3]);
  });

  it('rejects at once when n > burst', async () => {
    const { bucket } = make(10, 2);
    await expect(bucket.wait(3)).rejects.toThrow(InvalidArgumentError);
    await expect(bucket.wait(3)).rejects.toThrow('n must be an integer <= burst (2) for wait, got 3');
  });

  it('rejects at once, taking nothing, when the wait would pass the deadline (options or Context)', async () => {
    const { bucket, clock } = make(10, 1);
    bucket.allow();
    await expect(bucket.wait(1, { deadline: clock.now() + 50 })).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(bucket.tokens()).toBe(0);
    const [ctx, cancel] = withTimeout(background(), 50, { clock });
    await expect(bucket.wait(1, ctx)).rejects.toThrow(/would end after the deadline/);
    cancel();
    const p = bucket.wait(1, { deadline: clock.now() + 100 });
    await clock.advance(100);
    await expect(p).resolves.toBeUndefined();
  });

  it('an abort during the wait rejects with the reason and returns the tokens', async () => {
    const { bucket, clock } = make(10, 1);
    bucket.allow();
    const ac = new AbortController();
    const p = bucket.wait(1, { signal: ac.signal });
    expect(bucket.tokens()).toBeCloseTo(-1, 9);
    ac.abort(new Error('client went away'));
    await expect(p).rejects.toThrow('client went away');
    expect(bucket.tokens()).toBeCloseTo(0, 9);
    expect(clock.pendingTimers).toBe(0);
    await expect(bucket.wait(1, { signal: ac.signal })).rejects.toThrow('client went away');
  });
});

describe('TokenBucket settings', () => {
  it('setRate keeps tokens earned at the old rate; setBurst caps the tokens held', async () => {
    const { bucket, clock } = make(10, 10);
    bucket.allow(10);
    await clock.advance(500); // +5 at 10/s
    bucket.setRate(100);
    expect(bucket.tokens()).toBeCloseTo(5, 9);
    await clock.advance(10); // +1 at 100/s
    expect(bucket.tokens()).toBeCloseTo(6, 9);
    bucket.setBurst(2);
    expect(bucket.tokens()).toBe(2);
    expect(bucket.burst).toBe(2);
    expect(bucket.ratePerSec).toBe(100);
  });

  it('rejects bad arguments with typed errors', () => {
    expect(() => new TokenBucket({ ratePerSec: -1, burst: 1 })).toThrow('ratePerSec must be a finite number >= 0, got -1');
    expect(() => new TokenBucket({ ratePerSec: Number.NaN, burst: 1 })).toThrow(InvalidArgumentError);
    expect(() => new TokenBucket({ ratePerSec: 1, burst: 1.5 })).toThrow('burst must be an integer >= 0, got 1.5');
    const { bucket } = make(1, 1);
    expect(() => bucket.allow(-1)).toThrow('n must be an integer >= 0, got -1');
    expect(() => bucket.setBurst(-2)).toThrow(InvalidArgumentError);
  });
});
