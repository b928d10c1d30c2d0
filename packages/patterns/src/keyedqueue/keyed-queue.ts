import { type Clock, sleep, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, GopherkitError, InvalidArgumentError } from '@gopherkit/primitives/errors';
import { type Backoff, type BackoffOptions, exponentialBackoff } from './backoff.js';

/** What happened to a pushed item. */
export type KeyedOutcome =
  /** The handler succeeded. */
  | 'done'
  /** Handed to `park` (failed `maxAttempts` times, or queued behind a parked item of its key). */
  | 'parked'
  /** Dropped by the version gate: its version is not newer than one already applied for its key. */
  | 'stale';

/**
 * What a handler returns when its own conditional write found the state already newer
 * (`UPDATE … SET …, version = ? WHERE id = ? AND version < ?` changed no row): the item counts as
 * `'stale'`, like one the in-memory gate dropped. This is the durable version gate: it survives
 * restarts and other consumers, where the in-memory record is only a cache.
 */
export const STALE: unique symbol = Symbol.for('gopherkit.keyedqueue.stale');

/** Why an item was parked. */
export type ParkReason =
  /** The item itself failed `maxAttempts` times. */
  | 'failed'
  /** An earlier item of the same key is parked; processing this one would overtake it. */
  | 'blocked';

/** Passed to the handler. */
export interface KeyedAttempt {
  readonly key: string;
  /** 1 for the first try. */
  readonly attempt: number;
}

/** Passed to `park`. */
export interface ParkInfo {
  readonly key: string;
  readonly reason: ParkReason;
  /** The handler's last error (for `'blocked'`, the error that parked the key). */
  readonly error: unknown;
  /** Attempts made on this item (0 for `'blocked'`). */
  readonly attempts: number;
}

/** Options for {@link KeyedQueue}. */
export interface KeyedQueueOptions<T> {
  /** Processes one item; a throw (or rejection) is retried in place, blocking only its own key. */
  handler: (item: T, attempt: KeyedAttempt) => unknown;
  /**
   * Stores an item the queue gives up on, e.g. `XADD` to a dead-letter stream. Once a key's item
   * is parked, every later item of that key is parked too (reason `'blocked'`) until
   * {@link KeyedQueue.unpark}: a later event must not be applied before the one that failed.
   */
  park: (item: T, info: ParkInfo) => unknown;
  /** Keys processed at once (default 16). Items of one key are always processed one at a time, in push order. */
  concurrency?: number;
  /** Tries per item before parking it (default 3), and the wait between tries. */
  retry?: { maxAttempts?: number; backoff?: BackoffOptions };
  /**
   * Version gate: items whose version is not greater than the last version applied for their key
   * are dropped as `'stale'` (a replayed or late event must not roll state back). The in-memory
   * record is a cache of the last `maxTrackedKeys` keys, lost on restart; make the write itself
   * conditional too (`UPDATE … WHERE id = ? AND version < ?`) when the state lives in a database,
   * and return {@link STALE} from the handler when it changed no row.
   */
  versionOf?: (item: T) => number;
  /** Keys whose last applied version is remembered (default 100 000; least recently used evicted). */
  maxTrackedKeys?: number;
  clock?: Clock;
  /** Jitter source (default `Math.random`). */
  random?: () => number;
}

/** {@link KeyedQueue.push} after {@link KeyedQueue.close}. */
export class KeyedQueueClosedError extends GopherkitError {
  constructor() {
    super('ERR_KEYED_QUEUE_CLOSED', 'the keyed queue is closed: no new items are accepted');
  }
}

interface Entry<T> {
  item: T;
  resolve: (o: KeyedOutcome) => void;
  reject: (e: unknown) => void;
}

interface KeyState<T> {
  items: Entry<T>[];
  running: boolean;
}

/**
 * A keyed worker queue: serial per key, parallel across keys, at most `concurrency` keys at a time.
 *
 * This is the consumer-side answer to message ordering (seed L4657–4823): with key = aggregate
 * id, the events of one order are applied in order while different orders proceed in parallel.
 * A failing item is retried **in place** (its key waits, other keys do not) and, after
 * `maxAttempts`, parked — and its key stays parked so nothing overtakes it. The seed's
 * "log and continue" loses the message; committing past it (kafka-go) does too.
 *
 * With kafkajs: `eachMessage` is already serial per partition (`partitionsConsumedConcurrently`,
 * default 1, only parallelises *across* partitions), so push from `eachBatch` to get parallelism
 * across keys inside a partition, and commit an offset only when every item up to it is settled.
 * The producer must use key = aggregate id, or one aggregate's events land on several partitions
 * and no consumer can order them again.
 */
export class KeyedQueue<T> {
  private readonly handler: KeyedQueueOptions<T>['handler'];
  private readonly park: KeyedQueueOptions<T>['park'];
  private readonly concurrency: number;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly versionOf: ((item: T) => number) | undefined;
  private readonly maxTrackedKeys: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly keys = new Map<string, KeyState<T>>();
  private readonly ready: string[] = [];
  private readonly parked = new Map<string, unknown>();
  private readonly versions = new Map<string, number>();
  private active = 0;
  private pending = 0;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(options: KeyedQueueOptions<T>) {
    if (typeof options?.handler !== 'function') throw new InvalidArgumentError('handler', 'a function', options?.handler);
    if (typeof options.park !== 'function') throw new InvalidArgumentError('park', 'a function (where parked items go)', options.park);
    if (options.versionOf !== undefined && typeof options.versionOf !== 'function') {
      throw new InvalidArgumentError('versionOf', 'a function', options.versionOf);
    }
    this.handler = options.handler;
    this.park = options.park;
    this.concurrency = assertInteger('concurrency', options.concurrency ?? 16, 1);
    this.maxAttempts = assertInteger('retry.maxAttempts', options.retry?.maxAttempts ?? 3, 1);
    this.backoff = exponentialBackoff(options.retry?.backoff ?? { baseMs: 50, maxMs: 5000 }, 'retry.backoff');
    this.versionOf = options.versionOf;
    this.maxTrackedKeys = assertInteger('maxTrackedKeys', options.maxTrackedKeys ?? 100_000, 1);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
  }

  /** Items accepted and not yet settled. */
  get size(): number {
    return this.pending;
  }

  /** Keys currently parked, with the error that parked each. */
  parkedKeys(): Map<string, unknown> {
    return new Map(this.parked);
  }

  /**
   * Lets a parked key flow again (after an operator replayed or discarded its parked items).
   * Returns false when the key was not parked.
   */
  unpark(key: string): boolean {
    return this.parked.delete(key);
  }

  /** Queues `item` behind the earlier items of `key`; resolves with what happened to it. */
  push(key: string, item: T): Promise<KeyedOutcome> {
    assertNonEmptyString('key', key);
    if (this.closed) return Promise.reject(new KeyedQueueClosedError());
    return new Promise<KeyedOutcome>((resolve, reject) => {
      this.pending++;
      let state = this.keys.get(key);
      if (!state) {
        state = { items: [], running: false };
        this.keys.set(key, state);
      }
      state.items.push({ item, resolve, reject });
      if (!state.running && state.items.length === 1) this.ready.push(key);
      this.pump();
    });
  }

  /** Resolves when every accepted item is settled. */
  onIdle(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting items and resolves when the accepted ones are settled. */
  async close(): Promise<void> {
    this.closed = true;
    await this.onIdle();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  private pump(): void {
    while (this.active < this.concurrency && this.ready.length > 0) {
      const key = this.ready.shift() as string;
      const state = this.keys.get(key);
      if (!state || state.running || state.items.length === 0) continue;
      state.running = true;
      this.active++;
      void this.runKey(key, state);
    }
  }

  private async runKey(key: string, state: KeyState<T>): Promise<void> {
    const entry = state.items[0] as Entry<T>;
    try {
      entry.resolve(await this.process(key, entry.item));
    } catch (e) {
      entry.reject(e);
    }
    state.items.shift();
    state.running = false;
    this.active--;
    this.pending--;
    if (state.items.length > 0) this.ready.push(key);
    else this.keys.delete(key);
    if (this.pending === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
    this.pump();
  }

  private async process(key: string, item: T): Promise<KeyedOutcome> {
    if (this.parked.has(key)) {
      await this.park(item, { key, reason: 'blocked', error: this.parked.get(key), attempts: 0 });
      return 'parked';
    }
    let version: number | undefined;
    if (this.versionOf) {
      version = this.versionOf(item);
      const last = this.versions.get(key);
      if (last !== undefined && version <= last) return 'stale';
    }
    let lastError: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      try {
        const result = await this.handler(item, { key, attempt });
        if (version !== undefined) this.remember(key, version);
        return result === STALE ? 'stale' : 'done';
      } catch (e) {
        lastError = e;
        if (attempt < this.maxAttempts) await sleep(this.backoff.delay(attempt, this.random), { clock: this.clock });
      }
    }
    this.parked.set(key, lastError);
    await this.park(item, { key, reason: 'failed', error: lastError, attempts: this.maxAttempts });
    return 'parked';
  }

  private remember(key: string, version: number): void {
    const last = this.versions.get(key);
    this.versions.delete(key);
    this.versions.set(key, last !== undefined && last > version ? last : version);
    if (this.versions.size > this.maxTrackedKeys) {
      const oldest = this.versions.keys().next().value as string;
      this.versions.delete(oldest);
    }
  }
}
