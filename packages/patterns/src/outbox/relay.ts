import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type Clock, type ClockTimer, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { type Backoff, type BackoffOptions, exponentialBackoff } from '../keyedqueue/index.js';
import { type OutboxRecord, OutboxStatus } from './message.js';
import { Outbox } from './outbox.js';
import type { OutboxPublisher } from './publisher.js';
import { recordColumns, toRecord } from './rows.js';

/** Options for {@link OutboxRelay}. */
export interface OutboxRelayOptions {
  /** Pool the relay claims and marks rows with (it holds one connection per claim, briefly). */
  pool: Pool;
  publisher: OutboxPublisher;
  /** Rows claimed per round trip, 1–10 000 (default 100). At most one row per aggregate is in a batch. */
  batchSize?: number;
  /**
   * Batches in flight at once in this relay (default 1): while one batch is being published the
   * next one is claimed, hiding round-trip latency. Per-aggregate order is unaffected — a batch
   * only ever holds aggregate heads, and a claimed head keeps the rest of its aggregate out.
   */
  concurrency?: number;
  /** Poll interval after a partial batch; an idle relay doubles it up to `maxPollIntervalMs` (default 100). */
  pollIntervalMs?: number;
  /** Longest wait between polls when the outbox stays empty (default 2 000). */
  maxPollIntervalMs?: number;
  /**
   * How long a claim (lease) lasts, ms (default 30 000). A relay that dies mid-batch leaves its
   * rows claimed; after this long another relay takes them over and publishes them again
   * (at-least-once). Must exceed the slowest publish, or a live relay's rows get published twice.
   */
  claimTtlMs?: number;
  /** Failure handling: `maxAttempts` (default 10) publishes, then the row is dead-lettered. */
  retry?: { maxAttempts?: number; backoff?: BackoffOptions };
  /** Delete published rows older than this, ms (default 7 days); `null` keeps them. */
  retentionMs?: number | null;
  /** How often the retention sweep runs, ms (default 60 000). */
  sweepIntervalMs?: number;
  /** Claim owner written into the rows (default `host:pid:random`); unique per relay. */
  relayId?: string;
  /** Aborting stops the relay like {@link OutboxRelay.stop}. */
  signal?: AbortSignal;
  clock?: Clock;
  /** Source of jitter (default `Math.random`). */
  random?: () => number;
}

/** What one {@link OutboxRelay.runOnce} did. */
export interface RelayBatchResult {
  claimed: number;
  published: number;
  /** Failed and scheduled for another attempt. */
  retrying: number;
  /** Failed for the last time and moved to the dead-letter state. */
  dead: number;
  /**
   * Rows this relay could not mark because its lease had been taken over: published ones (they
   * will be published again by the new owner) and failed ones (the new owner retries them).
   */
  lostLease: number;
}

/** Events of {@link OutboxRelay}; hook metrics and logs here. */
export interface OutboxRelayEvents {
  /**
   * The publisher accepted these records (they reached the broker). Delivery is at least once: if
   * the relay's lease was taken over before it could mark them, they are in this list and will be
   * published again by the new owner (`runOnce()` reports how many as `lostLease`), so count
   * deliveries here, not distinct messages.
   */
  published: (records: readonly OutboxRecord[]) => void;
  retrying: (record: OutboxRecord, error: Error, nextAttemptAt: number) => void;
  dead: (record: OutboxRecord, error: Error) => void;
  swept: (deleted: number) => void;
  /** The loop hit an error it survives (database down, publisher threw synchronously…). */
  error: (error: Error) => void;
}

/**
 * Publishes committed outbox rows, in order per aggregate, from any number of processes.
 *
 * - **Claim**: `SELECT … FOR UPDATE SKIP LOCKED` picks due rows that are the *head* of their
 *   aggregate (no pending or dead row of the same aggregate has a lower sequence), then stamps
 *   them with this relay's id and a lease expiry, in one short transaction. Relays never claim
 *   the same row while a lease is live; a dead relay's lease expires and the rows are taken over.
 * - **Publish** outside any transaction, then mark published (fenced by the claim owner).
 * - **Fail**: exponential backoff with jitter; after `maxAttempts` the row is dead and blocks its
 *   aggregate until {@link Outbox.retry} or {@link Outbox.skip} — later events of that order must
 *   not overtake it.
 * - **Wake-up**: a full batch polls again at once, an idle relay backs off to
 *   `maxPollIntervalMs`, and {@link OutboxRelay.nudge} wakes it right after a commit.
 */
export class OutboxRelay implements AsyncDisposable {
  /** Claim owner stamped into claimed rows. */
  readonly relayId: string;
  private readonly pool: Pool;
  private readonly publisher: OutboxPublisher;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly pollIntervalMs: number;
  private readonly maxPollIntervalMs: number;
  private readonly claimTtlMs: number;
  private readonly maxAttempts: number;
  private readonly backoff: Backoff;
  private readonly retentionMs: number | null;
  private readonly sweepIntervalMs: number;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly outbox: Outbox;
  private readonly listeners: { [K in keyof OutboxRelayEvents]: Set<OutboxRelayEvents[K]> } = {
    published: new Set(),
    retrying: new Set(),
    dead: new Set(),
    swept: new Set(),
    error: new Set(),
  };
  private loop: Promise<void> | undefined;
  private stopping = false;
  private nudged = false;
  private readonly wakers = new Set<() => void>();
  private lastSweep = Number.NEGATIVE_INFINITY;
  private readonly signal: AbortSignal | undefined;

  constructor(options: OutboxRelayOptions) {
    if (!options?.pool) throw new InvalidArgumentError('pool', 'a mysql2/promise Pool', options?.pool);
    if (typeof options.publisher?.publish !== 'function') throw new InvalidArgumentError('publisher', 'an OutboxPublisher', options.publisher);
    this.pool = options.pool;
    this.publisher = options.publisher;
    this.batchSize = assertInteger('batchSize', options.batchSize ?? 100, 1, 10_000);
    this.concurrency = assertInteger('concurrency', options.concurrency ?? 1, 1, 64);
    this.pollIntervalMs = assertInteger('pollIntervalMs', options.pollIntervalMs ?? 100, 1);
    this.maxPollIntervalMs = assertInteger('maxPollIntervalMs', options.maxPollIntervalMs ?? 2000, this.pollIntervalMs);
    this.claimTtlMs = assertInteger('claimTtlMs', options.claimTtlMs ?? 30_000, 1);
    this.maxAttempts = assertInteger('retry.maxAttempts', options.retry?.maxAttempts ?? 10, 1);
    this.backoff = exponentialBackoff(options.retry?.backoff, 'retry.backoff');
    this.retentionMs = options.retentionMs === null ? null : assertInteger('retentionMs', options.retentionMs ?? 7 * 86_400_000, 0);
    this.sweepIntervalMs = assertInteger('sweepIntervalMs', options.sweepIntervalMs ?? 60_000, 1);
    this.relayId =
      options.relayId === undefined
        ? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`.slice(0, 64)
        : assertNonEmptyString('relayId', options.relayId);
    if (this.relayId.length > 64) throw new InvalidArgumentError('relayId', 'at most 64 characters', this.relayId);
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.outbox = new Outbox({ clock: this.clock });
    this.signal = options.signal;
    this.signal?.addEventListener('abort', () => void this.stop(), { once: true });
  }

  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof OutboxRelayEvents>(event: K, listener: OutboxRelayEvents[K]): () => void {
    const set = this.listeners[event] as Set<OutboxRelayEvents[K]>;
    set.add(listener);
    return () => set.delete(listener);
  }

  private emit<K extends keyof OutboxRelayEvents>(event: K, ...args: Parameters<OutboxRelayEvents[K]>): void {
    for (const fn of this.listeners[event]) {
      try {
        (fn as (...a: unknown[]) => void)(...args);
      } catch {
        // a listener's bug must not stop the relay
      }
    }
  }

  /** True between {@link OutboxRelay.start} and the end of {@link OutboxRelay.stop}. */
  get running(): boolean {
    return this.loop !== undefined;
  }

  /** Starts the background loop (idempotent). A relay that was stopped cannot be restarted: create a new one. */
  start(): this {
    if (this.stopping || this.signal?.aborted) throw new InvalidArgumentError('relay', 'not stopped (create a new OutboxRelay)', 'a stopped relay');
    this.loop ??= Promise.all(Array.from({ length: this.concurrency }, () => this.run())).then(() => {});
    return this;
  }

  /** Wakes a sleeping relay now, e.g. right after the transaction that enqueued a message committed. */
  nudge(): void {
    this.nudged = true;
    for (const wake of [...this.wakers]) wake();
  }

  /** Stops polling and resolves once the in-flight batch is published and marked. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const wake of [...this.wakers]) wake();
    await this.loop;
    this.loop = undefined;
  }

  /** Same as {@link OutboxRelay.stop}. */
  close(): Promise<void> {
    return this.stop();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  private async run(): Promise<void> {
    let interval = this.pollIntervalMs;
    while (!this.stopping) {
      let claimed = -1;
      try {
        claimed = (await this.runOnce()).claimed;
        await this.maybeSweep();
      } catch (e) {
        this.emit('error', e instanceof Error ? e : new Error(String(e)));
      }
      if (claimed === this.batchSize) continue;
      interval = claimed > 0 ? this.pollIntervalMs : Math.min(this.maxPollIntervalMs, interval * 2);
      await this.idle(interval);
    }
  }

  private idle(ms: number): Promise<void> {
    if (this.nudged || this.stopping) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      let timer: ClockTimer | undefined;
      const done = () => {
        this.clock.clearTimeout(timer);
        this.wakers.delete(done);
        this.nudged = false;
        resolve();
      };
      this.wakers.add(done);
      timer = this.clock.setTimeout(done, ms).unref();
    });
  }

  private async maybeSweep(): Promise<void> {
    if (this.retentionMs === null) return;
    const now = this.clock.now();
    if (now - this.lastSweep < this.sweepIntervalMs) return;
    this.lastSweep = now;
    const deleted = await this.outbox.purgePublished(this.pool, { olderThanMs: this.retentionMs });
    if (deleted > 0) this.emit('swept', deleted);
  }

  /**
   * Claims one batch, publishes it and records the outcome. The background loop calls this; call
   * it yourself to drive a relay from a scheduler or a test (no {@link OutboxRelay.start} needed).
   */
  async runOnce(): Promise<RelayBatchResult> {
    const records = await this.claim();
    const result: RelayBatchResult = { claimed: records.length, published: 0, retrying: 0, dead: 0, lostLease: 0 };
    if (records.length === 0) return result;
    let outcome: readonly (Error | undefined)[];
    try {
      outcome = await this.publisher.publish(records);
      if (!Array.isArray(outcome) || outcome.length !== records.length) {
        const error = new Error(`publisher returned ${Array.isArray(outcome) ? outcome.length : typeof outcome} outcomes for ${records.length} records`);
        outcome = records.map(() => error);
      }
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      outcome = records.map(() => error);
    }
    const ok: OutboxRecord[] = [];
    const failed: [OutboxRecord, Error][] = [];
    records.forEach((r, i) => {
      const err = outcome[i];
      if (err) failed.push([r, err]);
      else ok.push(r);
    });
    const now = Math.floor(this.clock.now());
    if (ok.length > 0) {
      const [r] = await this.pool.query<ResultSetHeader>(
        'UPDATE gk_outbox SET status = ?, published_at = ?, claimed_by = NULL, claim_expires_at = 0 WHERE id IN (?) AND status = ? AND claimed_by = ?',
        [OutboxStatus.published, now, ok.map((r) => r.id), OutboxStatus.pending, this.relayId],
      );
      result.published = r.affectedRows;
      result.lostLease = ok.length - r.affectedRows;
      this.emit('published', ok);
    }
    await Promise.all(
      failed.map(async ([record, error]) => {
        const attempts = record.attempts + 1;
        const dead = attempts >= this.maxAttempts;
        const nextAttemptAt = dead ? 0 : now + this.backoff.delay(attempts, this.random);
        const message = (error.message || error.name || 'publish failed').slice(0, 1000);
        const [r] = await this.pool.query<ResultSetHeader>(
          'UPDATE gk_outbox SET status = ?, attempts = ?, next_attempt_at = ?, last_error = ?, claimed_by = NULL, claim_expires_at = 0 ' +
            'WHERE id = ? AND status = ? AND claimed_by = ?',
          [dead ? OutboxStatus.dead : OutboxStatus.pending, attempts, nextAttemptAt, message, record.id, OutboxStatus.pending, this.relayId],
        );
        if (r.affectedRows === 0) {
          // the lease was taken over: the new owner decides this row's fate, so report no retry or dead letter
          result.lostLease++;
          return;
        }
        if (dead) {
          result.dead++;
          this.emit('dead', record, error);
        } else {
          result.retrying++;
          this.emit('retrying', record, error, nextAttemptAt);
        }
      }),
    );
    return result;
  }

  private async claim(): Promise<OutboxRecord[]> {
    const now = Math.floor(this.clock.now());
    const conn = await this.pool.getConnection();
    try {
      // READ COMMITTED: no gap locks, so claiming never blocks business transactions inserting rows.
      await conn.query('SET TRANSACTION ISOLATION LEVEL READ COMMITTED');
      await conn.beginTransaction();
      try {
        const [rows] = await conn.query<RowDataPacket[]>(
          `SELECT ${recordColumns} FROM gk_outbox o
            WHERE o.status = ? AND o.next_attempt_at <= ? AND o.claim_expires_at <= ?
              AND NOT EXISTS (SELECT 1 FROM gk_outbox p
                               WHERE p.aggregate_type = o.aggregate_type AND p.aggregate_id = o.aggregate_id
                                 AND p.seq < o.seq AND p.status IN (?, ?))
            ORDER BY o.id LIMIT ? FOR UPDATE SKIP LOCKED`,
          [OutboxStatus.pending, now, now, OutboxStatus.pending, OutboxStatus.dead, this.batchSize],
        );
        if (rows.length > 0) {
          await conn.query('UPDATE gk_outbox SET claimed_by = ?, claim_expires_at = ? WHERE id IN (?)', [
            this.relayId,
            now + this.claimTtlMs,
            rows.map((r) => r.id),
          ]);
        }
        await conn.commit();
        return rows.map(toRecord);
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      }
    } finally {
      conn.release();
    }
  }
}
