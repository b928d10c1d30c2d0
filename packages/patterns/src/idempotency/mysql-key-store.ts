import { randomBytes } from 'node:crypto';
import { type Clock, systemClock } from '@gopherkit/primitives/clock';
import { assertInteger, assertNonEmptyString, InvalidArgumentError } from '@gopherkit/primitives/errors';
import type { Pool, PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { InProgressError, KeyReuseError, StaleAttemptError } from './errors.js';
import { decodeResponse, encodeResponse, type IdempotencyKeyStore, type KeyBeginOutcome, type StoredResponse } from './key-store.js';
import { validateIdempotencyKey } from './redis-key-store.js';

/** Options of {@link MysqlIdempotencyKeyStore}. */
export interface MysqlIdempotencyKeyStoreOptions {
  /** How long a stored response is kept for replays before {@link MysqlIdempotencyKeyStore.purgeExpired} may delete it (default 24 h). */
  retentionMs?: number;
  /** How long the first request may run before a crash is assumed and another request may take the key over (default 60 s). */
  lockTtlMs?: number;
  /** Bodies larger than this are not stored (status and headers are; default 1 MiB). */
  maxResponseBytes?: number;
  /** Time source for leases and retention (default `systemClock`). */
  clock?: Clock;
}

/** Result of {@link MysqlIdempotencyKeyStore.execute}. */
export interface ExecuteResult {
  /** The response to send: the one just produced, or the stored one. */
  readonly response: StoredResponse;
  /** True when this was a replay of an earlier, committed request (the handler did not run). */
  readonly replayed: boolean;
}

interface KeyRow extends RowDataPacket {
  fingerprint: string;
  status: 'PENDING' | 'DONE';
  attempt: string | null;
  locked_until: string | number;
  response: Buffer | null;
  expires_at: string | number;
}

const SCOPE_MAX = 128;

/**
 * Idempotency-Key storage in MySQL (table `gk_idempotency_keys`, migration 020).
 *
 * Its point over the Redis store: {@link MysqlIdempotencyKeyStore.completeIn} marks the key DONE
 * on the business transaction's connection, so the stored response and the business rows (the
 * order, an outbox row) commit together or not at all. With Redis there is always a window where
 * the order committed but the key still says "not done" (a crash there runs the request twice)
 * or the reverse. {@link MysqlIdempotencyKeyStore.execute} wires that up.
 *
 * `begin` claims the key in its own short autocommit statement, so a concurrent duplicate is
 * answered 409 at once instead of queueing behind the first request's row lock.
 */
export class MysqlIdempotencyKeyStore implements IdempotencyKeyStore {
  private readonly retentionMs: number;
  private readonly lockTtlMs: number;
  private readonly maxResponseBytes: number;
  private readonly clock: Clock;

  constructor(
    private readonly pool: Pool,
    options: MysqlIdempotencyKeyStoreOptions = {},
  ) {
    this.retentionMs = assertInteger('retentionMs', options.retentionMs ?? 24 * 3_600_000, 1);
    this.lockTtlMs = assertInteger('lockTtlMs', options.lockTtlMs ?? 60_000, 1);
    this.maxResponseBytes = assertInteger('maxResponseBytes', options.maxResponseBytes ?? 1 << 20, 0);
    this.clock = options.clock ?? systemClock;
  }

  private check(scope: string, key: string): void {
    assertNonEmptyString('scope', scope);
    if (scope.length > SCOPE_MAX) throw new InvalidArgumentError('scope', `at most ${SCOPE_MAX} characters`, scope);
    validateIdempotencyKey(key);
  }

  async begin(scope: string, key: string, fingerprint: string): Promise<KeyBeginOutcome> {
    this.check(scope, key);
    assertNonEmptyString('fingerprint', fingerprint);
    const attempt = randomBytes(8).toString('hex');
    const now = this.clock.now();
    // INSERT IGNORE: a duplicate key is not an error, it is the interesting case
    const [ins] = await this.pool.query<ResultSetHeader>(
      `INSERT IGNORE INTO gk_idempotency_keys (scope, idem_key, fingerprint, status, attempt, locked_until, created_at, expires_at)
       VALUES (?, ?, ?, 'PENDING', ?, ?, ?, ?)`,
      [scope, key, fingerprint, attempt, now + this.lockTtlMs, now, now + this.retentionMs],
    );
    if (ins.affectedRows === 1) return { kind: 'started', attempt };
    const [rows] = await this.pool.query<KeyRow[]>(
      'SELECT fingerprint, status, attempt, locked_until, response, expires_at FROM gk_idempotency_keys WHERE scope = ? AND idem_key = ?',
      [scope, key],
    );
    const row = rows[0];
    const expired = row !== undefined && Number(row.expires_at) <= now;
    if (row && !expired) {
      if (row.fingerprint !== fingerprint) throw new KeyReuseError(key);
      if (row.status === 'DONE') return { kind: 'replay', response: decodeResponse((row.response as Buffer).toString('utf8')) };
      if (Number(row.locked_until) > now) throw new InProgressError(`Idempotency-Key ${JSON.stringify(key)}`);
    }
    if (!row) return this.begin(scope, key, fingerprint); // purged between the two statements
    // expired, or a PENDING whose owner crashed: take it over, guarded on exactly the row we saw
    // (the new random attempt makes the guard fail for every other taker)
    const [upd] = await this.pool.query<ResultSetHeader>(
      `UPDATE gk_idempotency_keys
       SET fingerprint = ?, status = 'PENDING', attempt = ?, locked_until = ?, response = NULL, created_at = ?, expires_at = ?
       WHERE scope = ? AND idem_key = ? AND status = ? AND attempt <=> ? AND locked_until = ? AND expires_at = ?`,
      [fingerprint, attempt, now + this.lockTtlMs, now, now + this.retentionMs, scope, key, row.status, row.attempt, row.locked_until, row.expires_at],
    );
    if (upd.affectedRows === 1) return { kind: 'started', attempt };
    throw new InProgressError(`Idempotency-Key ${JSON.stringify(key)}`);
  }

  async complete(scope: string, key: string, attempt: string, response: StoredResponse): Promise<void> {
    await this.completeIn(this.pool, scope, key, attempt, response);
  }

  /**
   * Marks the key DONE with `response` on `conn` — the caller's open transaction, so the key row
   * commits exactly when the business rows do. If that transaction rolls back, the key stays
   * PENDING for this attempt: call {@link MysqlIdempotencyKeyStore.abort} (or let `lockTtlMs`
   * pass after a crash) and a retry runs the request again.
   * @throws StaleAttemptError when `attempt` no longer owns the key (its lease expired and another request took over).
   */
  async completeIn(conn: Pool | PoolConnection, scope: string, key: string, attempt: string, response: StoredResponse): Promise<void> {
    this.check(scope, key);
    const now = this.clock.now();
    // the guard names the PENDING state, never the target DONE: with mysql2's default FOUND_ROWS
    // flag a row already DONE would otherwise count as "changed"
    const [r] = await conn.query<ResultSetHeader>(
      `UPDATE gk_idempotency_keys SET status = 'DONE', response = ?, attempt = NULL, expires_at = ?
       WHERE scope = ? AND idem_key = ? AND status = 'PENDING' AND attempt = ?`,
      [Buffer.from(encodeResponse(response, this.maxResponseBytes), 'utf8'), now + this.retentionMs, scope, key, attempt],
    );
    if (r.affectedRows !== 1) throw new StaleAttemptError(`Idempotency-Key ${JSON.stringify(key)}`);
  }

  async abort(scope: string, key: string, attempt: string): Promise<void> {
    this.check(scope, key);
    await this.pool.query("DELETE FROM gk_idempotency_keys WHERE scope = ? AND idem_key = ? AND status = 'PENDING' AND attempt = ?", [scope, key, attempt]);
  }

  /**
   * begin → `fn(conn)` inside a transaction → {@link MysqlIdempotencyKeyStore.completeIn} → commit.
   * A replay returns the stored response without running `fn`; when `fn` throws, the transaction
   * rolls back (the business rows and the DONE mark together), the key is released for a retry
   * and the error is rethrown.
   * @throws InProgressError (409) while another request with this key runs; KeyReuseError (422).
   */
  async execute(scope: string, key: string, fingerprint: string, fn: (conn: PoolConnection) => Promise<StoredResponse>): Promise<ExecuteResult> {
    const outcome = await this.begin(scope, key, fingerprint);
    if (outcome.kind === 'replay') return { response: outcome.response, replayed: true };
    const conn = await this.pool.getConnection();
    try {
      await conn.beginTransaction();
      const response = await fn(conn);
      await this.completeIn(conn, scope, key, outcome.attempt, response);
      await conn.commit();
      return { response, replayed: false };
    } catch (e) {
      await conn.rollback().catch(() => {});
      await this.abort(scope, key, outcome.attempt).catch(() => {});
      throw e;
    } finally {
      conn.release();
    }
  }

  /**
   * Deletes up to `limit` records whose retention ran out (expired keys behave as unknown even
   * before they are purged). Run it periodically; returns how many rows it deleted.
   */
  async purgeExpired(limit = 1000): Promise<number> {
    assertInteger('limit', limit, 1);
    const [r] = await this.pool.query<ResultSetHeader>('DELETE FROM gk_idempotency_keys WHERE expires_at <= ? LIMIT ?', [this.clock.now(), limit]);
    return r.affectedRows;
  }
}
