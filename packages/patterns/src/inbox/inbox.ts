import { type Clock, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

/** Options for {@link Inbox}. */
export interface InboxOptions {
  /** Time source for `processed_at` (default `systemClock`). */
  clock?: Clock;
  /**
   * How long a processed message id is remembered, ms (default 7 days). A redelivery older than
   * this is processed again, so keep it above the longest time a message can be redelivered
   * after (stream retention, consumer downtime, outbox lease takeover).
   */
  retentionMs?: number;
}

/** Result of {@link Inbox.process}. */
export type InboxResult<R> =
  /** First delivery: the handler ran and its writes committed with the inbox row. */
  | { readonly duplicate: false; readonly value: R }
  /** Already processed (by this or another consumer instance): nothing ran; acknowledge the message. */
  | { readonly duplicate: true };

const ER_DUP_ENTRY = 1062;

function isPoolConnection(db: Pool | PoolConnection): db is PoolConnection {
  return typeof (db as PoolConnection).release === 'function';
}

/**
 * Idempotent consumer: exactly-once *effect* on top of at-least-once delivery.
 *
 * The `(consumer, message_id)` row is inserted in the same transaction as the handler's writes,
 * under a primary key — so the effect and the "seen" mark commit together. Two concurrent
 * deliveries of one message serialise on that key: the second waits for the first's commit and
 * then sees a duplicate (or, if the first rolled back, processes the message itself). The seed's
 * in-memory `sync.Map` plus check-then-insert (seed L4483, L4639–4650) loses its memory on restart
 * and lets two deliveries both pass the check.
 */
export class Inbox {
  private readonly clock: Clock;
  private readonly retentionMs: number;

  constructor(options: InboxOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.retentionMs = assertInteger('retentionMs', options.retentionMs ?? 7 * 86_400_000, 1);
  }

  /**
   * Runs `handler` once per `(consumer, messageId)`, in a transaction on `db` (a connection that
   * is not already in a transaction, or a pool to take one from). The handler must do its writes
   * on the connection it receives; a throw rolls back both its writes and the inbox row, so the
   * redelivery runs it again.
   */
  async process<R>(db: Pool | PoolConnection, consumer: string, messageId: string, handler: (conn: PoolConnection) => R | Promise<R>): Promise<InboxResult<R>> {
    assertNonEmptyString('consumer', consumer);
    assertNonEmptyString('messageId', messageId);
    if (consumer.length > 128) throw new InvalidArgumentError('consumer', 'at most 128 characters', consumer);
    if (messageId.length > 191) throw new InvalidArgumentError('messageId', 'at most 191 characters', messageId);
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler', 'a function', handler);
    const conn = isPoolConnection(db) ? db : await db.getConnection();
    try {
      await conn.beginTransaction();
      try {
        await conn.query('INSERT INTO gk_inbox (consumer, message_id, processed_at) VALUES (?, ?, ?)', [consumer, messageId, Math.floor(this.clock.now())]);
      } catch (e) {
        await conn.rollback().catch(() => {});
        if ((e as { errno?: number }).errno === ER_DUP_ENTRY) return { duplicate: true };
        throw e;
      }
      let value: R;
      try {
        value = await handler(conn);
        await conn.commit();
      } catch (e) {
        await conn.rollback().catch(() => {});
        throw e;
      }
      return { duplicate: false, value };
    } finally {
      if (conn !== db) conn.release();
    }
  }

  /** True when `(consumer, messageId)` was processed (and not yet purged). */
  async seen(db: Pool | PoolConnection, consumer: string, messageId: string): Promise<boolean> {
    const [rows] = await db.query<RowDataPacket[]>('SELECT 1 FROM gk_inbox WHERE consumer = ? AND message_id = ?', [consumer, messageId]);
    return rows.length > 0;
  }

  /** Deletes rows older than the retention, at most `limit` per call; returns how many. Run it periodically. */
  async purge(db: Pool | PoolConnection, options: { limit?: number } = {}): Promise<number> {
    const limit = assertInteger('limit', options.limit ?? 10_000, 1);
    const [r] = await db.query<ResultSetHeader>('DELETE FROM gk_inbox WHERE processed_at < ? LIMIT ?', [
      Math.floor(this.clock.now()) - this.retentionMs,
      limit,
    ]);
    return r.affectedRows;
  }
}
