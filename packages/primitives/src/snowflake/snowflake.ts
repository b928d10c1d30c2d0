import { type Clock, sleep, systemClock } from '../clock/index.js';
import { type WaitOptions, waitSignal } from '../context/index.js';
import { assertFinite, assertInteger, InvalidArgumentError } from '../errors/index.js';
import { ClockMovedBackwardsError, SequenceExhaustedError, TimestampOutOfRangeError, WorkerIdLeaseLostError } from './errors.js';
import { resolveLayout, type SnowflakeLayout } from './layout.js';

/** The parts of a Snowflake ID. */
export interface SnowflakeParts {
  /** Unix time in ms (epoch already added back). */
  timestamp: number;
  workerId: number;
  sequence: number;
}

/** What {@link Snowflake.describe} reports about a generator's layout. */
export interface SnowflakeDescription extends SnowflakeLayout {
  /** The custom epoch (time zero of the timestamp field). */
  epoch: Date;
  /** Last instant the timestamp field can encode. */
  endsAt: Date;
  /** How long the layout lasts from its epoch, in (365.25-day) years. */
  lifetimeYears: number;
  /** Distinct worker IDs: 2^workerBits. */
  workers: number;
  /** IDs one worker can issue per millisecond: 2^sequenceBits. */
  idsPerMs: number;
}

/** Something that owns a worker ID and can lose it, e.g. a {@link WorkerIdLease}. */
export interface WorkerIdSource {
  readonly workerId: number;
  /** Aborted when the worker ID may no longer be exclusively ours. */
  readonly signal: AbortSignal;
}

/** Options of {@link Snowflake}. */
export interface SnowflakeOptions {
  /**
   * This generator's worker ID, unique among all generators sharing the epoch and layout, or a
   * lease of one (e.g. from {@link leaseWorkerId}): generation then stops with
   * {@link WorkerIdLeaseLostError} the moment the lease is lost.
   */
  workerId: number | WorkerIdSource;
  /** Time zero of the timestamp field, as ms since the Unix epoch or a Date. Default 2020-01-01T00:00:00Z. */
  epoch?: number | Date;
  /** Bit widths (must sum to 63). Default 41 | 10 | 12. */
  layout?: Partial<SnowflakeLayout>;
  /**
   * What to do when the clock reads earlier than the last issued ID's timestamp: `'wait'`
   * (default) waits up to `maxBackwardsMs` for it to catch up, then throws
   * {@link ClockMovedBackwardsError}; `'throw'` throws at once.
   */
  onClockBackwards?: 'wait' | 'throw';
  /** Longest backwards step `'wait'` rides out, in ms. Default 10 (a sync `next()` spins that long). */
  maxBackwardsMs?: number;
  /**
   * Time source. Default: a monotonic clock (wall time at startup + `performance.now()`), so within
   * one process time never goes back even if the system clock is stepped. Tests inject a
   * `ManualClock` (whose `setTime` can move backwards).
   */
  clock?: Clock;
}

/** 2020-01-01T00:00:00.000Z */
const DEFAULT_EPOCH = 1_577_836_800_000;
/** How long a synchronous `next()` spins for a stalled clock before giving up, beyond what it expects to wait. */
const SPIN_SLACK_MS = 20;

const startWall = Date.now();
const startMono = performance.now();
/** Wall time that never goes backwards within this process (NTP steps do not move it). */
const monotonicClock: Clock = Object.freeze({
  now: () => startWall + (performance.now() - startMono),
  setTimeout: systemClock.setTimeout,
  clearTimeout: systemClock.clearTimeout,
});

/**
 * A Snowflake ID generator: 64-bit, time-ordered, unique across workers without coordination.
 *
 * IDs are `bigint` because they exceed `Number.MAX_SAFE_INTEGER`; send them to JSON clients as
 * strings ({@link nextString}, {@link snowflakeJsonReplacer}). The sequence restarts every
 * millisecond; when it runs out, `next()` spins (at most until the next millisecond) and
 * `nextAsync()` awaits instead, leaving the event loop free.
 *
 * Beware sharding by `id % N`: the timestamp and worker fields are multiples of 2^sequenceBits,
 * so `id % N === sequence % N` for any N dividing 2^sequenceBits; at low traffic the sequence is
 * mostly 0 and every row lands on shard 0. Hash the ID (`hash32(String(id)) % N`) or shard by a
 * business key instead.
 *
 * @example
 * ```ts
 * const ids = new Snowflake({ workerId: 7 });
 * const id = ids.next();            // 1234567890123456789n
 * ids.decompose(id);                // { timestamp, workerId: 7, sequence }
 * ```
 */
export class Snowflake {
  private readonly epoch: number;
  private readonly layout: SnowflakeLayout;
  private readonly clock: Clock;
  private readonly lease: WorkerIdSource | undefined;
  private readonly policy: 'wait' | 'throw';
  private readonly maxBackwardsMs: number;
  private readonly workerId: number;
  private readonly maxSequence: number;
  private readonly maxTimestamp: number;
  private readonly tsShift: bigint;
  private readonly workerShift: bigint;
  private readonly workerPart: bigint;
  private lastTs = -1;
  private sequence = 0;
  private baseTs = -1;
  private base = 0n;

  constructor(options: SnowflakeOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidArgumentError('options', 'an object with at least workerId', options);
    this.layout = resolveLayout(options.layout);
    const epoch = options.epoch ?? DEFAULT_EPOCH;
    this.epoch = Math.floor(assertFinite('epoch', epoch instanceof Date ? epoch.getTime() : epoch, 0));
    this.clock = options.clock ?? monotonicClock;
    const maxWorker = 2 ** this.layout.workerBits - 1;
    const worker = options.workerId;
    if (typeof worker === 'object' && worker !== null) {
      this.lease = worker;
      this.workerId = assertInteger('workerId.workerId', worker.workerId, 0, maxWorker);
    } else {
      this.workerId = assertInteger('workerId', worker, 0, maxWorker);
    }
    const policy = options.onClockBackwards ?? 'wait';
    if (policy !== 'wait' && policy !== 'throw') throw new InvalidArgumentError('onClockBackwards', '"wait" or "throw"', policy);
    this.policy = policy;
    this.maxBackwardsMs = assertFinite('maxBackwardsMs', options.maxBackwardsMs ?? 10, 0);
    this.maxSequence = 2 ** this.layout.sequenceBits - 1;
    this.maxTimestamp = 2 ** this.layout.timestampBits - 1;
    this.workerShift = BigInt(this.layout.sequenceBits);
    this.tsShift = BigInt(this.layout.sequenceBits + this.layout.workerBits);
    this.workerPart = BigInt(this.workerId) << this.workerShift;
  }

  /**
   * The next ID. Synchronous: on sequence overflow it spins until the next millisecond (< 1 ms
   * with a real clock), and under the `'wait'` policy it spins through a backwards step of up to
   * `maxBackwardsMs`. Prefer {@link nextAsync} where even that blocking matters.
   *
   * @throws {@link ClockMovedBackwardsError} per the backwards policy.
   * @throws {@link WorkerIdLeaseLostError} if the worker-ID lease was lost.
   * @throws {@link SequenceExhaustedError} if the clock is stalled (fake clocks only).
   */
  next(): bigint {
    for (;;) {
      const r = this.take();
      if (r >= 0) return this.make(r);
      if (r === OVERFLOW) {
        this.spinUntil(this.lastTs + 1, 1, () => new SequenceExhaustedError(this.lastTs + this.epoch, this.maxSequence + 1, 1 + SPIN_SLACK_MS));
      } else {
        const behind = this.behind;
        this.checkBackwards(behind);
        this.spinUntil(this.lastTs, behind, () => new ClockMovedBackwardsError(behind, `the clock did not catch up within ${behind + SPIN_SLACK_MS} ms`));
      }
    }
  }

  /** {@link next} as a decimal string, the safe form for JSON and JavaScript clients. */
  nextString(): string {
    return this.next().toString();
  }

  /**
   * The next ID, awaiting (on the injected clock) instead of spinning: on sequence overflow until
   * the next millisecond, and on a backwards step of up to `maxBackwardsMs` until the clock
   * catches up. Same errors as {@link next}, except it never throws `SequenceExhaustedError`.
   * A wait is at most a few ms, but `options` (a signal, a deadline or a Context) can still end it:
   * the call then rejects with the signal's reason (`DeadlineExceeded` for a deadline).
   */
  async nextAsync(options?: WaitOptions): Promise<bigint> {
    let r = this.take();
    if (r >= 0) return this.make(r); // the common case: no timer, no signal plumbing
    using wait = waitSignal(options, this.clock);
    const sleepOptions = { clock: this.clock, signal: wait.signal };
    let waitedBackwards = 0;
    for (;;) {
      if (r === OVERFLOW) {
        await sleep(1, sleepOptions);
      } else {
        const behind = this.behind;
        this.checkBackwards(behind + waitedBackwards);
        waitedBackwards += behind;
        await sleep(behind, sleepOptions);
      }
      r = this.take();
      if (r >= 0) return this.make(r);
    }
  }

  /**
   * Splits an ID (bigint or decimal string) into its fields, using this generator's epoch and
   * layout. The timestamp is Unix ms.
   */
  decompose(id: bigint | string): SnowflakeParts {
    const v = this.parse(id);
    const { sequenceBits, workerBits } = this.layout;
    return {
      timestamp: Number(v >> this.tsShift) + this.epoch,
      workerId: Number((v >> this.workerShift) & BigInt(2 ** workerBits - 1)),
      sequence: Number(v & BigInt(2 ** sequenceBits - 1)),
    };
  }

  /**
   * Builds the ID for given fields (the inverse of {@link decompose}); useful for range queries
   * (`compose({ timestamp: t, workerId: 0, sequence: 0 })` is the smallest ID issued at or after
   * `t`). Every field is range-checked.
   */
  compose(parts: SnowflakeParts): bigint {
    const ts = assertInteger('timestamp', parts?.timestamp, this.epoch, this.epoch + this.maxTimestamp) - this.epoch;
    const worker = assertInteger('workerId', parts.workerId, 0, 2 ** this.layout.workerBits - 1);
    const seq = assertInteger('sequence', parts.sequence, 0, this.maxSequence);
    return (BigInt(ts) << this.tsShift) | (BigInt(worker) << this.workerShift) | BigInt(seq);
  }

  /** The layout in human terms: lifetime, end date, workers and IDs per millisecond. */
  describe(): SnowflakeDescription {
    const lifetimeMs = this.maxTimestamp + 1;
    return {
      ...this.layout,
      epoch: new Date(this.epoch),
      endsAt: new Date(this.epoch + this.maxTimestamp),
      lifetimeYears: lifetimeMs / (365.25 * 24 * 3600 * 1000),
      workers: 2 ** this.layout.workerBits,
      idsPerMs: this.maxSequence + 1,
    };
  }

  // ---- internals --------------------------------------------------------------------------

  private behind = 0;

  /** Claims a sequence number for the current ms: >= 0, or OVERFLOW, or BACKWARDS (sets `behind`). */
  private take(): number {
    if (this.lease?.signal.aborted) {
      const reason = this.lease.signal.reason;
      throw new WorkerIdLeaseLostError(this.workerId, reason instanceof Error ? reason.message : String(reason));
    }
    const now = Math.floor(this.clock.now()) - this.epoch;
    if (now > this.lastTs) {
      if (now > this.maxTimestamp) this.outOfRange(now);
      this.lastTs = now;
      this.sequence = 0;
      return 0;
    }
    if (now < 0) this.outOfRange(now);
    if (now === this.lastTs) return this.sequence < this.maxSequence ? ++this.sequence : OVERFLOW;
    this.behind = this.lastTs - now;
    return BACKWARDS;
  }

  private make(seq: number): bigint {
    if (this.baseTs !== this.lastTs) {
      this.baseTs = this.lastTs;
      this.base = (BigInt(this.lastTs) << this.tsShift) | this.workerPart;
    }
    return this.base | BigInt(seq);
  }

  private checkBackwards(behind: number): void {
    if (this.policy === 'throw') throw new ClockMovedBackwardsError(behind, 'policy is "throw"');
    if (behind > this.maxBackwardsMs) throw new ClockMovedBackwardsError(behind, `more than maxBackwardsMs (${this.maxBackwardsMs})`);
  }

  /** Busy-waits until the clock reads >= `target` (relative ms), for at most `expectMs` + slack of real time. */
  private spinUntil(target: number, expectMs: number, fail: () => Error): void {
    const deadline = performance.now() + expectMs + SPIN_SLACK_MS;
    while (Math.floor(this.clock.now()) - this.epoch < target) {
      // Re-read the clock after the deadline: a preemption between the two reads is not a stall.
      if (performance.now() > deadline && Math.floor(this.clock.now()) - this.epoch < target) throw fail();
    }
  }

  private outOfRange(now: number): never {
    if (now < 0)
      throw new TimestampOutOfRangeError(`the clock (${new Date(now + this.epoch).toISOString()}) is before the epoch (${new Date(this.epoch).toISOString()})`);
    throw new TimestampOutOfRangeError(
      `the clock (${new Date(now + this.epoch).toISOString()}) is past the layout's last timestamp (${new Date(this.epoch + this.maxTimestamp).toISOString()}); choose a later epoch or more timestampBits`,
    );
  }

  private parse(id: bigint | string): bigint {
    let v: bigint | undefined;
    if (typeof id === 'bigint') v = id;
    else if (typeof id === 'string' && /^\d{1,19}$/.test(id)) v = BigInt(id);
    if (v === undefined || v < 0n || v >= 1n << 63n) throw new InvalidArgumentError('id', 'a bigint or decimal string in [0, 2^63)', id);
    return v;
  }
}

const OVERFLOW = -1;
const BACKWARDS = -2;

/**
 * `JSON.stringify` replacer that writes every `bigint` as a decimal string, so Snowflake IDs
 * survive JavaScript clients (which would round them as numbers) without patching
 * `BigInt.prototype.toJSON`.
 *
 * @example `JSON.stringify({ id: 1234567890123456789n }, snowflakeJsonReplacer)` → `{"id":"1234567890123456789"}`
 */
export function snowflakeJsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString() : value;
}

/**
 * Builds a `JSON.parse` reviver that turns decimal strings under the given property names back
 * into `bigint`s (only those names: a string that merely looks numeric elsewhere stays a string).
 *
 * @example `JSON.parse(text, snowflakeJsonReviver('id', 'orderId'))`
 */
export function snowflakeJsonReviver(...keys: string[]): (key: string, value: unknown) => unknown {
  if (keys.length === 0) throw new InvalidArgumentError('keys', 'at least one property name', keys);
  const names = new Set(keys);
  return (key, value) => (names.has(key) && typeof value === 'string' && /^\d{1,19}$/.test(value) ? BigInt(value) : value);
}
