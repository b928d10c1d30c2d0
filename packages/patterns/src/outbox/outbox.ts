import { type Clock, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { OutboxStateError } from './errors.js';
import { type OutboxMessage, type OutboxRecord, OutboxStatus } from './message.js';
import { recordColumns, toRecord } from './rows.js';

/** Anything that runs SQL: a pool or one connection. */
export type Queryable = Pool | PoolConnection;

/** Options for {@link Outbox}. */
export interface OutboxOptions {
  /** Time source for `created_at` and retention (default `systemClock`). */
  clock?: Clock;
}

/** Where {@link Outbox.enqueue} put a message. */
export interface EnqueuedMessage {
  /** Outbox id: the consumers' dedupe key. */
  readonly id: string;
  /** Sequence number within the aggregate, assigned inside the caller's transaction. */
  readonly seq: number;
}

/** Row counts per state, from {@link Outbox.stats}. */
export interface OutboxStats {
  pending: number;
  published: number;
  dead: number;
  skipped: number;
}

const LIMITS = { aggregateType: 64, aggregateId: 128, topic: 255, key: 255 } as const;

function checkLength(name: keyof typeof LIMITS, value: unknown): string {
  const s = assertNonEmptyString(`message.${name}`, value);
  if (s.length > LIMITS[name]) throw new InvalidArgumentError(`message.${name}`, `at most ${LIMITS[name]} characters`, s);
  return s;
}

/**
 * The producer side of the transactional outbox, plus the operator API for dead letters.
 *
 * The business rows and the outbox row commit together because {@link Outbox.enqueue} runs on
 * the caller's transaction connection; an {@link OutboxRelay} publishes committed rows later.
 * Nothing is sent from the request path, so there is no "sent but not committed" (phantom) or
 * "committed but never sent" (lost) window — the two failures of a dual write (seed L4027–4037).
 */
export class Outbox {
  private readonly clock: Clock;

  constructor(options: OutboxOptions = {}) {
    this.clock = options.clock ?? systemClock;
  }

  /**
   * Writes `message` on `conn`, which must be inside the caller's transaction
   * (`await conn.beginTransaction()`): the event exists exactly when the transaction commits.
   *
   * The per-aggregate sequence comes from an upsert of `gk_outbox_aggregate` that row-locks the
   * aggregate until commit, so two transactions enqueueing for one aggregate get sequence numbers
   * in commit order (an id generated before the lock, such as an auto-increment or a Snowflake,
   * would not be). The lock is per aggregate: different aggregates never wait for each other.
   */
  async enqueue(conn: PoolConnection, message: OutboxMessage): Promise<EnqueuedMessage> {
    if (message === null || typeof message !== 'object') throw new InvalidArgumentError('message', 'an OutboxMessage object', message);
    const aggregateType = checkLength('aggregateType', message.aggregateType);
    const aggregateId = checkLength('aggregateId', message.aggregateId);
    const topic = checkLength('topic', message.topic);
    const key = message.key === undefined ? aggregateId : checkLength('key', message.key);
    const { payload, headers } = message;
    if (typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
      throw new InvalidArgumentError('message.payload', 'a string or a Uint8Array', payload);
    }
    if (headers !== undefined) {
      if (headers === null || typeof headers !== 'object') throw new InvalidArgumentError('message.headers', 'an object of string values', headers);
      for (const [k, v] of Object.entries(headers)) {
        if (typeof v !== 'string') throw new InvalidArgumentError(`message.headers.${k}`, 'a string', v);
      }
    }
    const [seqResult] = await conn.query<ResultSetHeader>(
      'INSERT INTO gk_outbox_aggregate (aggregate_type, aggregate_id, last_seq) VALUES (?, ?, LAST_INSERT_ID(1)) ' +
        'ON DUPLICATE KEY UPDATE last_seq = LAST_INSERT_ID(last_seq + 1)',
      [aggregateType, aggregateId],
    );
    const seq = Number(seqResult.insertId);
    const [row] = await conn.query<ResultSetHeader>(
      'INSERT INTO gk_outbox (aggregate_type, aggregate_id, seq, topic, msg_key, headers, payload, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      [
        aggregateType,
        aggregateId,
        seq,
        topic,
        key,
        headers && Object.keys(headers).length > 0 ? JSON.stringify(headers) : null,
        typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        Math.floor(this.clock.now()),
      ],
    );
    return { id: String(row.insertId), seq };
  }

  /** Rows that exhausted their attempts, oldest first. Each one blocks its aggregate until {@link Outbox.retry} or {@link Outbox.skip}. */
  async deadLetters(db: Queryable, options: { limit?: number } = {}): Promise<OutboxRecord[]> {
    const limit = assertInteger('limit', options.limit ?? 100, 1, 10_000);
    const [rows] = await db.query<RowDataPacket[]>(`SELECT ${recordColumns} FROM gk_outbox WHERE status = ? ORDER BY id LIMIT ?`, [OutboxStatus.dead, limit]);
    return rows.map(toRecord);
  }

  /** Reads one row by outbox id (any state), or `null`. */
  async get(db: Queryable, id: string): Promise<OutboxRecord | null> {
    const [rows] = await db.query<RowDataPacket[]>(`SELECT ${recordColumns} FROM gk_outbox WHERE id = ?`, [assertId(id)]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** Puts a dead row back to pending with a fresh attempt budget; it is published next, ahead of the rest of its aggregate. */
  async retry(db: Queryable, id: string): Promise<void> {
    const [r] = await db.query<ResultSetHeader>(
      'UPDATE gk_outbox SET status = ?, attempts = 0, next_attempt_at = 0, claimed_by = NULL, claim_expires_at = 0 WHERE id = ? AND status = ?',
      [OutboxStatus.pending, assertId(id), OutboxStatus.dead],
    );
    if (r.affectedRows !== 1) throw new OutboxStateError(id, `outbox row ${id} cannot be retried: only dead rows can (it is missing or not dead)`);
  }

  /** Gives up on a dead row for good (kept as `skipped` for audit) and unblocks the rest of its aggregate. */
  async skip(db: Queryable, id: string): Promise<void> {
    const [r] = await db.query<ResultSetHeader>('UPDATE gk_outbox SET status = ?, published_at = ? WHERE id = ? AND status = ?', [
      OutboxStatus.skipped,
      Math.floor(this.clock.now()),
      assertId(id),
      OutboxStatus.dead,
    ]);
    if (r.affectedRows !== 1) throw new OutboxStateError(id, `outbox row ${id} cannot be skipped: only dead rows can (it is missing or not dead)`);
  }

  /**
   * Deletes published and skipped rows older than `olderThanMs` (by publish time), at most `limit`
   * per call so a large backlog does not hold locks for long. Returns the number deleted.
   * Pending and dead rows are never deleted: unlike the seed's 24 h cutoff (seed L4555), age
   * never makes an undelivered event disappear.
   */
  async purgePublished(db: Queryable, options: { olderThanMs: number; limit?: number }): Promise<number> {
    const olderThanMs = assertInteger('olderThanMs', options.olderThanMs, 0);
    const limit = assertInteger('limit', options.limit ?? 10_000, 1);
    const cutoff = Math.floor(this.clock.now()) - olderThanMs;
    const [r] = await db.query<ResultSetHeader>('DELETE FROM gk_outbox WHERE status IN (?, ?) AND published_at <= ? ORDER BY id LIMIT ?', [
      OutboxStatus.published,
      OutboxStatus.skipped,
      cutoff,
      limit,
    ]);
    return r.affectedRows;
  }

  /** Row counts per state: a cheap health view (a growing `pending` means the relay is behind). */
  async stats(db: Queryable): Promise<OutboxStats> {
    const [rows] = await db.query<RowDataPacket[]>('SELECT status, COUNT(*) AS n FROM gk_outbox GROUP BY status');
    const out: OutboxStats = { pending: 0, published: 0, dead: 0, skipped: 0 };
    for (const r of rows) {
      const n = Number(r.n);
      switch (Number(r.status)) {
        case OutboxStatus.pending:
          out.pending = n;
          break;
        case OutboxStatus.published:
          out.published = n;
          break;
        case OutboxStatus.dead:
          out.dead = n;
          break;
        case OutboxStatus.skipped:
          out.skipped = n;
          break;
      }
    }
    return out;
  }
}

function assertId(id: unknown): string {
  if (typeof id !== 'string' || !/^\d{1,20}$/.test(id)) throw new InvalidArgumentError('id', 'an outbox id (a decimal string)', id);
  return id;
}
