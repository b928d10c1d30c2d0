import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.js';
import { DeadlineExceeded } from '../context/index.js';
import { InvalidArgumentError } from '../errors/index.js';
import {
  ClockMovedBackwardsError,
  SequenceExhaustedError,
  Snowflake,
  snowflakeJsonReplacer,
  snowflakeJsonReviver,
  TimestampOutOfRangeError,
  WorkerIdLeaseLostError,
} from './index.js';

const EPOCH = Date.UTC(2024, 0, 1);
const T0 = EPOCH + 1_000_000;

describe('layout', () => {
  it('defaults to 41 | 10 | 12 and describes lifetime and capacity', () => {
    const d = new Snowflake({ workerId: 1, epoch: EPOCH }).describe();
    expect(d).toMatchObject({ timestampBits: 41, workerBits: 10, sequenceBits: 12, workers: 1024, idsPerMs: 4096 });
    expect(d.lifetimeYears).toBeCloseTo(69.68, 2);
    expect(d.epoch.getTime()).toBe(EPOCH);
    expect(d.endsAt.getTime()).toBe(EPOCH + 2 ** 41 - 1);
  });

  it('accepts a custom layout summing to 63 and rejects others with a typed error', () => {
    const d = new Snowflake({ workerId: 3, layout: { timestampBits: 43, workerBits: 4, sequenceBits: 16 } }).describe();
    expect(d).toMatchObject({ workers: 16, idsPerMs: 65536 });
    expect(d.lifetimeYears).toBeCloseTo(278.7, 1);
    expect(() => new Snowflake({ workerId: 1, layout: { timestampBits: 42 } })).toThrow(InvalidArgumentError);
    expect(() => new Snowflake({ workerId: 1, layout: { timestampBits: 42 } })).toThrow('but 42 + 10 + 12 = 64');
    expect(() => new Snowflake({ workerId: 1, layout: { sequenceBits: 0 } })).toThrow('layout.sequenceBits must be an integer in [1, 30], got 0');
    expect(() => new Snowflake({ workerId: 1, layout: { workerBits: 1.5 } })).toThrow(InvalidArgumentError);
  });

  it('validates the worker ID, epoch and policy', () => {
    expect(() => new Snowflake({ workerId: 1024 })).toThrow('workerId must be an integer in [0, 1023], got 1024');
    expect(() => new Snowflake({ workerId: -1 })).toThrow(InvalidArgumentError);
    expect(() => new Snowflake({ workerId: 1, epoch: Number.NaN })).toThrow('epoch must be a finite number >= 0, got NaN');
    // @ts-expect-error bad policy on purpose
    expect(() => new Snowflake({ workerId: 1, onClockBackwards: 'ignore' })).toThrow('onClockBackwards must be "wait" or "throw", got "ignore"');
    expect(() => new Snowflake({ workerId: 1, maxBackwardsMs: -5 })).toThrow(InvalidArgumentError);
  });
});

describe('next / decompose / compose', () => {
  it('packs time, worker and a per-ms sequence that restarts each millisecond', async () => {
    const clock = new ManualClock(T0);
    const sf = new Snowflake({ workerId: 5, epoch: EPOCH, clock });
    const a = sf.next();
    const b = sf.next();
    expect(typeof a).toBe('bigint');
    expect(sf.decompose(a)).toEqual({ timestamp: T0, workerId: 5, sequence: 0 });
    expect(sf.decompose(b)).toEqual({ timestamp: T0, workerId: 5, sequence: 1 });
    expect(a).toBe((1_000_000n << 22n) | (5n << 12n));
    await clock.advance(1);
    expect(sf.decompose(sf.next())).toEqual({ timestamp: T0 + 1, workerId: 5, sequence: 0 });
    expect(sf.decompose(sf.nextString())).toEqual({ timestamp: T0 + 1, workerId: 5, sequence: 1 });
  });

  it('compose is the inverse of decompose and range-checks each field', () => {
    const sf = new Snowflake({ workerId: 0, epoch: EPOCH, clock: new ManualClock(T0) });
    const parts = { timestamp: T0 + 12345, workerId: 1023, sequence: 4095 };
    expect(sf.decompose(sf.compose(parts))).toEqual(parts);
    expect(() => sf.compose({ ...parts, sequence: 4096 })).toThrow('sequence must be an integer in [0, 4095], got 4096');
    expect(() => sf.compose({ ...parts, workerId: 1024 })).toThrow(InvalidArgumentError);
    expect(() => sf.compose({ ...parts, timestamp: EPOCH - 1 })).toThrow(InvalidArgumentError);
    expect(() => sf.decompose('12a')).toThrow('id must be a bigint or decimal string in [0, 2^63), got "12a"');
    expect(() => sf.decompose(-1n)).toThrow(InvalidArgumentError);
    expect(() => sf.decompose(1n << 63n)).toThrow(InvalidArgumentError);
  });

  it('is strictly increasing and unique over many IDs across many milliseconds (real clock)', () => {
    const sf = new Snowflake({ workerId: 9 });
    const n = 200_000; // > 4096 per ms: exercises overflow spins on the real clock
    let prev = -1n;
    for (let i = 0; i < n; i++) {
      const id = sf.next();
      if (id <= prev) throw new Error(`not increasing at ${i}: ${id} <= ${prev}`);
      prev = id;
    }
    expect(sf.decompose(prev).workerId).toBe(9);
  });

  it('different workers never collide in the same millisecond', () => {
    const clock = new ManualClock(T0);
    const ids = new Set<bigint>();
    for (let w = 0; w < 4; w++) {
      const sf = new Snowflake({ workerId: w, epoch: EPOCH, clock });
      for (let i = 0; i < 1000; i++) ids.add(sf.next());
    }
    expect(ids.size).toBe(4000);
  });

  it('refuses times before the epoch or past the lifetime', () => {
    const clock = new ManualClock(EPOCH - 1);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock });
    expect(() => sf.next()).toThrow(TimestampOutOfRangeError);
    clock.setTime(EPOCH + 2 ** 41);
    expect(() => sf.next()).toThrow(/past the layout's last timestamp/);
  });
});

describe('sequence overflow', () => {
  it('nextAsync awaits the next millisecond instead of wrapping', async () => {
    const clock = new ManualClock(T0);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock, layout: { timestampBits: 51, workerBits: 10, sequenceBits: 2 } });
    const got = [await sf.nextAsync(), await sf.nextAsync(), await sf.nextAsync(), await sf.nextAsync()];
    let fifth: bigint | undefined;
    const pending = sf.nextAsync().then((id) => (fifth = id));
    await clock.advance(0);
    expect(fifth).toBeUndefined(); // still waiting: 4 IDs per ms are used up
    await clock.advance(1);
    await pending;
    expect(sf.decompose(fifth!)).toEqual({ timestamp: T0 + 1, workerId: 1, sequence: 0 });
    expect(new Set([...got, fifth]).size).toBe(5);
  });

  it('nextAsync stops waiting when its signal aborts or its deadline passes', async () => {
    const clock = new ManualClock(T0);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock, layout: { timestampBits: 52, workerBits: 10, sequenceBits: 1 } });
    await sf.nextAsync();
    await sf.nextAsync();
    const ac = new AbortController();
    const aborted = sf.nextAsync({ signal: ac.signal });
    ac.abort(new Error('client went away'));
    await expect(aborted).rejects.toThrow('client went away');
    const late = sf.nextAsync({ deadline: T0 }); // already due: gives up at once instead of waiting
    await expect(late).rejects.toBe(DeadlineExceeded);
    await clock.advance(1);
    expect(sf.decompose(await sf.nextAsync({ signal: ac.signal })).sequence).toBe(0); // no wait needed: the aborted signal is not consulted
  });

  it('a synchronous next() spins to the next ms with a real clock, and gives up on a stalled clock', () => {
    const stalled = new ManualClock(T0);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock: stalled, layout: { timestampBits: 51, workerBits: 10, sequenceBits: 2 } });
    for (let i = 0; i < 4; i++) sf.next();
    expect(() => sf.next()).toThrow(SequenceExhaustedError);

    const real = new Snowflake({ workerId: 1, layout: { timestampBits: 51, workerBits: 10, sequenceBits: 2 } });
    const ids = Array.from({ length: 40 }, () => real.next());
    const ms = new Set(ids.map((id) => real.decompose(id).timestamp));
    expect(ms.size).toBeGreaterThanOrEqual(10); // at most 4 per ms
    expect(new Set(ids).size).toBe(40);
  });
});

describe('clock moving backwards', () => {
  it('"wait": a small step is ridden out (async) and IDs stay unique and increasing', async () => {
    const clock = new ManualClock(T0 + 100);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock, maxBackwardsMs: 10 });
    const before = sf.next();
    clock.setTime(T0 + 95); // NTP stepped back 5 ms
    let after: bigint | undefined;
    const p = sf.nextAsync().then((id) => (after = id));
    await clock.advance(4);
    expect(after).toBeUndefined();
    await clock.advance(1);
    await p;
    expect(after! > before).toBe(true);
    expect(sf.decompose(after!)).toEqual({ timestamp: T0 + 100, workerId: 1, sequence: 1 });
  });

  it('"wait": a step beyond maxBackwardsMs throws ClockMovedBackwardsError, and the generator recovers', async () => {
    const clock = new ManualClock(T0 + 100);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock, maxBackwardsMs: 10 });
    sf.next();
    clock.setTime(T0 + 50);
    expect(() => sf.next()).toThrow(ClockMovedBackwardsError);
    await expect(sf.nextAsync()).rejects.toMatchObject({ code: 'ERR_CLOCK_MOVED_BACKWARDS', behindMs: 50 });
    await clock.advance(51);
    expect(sf.decompose(sf.next()).timestamp).toBe(T0 + 101);
  });

  it('"wait": sync next() spins through a small step on a clock that moves, but gives up on a stalled one', () => {
    const clock = new ManualClock(T0 + 100);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock, maxBackwardsMs: 10 });
    sf.next();
    clock.setTime(T0 + 97);
    expect(() => sf.next()).toThrow(/did not catch up/);
    // a clock that ticks 1 ms per read catches up during the spin
    let t = T0 + 97;
    const ticking = { now: () => t++, setTimeout: clock.setTimeout.bind(clock), clearTimeout: clock.clearTimeout.bind(clock) };
    const sf2 = new Snowflake({ workerId: 1, epoch: EPOCH, clock: ticking, maxBackwardsMs: 10 });
    t = T0 + 100;
    const a = sf2.next();
    t = T0 + 97;
    const b = sf2.next();
    expect(b > a).toBe(true);
  });

  it('"throw": any backwards step throws at once', () => {
    const clock = new ManualClock(T0 + 100);
    const sf = new Snowflake({ workerId: 1, epoch: EPOCH, clock, onClockBackwards: 'throw' });
    sf.next();
    clock.setTime(T0 + 99);
    expect(() => sf.next()).toThrow('clock moved backwards by 1 ms; policy is "throw"');
  });

  it('the default clock is monotonic: stepping Date.now back does not move it', () => {
    const sf = new Snowflake({ workerId: 1 });
    const a = sf.next();
    const realNow = Date.now;
    Date.now = () => realNow() - 60_000;
    try {
      const b = sf.next();
      expect(b > a).toBe(true);
    } finally {
      Date.now = realNow;
    }
  });
});

describe('worker-ID source', () => {
  it('stops issuing IDs once the lease signal aborts', () => {
    const ac = new AbortController();
    const sf = new Snowflake({ workerId: { workerId: 12, signal: ac.signal }, clock: new ManualClock(T0), epoch: EPOCH });
    expect(sf.decompose(sf.next()).workerId).toBe(12);
    ac.abort(new Error('key taken'));
    expect(() => sf.next()).toThrow(WorkerIdLeaseLostError);
    expect(() => sf.next()).toThrow('worker ID 12 lease lost: key taken');
  });
});

describe('JSON helpers', () => {
  it('write bigints as strings and read back only the named keys, without patching BigInt.prototype', () => {
    const order = { id: 1234567890123456789n, userId: 42, note: '9007199254740993', items: [{ id: 9007199254740993n }] };
    const text = JSON.stringify(order, snowflakeJsonReplacer);
    expect(text).toBe('{"id":"1234567890123456789","userId":42,"note":"9007199254740993","items":[{"id":"9007199254740993"}]}');
    const back = JSON.parse(text, snowflakeJsonReviver('id'));
    expect(back).toEqual(order);
    expect('toJSON' in BigInt.prototype).toBe(false);
    expect(() => snowflakeJsonReviver()).toThrow(InvalidArgumentError);
  });
});

describe('seed teaching point: id % N', () => {
  it('id % 4 equals sequence % 4, so low traffic (sequence 0) puts everything on shard 0', async () => {
    const clock = new ManualClock(T0);
    const sf = new Snowflake({ workerId: 7, epoch: EPOCH, clock });
    const shards = [0, 0, 0, 0];
    for (let i = 0; i < 1000; i++) {
      const id = sf.next();
      expect(Number(id % 4n)).toBe(sf.decompose(id).sequence % 4);
      shards[Number(id % 4n)]!++;
      await clock.advance(3); // one order every 3 ms
    }
    expect(shards).toEqual([1000, 0, 0, 0]);
  });
});
